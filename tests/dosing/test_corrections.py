"""Correcting the ledger at the counter: a patient who came in late, after close of day had
marked the day missed. Replayed day by day through the HTTP API with close-day each evening
(the week of Monday 30 November 2026; the pharmacy opens Monday to Saturday)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from app.clock import FixedClock
from tests.builders import (
    MONDAY,
    adherence,
    alerts,
    check,
    codes,
    prescribe,
    twice_weekly_take_home,
)
from tests.factories import World
from tests.register.support import API, at, close_day, hand_over, receipt, register

MON, TUE, WED, THU, FRI = (MONDAY + timedelta(days=n) for n in range(5))


def late(world: World, patient_id: str, day: date, **overrides: Any) -> Any:
    body = {
        "patient_id": patient_id,
        "date": day.isoformat(),
        "given_at": "19:30",
        "reason": "Came in at 19:30 after close of day had run; swallowed in front of me",
        "not_intoxicated": True,
        **overrides,
    }
    role = body.pop("role", "pharmacist")
    return world.post(f"{API}/counter/late-doses", body, role=role)


@pytest.mark.hazard("H-09.5", "H-04.4")
def test_a_patient_who_came_after_close_of_day_is_corrected_the_next_morning(
    world: World, clock: FixedClock
) -> None:
    household = world.household()
    world.child(
        household["id"],
        protection_status="child_protection_plan",
        social_worker_id=str(world.social_worker_id),
    )
    patient = world.patient(household["id"])
    pid = patient["id"]
    clock.set(at(MON, 8))
    prescribe(world, pid)
    assert receipt(world, MON).status_code == 201
    hand_over(world, clock, pid, MON)
    for day in (MON, TUE, WED, THU):  # Tuesday to Thursday: nobody came before the close
        close_day(world, clock, day)

    clock.set(at(FRI, 9))
    blocked = check(world, pid)
    assert "missed_threshold_reached" in codes(blocked["blocks"])
    thursday = [a for a in alerts(world, patient_id=pid) if a["created_at"].startswith(str(THU))]
    assert "missed_threshold_reached" in {a["kind"] for a in thursday}

    technician = late(world, pid, THU, role="technician")
    assert technician.status_code == 403, technician.text
    no_attestation = late(world, pid, THU, not_intoxicated=False)
    assert no_attestation.status_code == 422, no_attestation.text
    too_late = late(world, pid, TUE)
    assert too_late.status_code == 422, too_late.text
    assert [e["rule"] for e in too_late.json()["errors"]] == ["too_late_to_correct"]

    corrected = late(world, pid, THU)
    assert corrected.status_code == 201, corrected.text
    assert corrected.json()["from_state"] == "missed"
    assert corrected.json()["to_state"] == "supervised"
    assert corrected.json()["alerts_resolved"] == len(thursday)

    # What the pharmacist sees now: the block is gone, Thursday is the last dose.
    decision = check(world, pid)
    assert decision["allowed"] is True, decision["blocks"]
    assert decision["last_dose"]["taken_on"] == THU.isoformat()
    assert decision["last_dose"]["days_without_dose"] == 0
    # Thursday's alerts were about a day that was not missed: resolved, with the reason;
    # Tuesday's and Wednesday's days were really missed, and their alerts stand.
    after = {a["id"]: a for a in alerts(world, patient_id=pid)}
    for alert in thursday:
        assert after[alert["id"]]["state"] == "resolved", alert["kind"]
    earlier = [a for a in after.values() if a["created_at"][:10] in (str(TUE), str(WED))]
    assert earlier
    assert all(a["state"] != "resolved" for a in earlier)
    detail = world.get(f"{API}/alerts/{thursday[0]['id']}").json()
    assert any("took the dose under supervision at 19:30" in h["note"] for h in detail["history"])
    # The CD register: a supply line dated Thursday, written on Friday.
    supplies = [e for e in register(world)["items"] if e["kind"] == "supply"]
    assert [(s["transaction_date"], s["entered_on"]) for s in supplies][-1] == (
        THU.isoformat(),
        FRI.isoformat(),
    )
    days = {d["dose_date"]: d["state"] for d in adherence(world, pid, MON, THU)["days"]}
    assert days == {
        str(MON): "supervised",
        str(TUE): "missed",
        str(WED): "missed",
        str(THU): "supervised",
    }

    again = late(world, pid, THU)
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "nothing_to_correct"


@pytest.mark.hazard("H-09.5")
def test_a_take_home_collection_marked_missed_is_not_recorded_after_close(
    world: World, clock: FixedClock
) -> None:
    """The father's Monday collection closes as missed; he says he came at 19:30 and took his
    bottles. A late correction would record a take-home whose box, children and labels were
    never checked: refused, with what to do instead, and nothing recorded."""
    patient = world.patient(world.household()["id"])
    pid = patient["id"]
    clock.set(at(MON, 8))
    prescribe(world, pid, **twice_weekly_take_home(40))
    assert receipt(world, MON).status_code == 201
    close_day(world, clock, MON)
    clock.set(at(TUE, 9))
    before = register(world)["items"]

    refused = late(world, pid, MON)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "take_home_not_correctable"
    assert "enter the supply as a correction in the CD register" in refused.json()["detail"]
    assert register(world)["items"] == before
    days = {d["dose_date"]: d["state"] for d in adherence(world, pid, MON, MON)["days"]}
    assert days == {str(MON): "missed"}
