"""A permanent transfer replayed over a week (issue 19 §2): a patient moves house and changes
pharmacy on Wednesday.

Monday and Tuesday at the old pharmacy; on Wednesday morning its pharmacist transfers the
patient with a handover note. From then the old pharmacy cannot find the patient at all (its
own CD register lines stay), the new pharmacy has the patient, the prescription, the days
still due and the note, and supplies Wednesday; its close of day looks after the days from
then on. The household goes too when nobody else of the old pharmacy lives there; when a
partner stays with the old pharmacy, both pharmacies see the household through their own
patient.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError

from app.clock import FixedClock
from app.patients.models import PatientTransfer
from tests.builders import API, MONDAY, at, check, close_day, handover, prescribe
from tests.databases import Database
from tests.factories import ROLES, Branch, World

TUE, WED, THU = (MONDAY + timedelta(days=n) for n in range(1, 4))
NOTE = "60 mg daily supervised Mon-Sat, last dose Tue 09:40. Lives alone, box seen 20/11."


def ods_code(world: World, branch: Branch) -> str:
    response = world.get(f"{API}/pharmacies/{branch.pharmacy_id}", branch=branch)
    assert response.status_code == 200, response.text
    return str(response.json()["ods_code"])


def transfer(
    world: World, patient_id: str, to: Branch, role: str = "pharmacist", note: str = NOTE
) -> Any:
    return world.post(
        f"{API}/patients/{patient_id}/transfer",
        {"to_ods_code": ods_code(world, to), "handover_note": note},
        role=role,
    )


def register_lines(world: World, branch: Branch, patient_id: str) -> list[dict[str, Any]]:
    response = world.get(f"{API}/register", branch=branch, params={"product": "methadone-1mg-ml"})
    assert response.status_code == 200, response.text
    return [e for e in response.json()["items"] if e.get("patient_id") == patient_id]


def moving_on_wednesday(world: World, clock: FixedClock, household_id: str) -> tuple[str, str]:
    patient = world.patient(household_id, family_name="Mover")["id"]
    clock.set(at(MONDAY, 8))
    rx = prescribe(world, patient)
    for day in (MONDAY, TUE):
        clock.set(at(day, 9))
        assert world.post(f"{API}/counter/handover", handover(patient, day)).status_code == 201
        clock.set(at(day, 19))
        close_day(world, day)
    clock.set(at(WED, 8))
    return patient, rx["id"]


@pytest.mark.hazard("H-28.3")
def test_a_transferred_patient_is_the_new_pharmacys_from_that_morning(
    world: World, clock: FixedClock
) -> None:
    household = world.household()
    patient, rx_id = moving_on_wednesday(world, clock, household["id"])
    moved = transfer(world, patient, world.away)
    assert moved.status_code == 201, moved.text
    body = moved.json()
    assert body["prescriptions_moved"] == 1
    assert body["days_moved"] == 12  # Wednesday to the last day of the fortnight
    assert body["household_moved"] is True
    assert body["to_pharmacy"]["ods_code"] == ods_code(world, world.away)

    # The old pharmacy: the patient is unknown now; its own supplies stay in its register.
    assert world.get(f"{API}/patients/{patient}").status_code == 404
    assert world.post(f"{API}/counter/check", {"patient_id": patient}).status_code == 404
    assert world.get(f"{API}/households/{household['id']}").status_code == 404
    assert len(register_lines(world, world.home, patient)) == 2

    # The new pharmacy: the patient, the note, the prescription and Wednesday's dose.
    assert world.get(f"{API}/patients/{patient}", branch=world.away).status_code == 200
    notes = world.get(f"{API}/patients/{patient}/transfers", branch=world.away)
    assert notes.status_code == 200, notes.text
    assert notes.json()["items"][0]["handover_note"] == NOTE
    assert world.get(f"{API}/households/{household['id']}", branch=world.away).status_code == 200
    decision = world.post(f"{API}/counter/check", {"patient_id": patient}, branch=world.away)
    assert decision.status_code == 200, decision.text
    assert decision.json()["blocks"] == [], decision.json()
    assert decision.json()["last_dose"]["taken_on"] == TUE.isoformat()
    clock.set(at(WED, 10))
    given = world.post(f"{API}/counter/handover", handover(patient, WED), branch=world.away)
    assert given.status_code == 201, given.text
    assert len(register_lines(world, world.away, patient)) == 1
    # Thursday missed at the new pharmacy: its close marks it, the old one's never does.
    clock.set(at(THU, 19))
    assert close_day(world, THU)["missed"] == 0
    assert close_day(world, THU, branch=world.away)["missed"] == 1
    schedule = world.get(f"{API}/prescriptions/{rx_id}/schedule", branch=world.away)
    states = {date.fromisoformat(d["dose_date"]): d["state"] for d in schedule.json()["items"]}
    assert (states[TUE], states[WED], states[THU]) == ("supervised", "supervised", "missed")


@pytest.mark.hazard("H-28.3")
def test_a_partner_staying_with_the_old_pharmacy_keeps_the_household_seen_by_both(
    world: World, clock: FixedClock, database: Database
) -> None:
    household = world.household()
    partner = world.patient(household["id"], family_name="Stayer")["id"]
    patient, _ = moving_on_wednesday(world, clock, household["id"])
    moved = transfer(world, patient, world.away)
    assert moved.status_code == 201, moved.text
    assert moved.json()["household_moved"] is False
    assert world.get(f"{API}/households/{household['id']}").status_code == 200
    assert world.get(f"{API}/households/{household['id']}", branch=world.away).status_code == 200
    assert world.get(f"{API}/patients/{partner}", branch=world.away).status_code == 404
    # The transfer and its note are the database's to keep.
    with database.engine.connect() as conn:
        with pytest.raises(DBAPIError, match="append-only"):
            conn.execute(
                update(PatientTransfer.__table__)
                .where(PatientTransfer.__table__.c.id == uuid.UUID(moved.json()["id"]))
                .values(handover_note="tidied")
            )
        conn.rollback()


@pytest.mark.hazard("H-28.3")
def test_a_transfer_refuses_what_cannot_be_right(world: World, clock: FixedClock) -> None:
    patient, rx_id = moving_on_wednesday(world, clock, world.household()["id"])
    for role in (r for r in ROLES if r != "pharmacist"):
        assert transfer(world, patient, world.away, role=role).status_code == 403, role
    short = transfer(world, patient, world.away, note="see notes")
    assert short.status_code == 422, short.text
    unknown = world.post(
        f"{API}/patients/{patient}/transfer", {"to_ods_code": "ZZZ999", "handover_note": NOTE}
    )
    assert unknown.status_code == 422, unknown.text
    assert unknown.json()["errors"][0]["rule"] == "known_pharmacy"
    assert transfer(world, patient, world.home).status_code == 422
    # Another pharmacy's patient is not found, exactly as an unknown one.
    theirs = world.post(
        f"{API}/patients/{patient}/transfer",
        {"to_ods_code": ods_code(world, world.home), "handover_note": NOTE},
        branch=world.away,
    )
    assert theirs.status_code == 404, theirs.text
    # A stay arranged with a guest pharmacy is ended before the patient moves.
    granted = world.post(
        f"{API}/prescriptions/{rx_id}/guest-grants",
        {
            "guest_ods_code": ods_code(world, world.away),
            "from_date": THU.isoformat(),
            "to_date": (THU + timedelta(days=2)).isoformat(),
            "note": "A weekend away",
        },
    )
    assert granted.status_code == 201, granted.text
    open_grant = transfer(world, patient, world.away)
    assert open_grant.status_code == 409, open_grant.text
    assert open_grant.json()["code"] == "guest_grant_open"
    assert check(world, patient)["blocks"] == []  # nothing moved


@pytest.mark.hazard("H-28.3")
def test_the_patients_open_alerts_go_with_them(world: World, clock: FixedClock) -> None:
    patient, _ = moving_on_wednesday(world, clock, world.household()["id"])
    withheld = world.post(
        f"{API}/counter/withhold",
        {"patient_id": patient, "date": WED.isoformat(), "reason": "intoxicated"},
    )
    assert withheld.status_code == 201, withheld.text
    (alert_id,) = withheld.json()["alerts"]
    assert transfer(world, patient, world.away).status_code == 201
    assert world.get(f"{API}/alerts/{alert_id}").status_code == 404
    moved = world.get(f"{API}/alerts/{alert_id}", branch=world.away)
    assert moved.status_code == 200, moved.text
