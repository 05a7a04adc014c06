"""A replacement that is itself lost, stolen or spilt (issue 20 §1), replayed over the days.

The mother of a four-year-old reports Tuesday's and Wednesday's take-homes lost on Tuesday; the
prescriber authorises a take-home replacement. On Wednesday she reports the replacement stolen:
an exception naming the replacement, checked against it, raising the urgent children's alert
again and, as the second exception in 28 days, the prescriber's. It may in turn be replaced on
authorisation, and the patient's list, the conference chronology and the FHIR export show it.
A supervised replacement spilt at the counter is the same at the counter.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.clock import FixedClock
from tests.builders import API, MONDAY, alerts, prescribe
from tests.dosing.test_dose_exceptions import (
    AT_HOME,
    TUE,
    WED,
    authorised,
    deliveries_to,
    mother_with_a_child,
    replace,
    report,
    supply_lines,
)
from tests.factories import World
from tests.register.support import at, hand_over

WEEK = {"from": MONDAY.isoformat(), "to": (MONDAY + timedelta(days=6)).isoformat()}


@pytest.mark.hazard("H-29.1", "H-29.2")
def test_a_take_home_replacement_reported_stolen_alerts_again_and_is_replaced_again(
    world: World, clock: FixedClock
) -> None:
    patient = mother_with_a_child(world, clock)
    handed = hand_over(world, clock, patient, MONDAY, outcome="collected")

    # Tuesday: Tuesday's and Wednesday's doses lost, replaced on the prescriber's word.
    clock.set(at(TUE, 9, 15))
    lost = report(world, patient, kind="lost", dose_dates=[TUE.isoformat(), WED.isoformat()])
    assert lost.status_code == 201, lost.text
    first = replace(world, lost.json()["id"], **authorised(TUE, acknowledged=AT_HOME))
    assert first.status_code == 201, first.text
    replacement = first.json()["id"]
    # The days have their exception: the replacement is named instead, and the refusal says so.
    by_days = report(world, patient, kind="stolen", dose_dates=[WED.isoformat()])
    assert by_days.status_code == 409, by_days.text
    assert by_days.json()["code"] == "exception_recorded"
    assert replacement in by_days.json()["detail"]

    # Wednesday: the replacement is stolen.
    clock.set(at(WED, 10))
    both = report(
        world,
        patient,
        kind="stolen",
        dose_dates=[WED.isoformat()],
        replacement_id=replacement,
    )
    assert both.status_code == 422, both.text
    assert both.json()["errors"][0]["field"] == "dose_dates"
    vomited = report(world, patient, kind="vomited", replacement_id=replacement, minutes_after=5)
    assert vomited.status_code == 409, vomited.text
    assert vomited.json()["code"] == "not_supervised_today"
    away = world.post(
        f"{API}/patients/{patient}/dose-exceptions",
        {"kind": "stolen", "replacement_id": replacement},
        branch=world.away,
    )
    assert away.status_code == 404, away.text
    stolen = report(
        world, patient, kind="stolen", replacement_id=replacement, police_reference="MET/456"
    )
    assert stolen.status_code == 201, stolen.text
    exception = stolen.json()
    assert exception["replacement_id"] == replacement
    assert exception["dose_dates"] == [TUE.isoformat(), WED.isoformat()]
    assert exception["dose_mg"] in ("80", "80.00")
    raised = {
        a["kind"]: a for a in alerts(world, patient_id=patient) if a["id"] in exception["alerts"]
    }
    urgent = raised["dose_lost_with_children"]
    assert urgent["severity"] == "urgent"
    assert {str(world.social_worker_id), str(world.key_worker_id)} <= deliveries_to(urgent)
    assert "reported stolen" in urgent["message"]
    assert "02/12/2026" in urgent["message"]  # recorded on Wednesday
    # The second exception in 28 days: the prescriber hears of the pattern.
    assert str(world.prescriber_id) in deliveries_to(raised["repeated_dose_exceptions"])
    # One exception per replacement.
    again = report(world, patient, kind="lost", replacement_id=replacement)
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "exception_recorded"
    assert again.json()["field"] == "replacement_id"

    # Replaced in turn, only on authorisation, with the same checks and its own register line.
    unauthorised = replace(world, exception["id"])
    assert unauthorised.json()["code"] == "replacement_not_authorised"
    too_much = replace(world, exception["id"], **authorised(WED, dose_mg="81"))
    assert too_much.status_code == 422, too_much.text
    unacknowledged = replace(world, exception["id"], **authorised(WED))
    assert unacknowledged.json()["code"] == "young_child_take_home"
    second = replace(world, exception["id"], **authorised(WED, acknowledged=AT_HOME))
    assert second.status_code == 201, second.text
    assert second.json()["dose_dates"] == [TUE.isoformat(), WED.isoformat()]
    assert second.json()["label_job_id"] is not None
    ids = {e["id"] for e in supply_lines(world, patient, TUE)}
    assert {first.json()["register_entry_id"], second.json()["register_entry_id"]} <= ids
    assert len(ids) == 3  # the handover's line and one for each replacement

    # The patient's list: newest first, the replacement's exception naming it.
    listed = world.get(f"{API}/patients/{patient}/dose-exceptions").json()["items"]
    assert [i["kind"] for i in listed] == ["stolen", "lost"]
    assert listed[0]["replacement_id"] == replacement
    assert listed[0]["replacement"]["id"] == second.json()["id"]
    assert listed[1]["replacement_id"] is None

    # The conference chronology and the FHIR export show it as the others.
    household = world.get(f"{API}/patients/{patient}").json()["household_id"]
    conference = world.get(
        f"{API}/households/{household}/conference-report", role="safeguarding_lead", params=WEEK
    )
    assert conference.status_code == 200, conference.text
    summaries = [
        e["summary"] for e in conference.json()["chronology"] if e["kind"] == "dose_exception"
    ]
    assert any(
        s.startswith("Replacement dose reported stolen") and "MET/456" in s for s in summaries
    )
    assert len([e for e in conference.json()["chronology"] if e["kind"] == "replacement"]) == 2
    bundle = world.get(f"{API}/patients/{patient}/fhir", params=WEEK).json()
    found = [e["resource"] for e in bundle["entry"]]
    dispenses = {
        r["identifier"][0]["value"]: r for r in found if r["resourceType"] == "MedicationDispense"
    }
    assert {handed["handover_id"], replacement, second.json()["id"]} <= set(dispenses)
    (observation,) = [
        r
        for r in found
        if r["resourceType"] == "Observation" and r["code"]["coding"][0]["code"] == "stolen"
    ]
    assert "replacement dose" in observation["valueString"]
    assert observation["focus"] == [{"reference": f"urn:uuid:{dispenses[replacement]['id']}"}]


@pytest.mark.hazard("H-29.1")
def test_a_supervised_replacement_spilt_at_the_counter_is_replaced_at_one_visit(
    world: World, clock: FixedClock
) -> None:
    patient = world.patient(family_name="Spillagain")["id"]
    prescribe(world, patient)  # 60 mg supervised Monday to Saturday
    hand_over(world, clock, patient, MONDAY)
    clock.set(at(MONDAY, 10))
    vomited = report(
        world, patient, kind="vomited", dose_dates=[MONDAY.isoformat()], minutes_after=10
    )
    assert vomited.status_code == 201, vomited.text
    first = replace(world, vomited.json()["id"], **authorised(MONDAY, not_intoxicated=True))
    assert first.status_code == 201, first.text
    replacement = first.json()["id"]

    # Swallowed at the counter: not a take-home to lose; spilt as it was handed over.
    clock.set(at(MONDAY, 10, 30))
    lost = report(world, patient, kind="lost", replacement_id=replacement)
    assert lost.status_code == 409, lost.text
    assert lost.json()["code"] == "not_a_take_home"
    spilt = report(world, patient, kind="spilt", replacement_id=replacement)
    assert spilt.status_code == 201, spilt.text
    assert spilt.json()["dose_mg"] in ("60", "60.00")
    assert spilt.json()["dose_dates"] == [MONDAY.isoformat()]
    repeated = [
        a
        for a in alerts(world, patient_id=patient)
        if a["id"] in spilt.json()["alerts"] and a["kind"] == "repeated_dose_exceptions"
    ]
    assert len(repeated) == 1

    # Replaced again: supervised, at most the one day's dose, with the attestation.
    no_attestation = replace(world, spilt.json()["id"], **authorised(MONDAY))
    assert no_attestation.status_code == 422, no_attestation.text
    assert no_attestation.json()["errors"][0]["field"] == "not_intoxicated"
    second = replace(world, spilt.json()["id"], **authorised(MONDAY, not_intoxicated=True))
    assert second.status_code == 201, second.text
    assert second.json()["mode"] == "supervised"
    assert second.json()["dose_mg"] in ("60", "60.00")
    lines = supply_lines(world, patient, MONDAY)
    assert sorted(e["quantity_ml"].rstrip("0").rstrip(".") for e in lines) == ["60", "60", "60"]

    # Tuesday: Monday's second replacement was not swallowed today.
    clock.set(at(TUE, 10))
    late = report(
        world, patient, kind="vomited", replacement_id=second.json()["id"], minutes_after=5
    )
    assert late.status_code == 409, late.text
    assert late.json()["code"] == "not_supervised_today"
