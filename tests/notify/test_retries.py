"""A receiver that fails: retries with backoff and jitter and the same webhook-id, Retry-After
honoured, redirects never followed, 410 disables the endpoint, and a delivery that runs out of
retries is dead and raises `delivery_failed` for the safeguarding lead (reliability.md §1.2)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select

from app.actor import SYSTEM
from app.audit.models import AuditEvent
from app.clock import FixedClock
from app.config import Settings
from app.contacts.models import Contact
from app.notify.worker import Worker
from app.safeguarding import rules
from app.safeguarding import service as safeguarding_service
from tests.factories import World
from tests.notify.helpers import (
    API,
    alerts_of_kind,
    attempts,
    by_id,
    deliveries,
    drain,
    history,
    hooked_contact,
    raise_missed,
    with_notify,
)
from tests.notify.receivers import MailReceiver, WebhookReceiver


def one_webhook_alert(world: World, clock: FixedClock, hook: WebhookReceiver) -> tuple[UUID, Any]:
    """An alert whose only delivery is a webhook to `hook` (a key worker with no email)."""
    contact = hooked_contact(world, hook)
    patient = world.patient(key_worker_id=contact["id"])
    alert_id = raise_missed(world, patient["id"], day=clock.now().date(), now=clock.now())
    (delivery,) = deliveries(world, alert_id)
    assert delivery.channel == "webhook"
    return alert_id, delivery


def only(world: World, alert_id: UUID) -> Any:
    (delivery,) = deliveries(world, alert_id)
    return delivery


@pytest.mark.hazard("H-07.2")
def test_server_errors_are_retried_with_backoff_until_delivered_under_one_webhook_id(
    world: World, clock: FixedClock, receiver: WebhookReceiver, workers: Callable[..., Worker]
) -> None:
    receiver.script = [(500, {}), (502, {}), (504, {})]
    alert_id, delivery = one_webhook_alert(world, clock, receiver)
    worker = workers()
    # Schedule 10, 60, 300 s with ±20% jitter: each wait falls inside its band.
    for base in (10, 60, 300):
        tried_at = clock.now()
        assert worker.run_once() == 1
        pending = only(world, alert_id)
        assert pending.state == "pending"
        wait = (pending.next_attempt_at - tried_at).total_seconds()
        assert base * 0.8 <= wait <= base * 1.2, (base, wait)
        clock.advance(timedelta(seconds=base * 0.8 - 1))
        assert worker.run_once() == 0, "retried before its backoff had passed"
        clock.set(pending.next_attempt_at)
    assert worker.run_once() == 1
    done = only(world, alert_id)
    assert done.state == "delivered"
    assert done.attempts == 4
    assert [r.headers["webhook-id"] for r in receiver.received] == [str(delivery.event_id)] * 4
    assert all(r.verified for r in receiver.received)
    tries = attempts(world, delivery.id)
    assert [(a.outcome, a.status_code) for a in tries] == [
        ("retry", 500),
        ("retry", 502),
        ("retry", 504),
        ("delivered", 204),
    ]
    assert {a.worker for a in tries} == {"w1"}


@pytest.mark.hazard("H-07.2")
def test_a_receiver_that_does_not_answer_in_time_is_retried(
    world: World,
    clock: FixedClock,
    receiver: WebhookReceiver,
    workers: Callable[..., Worker],
    nsettings: Settings,
) -> None:
    alert_id, delivery = one_webhook_alert(world, clock, receiver)
    quick = nsettings.model_copy(
        update={"notify": nsettings.notify.model_copy(update={"webhook_timeout_seconds": 0.3})}
    )
    worker = workers(settings=quick)
    receiver.delay = 5.0
    assert worker.run_once() == 1
    timed_out = only(world, alert_id)
    assert timed_out.state == "pending"
    (first,) = attempts(world, delivery.id)
    assert first.outcome == "retry"
    assert first.status_code is None
    assert first.detail == "timed out"
    assert first.duration_ms < 4000, "the sender waited for the receiver instead of timing out"
    receiver.delay = 0
    clock.set(timed_out.next_attempt_at)
    assert worker.run_once() == 1
    assert only(world, alert_id).state == "delivered"
    assert by_id(receiver.received) == {str(delivery.event_id): 2}


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_429_retry_after_is_honoured(
    world: World,
    clock: FixedClock,
    receiver: WebhookReceiver,
    workers: Callable[..., Worker],
    form: str,
) -> None:
    wait = 600  # far beyond the 10 s backoff, so only Retry-After explains it
    value = (
        str(wait)
        if form == "seconds"
        else format_datetime(datetime.now(UTC) + timedelta(seconds=wait), usegmt=True)
    )
    receiver.script = [(429, {"Retry-After": value})]
    alert_id, delivery = one_webhook_alert(world, clock, receiver)
    worker = workers()
    tried_at = clock.now()
    assert worker.run_once() == 1
    throttled = only(world, alert_id)
    assert throttled.state == "pending"
    # An HTTP date is absolute (whole seconds, written before the test's setup ran); the
    # backoff alone would be 10 s ± 20%, so anything near `wait` is Retry-After's doing.
    slack = 0 if form == "seconds" else 60
    assert throttled.next_attempt_at >= tried_at + timedelta(seconds=wait - slack)
    assert attempts(world, delivery.id)[0].status_code == 429
    clock.set(throttled.next_attempt_at - timedelta(seconds=1))
    assert worker.run_once() == 0, "retried before Retry-After"
    clock.set(throttled.next_attempt_at)
    assert worker.run_once() == 1
    assert only(world, alert_id).state == "delivered"
    assert by_id(receiver.received) == {str(delivery.event_id): 2}


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_never_followed(
    world: World,
    clock: FixedClock,
    hooks: Callable[..., WebhookReceiver],
    workers: Callable[..., Worker],
    status: int,
) -> None:
    elsewhere = hooks()
    receiver = hooks(script=[(status, {"Location": elsewhere.url})])
    alert_id, delivery = one_webhook_alert(world, clock, receiver)
    worker = workers()
    assert worker.run_once() == 1
    assert elsewhere.received == [], "the redirect was followed"
    redirected = only(world, alert_id)
    assert redirected.state == "pending"
    (first,) = attempts(world, delivery.id)
    assert (first.outcome, first.status_code) == ("retry", status)
    assert "redirect not followed" in first.detail
    clock.set(redirected.next_attempt_at)
    assert worker.run_once() == 1
    assert only(world, alert_id).state == "delivered"
    assert elsewhere.received == []
    assert by_id(receiver.received) == {str(delivery.event_id): 2}


def lead_receiving(world: World, hook: WebhookReceiver) -> dict[str, Any]:
    """The home pharmacy's safeguarding lead, added by its pharmacist, with a webhook."""
    lead = hooked_contact(world, hook, "safeguarding_lead")
    with world.uow as uow:
        row = uow.session.get(Contact, UUID(lead["id"]))
        assert row is not None
        assert row.pharmacy_id == world.home.pharmacy_id
    return lead


