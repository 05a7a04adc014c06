"""The counter's facts come in few round trips (issue 21), and folding them loses nothing.

The lapse's facts (first day, release, last dose taken here and the latest statement of one
taken elsewhere) are one statement per drug, and today's marks on a patient (reassessed,
representative authorised, guest grant, the counter's time zone) one more. These tests pin
the count for a supervised handover, so a new query in the hot path is a decision and not an
accident, and pin the types of the folded columns: an alias made before the table a foreign
key points at is imported copies no type, and a pharmacy id read back as text named the
patient's own pharmacy "another pharmacy".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.sqltypes import NullType

from app.clock import FixedClock
from app.dosing import facts, gather
from app.dosing.decision_inputs import LastDose
from app.dosing.models import LastDoseRecord
from app.patients.models import Patient
from tests.builders import API, MONDAY, at, handover, prescribe
from tests.databases import Database
from tests.factories import World
from tests.register.support import receipt

TUESDAY = MONDAY + timedelta(days=1)
# A supervised handover on a cached token: BEGIN (SQLite), the auth epoch, the patient, the
# prescriptions, today's instalments, the previous dose, the lapse, the collections around
# today, today's marks, today's pump results, the ledger's UPDATE, the prescriber's contact, the
# register's head and line, the audit chain's head and event. PostgreSQL takes the register's
# and the audit chain's advisory locks as statements of their own, and has no BEGIN statement.
BUDGET = {"sqlite": 16, "postgresql": 17}


@contextmanager
def counted(database: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(database.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(database.engine, "before_cursor_execute", count)


def test_a_supervised_handover_keeps_to_its_round_trips(
    world: World, clock: FixedClock, database: Database
) -> None:
    first, second = world.patient(), world.patient()
    for patient in (first, second):
        prescribe(world, patient["id"])
    clock.set(at(MONDAY, 9, 5))
    # Stock on the register: a supply from nothing raises a negative-balance alert on every line.
    assert receipt(world, MONDAY).status_code == 201
    # The first request of the session looks the token up; the second is served from the cache.
    assert world.post(f"{API}/counter/handover", handover(first["id"], MONDAY)).status_code == 201
    with counted(database) as statements:
        response = world.post(f"{API}/counter/handover", handover(second["id"], MONDAY))
    assert response.status_code == 201, response.text
    budget = BUDGET[database.dialect]
    assert len(statements) <= budget, (
        f"a supervised handover now takes {len(statements)} statements (budget {budget}): "
        "fold the new one into an existing query, or raise the budget on purpose\n"
        + "\n".join(s.split("\n")[0][:100] for s in statements)
    )


def test_the_folded_columns_keep_their_types() -> None:
    for statement in (facts._LAPSE_FACTS, gather._MARKS):
        untyped = [str(c) for c in statement.selected_columns if isinstance(c.type, NullType)]
        assert not untyped, f"read back without a type (as text): {untyped}"


@pytest.mark.hazard("H-04.4")
def test_the_last_dose_names_where_it_was_taken(
    world: World, clock: FixedClock, session_factory: sessionmaker[Session]
) -> None:
    """Taken here on Monday: "here" at this counter, another pharmacy's at any other. Then a
    hospital says Tuesday: that is the last dose, and Tuesday no day without one. Then the
    hospital corrects itself to Sunday: the latest statement wins, and Monday here is last."""
    patient = world.patient()
    prescribe(world, patient["id"])
    clock.set(at(MONDAY, 9, 5))
    assert world.post(f"{API}/counter/handover", handover(patient["id"], MONDAY)).status_code == 201
    pair = (UUID(patient["id"]), "methadone-1mg-ml")
    home = world.home.pharmacy_id

    def lapse(pharmacy_id: UUID) -> facts.Lapse:
        with session_factory() as session:
            return facts.lapses(session, [pair], through=TUESDAY, pharmacy_id=pharmacy_id)[pair]

    def hospital_says(taken_on: date, recorded_at: datetime) -> None:
        with session_factory() as session:
            session.add(
                LastDoseRecord(
                    patient_id=pair[0],
                    drug="methadone",
                    taken_on=taken_on,
                    source="hospital",
                    recorded_at=recorded_at,
                )
            )
            session.commit()

    here, elsewhere = lapse(home), lapse(UUID(int=7))
    assert here.last_dose == LastDose(MONDAY, "here", "supervised")
    assert elsewhere.last_dose == LastDose(MONDAY, "another_pharmacy", "supervised")
    assert here.days == elsewhere.days == 1  # Tuesday, not taken

    hospital_says(TUESDAY, at(TUESDAY, 20))
    assert lapse(home) == facts.Lapse(0, LastDose(TUESDAY, "hospital"))

    hospital_says(MONDAY - timedelta(days=1), at(TUESDAY, 21))
    assert lapse(home) == facts.Lapse(1, LastDose(MONDAY, "here", "supervised"))


def test_marks_of_a_patient_with_none_are_empty(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    """No reassessment, authorisation or guest grant today: no marks, and the home pharmacy's
    time zone (the marks that are set are the counter tests' own: guest dosing,
    representatives, reassessment)."""
    patient = world.patient()
    prescribe(world, patient["id"])
    with session_factory() as session:
        loaded = session.get(Patient, UUID(patient["id"]))
        assert loaded is not None
        marks = gather._marks_today(session, [loaded], MONDAY, None)
    assert marks.reassessed == marks.authorised == set()
    assert marks.guests == {}
    assert marks.zones == {loaded.pharmacy_id: "Europe/London"}
