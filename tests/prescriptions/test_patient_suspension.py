"""Every prescription of a patient suspended at once, and the counter naming the suspension,
replayed day by day (issue 19 §1).

The pharmacist's fortnight: the patient has this fortnight's prescription and next fortnight's,
already checked. They take Monday's and Tuesday's doses and are admitted to hospital on
Wednesday; the pharmacist suspends all of their prescriptions from Wednesday. Until the patient
comes back the counter says since when and why the prescription is suspended, close of day
marks nothing missed, and nobody is alerted. The next Monday the ward confirms Sunday's dose,
the pharmacist resumes all of them and Monday's dose is supplied.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from app.clock import FixedClock
from tests.builders import (
    API,
    MONDAY,
    alerts,
    at,
    check,
    close_day,
    handover,
    prescribe,
    signed_in,
)
from tests.factories import World

WEDNESDAY = MONDAY + timedelta(days=2)
NEXT_MONDAY = MONDAY + timedelta(days=7)
FORTNIGHT_AFTER = MONDAY + timedelta(days=14)
SUSPENDED_WORDS = (
    "Suspended since Wed 2 Dec 2026 (hospital admission) — do not supply; the prescription "
    "resumes when the pharmacist or prescriber records the patient's return."
)


def states(world: World, prescription_id: str) -> dict[date, str]:
    response = world.get(f"{API}/prescriptions/{prescription_id}/schedule")
    assert response.status_code == 200, response.text
    return {date.fromisoformat(d["dose_date"]): d["state"] for d in response.json()["items"]}


def suspension_block(decision: dict[str, Any]) -> dict[str, Any]:
    (block,) = [b for b in decision["blocks"] if b["code"] == "prescription_not_active"]
    return block


@pytest.mark.hazard("H-26.1")
def test_the_counter_and_the_outage_sheet_say_since_when_and_why_it_is_suspended(
    world: World, clock: FixedClock
) -> None:
    patient = world.patient(given_name="Ward", family_name="Sevenly")
    rx = prescribe(world, patient["id"])
    for day in (MONDAY, MONDAY + timedelta(days=1)):
        clock.set(at(day))
        assert (
            world.post(f"{API}/counter/handover", handover(patient["id"], day)).status_code == 201
        )
        clock.set(at(day, 19))
        close_day(world, day)
    # Wednesday: the dose is taken in the morning; the patient is admitted in the afternoon.
    clock.set(at(WEDNESDAY))
    assert (
        world.post(f"{API}/counter/handover", handover(patient["id"], WEDNESDAY)).status_code == 201
    )
    clock.set(at(WEDNESDAY, 15))
    suspended = world.post(
        f"{API}/prescriptions/{rx['id']}/suspend",
        {"from_date": WEDNESDAY.isoformat(), "reason": "hospital", "note": "Ward 7 rang"},
    )
    assert suspended.status_code == 200, suspended.text

    block = suspension_block(check(world, patient["id"]))
    assert block["message"] == SUSPENDED_WORDS
    assert "issue 19" in block["source"]

    # Today's sheet, printed after the admission, says the same on paper.
    sheet = signed_in(world, "pharmacist").page(f"/counter/sheet?date={WEDNESDAY.isoformat()}")
    assert sheet.status_code == 200, sheet.text
    assert "Sevenly, Ward" in sheet.text
    assert "Do not supply: Suspended since Wed 2 Dec 2026 (hospital admission)" in sheet.text

    # The day after, the counter still names the day it began, not today.
    clock.set(at(WEDNESDAY + timedelta(days=1)))
    assert suspension_block(check(world, patient["id"]))["message"] == SUSPENDED_WORDS


@pytest.mark.hazard("H-26.1")
def test_a_patient_suspended_for_a_hospital_stay_is_marked_missed_nowhere_and_resumed_with_the_wards_dose(  # noqa: E501
    world: World, clock: FixedClock
) -> None:
    patient = world.patient()
    this = prescribe(world, patient["id"])
    following = prescribe(
        world,
        patient["id"],
        start_on=FORTNIGHT_AFTER.isoformat(),
        end_on=(FORTNIGHT_AFTER + timedelta(days=13)).isoformat(),
        last_dose=None,
    )
    for day in (MONDAY, MONDAY + timedelta(days=1)):
        clock.set(at(day))
        assert (
            world.post(f"{API}/counter/handover", handover(patient["id"], day)).status_code == 201
        )
        clock.set(at(day, 19))
        close_day(world, day)

    clock.set(at(WEDNESDAY, 8))
    suspended = world.post(
        f"{API}/patients/{patient['id']}/suspend",
        {"from_date": WEDNESDAY.isoformat(), "reason": "hospital", "note": "Admitted to ward 7"},
    )
    assert suspended.status_code == 200, suspended.text
    assert sorted(p["id"] for p in suspended.json()["items"]) == sorted(
        [this["id"], following["id"]]
    )
    assert {p["status"] for p in suspended.json()["items"]} == {"suspended"}
    for offset in range(2, 6):  # Wednesday to Saturday
        day = MONDAY + timedelta(days=offset)
        clock.set(at(day, 10))
        decision = check(world, patient["id"])
        assert suspension_block(decision)["message"] == SUSPENDED_WORDS
        assert not decision["allowed"]
        clock.set(at(day, 19))
        assert close_day(world, day)["missed"] == 0
    assert not [a for a in alerts(world, patient_id=patient["id"]) if "missed" in a["kind"]]
    assert states(world, following["id"]) == {}  # every day of the next fortnight given up
    history = world.get(f"{API}/patients/{patient['id']}/suspensions").json()["items"]
    assert sorted(
        (e["prescription_id"], e["effective_on"], e["reason"]) for e in history
    ) == sorted(
        [
            (this["id"], WEDNESDAY.isoformat(), "hospital"),
            (following["id"], WEDNESDAY.isoformat(), "hospital"),
        ]
    )

    clock.set(at(NEXT_MONDAY, 9))
    resumed = world.post(
        f"{API}/patients/{patient['id']}/resume",
        {
            "last_dose_on": (NEXT_MONDAY - timedelta(days=1)).isoformat(),
            "last_dose_source": "hospital",
            "note": "Discharge letter: 60 mg daily on the ward, last on Sunday",
        },
    )
    assert resumed.status_code == 200, resumed.text
    assert {p["status"] for p in resumed.json()["items"]} == {"active"}
    assert check(world, patient["id"])["blocks"] == []
    taken = world.post(f"{API}/counter/handover", handover(patient["id"], NEXT_MONDAY))
    assert taken.status_code == 201, taken.text
    assert states(world, this["id"])[NEXT_MONDAY] == "supervised"
    assert len(states(world, following["id"])) == 14  # the next fortnight planned again
    assert not [a for a in alerts(world, patient_id=patient["id"]) if "missed" in a["kind"]]
    history = world.get(f"{API}/patients/{patient['id']}/suspensions").json()["items"]
    assert [e["change"] for e in history] == ["suspended", "suspended", "resumed", "resumed"]
    assert {e["last_dose_source"] for e in history[2:]} == {"hospital"}


@pytest.mark.hazard("H-26.1")
def test_suspending_a_patient_refuses_what_cannot_be_right(world: World, clock: FixedClock) -> None:
    patient = world.patient()
    url = f"{API}/patients/{patient['id']}"
    body = {"from_date": WEDNESDAY.isoformat(), "reason": "custody"}
    clock.set(at(WEDNESDAY, 8))

    none = world.post(f"{url}/suspend", body)
    assert none.status_code == 409, none.text
    assert none.json()["code"] == "no_active_prescription"
    rx = prescribe(world, patient["id"])
    assert world.post(f"{url}/suspend", body, role="technician").status_code == 403
    assert world.post(f"{url}/suspend", body, branch=world.away).status_code == 404
    assert world.post(f"{url}/resume", {}, branch=world.away).status_code == 404
    not_yet = world.post(f"{url}/resume", {})
    assert not_yet.status_code == 409, not_yet.text
    assert not_yet.json()["code"] == "not_suspended"
    future = world.post(f"{url}/suspend", {**body, "from_date": "2026-12-03"})
    assert future.status_code == 422
    assert future.json()["errors"][0]["rule"] == "not_in_future"

    assert world.post(f"{url}/suspend", body).status_code == 200
    assert world.get(f"{API}/prescriptions/{rx['id']}").json()["status"] == "suspended"
    twice = world.post(f"{url}/suspend", body)
    assert twice.status_code == 409
    assert twice.json()["code"] == "no_active_prescription"
    assert world.post(f"{url}/resume", {}, role="technician").status_code == 403
    half = world.post(f"{url}/resume", {"last_dose_source": "custody"})
    assert half.status_code == 422
    assert half.json()["errors"][0]["field"] == "last_dose_on"
    # Nothing was half done: the prescription is still suspended, with one record.
    assert world.get(f"{API}/prescriptions/{rx['id']}").json()["status"] == "suspended"
    assert len(world.get(f"{url}/suspensions").json()["items"]) == 1