def assert_lead_told(
    world: World,
    lead_hook: WebhookReceiver,
    lead: dict[str, Any],
    alert_id: UUID,
    worker: Worker,
) -> None:
    """A `delivery_failed` alert exists for the same patient, went to the lead, and arrived."""
    original = world.get(f"{API}/alerts/{alert_id}").json()
    failed = alerts_of_kind(world, "delivery_failed")
    assert len(failed) == 1, failed
    assert failed[0].patient_id == UUID(original["patient_id"])
    assert failed[0].pharmacy_id == world.home.pharmacy_id
    assert failed[0].severity == "urgent"
    to_lead = deliveries(world, failed[0].id)
    assert {(d.contact_id, d.reason) for d in to_lead} == {(UUID(lead["id"]), "safeguarding_lead")}
    drain(worker)
    assert [p["data"]["kind"] for p in lead_hook.payloads()] == ["delivery_failed"]
    seen = world.get(
        f"{API}/alerts", role="safeguarding_lead", params={"kind": "delivery_failed"}
    ).json()["items"]
    assert [a["id"] for a in seen] == [str(failed[0].id)]
    assert "delivery_dead" in [h.action for h in history(world, alert_id)]


def test_410_disables_the_webhook_and_the_delivery_is_dead(
    world: World,
    clock: FixedClock,
    hooks: Callable[..., WebhookReceiver],
    workers: Callable[..., Worker],
) -> None:
    receiver = hooks(script=[(410, {})])
    lead_hook = hooks()
    lead = lead_receiving(world, lead_hook)
    alert_id, delivery = one_webhook_alert(world, clock, receiver)
    worker = workers()
    assert worker.run_once() == 1
    gone = only(world, alert_id)
    assert gone.state == "dead"
    assert [a.outcome for a in attempts(world, delivery.id)] == ["disabled"]
    with world.uow as uow:
        contact = uow.session.get(Contact, gone.contact_id)
        assert contact is not None
        assert contact.webhook_disabled_at == clock.now()
    assert_lead_told(world, lead_hook, lead, alert_id, worker)
    clock.advance(timedelta(hours=2))
    drain(worker)
    assert len(receiver.received) == 1, "a 410 endpoint was tried again"
    # The next alert for the same contact is never sent to the disabled endpoint: its one
    # delivery is dead on the next pass, and the lead hears of it (tests/notify/test_unreachable).
    patient_id = world.get(f"{API}/alerts/{alert_id}").json()["patient_id"]
    later = raise_missed(
        world, patient_id, day=clock.now().date() + timedelta(days=1), now=clock.now()
    )
    assert "no_channel" in [h.action for h in history(world, later)]
    drain(worker)
    (unsent,) = deliveries(world, later)
    assert (unsent.channel, unsent.state) == ("webhook", "dead")
    assert [a.outcome for a in attempts(world, unsent.id)] == ["no_channel"]
    assert len(receiver.received) == 1, "a 410 endpoint was tried again"


