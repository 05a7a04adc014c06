"""A supervised dose recorded against the wrong patient, put right on the day (issue 17,
"Corrections"). Replayed through the HTTP API over a week, close-day each evening: two patients
on supervised doses of different strengths, one picked on the screen while the other swallowed
their own dose; found when the first arrives and the counter says "already recorded". What the
pharmacist sees afterwards (the counter, the register lines, the alerts) is asserted, and the
case where the one who took it should not have had it (loss of tolerance) alerts the prescriber.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError

from app.clock import FixedClock
from app.dosing.models import InstalmentDay
from tests.builders import MONDAY, adherence, alerts, check, codes, prescribe
from tests.databases import Database
from tests.factories import World
from tests.register.support import API, at, close_day, hand_over, receipt, register

MON, TUE, WED, THU, FRI = (MONDAY + timedelta(days=n) for n in range(5))
LOWER_DOSE = {
    "daily_dose_mg": "45",
    "total_quantity_ml": "630",
    "total_quantity_words": "six hundred and thirty",
    "direction_text": "45mg (45ml) daily. Supervised consumption Mon-Sat. "
    "Sunday dose to be collected on Saturday.",
}


def moved(world: World, recorded: str, taker: str, day: date, **overrides: Any) -> Any:
    body = {
        "recorded_patient_id": recorded,
        "taken_by_patient_id": taker,
        "date": day.isoformat(),
        "reason": "Selected the wrong name on the due list; the other patient took their own dose",
        "own_dose_given": True,
        "not_intoxicated": True,
        **overrides,
    }
    role = body.pop("role", "pharmacist")
    return world.post(f"{API}/counter/wrong-patient-doses", body, role=role)


def balance(world: World) -> Decimal:
    return Decimal(register(world)["items"][-1]["balance_ml"])


@pytest.mark.hazard("H-09.6")
def test_a_dose_recorded_against_the_wrong_patient_is_moved_the_same_day(
    world: World, clock: FixedClock
) -> None:
    alex = world.patient()["id"]  # 60 mg
    bo = world.patient()["id"]  # 45 mg
    clock.set(at(MON, 8))
    prescribe(world, alex)
    prescribe(world, bo, **LOWER_DOSE)
    assert receipt(world, MON).status_code == 201
    hand_over(world, clock, alex, MON)
    hand_over(world, clock, bo, MON)
    close_day(world, clock, MON)
    assert balance(world) == Decimal(1000 - 60 - 45)

    # Tuesday 10:00: Bo swallows their 45 mg, recorded against Alex by mistake.
    hand_over(world, clock, alex, TUE)
    clock.set(at(TUE, 11))
    arrived = check(world, alex)  # Alex arrives: the counter says the dose is recorded
    assert "already_recorded" in codes(arrived["blocks"])

    technician = moved(world, alex, bo, TUE, role="technician")
    assert technician.status_code == 403, technician.text
    incident = moved(world, alex, bo, TUE, own_dose_given=False)
    assert incident.status_code == 422, incident.text
    assert [e["rule"] for e in incident.json()["errors"]] == ["dispensing_incident"]
    same = moved(world, alex, alex, TUE)
    assert same.status_code == 422, same.text
    assert balance(world) == Decimal(1000 - 105 - 60)  # nothing half-written

    corrected = moved(world, alex, bo, TUE)
    assert corrected.status_code == 201, corrected.text
    body = corrected.json()
    assert (body["removed"]["from_state"], body["removed"]["to_state"]) == ("supervised", "due")
    assert (body["added"]["from_state"], body["added"]["to_state"]) == ("due", "supervised")
    assert body["unchecked_blocks"] == []
    assert body["alerts"] == []

    # What the pharmacist sees: Alex may have their dose; Bo's is recorded.
    assert check(world, alex)["allowed"] is True
    assert "already_recorded" in codes(check(world, bo)["blocks"])
    # The register: Alex's 60 mL line corrected back in, Bo's 45 mL line out, both on Tuesday.
    lines = register(world)["items"]
    correction, bo_supply = lines[-2], lines[-1]
    assert correction["kind"] == "correction"
    assert Decimal(correction["change_ml"]) == Decimal(60)
    assert "wrong patient" in correction["reason"]
    assert bo_supply["kind"] == "supply"
    assert Decimal(bo_supply["quantity_ml"]) == Decimal(45)
    assert bo_supply["transaction_date"] == TUE.isoformat()
    assert balance(world) == Decimal(1000 - 105 - 45)

    hand_over(world, clock, alex, TUE)  # Alex's own dose, now
    again = moved(world, alex, bo, TUE)  # a second correction of the same day is refused
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "nothing_to_correct"
    assert close_day(world, clock, TUE)["missed"] == 0
    assert balance(world) == Decimal(1000 - 105 - 105)
    for patient in (alex, bo):
        days = {d["dose_date"]: d["state"] for d in adherence(world, patient, MON, TUE)["days"]}
        assert days == {str(MON): "supervised", str(TUE): "supervised"}

    clock.set(at(WED, 9))
    late = moved(world, alex, bo, TUE)  # the next day: too late to correct here
    assert late.status_code == 422, late.text
    assert [e["rule"] for e in late.json()["errors"]] == ["same_day_only"]


@pytest.mark.hazard("H-09.6")
def test_an_unchecked_dose_after_loss_of_tolerance_is_an_urgent_alert(
    world: World, clock: FixedClock
) -> None:
    alex = world.patient()["id"]
    bo = world.patient()["id"]
    clock.set(at(MON, 8))
    prescribe(world, alex)
    prescribe(world, bo, **LOWER_DOSE)
    assert receipt(world, MON).status_code == 201
    hand_over(world, clock, bo, MON)
    for day in (MON, TUE, WED, THU):  # Bo stays away Tuesday to Thursday
        hand_over(world, clock, alex, day)
        close_day(world, clock, day)
    clock.set(at(FRI, 9))
    assert "missed_threshold_reached" in codes(check(world, bo)["blocks"])

    # Friday 10:00: Bo swallows their 45 mg, recorded against Alex; Bo was never checked.
    hand_over(world, clock, alex, FRI)
    clock.set(at(FRI, 11))
    corrected = moved(world, alex, bo, FRI)
    assert corrected.status_code == 201, corrected.text
    body = corrected.json()
    assert "missed_threshold_reached" in codes(body["unchecked_blocks"])
    (alert_id,) = body["alerts"]
    alert = world.get(f"{API}/alerts/{alert_id}").json()
    assert alert["kind"] == "dose_given_unchecked"
    assert alert["severity"] == "urgent"
    assert alert["patient_id"] == bo
    assert set(alert["recipients"]) >= {"prescriber", "key_worker"}
    # Bo's record tells the truth: Friday was taken (supervised), after three days without.
    days = {d["dose_date"]: d["state"] for d in adherence(world, bo, MON, FRI)["days"]}
    assert days[str(FRI)] == "supervised"
    assert [days[str(d)] for d in (TUE, WED, THU)] == ["missed"] * 3
    listed = {a["kind"] for a in alerts(world, patient_id=bo)}
    assert "dose_given_unchecked" in listed


@pytest.mark.hazard("H-09.6")
def test_the_database_lets_a_supervised_dose_go_back_only_with_its_correction(
    world: World, clock: FixedClock, database: Database
) -> None:
    alex = world.patient()["id"]
    bo = world.patient()["id"]
    clock.set(at(MON, 8))
    prescribe(world, alex)
    prescribe(world, bo, **LOWER_DOSE)
    hand_over(world, clock, alex, MON)
    assert moved(world, alex, bo, MON).status_code == 201
    hand_over(world, clock, alex, MON)

    def back_to_due(patient_id: str) -> None:
        with database.engine.begin() as conn:
            conn.execute(
                update(InstalmentDay)
                .where(
                    InstalmentDay.patient_id == UUID(patient_id),
                    InstalmentDay.dose_date == MON,
                )
                .values(state="due")
            )

    # Each row has had its one correction: neither may leave `supervised` again, whoever asks.
    for patient in (alex, bo):
        with pytest.raises(DBAPIError, match="recorded doses never change"):
            back_to_due(patient)
