"""Several workers over one outbox: every delivery goes out exactly once (reliability.md §1.1,
checklist #20).

On PostgreSQL four workers claim concurrently with `FOR UPDATE SKIP LOCKED` and a lease. SQLite
has no row locks (SQLAlchemy drops FOR UPDATE there) and a deployment on SQLite runs exactly one
worker (the embedded one, BEGIN IMMEDIATE), so on SQLite the same check runs with one worker.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.actor import SYSTEM
from app.clock import FixedClock
from app.config import Settings
from app.notify.models import Delivery, DeliveryAttempt
from app.notify.worker import Worker
from app.patients.models import Patient
from app.safeguarding import rules
from app.safeguarding import service as safeguarding_service
from tests.databases import Database
from tests.factories import World
from tests.notify.helpers import drain_together, hooked_contact
from tests.notify.receivers import WebhookReceiver

DELIVERIES = 200


def test_each_delivery_goes_out_exactly_once_across_workers(
    world: World,
    clock: FixedClock,
    receiver: WebhookReceiver,
    workers: Callable[..., Worker],
    nsettings: Settings,
    database: Database,
    session_factory: sessionmaker[Session],
) -> None:
    contact = hooked_contact(world, receiver)  # webhook only: one delivery per alert
    patients = [world.patient(key_worker_id=contact["id"]) for _ in range(10)]
    (event,) = rules.missed_dose_events(days_without_dose=2, children=(), policy_missed_threshold=9)
    today = clock.now().date()
    with world.uow as uow:  # 10 patients x 20 days: 200 alerts, each with its delivery
        for index in range(DELIVERIES):
            patient = uow.session.get(Patient, UUID(patients[index % 10]["id"]))
            assert patient is not None
            safeguarding_service.raise_alert(
                uow.session,
                event,
                actor=SYSTEM,
                pharmacy_id=patient.pharmacy_id,
                patient_id=patient.id,
                household_id=None,
                day=today + timedelta(days=index // 10),
                now=clock.now(),
                routing={},
            )
        uow.commit()
    with world.uow as uow:
        assert uow.session.scalar(select(func.count()).select_from(Delivery)) == DELIVERIES

    count = 4 if database.dialect == "postgresql" else 1
    receiver.delay = 0.005  # a little network time, so claims overlap
    small = nsettings.model_copy(
        update={"notify": nsettings.notify.model_copy(update={"batch_size": 10})}
    )
    pool = [workers(f"w{n}", settings=small) for n in range(count)]
    drain_together(session_factory, pool, lambda worker: worker.run_once(), passes=200)

    with world.uow as uow:
        rows = list(uow.session.scalars(select(Delivery)))
        tries = [
            tuple(t)
            for t in uow.session.execute(
                select(DeliveryAttempt.delivery_id, DeliveryAttempt.worker)
            )
        ]
    assert {d.state for d in rows} == {"delivered"}
    assert {d.attempts for d in rows} == {1}
    counts: dict[str, int] = {}
    for item in receiver.received:
        counts[item.headers["webhook-id"]] = counts.get(item.headers["webhook-id"], 0) + 1
    assert set(counts) == {str(d.event_id) for d in rows}
    assert set(counts.values()) == {1}, "a delivery was sent twice"
    assert all(r.verified for r in receiver.received)
    assert len(tries) == DELIVERIES
    assert len({t[0] for t in tries}) == DELIVERIES
    if count > 1:
        assert len({t[1] for t in tries}) > 1, "one worker did everything: no concurrency tested"