@pytest.mark.hazard("H-07.3")
def test_a_delivery_is_dead_after_the_schedule_and_the_lead_is_told(
    world: World,
    clock: FixedClock,
    hooks: Callable[..., WebhookReceiver],
    workers: Callable[..., Worker],
    nsettings: Settings,
) -> None:
    receiver = hooks(script=[(500, {})] * 100)
    lead_hook = hooks()
    lead = lead_receiving(world, lead_hook)
    alert_id, delivery = one_webhook_alert(world, clock, receiver)
    short = nsettings.model_copy(
        update={
            "notify": nsettings.notify.model_copy(
                update={"retry_delays_seconds": (10, 60), "retry_for_seconds": 300}
            )
        }
    )
    worker = workers(settings=short)
    for _ in range(40):
        worker.run_once()
        if only(world, alert_id).state == "dead":
            break
        clock.advance(timedelta(seconds=15))
    dead = only(world, alert_id)
    assert dead.state == "dead"
    tries = attempts(world, delivery.id)
    assert [a.outcome for a in tries[:-1]] == ["retry"] * (len(tries) - 1)
    assert tries[-1].outcome == "dead"
    assert len(tries) == len(receiver.received) == dead.attempts
    assert set(by_id(receiver.received)) == {str(delivery.event_id)}
    # It kept trying for the whole window, and gave up only when no retry fitted in it.
    window_end = dead.created_at + timedelta(seconds=300)
    assert all(a.at <= window_end for a in tries)
    assert tries[-1].at + timedelta(seconds=60 * 0.8) > window_end
    assert len(tries) >= 5
    with world.uow as uow:
        dead_events = list(
            uow.session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "delivery.dead", AuditEvent.entity_id == str(alert_id)
                )
            )
        )
    assert len(dead_events) == 1
    assert_lead_told(world, lead_hook, lead, alert_id, worker)
    tried = len(receiver.received)
    clock.advance(timedelta(hours=1))
    drain(worker)
    assert len(receiver.received) == tried, "a dead delivery was tried again"


@pytest.mark.hazard("H-07.3")
def test_a_dead_email_also_tells_the_lead(
    world: World,
    clock: FixedClock,
    hooks: Callable[..., WebhookReceiver],
    mail: MailReceiver,
    workers: Callable[..., Worker],
    settings: Settings,
) -> None:
    lead_hook = hooks()
    lead = lead_receiving(world, lead_hook)
    patient = world.patient()  # the world's key worker has an email address only
    alert_id = raise_missed(world, patient["id"], day=clock.now().date(), now=clock.now())
    mail.refuse = 1000
    worker = workers(
        settings=with_notify(settings, mail.url, retry_delays_seconds=(10,), retry_for_seconds=60)
    )
    for _ in range(20):
        worker.run_once()
        if only(world, alert_id).state == "dead":
            break
        clock.advance(timedelta(seconds=13))
    assert only(world, alert_id).state == "dead"
    mail.refuse = 0
    assert_lead_told(world, lead_hook, lead, alert_id, worker)


