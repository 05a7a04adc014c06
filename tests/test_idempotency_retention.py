"""Stored Idempotency-Key responses are kept `idempotency_retention_hours`, then the delivery
worker deletes them in short batches (app/http/idempotency.py). A retry after that is a fresh
request: for a handover the ledger refuses it, so a purge can never cause a second dose."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.actor import SYSTEM
from app.audit.models import AuditEvent
from app.auth import service as auth_service
from app.clock import FixedClock
from app.config import AuthSettings, Settings
from app.db import UnitOfWork, make_session_factory
from app.dosing.models import InstalmentDay
from app.http import idempotency
from app.http.models import IdempotentRequest
from app.safeguarding.delivery import alert_worker
from tests.builders import API, MONDAY, at, handover, prescribe
from tests.databases import Database
from tests.factories import World


def store(uow: UnitOfWork, user_id: UUID, created_at: datetime, count: int = 1) -> list[str]:
    """Stored responses as a handover leaves them, made `created_at`; returns their keys."""
    keys = [f"test-{uuid4()}" for _ in range(count)]
    with uow:
        uow.session.add_all(
            IdempotentRequest(
                user_id=user_id,
                key=key,
                request_hash="0" * 64,
                status_code=201,
                response={"handover_id": key},
                created_at=created_at,
            )
            for key in keys
        )
        uow.commit()
    return keys


def kept(uow: UnitOfWork, keys: list[str]) -> set[str]:
    with uow:
        return set(
            uow.session.scalars(
                select(IdempotentRequest.key).where(IdempotentRequest.key.in_(keys))
            )
        )


Store = Callable[..., list[str]]


@pytest.fixture
def stored(world: World, uow: UnitOfWork) -> Iterator[Store]:
    """`store` for the home pharmacist, in the worker's shared database: whatever the test
    leaves is deleted after it. Tests store rows in years long before the suite's "now", so
    nothing other tests stored is older than their cutoffs, and nothing they leave behind is
    older than another's."""
    made: list[str] = []

    def make(created_at: datetime, count: int = 1) -> list[str]:
        keys = store(uow, world.home.users["pharmacist"], created_at, count)
        made.extend(keys)
        return keys

    yield make
    with uow:
        uow.session.execute(delete(IdempotentRequest).where(IdempotentRequest.key.in_(made)))
        uow.commit()


def test_rows_older_than_the_retention_are_deleted_and_younger_ones_kept(
    world: World, uow: UnitOfWork, stored: Store
) -> None:
    now = datetime(2019, 6, 10, 12, 0, tzinfo=UTC)
    retention = timedelta(hours=world.settings.idempotency_retention_hours)
    old = stored(now - retention - timedelta(hours=1), count=3)
    at_the_edge = stored(now - retention)
    young = stored(now - retention + timedelta(minutes=1)) + stored(now)

    deleted = idempotency.purge_expired(uow, now=now, retention=retention)

    assert deleted == 3
    assert kept(uow, old) == set()
    assert kept(uow, at_the_edge + young) == set(at_the_edge + young)


def test_the_purge_deletes_in_bounded_batches_and_stops_after_its_last(
    world: World, uow: UnitOfWork, stored: Store
) -> None:
    now = datetime(2018, 3, 5, 12, 0, tzinfo=UTC)
    old = stored(now - timedelta(days=30), count=25)
    young = stored(now)

    first = idempotency.purge_expired(
        uow, now=now, retention=timedelta(days=2), batch_size=10, max_batches=2
    )
    assert first == 20, "two batches of ten, then it stops"
    assert len(kept(uow, old)) == 5
    rest = idempotency.purge_expired(
        uow, now=now, retention=timedelta(days=2), batch_size=10, max_batches=2
    )
    assert rest == 5
    assert kept(uow, old + young) == set(young)


def test_the_worker_s_task_purges_now_then_every_ten_minutes_or_at_once_while_behind(
    world: World, uow: UnitOfWork, stored: Store
) -> None:
    start = datetime(2017, 9, 1, 12, 0, tzinfo=UTC)
    purge = idempotency.purge_task(24, batch_size=5, max_batches=1)
    backlog = stored(start - timedelta(days=3), count=7)

    assert purge(uow, start) == 5, "the first pass purges at once"
    assert purge(uow, start + timedelta(seconds=1)) == 2, "a full batch: again on the next pass"
    late = stored(start - timedelta(days=2))
    assert purge(uow, start + timedelta(minutes=5)) == 0, "not due: the table is not scanned"
    assert kept(uow, late) == set(late)
    assert purge(uow, start + timedelta(minutes=11)) == 1
    assert kept(uow, backlog + late) == set()


def post_with_key(world: World, body: dict[str, Any], key: str) -> Any:
    return world.client.post(
        f"{API}/counter/handover",
        json=body,
        headers={**world.home.headers(), "Idempotency-Key": key},
    )


def supplied(world: World, patient_id: str) -> tuple[list[str], int]:
    """Monday's ledger state and how many `dose.handed_over` events the patient has."""
    with world.uow:
        session = world.uow.session
        states = list(
            session.scalars(
                select(InstalmentDay.state).where(
                    InstalmentDay.patient_id == UUID(patient_id),
                    InstalmentDay.dose_date == MONDAY,
                )
            )
        )
        handed = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "dose.handed_over", AuditEvent.entity_id == patient_id)
        )
    return [str(s) for s in states], int(handed or 0)


