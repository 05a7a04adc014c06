"""The worker's batched, overlapping drain (issue 21): `Worker.drain` (what `Worker.run` runs)
claims the next batch once half of the current one is sent and records each batch in one
transaction on its recorder thread. None of that may loosen a guarantee: each outcome in a
mixed batch is recorded as its own, two workers never send one delivery twice, a worker whose
receivers hang claims nothing more, a delivery whose lease ran out while it waited is not sent,
and a batch that cannot be written together is written one delivery at a time.

Real receivers on 127.0.0.1 verify every signature (the `hooks` fixture fails a test that left
an unverified request behind); workers are the real `alert_worker` on the test's database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.config import Settings
from app.contacts.models import Contact
from app.notify.models import Delivery, DeliveryAttempt
from app.notify.worker import Recording, Worker
from tests.databases import Database
from tests.factories import World, unique
from tests.notify.helpers import (
    add_contact,
    alerts_of_kind,
    attempts,
    by_id,
    deliveries,
    drain_together,
    hooked_contact,
    raise_missed,
)
from tests.notify.receivers import MailReceiver, Received, WebhookReceiver


def batched(settings: Settings, **notify: Any) -> Settings:
    return settings.model_copy(update={"notify": settings.notify.model_copy(update=notify)})


def alerts_for(world: World, clock: FixedClock, contact: dict[str, Any], count: int) -> None:
    """`count` missed-dose alerts for one patient whose key worker is `contact` (one a day)."""
    patient = world.patient(key_worker_id=contact["id"])
    today = clock.now().date()
    for offset in range(count):
        raise_missed(world, patient["id"], day=today + timedelta(days=offset), now=clock.now())


def all_attempts(world: World) -> list[DeliveryAttempt]:
    with world.uow as uow:
        return list(uow.session.scalars(select(DeliveryAttempt)))


def test_a_mixed_batch_records_each_outcome_as_its_own(
    world: World,
    clock: FixedClock,
    hooks: Callable[..., WebhookReceiver],
    mail: MailReceiver,
    workers: Callable[..., Worker],
    nsettings: Settings,
) -> None:
    fine = hooks()
    failing = hooks(script=[(503, {"retry-after": "120"})])
    gone = hooks(script=[(410, {})])
    lead_hook = hooks()
    hooked_contact(world, lead_hook, "safeguarding_lead")
    happy = [hooked_contact(world, fine) for _ in range(4)]
    fine.more_secrets = [c["webhook_secret"] for c in happy]
    both = add_contact(
        world, "key_worker", email=f"{unique('kw')}@example.org", webhook_url=fine.url
    )
    fine.more_secrets.append(both["webhook_secret"])
    broken = hooked_contact(world, failing)
    ended = hooked_contact(world, gone)
    for contact in [*happy, both, broken, ended]:
        alerts_for(world, clock, contact, 1)
    everything = deliveries(world)
    assert len(everything) == 8  # the contact with both channels has two
    worker = workers(settings=batched(nsettings, batch_size=8))
    assert worker.drain() == 8

    rows = {d.id: d for d in deliveries(world)}
    by_contact: dict[UUID, list[Delivery]] = {}
    for delivery in everything:
        by_contact.setdefault(delivery.contact_id, []).append(rows[delivery.id])
    for contact in [*happy, both]:
        for delivery in by_contact[UUID(contact["id"])]:
            assert (delivery.state, delivery.attempts, delivery.last_error) == (
                "delivered",
                1,
                None,
            )
            assert delivery.delivered_at == clock.now()
            assert [(a.outcome, a.worker) for a in attempts(world, delivery.id)] == [
                ("delivered", "w1")
            ]
    assert {d.channel for d in by_contact[UUID(both["id"])]} == {"webhook", "email"}
    assert len(mail.messages) == 1

    (retried,) = by_contact[UUID(broken["id"])]
    assert (retried.state, retried.attempts) == ("pending", 1)
    assert retried.last_error == "receiver error (503)"
    # Retry-After (120 s) beats the first backoff (10 s ± 20 %).
    assert retried.next_attempt_at == clock.now() + timedelta(seconds=120)
    assert [(a.outcome, a.status_code) for a in attempts(world, retried.id)] == [("retry", 503)]

    (dead,) = by_contact[UUID(ended["id"])]
    assert (dead.state, dead.attempts) == ("dead", 1)
    assert [(a.outcome, a.status_code) for a in attempts(world, dead.id)] == [("disabled", 410)]
    with world.uow as uow:
        contact = uow.session.get(Contact, UUID(ended["id"]))
        assert contact is not None
        assert contact.webhook_disabled_at == clock.now()
    (failed,) = alerts_of_kind(world, "delivery_failed")
    assert {(d.reason, d.state) for d in deliveries(world, failed.id)} == {
        ("safeguarding_lead", "pending")
    }

    # Nothing is left leased, every delivery has exactly one attempt, each send went once.
    assert all(d.locked_by is None and d.locked_until is None for d in deliveries(world))
    assert len(all_attempts(world)) == 8
    assert set(by_id(fine.received + failing.received + gone.received).values()) == {1}


def test_workers_draining_together_never_send_a_delivery_twice(
    world: World,
    clock: FixedClock,
    receiver: WebhookReceiver,
    workers: Callable[..., Worker],
    nsettings: Settings,
    database: Database,
    session_factory: sessionmaker[Session],
) -> None:
    """As tests/notify/test_concurrency.py, through `drain`: each worker holds up to three
    batches at once here, and records on a thread of its own."""
    contact = hooked_contact(world, receiver)
    for _ in range(4):
        alerts_for(world, clock, contact, 30)
    total = 120
    assert len(deliveries(world)) == total
    receiver.delay = 0.003  # a little network time, so claims and records overlap
    small = batched(nsettings, batch_size=8)
    # SQLite serialises the claims (BEGIN IMMEDIATE): the rule holds there too.
    count = 3 if database.dialect == "postgresql" else 2
    pool = [workers(f"w{n}", settings=small) for n in range(count)]
    drain_together(session_factory, pool, lambda worker: worker.drain(), passes=100)

    rows = deliveries(world)
    assert {(d.state, d.attempts) for d in rows} == {("delivered", 1)}
    counts = by_id(receiver.received)
    assert set(counts) == {str(d.event_id) for d in rows}
    assert set(counts.values()) == {1}, "a delivery was sent twice"
    tries = all_attempts(world)
    assert len(tries) == total
    assert len({t.delivery_id for t in tries}) == total
    assert len({t.worker for t in tries}) > 1, "one worker did everything: no concurrency tested"


def test_a_worker_whose_receivers_hang_claims_nothing_more(
    world: World,
    clock: FixedClock,
    receiver: WebhookReceiver,
    workers: Callable[..., Worker],
    nsettings: Settings,
) -> None:
    """The next batch is claimed only once half of this one is sent: a batch stuck on its
    receivers never takes more deliveries away from other workers."""
    contact = hooked_contact(world, receiver)
    alerts_for(world, clock, contact, 7)
    arrived = threading.Event()

    def note(_: Received) -> None:
        if len(receiver.received) >= 3:
            arrived.set()

    receiver.on_request = note
    receiver.delay = 30  # held until released below
    worker = workers(settings=batched(nsettings, batch_size=3))
    done: list[int] = []
    thread = threading.Thread(target=lambda: done.append(worker.drain()), daemon=True)
    thread.start()
    assert arrived.wait(30)
    time.sleep(0.3)  # time enough for a wrong early claim to show
    assert len(receiver.received) == 3
    states = sorted((d.state, d.locked_by) for d in deliveries(world))
    assert states == [("pending", None)] * 4 + [("sending", "w1")] * 3
    receiver.delay = 0
    receiver._released.set()  # answer the held requests
    thread.join(30)
    assert not thread.is_alive()
    assert done == [7]
    assert {(d.state, d.attempts) for d in deliveries(world)} == {("delivered", 1)}
    assert set(by_id(receiver.received).values()) == {1}


def test_a_delivery_whose_lease_ran_out_before_a_thread_was_free_is_not_sent(
    world: World,
    clock: FixedClock,
    receiver: WebhookReceiver,
    workers: Callable[..., Worker],
    nsettings: Settings,
) -> None:
    """17 deliveries on 16 threads, each answer taking 2 s and a lease of 1 s: the 17th waits
    for a thread past its lease, when another worker may already have claimed it, so it is
    left for the next claim (same webhook-id), not sent a second time alongside."""
    contact = hooked_contact(world, receiver)
    alerts_for(world, clock, contact, 17)
    receiver.delay = 2.0
    worker = workers(settings=batched(nsettings, batch_size=17, lease_seconds=1.0))
    assert worker.run_once() == 16
    assert len(receiver.received) == 16
    states = sorted(d.state for d in deliveries(world))
    assert states == ["delivered"] * 16 + ["sending"]
    (left,) = [d for d in deliveries(world) if d.state == "sending"]
    assert attempts(world, left.id) == []
    receiver.delay = 0
    clock.advance(timedelta(seconds=2))  # the lease has run out: claimable again
    assert worker.run_once() == 1
    assert {(d.state, d.attempts) for d in deliveries(world)} == {("delivered", 1)}
    assert set(by_id(receiver.received).values()) == {1}


def test_a_batch_that_cannot_be_written_together_is_written_one_by_one(
    world: World,
    clock: FixedClock,
    receiver: WebhookReceiver,
    workers: Callable[..., Worker],
    nsettings: Settings,
) -> None:
    """Should the batch's UPDATE or INSERT fail, the batch is recorded again with a savepoint
    per delivery: the ones that can be written are, and one that cannot becomes a failed
    attempt to retry (here: every row of a batch of more than one fails to write together,
    and one delivery fails to write even alone)."""
    contact = hooked_contact(world, receiver)
    alerts_for(world, clock, contact, 5)
    unlucky = deliveries(world)[2].id
    worker = workers(settings=batched(nsettings, batch_size=5))
    real = worker._write_rows

    def write_rows(session: Session, rows: Sequence[Recording]) -> None:
        if len(rows) > 1 or rows[0].id == unlucky:
            raise OverflowError("cannot write that")
        real(session, rows)

    worker._write_rows = write_rows  # type: ignore[method-assign]
    assert worker.drain() == 5
    rows = {d.id: d for d in deliveries(world)}
    bad = rows.pop(unlucky)
    assert {(d.state, d.attempts) for d in rows.values()} == {("delivered", 1)}
    for delivery in rows.values():
        assert [a.outcome for a in attempts(world, delivery.id)] == ["delivered"]
    assert (bad.state, bad.attempts, bad.locked_by) == ("pending", 1, None)
    ((outcome, detail),) = [(a.outcome, a.detail) for a in attempts(world, unlucky)]
    assert outcome == "retry"
    assert "internal error recording the outcome (OverflowError)" in detail
    worker._write_rows = real  # type: ignore[method-assign]
    clock.advance(timedelta(seconds=13))
    assert worker.drain() == 1
    assert {d.state for d in deliveries(world)} == {"delivered"}