def test_dead_deliveries_of_patientless_alerts_in_two_pharmacies_tell_both_leads(
    world: World,
    clock: FixedClock,
    hooks: Callable[..., WebhookReceiver],
    workers: Callable[..., Worker],
) -> None:
    """An alert with no patient (a CD register discrepancy) whose webhook dies raises
    `delivery_failed` for its own pharmacy; another pharmacy's on the same day is another
    alert, not a "repeat" of the first (which would leave the second lead untold)."""
    leads = {}
    for branch, name in ((world.home, "home"), (world.away, "away")):
        dead = hooks(script=[(410, {})])
        leads[branch.pharmacy_id] = hooked_contact(
            world, dead, "safeguarding_lead", email=f"lead-{name}@pharmacy.example", branch=branch
        )
        (event,) = rules.register_discrepancy_events(
            product="methadone-1mg-ml", variance_ml="-25", tolerance_ml="5"
        )
        with world.uow as uow:
            safeguarding_service.raise_alert(
                uow.session,
                event,
                actor=SYSTEM,
                pharmacy_id=branch.pharmacy_id,
                patient_id=None,
                household_id=None,
                day=clock.now().date(),
                now=clock.now(),
                routing={},
            )
            uow.commit()
    drain(workers())
    failed = alerts_of_kind(world, "delivery_failed")
    assert sorted(str(a.pharmacy_id) for a in failed) == sorted(
        str(p) for p in (world.home.pharmacy_id, world.away.pharmacy_id)
    )
    for alert in failed:
        to = {(d.contact_id, d.channel) for d in deliveries(world, alert.id)}
        assert to == {(UUID(leads[alert.pharmacy_id]["id"]), "email")}
    for branch in (world.home, world.away):
        seen = world.get(
            f"{API}/alerts",
            role="safeguarding_lead",
            branch=branch,
            params={"kind": "delivery_failed"},
        ).json()["items"]
        assert [a["pharmacy_id"] for a in seen] == [str(branch.pharmacy_id)]


def test_a_retry_after_beyond_the_retry_window_is_dead_now_not_pending_for_days(
    world: World,
    clock: FixedClock,
    hooks: Callable[..., WebhookReceiver],
    workers: Callable[..., Worker],
) -> None:
    """Honouring a Retry-After that outlives the retry window (an hour here) must not park the
    alert for days with nobody told: it is dead now, and the lead hears of it."""
    receiver = hooks(script=[(429, {"Retry-After": str(2 * 86400)})])
    lead_hook = hooks()
    lead = lead_receiving(world, lead_hook)
    alert_id, delivery = one_webhook_alert(world, clock, receiver)
    worker = workers()
    assert worker.run_once() == 1
    assert only(world, alert_id).state == "dead"
    assert_lead_told(world, lead_hook, lead, alert_id, worker)
    clock.advance(timedelta(days=3))
    drain(worker)
    assert len(receiver.received) == 1


def test_no_more_webhooks_to_an_endpoint_once_it_answered_410(
    world: World,
    clock: FixedClock,
    receiver: WebhookReceiver,
    workers: Callable[..., Worker],
    nsettings: Settings,
) -> None:
    receiver.script = [(410, {})] * 5
    contact = hooked_contact(world, receiver)
    patient = world.patient(key_worker_id=contact["id"])
    queued = [
        raise_missed(
            world, patient["id"], day=clock.now().date() + timedelta(days=n), now=clock.now()
        )
        for n in range(3)
    ]
    one_at_a_time = nsettings.model_copy(
        update={"notify": nsettings.notify.model_copy(update={"batch_size": 1})}
    )
    drain(workers(settings=one_at_a_time))
    assert len(receiver.received) == 1, "webhooks were still sent after the 410"
    assert {only(world, a).state for a in queued} == {"dead"}