@pytest.mark.hazard("H-03.1")
def test_a_handover_retried_after_its_record_was_purged_is_refused_already_recorded(
    world: World, clock: FixedClock
) -> None:
    """The same day, the stored response gone: the retry is a fresh request, and the ledger's
    one row per patient and day refuses it. Never a second dose."""
    patient = world.patient()
    prescribe(world, patient["id"])
    clock.set(at(MONDAY))
    key = str(uuid4())
    body = handover(patient["id"], MONDAY)
    first = post_with_key(world, body, key)
    assert first.status_code == 201, first.text

    retention = timedelta(hours=world.settings.idempotency_retention_hours)
    idempotency.purge_expired(world.uow, now=at(MONDAY, 9, 31) + retention, retention=retention)
    assert kept(world.uow, [key]) == set()
    clock.set(at(MONDAY, 9, 40))

    for _ in range(2):
        again = post_with_key(world, body, key)
        assert again.status_code == 409, again.text
        assert again.json()["code"] == "already_recorded"
    assert supplied(world, patient["id"]) == (["supervised"], 1)


@pytest.mark.hazard("H-03.1")
def test_the_delivery_worker_keeps_a_response_for_the_retention_then_purges_it(
    world: World, clock: FixedClock, session_factory: sessionmaker[Session]
) -> None:
    """Within the retention a retry replays the first answer, even days later; after it, the
    retry (a handover dated a past day) is refused, and nothing is supplied again."""
    patient = world.patient()
    prescribe(world, patient["id"])
    clock.set(at(MONDAY))
    key = str(uuid4())
    body = handover(patient["id"], MONDAY)
    first = post_with_key(world, body, key)
    assert first.status_code == 201, first.text
    hours = world.settings.idempotency_retention_hours
    worker = alert_worker(session_factory, world.settings, clock, name="retention", seed=1)
    try:
        clock.set(at(MONDAY) + timedelta(hours=hours - 1))
        worker.run_tasks()
        replayed = post_with_key(world, body, key)
        assert replayed.status_code == 201, replayed.text
        assert replayed.json() == first.json()

        clock.set(at(MONDAY) + timedelta(hours=hours + 1))
        worker.run_tasks()
        assert kept(world.uow, [key]) == set()
        late = post_with_key(world, body, key)
    finally:
        worker.close()
    assert late.status_code == 422, late.text
    assert late.json()["errors"][0]["rule"] == "today_only"
    assert supplied(world, patient["id"]) == (["supervised"], 1)


REFUSE_DELETES = {
    "sqlite": [
        "CREATE TRIGGER refuse_purge BEFORE DELETE ON idempotent_requests "
        "BEGIN SELECT RAISE(ABORT, 'deletes refused'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION refuse_purge() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'deletes refused'; END $$",
        "CREATE TRIGGER refuse_purge BEFORE DELETE ON idempotent_requests "
        "FOR EACH ROW EXECUTE FUNCTION refuse_purge()",
    ],
}
ALLOW_DELETES = {
    "sqlite": ["DROP TRIGGER refuse_purge"],
    "postgresql": ["DROP TRIGGER refuse_purge ON idempotent_requests"],
}


def test_a_purge_that_fails_never_stops_the_worker_s_pass(
    fresh_database: Database, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """The pass that purges also delivers safeguarding alerts: a purge the database refuses
    (here a trigger; in life a role without DELETE) is logged and tried again later."""
    factory = make_session_factory(fresh_database.engine)
    uow = UnitOfWork(factory)
    now = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    user = auth_service.add_user(
        uow,
        actor=SYSTEM,
        username="purge-admin",
        password="correct horse battery",
        role="admin",
        now=now,
        settings=AuthSettings(password_profile="cheapest"),
    )
    expired = store(uow, user.id, now - timedelta(days=30))
    with fresh_database.engine.begin() as connection:
        for statement in REFUSE_DELETES[fresh_database.dialect]:
            connection.exec_driver_sql(statement)
    clock = FixedClock(now)
    fresh = settings.model_copy(update={"database_url": fresh_database.url})
    worker = alert_worker(factory, fresh, clock, name="purge-refused", seed=1)
    try:
        with caplog.at_level(logging.ERROR, logger="dosekeeper.http"):
            assert worker.run_once() == 0, "the pass went on to claim (nothing to deliver)"
        assert "purging expired idempotency records failed" in caplog.text
        assert kept(uow, expired) == set(expired)

        with fresh_database.engine.begin() as connection:
            for statement in ALLOW_DELETES[fresh_database.dialect]:
                connection.exec_driver_sql(statement)
        clock.set(now + timedelta(minutes=5))
        worker.run_tasks()
        assert kept(uow, expired) == set(expired), "not due again yet"
        clock.set(now + timedelta(minutes=11))
        worker.run_tasks()
        assert kept(uow, expired) == set()
    finally:
        worker.close()
