"""A prescription suspended for a hospital admission and resumed, replayed day by day.

The pharmacist's fortnight: the patient takes Monday's and Tuesday's doses, is admitted on
Wednesday, and comes back the next Monday. While suspended, no day is due, none is marked
missed at close of day, and nobody is alerted about missed doses; the counter says the
prescription is suspended. On resume the last-dose rule decides (issue 19 §1): with the ward's
confirmation of the dose it gave on Sunday, Monday's dose is supplied; without it, five days
without a dose here reach the threshold, the prescriber is told at once and the counter blocks
until the prescriber's review.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError

from app.clock import FixedClock
from app.prescriptions.models import SuspensionEvent
from tests.builders import (
    API,
    MONDAY,
    alerts,
    at,
    check,
    close_day,
    codes,
    handover,
    prescribe,
)
from tests.databases import Database
from tests.factories import World

WEDNESDAY = MONDAY + timedelta(days=2)
NEXT_MONDAY = MONDAY + timedelta(days=7)


def ledger_states(world: World, prescription_id: str) -> dict[date, str]:
    response = world.get(f"{API}/prescriptions/{prescription_id}/schedule")
    assert response.status_code == 200, response.text
    return {date.fromisoformat(d["dose_date"]): d["state"] for d in response.json()["items"]}


def admitted_on_wednesday(world: World, clock: FixedClock) -> tuple[dict[str, Any], str]:
    """Monday and Tuesday taken; suspended on Wednesday morning; close of day every evening
    to Saturday."""
    patient = world.patient()
    rx = prescribe(world, patient["id"])
    for day in (MONDAY, MONDAY + timedelta(days=1)):
        clock.set(at(day))
        taken = world.post(f"{API}/counter/handover", handover(patient["id"], day))
        assert taken.status_code == 201, taken.text
        clock.set(at(day, 19))
        close_day(world, day)
    clock.set(at(WEDNESDAY, 8))
    suspended = world.post(
        f"{API}/prescriptions/{rx['id']}/suspend",
        {"from_date": WEDNESDAY.isoformat(), "reason": "hospital", "note": "Admitted to ward 7"},
    )
    assert suspended.status_code == 200, suspended.text
    assert suspended.json()["status"] == "suspended"
    for offset in range(2, 6):  # Wednesday to Saturday
        day = MONDAY + timedelta(days=offset)
        clock.set(at(day, 10))
        decision = check(world, patient["id"])
        assert "prescription_not_active" in codes(decision["blocks"]), decision
        assert any(
            b["message"].startswith("Suspended since Wed 2 Dec 2026 (hospital admission)")
            for b in decision["blocks"]
        ), decision
        clock.set(at(day, 19))
        assert close_day(world, day)["missed"] == 0
    return patient, rx["id"]


@pytest.mark.hazard("H-26.1")
def test_suspended_days_are_neither_due_nor_missed_and_alert_nobody(
    world: World, clock: FixedClock, database: Database
) -> None:
    patient, rx_id = admitted_on_wednesday(world, clock)

    states = ledger_states(world, rx_id)
    assert states[MONDAY] == "supervised"
    assert states[MONDAY + timedelta(days=1)] == "supervised"
    for offset in range(2, 14):  # every day from the admission on was given up
        assert MONDAY + timedelta(days=offset) not in states
    raised = alerts(world, patient_id=patient["id"])
    assert not [a for a in raised if a["kind"].startswith("missed")], raised

    history = world.get(f"{API}/prescriptions/{rx_id}/suspensions")
    assert history.status_code == 200, history.text
    (event,) = history.json()["items"]
    assert (event["change"], event["reason"], event["effective_on"]) == (
        "suspended",
        "hospital",
        WEDNESDAY.isoformat(),
    )
    assert event["days_removed"] == 12
    # The record of who suspended it, when and why is the database's to keep.
    events = SuspensionEvent.__table__
    mine = events.c.prescription_id == uuid.UUID(rx_id)
    with database.engine.connect() as conn:
        for statement in (
            update(events).where(mine).values(note="tidied"),
            delete(events).where(mine),
        ):
            with pytest.raises(DBAPIError, match="append-only"):
                conn.execute(statement)
            conn.rollback()


@pytest.mark.hazard("H-26.2")
def test_resumed_with_the_wards_last_dose_the_patient_is_dosed_on_monday(
    world: World, clock: FixedClock
) -> None:
    patient, rx_id = admitted_on_wednesday(world, clock)
    clock.set(at(NEXT_MONDAY, 9))
    resumed = world.post(
        f"{API}/prescriptions/{rx_id}/resume",
        {
            "last_dose_on": (NEXT_MONDAY - timedelta(days=1)).isoformat(),
            "last_dose_source": "hospital",
            "note": "Discharge letter: 60 mg given on the ward daily, last on Sunday",
        },
    )
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "active"
    states = ledger_states(world, rx_id)
    assert all(states[NEXT_MONDAY + timedelta(days=i)] == "due" for i in range(6))

    decision = check(world, patient["id"])
    assert decision["blocks"] == [], decision
    taken = world.post(f"{API}/counter/handover", handover(patient["id"], NEXT_MONDAY))
    assert taken.status_code == 201, taken.text
    raised = alerts(world, patient_id=patient["id"])
    assert not [a for a in raised if a["kind"].startswith("missed")], raised


@pytest.mark.hazard("H-26.2")
def test_resumed_with_no_dose_confirmed_the_prescriber_is_told_and_must_review(
    world: World, clock: FixedClock
) -> None:
    patient, rx_id = admitted_on_wednesday(world, clock)
    clock.set(at(NEXT_MONDAY, 9))
    resumed = world.post(f"{API}/prescriptions/{rx_id}/resume", {"note": "Discharged today"})
    assert resumed.status_code == 200, resumed.text

    # Last dose taken here on Tuesday: Wednesday to Sunday are five days without a dose.
    decision = check(world, patient["id"])
    assert codes(decision["blocks"]) == ["missed_threshold_reached"], decision
    refused = world.post(f"{API}/counter/handover", handover(patient["id"], NEXT_MONDAY))
    assert refused.status_code == 422, refused.text
    (threshold,) = [
        a
        for a in alerts(world, patient_id=patient["id"])
        if a["kind"] == "missed_threshold_reached"
    ]
    detail = world.get(f"{API}/alerts/{threshold['id']}", role="safeguarding_lead").json()
    assert str(world.prescriber_id) in {str(d["contact_id"]) for d in detail["deliveries"]}

    released = world.post(
        f"{API}/prescriptions/{rx_id}/release",
        {"note": "Reviewed after admission: restart at 30 mg is not needed, ward dosed"},
        role="prescriber",
    )
    assert released.status_code == 201, released.text
    assert check(world, patient["id"])["blocks"] == []


@pytest.mark.hazard("H-26.1")
def test_suspend_and_resume_refuse_what_cannot_be_right(world: World, clock: FixedClock) -> None:
    patient = world.patient()
    rx = prescribe(world, patient["id"])
    clock.set(at(WEDNESDAY, 8))
    url = f"{API}/prescriptions/{rx['id']}"

    future = world.post(
        f"{url}/suspend",
        {"from_date": (WEDNESDAY + timedelta(days=1)).isoformat(), "reason": "hospital"},
    )
    assert future.status_code == 422
    assert future.json()["errors"][0]["rule"] == "not_in_future"
    not_yet = world.post(f"{url}/resume", {})
    assert not_yet.status_code == 409
    assert not_yet.json()["code"] == "not_suspended"
    technician = world.post(
        f"{url}/suspend",
        {"from_date": WEDNESDAY.isoformat(), "reason": "custody"},
        role="technician",
    )
    assert technician.status_code == 403, technician.text
    hidden = world.post(
        f"{url}/suspend",
        {"from_date": WEDNESDAY.isoformat(), "reason": "custody"},
        branch=world.away,
    )
    assert hidden.status_code == 404, hidden.text

    assert (
        world.post(
            f"{url}/suspend", {"from_date": WEDNESDAY.isoformat(), "reason": "custody"}
        ).status_code
        == 200
    )
    twice = world.post(f"{url}/suspend", {"from_date": WEDNESDAY.isoformat(), "reason": "custody"})
    assert twice.status_code == 409
    assert twice.json()["code"] == "not_active"
    half = world.post(f"{url}/resume", {"last_dose_on": WEDNESDAY.isoformat()})
    assert half.status_code == 422
    assert half.json()["errors"][0]["field"] == "last_dose_source"
