"""A receiver that answers every pathological way (issue 16 item 1): one receiver's answer never
stops another delivery. A `Retry-After: 999999999999999999999` raised OverflowError in the
worker, nothing in the batch was recorded, and the email to another recipient of the same alert
stayed `sending` with 0 attempts. Now each delivery's outcome is recorded on its own, every
exception while sending or recording becomes that delivery's failed attempt, `Retry-After` is
capped (a date handled), and the whole exchange with a receiver has a deadline."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from app.clock import FixedClock
from app.config import Settings
from app.notify.channels import Result
from app.notify.worker import Job, Worker
from app.safeguarding.delivery import alert_worker
from tests.factories import World, unique
from tests.notify.helpers import (
    add_contact,
    alerts_of_kind,
    attempts,
    deliveries,
    raise_missed,
    with_notify,
)
from tests.notify.hostile import BEHAVIOURS, HostileReceiver, self_signed_context
from tests.notify.receivers import MailReceiver, WebhookReceiver

TIMEOUT = 2.0  # seconds for the whole exchange with one receiver


@pytest.fixture
def hostile() -> Iterator[HostileReceiver]:
    receiver = HostileReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def tls_hostile(tmp_path: Path) -> Iterator[HostileReceiver | None]:
    context = self_signed_context(tmp_path)
    if context is None:
        yield None
        return
    receiver = HostileReceiver(tls=context).start()
    yield receiver
    receiver.stop()


def alert_to(
    world: World,
    clock: FixedClock,
    url: str,
    email: str,
    receiver: WebhookReceiver | None = None,
) -> UUID:
    """A missed-dose alert for a patient whose key worker has this webhook and an email (whose
    secret `receiver`, when given, verifies)."""
    contact = add_contact(world, "key_worker", email=email, webhook_url=url)
    if receiver is not None:
        receiver.more_secrets.append(contact["webhook_secret"])
    patient = world.patient(key_worker_id=contact["id"])
    return raise_missed(world, patient["id"], day=clock.now().date(), now=clock.now())


def test_every_pathological_receiver_gets_an_outcome_of_its_own_and_no_other_delivery_suffers(
    world: World,
    clock: FixedClock,
    hostile: HostileReceiver,
    tls_hostile: HostileReceiver | None,
    mail: MailReceiver,
    settings: Settings,
    session_factory: Any,
) -> None:
    quick = with_notify(settings, mail.url, webhook_timeout_seconds=TIMEOUT)
    urls = {behaviour: hostile.url(behaviour) for behaviour in BEHAVIOURS}
    if tls_hostile is not None:  # a certificate nobody trusts
        urls["untrusted-tls"] = tls_hostile.url("ok")
    expected = {**BEHAVIOURS, "untrusted-tls": ("pending", None, "")}
    alerts = {
        behaviour: alert_to(world, clock, url, f"{unique('kw')}@example.org")
        for behaviour, url in urls.items()
    }
    worker = alert_worker(session_factory, quick, clock, name="w1", seed=7)
    attempted: list[int] = []
    started = time.monotonic()
    # In a thread, so that a sender without a deadline fails this test instead of hanging it.
    one_pass = threading.Thread(target=lambda: attempted.append(worker.run_once()), daemon=True)
    one_pass.start()
    one_pass.join(timeout=TIMEOUT * 3 + 10)
    took = time.monotonic() - started
    assert not one_pass.is_alive(), "a receiver held the delivery pass past every deadline"
    worker.close()

    assert attempted == [2 * len(alerts)]  # a webhook and an email for each
    # The slow receivers were cut off at the deadline, all in parallel.
    assert took < TIMEOUT * 3 + 5, f"one pass took {took:.1f} s"
    wrong = {}
    for behaviour, alert_id in alerts.items():
        by_channel = {d.channel: d for d in deliveries(world, alert_id)}
        email, hook = by_channel["email"], by_channel["webhook"]
        # The email to the same key worker is delivered whatever the webhook did.
        assert email.state == "delivered", (behaviour, email.last_error)
        assert [a.outcome for a in attempts(world, email.id)] == ["delivered"]
        state, status, detail = expected[behaviour]
        tries = attempts(world, hook.id)
        got = (hook.state, hook.attempts, [(a.status_code, a.outcome) for a in tries])
        outcome = "delivered" if state == "delivered" else "dead" if state == "dead" else "retry"
        if got != (state, 1, [(status, outcome)]) or detail not in (tries[0].detail or ""):
            wrong[behaviour] = (got, tries[0].detail if tries else None)
        if state == "pending":  # an ordinary backoff (10 s ± 20 %), not what the receiver said
            wait = (hook.next_attempt_at - clock.now()).total_seconds()
            assert 8 <= wait <= 12, (behaviour, wait)
        if behaviour in ("slowloris", "slow-body"):
            assert tries[0].duration_ms < (TIMEOUT + 1.5) * 1000, (behaviour, tries[0].duration_ms)
    assert wrong == {}
    assert len(mail.messages) == len(alerts)
    # The two receivers that asked for an absurd wait made their deliveries dead at once, and
    # the safeguarding lead is told of each (not left waiting for a lease to expire).
    failed = alerts_of_kind(world, "delivery_failed", world.home.pharmacy_id)
    assert len(failed) == sum(1 for s, _, _ in expected.values() if s == "dead")


def test_an_exception_while_sending_one_delivery_is_its_failed_attempt_only(
    world: World,
    clock: FixedClock,
    receiver: WebhookReceiver,
    workers: Callable[..., Worker],
) -> None:
    """The channel raising something nobody expected (a bug, a library's surprise)."""
    broken_url = receiver.url.replace("/hooks", "/broken")
    broken = alert_to(world, clock, broken_url, f"{unique('kw')}@example.org")
    fine = alert_to(world, clock, receiver.url, f"{unique('kw')}@example.org", receiver)
    worker = workers()
    real_send = worker.webhooks.send

    def send(url: str, secret: str, *, event_id: str, body: bytes) -> Result:
        if url == broken_url:
            raise RuntimeError("surprise")
        return real_send(url, secret, event_id=event_id, body=body)

    worker.webhooks.send = send  # type: ignore[method-assign]
    assert worker.run_once() == 4

    (hook,) = [d for d in deliveries(world, broken) if d.channel == "webhook"]
    assert hook.state == "pending"
    ((detail, outcome),) = [(a.detail, a.outcome) for a in attempts(world, hook.id)]
    assert (detail, outcome) == ("unexpected error (RuntimeError)", "retry")
    assert {d.state for d in deliveries(world, fine)} == {"delivered"}
    assert {d.state for d in deliveries(world, broken) if d.channel == "email"} == {"delivered"}


def test_a_failure_while_recording_one_outcome_leaves_the_others_recorded(
    world: World,
    clock: FixedClock,
    receiver: WebhookReceiver,
    workers: Callable[..., Worker],
) -> None:
    first = alert_to(world, clock, receiver.url, f"{unique('kw')}@example.org", receiver)
    second = alert_to(world, clock, receiver.url, f"{unique('kw')}@example.org", receiver)
    (unlucky,) = [d.id for d in deliveries(world, first) if d.channel == "webhook"]
    worker = workers()
    real = worker._record_one

    def record_one(session: Any, delivery: Any, job: Job, *args: Any) -> None:
        real(session, delivery, job, *args)
        if job.delivery_id == unlucky:
            raise OverflowError("date value out of range")

    worker._record_one = record_one  # type: ignore[method-assign]
    assert worker.run_once() == 4

    states = {d.id: d.state for d in deliveries(world, first) + deliveries(world, second)}
    assert states.pop(unlucky) == "pending"
    assert set(states.values()) == {"delivered"}
    (attempt,) = attempts(world, unlucky)
    assert attempt.outcome == "retry"
    assert "internal error recording the outcome (OverflowError)" in attempt.detail
    clock.advance(timedelta(seconds=13))
    worker._record_one = real  # type: ignore[method-assign]
    assert worker.run_once() == 1
    assert {d.state for d in deliveries(world, first)} == {"delivered"}
