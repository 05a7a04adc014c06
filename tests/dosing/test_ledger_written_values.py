"""The handover no longer re-reads the rows it has just written (issue 21): `ledger.change_day`
gives the caller's loaded row the values as the database reads them back. These tests hold
that promise: what the pharmacist is told (the response, the label and register that follow)
is what a fresh read of the ledger says, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID, uuid4

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.dosing import ledger
from app.dosing.models import DoseState, InstalmentDay, Mode
from app.errors import Conflict
from tests.builders import API, MONDAY, at, handover, prescribe, twice_weekly_take_home
from tests.factories import World


def _fresh(session_factory: sessionmaker[Session], day_id: str) -> InstalmentDay:
    with session_factory() as session:
        row = session.get(InstalmentDay, UUID(day_id))
        assert row is not None
        session.expunge(row)
        return row


def test_a_handover_answers_with_what_the_ledger_holds(
    world: World, clock: FixedClock, session_factory: sessionmaker[Session]
) -> None:
    """A supervised dose and a take-home collection: each dose the response names reads back
    the same from the database (state, mode, dose, when and by whom)."""
    supervised = world.patient()
    prescribe(world, supervised["id"])
    take_home = world.patient()
    prescribe(world, take_home["id"], **twice_weekly_take_home(40))
    clock.set(at(MONDAY, 10, 5))
    no_household = [{"code": "children_not_confirmed", "reason": "lives alone, seen today"}]
    for patient, outcome, overrides in (
        (supervised, "supervised", []),
        (take_home, "collected", no_household),
    ):
        body = handover(patient["id"], MONDAY, outcome, overrides=overrides)
        response = world.post(f"{API}/counter/handover", body)
        assert response.status_code == 201, response.text
        doses = response.json()["doses"]
        assert doses
        for dose in doses:
            stored = _fresh(session_factory, dose["id"])
            assert dose["state"] == stored.state == outcome
            assert dose["mode"] == stored.mode
            assert dose["dose_mg"] == str(stored.dose_mg)
            assert stored.recorded_at is not None
            assert dose["recorded_at"] == stored.recorded_at.isoformat()


def test_change_day_gives_the_row_its_values_as_read_back(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    """An instant in another zone comes back in UTC and a code as its text, as a fresh read
    gives them; a second change of the same day is refused and leaves the row untouched."""
    patient = world.patient()
    prescribe(world, patient["id"])
    noon_in_new_york = datetime(2026, 11, 30, 7, 0, tzinfo=timezone(timedelta(hours=-5)))
    with session_factory() as session:
        row = session.scalars(
            select(InstalmentDay).where(InstalmentDay.patient_id == UUID(patient["id"]))
        ).first()
        assert row is not None
        day_id = row.id
        values = {
            "state": DoseState.SUPERVISED,
            "mode": Mode.SUPERVISED,
            "handover_id": uuid4(),
            "recorded_by_id": world.home.users["pharmacist"],
            "recorded_at": noon_in_new_york,
            "children_present": [],
            "decision": {"acknowledged": ["dose_changed"], "overrides": {}},
        }
        ledger.change_day(session, day_id, expected=DoseState.DUE, values=values, row=row)
        session.commit()
        held = {name: getattr(row, name) for name in values}
        with pytest.raises(Conflict) as refused:
            ledger.change_day(session, day_id, expected=DoseState.DUE, values=values, row=row)
        assert refused.value.code == "already_recorded"
        session.rollback()
    stored = _fresh(session_factory, str(day_id))
    for name, value in held.items():
        assert value == getattr(stored, name), name
    assert held["recorded_at"] == datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    assert held["recorded_at"].tzinfo == UTC
    assert type(held["state"]) is str
    assert type(stored.state) is str
