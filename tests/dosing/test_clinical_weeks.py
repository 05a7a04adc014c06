"""Real weeks at the counter (issue 14): the two-parent household of the design, replayed day by
day through the HTTP API with a fixed clock and close-day each evening, asserting what the
pharmacist sees (the decision and its words, the alerts and who gets them, the register line,
the reports).

The household: the mother on 60 mg supervised Monday to Saturday with Sunday's dose taken home
on Saturday; the father on 40 mg collected twice a week (Monday and Thursday) to take home; two
children on child protection plans. The pharmacy opens Monday to Saturday. The week starts on
Monday 30 November 2026.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select

from app.clock import FixedClock
from app.dosing.models import InstalmentDay
from tests.builders import (
    MONDAY,
    adherence,
    alerts,
    check,
    codes,
    fp10mda,
    prescribe,
    twice_weekly_take_home,
)
from tests.factories import World
from tests.register.support import API, at, close_day, hand_over, handover, withhold

WEEK = [MONDAY + timedelta(days=n) for n in range(14)]
MON, TUE, WED, THU, FRI, SAT, SUN = WEEK[:7]
NEXT_MON = WEEK[7]


@dataclass
class House:
    household: dict[str, Any]
    children: list[dict[str, Any]]
    mum: dict[str, Any]
    dad: dict[str, Any]
    mum_rx: dict[str, Any]
    dad_rx: dict[str, Any]

    def __getitem__(self, name: str) -> Any:
        return getattr(self, name)


def two_parent_household(world: World, clock: FixedClock, *, dad_wording: Any = None) -> House:
    household = world.household(address="3 Case Review Close, Testtown")
    children = [
        world.child(
            household["id"],
            name=name,
            date_of_birth=born,
            protection_status="child_protection_plan",
            social_worker_id=str(world.social_worker_id),
        )
        for name, born in (("A.R.", "2023-04-02"), ("B.R.", "2019-09-10"))
    ]
    mum = world.patient(household["id"], given_name="Maria", family_name="Review")
    dad = world.patient(household["id"], given_name="Dean", family_name="Review")
    mum_rx = prescribe(world, mum["id"])
    dad_body = twice_weekly_take_home(40)
    if dad_wording is not None:
        dad_body["wording"] = dad_wording
    dad_rx = prescribe(world, dad["id"], **dad_body)
    clock.set(at(MON, 8))
    for patient in (mum, dad):
        box = world.post(
            f"{API}/patients/{patient['id']}/box-confirmations",
            {"seen_on": MON.isoformat(), "method": "seen_at_home"},
            role="key_worker",
        )
        assert box.status_code == 201, box.text
    confirmed = world.post(f"{API}/households/{household['id']}/confirmations", {})
    assert confirmed.status_code == 201, confirmed.text
    return House(household, children, mum, dad, mum_rx, dad_rx)


def recipients(alert: dict[str, Any]) -> set[str]:
    return {d["contact_id"] for d in alert["deliveries"]}


def kinds_on(world: World, patient_id: str, day: date) -> dict[str, dict[str, Any]]:
    return {
        a["kind"]: a
        for a in alerts(world, patient_id=patient_id)
        if a["created_at"].startswith(day.isoformat())
    }


def refused(world: World, patient_id: str, day: date, **overrides: Any) -> dict[str, Any]:
    response = world.post(f"{API}/counter/handover", handover(patient_id, day, **overrides))
    assert response.status_code == 422, response.text
    return dict(response.json())


# --- items 2, 4 and 7: withheld days count; the take-home father's alerts; the regimes ------


@pytest.mark.hazard("H-04.4", "H-04.5", "H-17.2", "H-18.1")
def test_a_fortnight_in_the_two_parent_household(world: World, clock: FixedClock) -> None:
    house = two_parent_household(world, clock)
    social_worker, key_worker = str(world.social_worker_id), str(world.key_worker_id)
    prescriber = str(world.prescriber_id)

    # Item 7: the seed pattern raises household_regime_mismatch as soon as the second
    # prescription is checked: the mother near-daily supervised (her Sunday take-home does not
    # stop her counting as supervised), the father taking everything home.
    mismatch = [
        a
        for a in alerts(world, household_id=house["household"]["id"])
        if a["kind"] == "household_regime_mismatch"
    ]
    assert len(mismatch) == 1, mismatch
    assert {prescriber, key_worker, social_worker} <= recipients(mismatch[0])
    # 11 or 12 of the next 14 days supervised (depending on the day counted from) against none.
    assert re.search(r"supervised on (86|92)% of dose days, another on 0%", mismatch[0]["message"])

    # Monday: both attend; the father's three days go home.
    hand_over(world, clock, house["mum"]["id"], MON)
    hand_over(world, clock, house["dad"]["id"], MON, outcome="collected")
    close_day(world, clock, MON)

    # Tuesday: the mother is intoxicated and withheld; Wednesday and Thursday she stays away.
    withhold(world, clock, house["mum"]["id"], TUE)
    assert close_day(world, clock, TUE)["alerts_raised"] == 0  # the withhold alerted already
    close_day(world, clock, WED)
    wednesday = kinds_on(world, house["mum"]["id"], WED)
    assert "No methadone dose taken for 2 consecutive days" in wednesday["missed_dose"]["message"]
    assert {key_worker, social_worker} <= recipients(wednesday["missed_dose"])

    # Thursday: the father does not collect his Thursday-to-Sunday instalment either.
    close_day(world, clock, THU)
    thursday = kinds_on(world, house["mum"]["id"], THU)
    threshold = thursday["missed_threshold_reached"]
    assert threshold["severity"] == "urgent"
    assert "3 consecutive days" in threshold["message"]
    assert {prescriber, key_worker, social_worker} <= recipients(threshold)
    assert kinds_on(world, house["dad"]["id"], THU)["missed_dose"]["message"].startswith(
        "A methadone dose was missed (1 day)."
    )

    # Friday: the mother is refused, in words a pharmacist understands, and so is the father.
    clock.set(at(FRI))
    mum = check(world, house["mum"]["id"])
    assert codes(mum["blocks"]) == ["missed_threshold_reached"]
    assert mum["blocks"][0]["message"].startswith(
        "3 consecutive days without a dose taken (last dose taken: Mon 30 Nov 2026 (4 days ago), "
        "supervised here)"
    )
    assert mum["last_dose"]["days_without_dose"] == 3
    assert refused(world, house["mum"]["id"], FRI)["code"] == "handover_refused"
    dad = check(world, house["dad"]["id"])
    assert codes(dad["blocks"]) == ["not_due_today"]
    assert dad["last_dose"]["text"] == (
        "last dose taken: Wed 2 Dec 2026 (2 days ago), take-home here"
    )

    # Item 4: the father's days without a dose reach the threshold on Saturday, and the alert
    # follows the same count as the block, through Sunday.
    close_day(world, clock, FRI)
    assert "missed_dose" in kinds_on(world, house["dad"]["id"], FRI)
    close_day(world, clock, SAT)
    saturday = kinds_on(world, house["dad"]["id"], SAT)["missed_threshold_reached"]
    assert "3 consecutive days" in saturday["message"]
    assert {prescriber, key_worker, social_worker} <= recipients(saturday)
    close_day(world, clock, SUN)
    assert (
        "4 consecutive days"
        in kinds_on(world, house["dad"]["id"], SUN)["missed_threshold_reached"]["message"]
    )

    # Next Monday the father is blocked at the counter by the same count.
    clock.set(at(NEXT_MON))
    dad = check(world, house["dad"]["id"])
    assert "missed_threshold_reached" in codes(dad["blocks"])
    assert dad["blocks"][0]["message"].startswith("4 consecutive days without a dose taken")

    # The prescriber reviews; the counter supplies again, and the caseload tells the truth.
    released = world.post(
        f"{API}/prescriptions/{house['dad_rx']['id']}/release",
        {"note": "Seen in clinic; restart at 40 mg, twice weekly"},
        role="prescriber",
    )
    assert released.status_code == 201, released.text
    assert check(world, house["dad"]["id"])["allowed"] is True
    summary = adherence(world, house["mum"]["id"], MON, SUN)["summary"]
    # Withheld Tuesday, missed Wednesday to Sunday: six days without a dose.
    assert (summary["withheld"], summary["missed"], summary["longest_missed_streak"]) == (1, 5, 6)


@pytest.mark.hazard("H-04.2")
def test_a_withheld_four_day_instalment_blocks_the_next_take_home(
    world: World, clock: FixedClock
) -> None:
    """Issue 14 #2: the father's whole Thursday-to-Sunday instalment was withheld: on Monday he
    has had no methadone for four days and the next three-day take-home is refused."""
    house = two_parent_household(world, clock)
    hand_over(world, clock, house["dad"]["id"], MON, outcome="collected")
    for day in (MON, TUE, WED):
        close_day(world, clock, day)
    withheld = withhold(world, clock, house["dad"]["id"], THU)
    assert withheld["withheld"] == [d.isoformat() for d in (THU, FRI, SAT, SUN)]
    for day in (THU, FRI, SAT, SUN):
        close_day(world, clock, day)

    clock.set(at(NEXT_MON))
    body = refused(world, house["dad"]["id"], NEXT_MON, outcome="collected")
    assert codes(body["blocks"]) == ["missed_threshold_reached"]
    assert body["blocks"][0]["message"].startswith("4 consecutive days without a dose taken")
    assert "urgent" in {a["severity"] for a in alerts(world, patient_id=house["dad"]["id"])}


# --- item 3: a late prescription, and a patient with no dose history here ----------------


@pytest.mark.hazard("H-19.1")
def test_a_prescription_that_arrives_four_days_late_is_not_supplied_at_full_dose(
    world: World, clock: FixedClock
) -> None:
    patient = world.patient(world.household()["id"])
    clock.set(at(FRI, 9))  # the prescription started on Monday; the pharmacy has it on Friday
    body = fp10mda(
        world,
        patient["id"],
        last_dose={
            "source": "previous_pharmacy",
            "taken_on": (MON - timedelta(days=1)).isoformat(),
            "detail": "High Street Pharmacy, by phone",
        },
    )
    created = world.post(f"{API}/prescriptions", body)
    assert created.status_code == 201, created.text
    checked = world.post(
        f"{API}/prescriptions/{created.json()['id']}/verify", {}, role="pharmacist2"
    )
    assert checked.status_code == 200, checked.text
    states = {d["dose_date"]: d["state"] for d in checked.json()["schedule"]}
    assert [states[d.isoformat()] for d in (MON, TUE, WED, THU, FRI)] == [
        "not_dispensed",
        "not_dispensed",
        "not_dispensed",
        "not_dispensed",
        "due",
    ]

    decision = check(world, patient["id"])
    assert codes(decision["blocks"]) == ["missed_threshold_reached"]
    assert decision["blocks"][0]["message"].startswith(
        "4 consecutive days without a dose taken (last dose taken: Sun 29 Nov 2026 "
        "(5 days ago), at the previous pharmacy (recorded))"
    )
    # The prescriber hears now, not at tomorrow's counter.
    (alert,) = [a for a in alerts(world, patient_id=patient["id"]) if a["kind"] != "missed_dose"]
    assert alert["kind"] == "missed_threshold_reached"
    assert str(world.prescriber_id) in recipients(alert)
    summary = adherence(world, patient["id"], MON, FRI)["summary"]
    assert (summary["not_dispensed"], summary["longest_missed_streak"]) == (4, 4)

    released = world.post(
        f"{API}/prescriptions/{created.json()['id']}/release",
        {"note": "Confirmed with the previous pharmacy; restart at 30 mg tomorrow"},
        role="prescriber",
    )
    assert released.status_code == 201, released.text
    assert check(world, patient["id"])["allowed"] is True


@pytest.mark.hazard("H-19.2")
def test_a_patient_with_no_dose_history_is_not_supplied_until_the_last_dose_is_recorded(
    world: World, clock: FixedClock
) -> None:
    patient = world.patient(world.household()["id"])
    body = fp10mda(world, patient["id"])
    del body["last_dose"]
    created = world.post(f"{API}/prescriptions", body, role="technician")
    assert created.status_code == 201, created.text
    assert "last_dose_unknown" in codes(created.json()["warnings"])
    world.post(f"{API}/prescriptions/{created.json()['id']}/verify", {}, role="pharmacist2")

    clock.set(at(MON))
    decision = check(world, patient["id"])
    assert codes(decision["blocks"]) == ["last_dose_unknown"]
    assert decision["last_dose"]["text"] == "last dose taken: not known"
    technician = world.post(
        f"{API}/patients/{patient['id']}/last-doses",
        {"source": "previous_pharmacy", "taken_on": SUN.isoformat()},
        role="technician",
    )
    assert technician.status_code == 403, technician.text

    future = world.post(
        f"{API}/patients/{patient['id']}/last-doses",
        {"source": "prescriber", "taken_on": TUE.isoformat()},
    )
    assert future.status_code == 422, future.text
    recorded = world.post(
        f"{API}/patients/{patient['id']}/last-doses",
        {
            "source": "previous_pharmacy",
            "taken_on": (MON - timedelta(days=1)).isoformat(),
            "detail": "Transferred from Hillside Pharmacy",
        },
    )
    assert recorded.status_code == 201, recorded.text
    decision = check(world, patient["id"])
    assert decision["allowed"] is True, decision
    assert decision["last_dose"]["text"].startswith("last dose taken: Sun 29 Nov 2026 (yesterday)")


# --- item 1: a representative and a supervised dose -----------------------------------------


@pytest.mark.hazard("H-20.1")
def test_a_representative_never_takes_a_supervised_dose_unless_the_prescriber_directs_it(
    world: World, clock: FixedClock
) -> None:
    house = two_parent_household(world, clock)
    clock.set(at(MON))
    partner = {"collector": "representative", "collector_details": "Dean Review, same address"}
    for outcome in ("supervised", "collected"):
        body = refused(world, house["mum"]["id"], MON, outcome=outcome, **partner)
        assert codes(body["blocks"]) == ["supervised_needs_patient"], body
        assert "the patient must swallow it here" in body["blocks"][0]["message"]

    directed = world.post(
        f"{API}/prescriptions/{house['mum_rx']['id']}/representative-authorisations",
        {"dose_date": TUE.isoformat(), "representative": "Dean Review"},
        role="prescriber",
    )
    assert directed.status_code == 201, directed.text
    assert directed.json()["directed_by"]  # the signed-in prescriber's own direction

    clock.set(at(TUE))
    collected = world.post(
        f"{API}/counter/handover", handover(house["mum"]["id"], TUE, outcome="collected", **partner)
    )
    assert collected.status_code == 201, collected.text
    (dose,) = collected.json()["doses"]
    assert (dose["mode"], dose["state"]) == ("take_home", "collected")
    assert collected.json()["label"] is not None  # it goes home, so it is labelled

    register = world.get(f"{API}/register", params={"product": "methadone-1mg-ml"}).json()
    line = [e for e in register["items"] if e["patient_id"] == house["mum"]["id"]][-1]
    assert line["collector"] == "representative"
    assert "prescriber's direction" in line["collector_details"]

    report = world.get(
        f"{API}/households/{house['household']['id']}/conference-report",
        role="safeguarding_lead",
        params={"from": MON.isoformat(), "to": TUE.isoformat()},
    )
    assert report.status_code == 200, report.text
    take_homes = [e for e in report.json()["chronology"] if e["kind"] == "take_home_collected"]
    mums = [e for e in take_homes if e["patient_id"] == house["mum"]["id"]]
    assert len(mums) == 1
    assert "collected by the patient's representative" in mums[0]["summary"]
    assert "supervised day taken home on the prescriber's direction" in mums[0]["summary"]
    assert not [
        e
        for e in report.json()["chronology"]
        if e["kind"] == "supervised" and e["day"] == TUE.isoformat()
    ]


# --- item 5: the "missed remaining" wording ------------------------------------------------


@pytest.mark.hazard("H-21.1")
def test_with_the_missed_remaining_wording_the_rest_of_the_instalment_is_still_supplied(
    world: World, clock: FixedClock
) -> None:
    house = two_parent_household(
        world, clock, dad_wording={"closed_day_prior": True, "missed_remaining": True}
    )
    hand_over(world, clock, house["dad"]["id"], MON, outcome="collected")
    for day in (MON, TUE, WED, THU):
        close_day(world, clock, day)  # Thursday's collection is missed

    clock.set(at(FRI))
    decision = check(world, house["dad"]["id"])
    assert decision["allowed"] is True, decision
    assert decision["dose_dates"] == [FRI.isoformat(), SAT.isoformat(), SUN.isoformat()]
    collected = hand_over(world, clock, house["dad"]["id"], FRI, outcome="collected")
    assert [d["dose_date"] for d in collected["doses"]] == decision["dose_dates"]
    assert Decimal(collected["dose_mg"]) == Decimal(120)
    days = {d["dose_date"]: d for d in adherence(world, house["dad"]["id"], THU, SUN)["days"]}
    assert days[THU.isoformat()]["state"] == "missed"  # never supplied later
    assert {days[d.isoformat()]["collect_on"] for d in (FRI, SAT, SUN)} == {FRI.isoformat()}


@pytest.mark.hazard("H-21.2")
def test_without_the_wording_a_missed_collection_forfeits_the_whole_instalment(
    world: World, clock: FixedClock
) -> None:
    house = two_parent_household(world, clock)
    hand_over(world, clock, house["dad"]["id"], MON, outcome="collected")
    for day in (MON, TUE, WED, THU):
        close_day(world, clock, day)
    clock.set(at(FRI))
    assert codes(check(world, house["dad"]["id"])["blocks"]) == ["not_due_today"]


# --- item 6: instalments on a standard FP10 --------------------------------------------------


@pytest.mark.hazard("H-23.1")
def test_instalments_on_a_standard_fp10_are_refused(world: World) -> None:
    patient = world.patient()
    response = world.post(f"{API}/prescriptions", fp10mda(world, patient["id"], form_type="paper"))
    assert response.status_code == 422, response.text
    assert codes(response.json()["blocks"]) == ["instalments_need_mda_form"]
    assert "FP10MDA" in response.json()["blocks"][0]["message"]


# --- items 8 and 9: pregnancy, an unborn child, a birth, and changes with history -----------


@pytest.mark.hazard("H-06.3", "H-22.1", "H-22.2", "H-22.3")
def test_pregnancy_an_unborn_child_and_a_birth_through_the_household_rules(
    world: World, clock: FixedClock
) -> None:
    house = two_parent_household(world, clock)
    clock.set(at(MON, 8, 45))

    # The mother is pregnant: recorded with the expected date, audited in her history.
    changed = world.client.patch(
        f"{API}/patients/{house['mum']['id']}",
        json={"pregnant": True, "expected_delivery_on": "2027-04-20", "reason": "Told us today"},
        headers=world.home.headers(),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["expected_delivery_on"] == "2027-04-20"
    history = world.get(f"{API}/patients/{house['mum']['id']}/history").json()["items"]
    assert {(h["field"], h["new_value"]) for h in history} >= {
        ("pregnant", "True"),
        ("expected_delivery_on", "2027-04-20"),
    }

    # A dose increase in pregnancy is a warning at intake.
    increase = world.post(
        f"{API}/prescriptions",
        fp10mda(
            world,
            house["mum"]["id"],
            daily_dose_mg="70",
            total_quantity_ml="980",
            total_quantity_words="nine hundred and eighty",
            supersedes_id=house["mum_rx"]["id"],
        ),
    )
    assert increase.status_code == 201, increase.text
    assert "dose_change_in_pregnancy" in codes(increase.json()["warnings"])

    # The unborn child, on a pre-birth child protection plan, is a child to the rules.
    unborn = world.post(
        f"{API}/households/{house['household']['id']}/children",
        {
            "name": "Baby R.",
            "date_of_birth": "2027-04-20",
            "unborn": True,
            "protection_status": "child_protection_plan",
            "social_worker_id": str(world.social_worker_id),
        },
    )
    assert unborn.status_code == 201, unborn.text
    joined = [
        a
        for a in alerts(world, household_id=house["household"]["id"])
        if a["kind"] == "household_child_joined"
    ]
    assert len(joined) == 1
    assert {str(world.social_worker_id), str(world.key_worker_id)} <= recipients(joined[0])

    # The children changed: no take-home until somebody re-confirms who lives there.
    clock.set(at(MON))
    decision = check(world, house["dad"]["id"])
    assert "children_not_confirmed" in codes(decision["blocks"])
    assert "changed (a child added, born or moved)" in decision["blocks"][0]["message"]
    confirmed = world.post(f"{API}/households/{house['household']['id']}/confirmations", {})
    assert confirmed.status_code == 201, confirmed.text
    decision = check(world, house["dad"]["id"])
    assert decision["allowed"] is True, decision
    assert "young_child_take_home" in codes(decision["warnings"])
    hand_over(world, clock, house["dad"]["id"], MON, outcome="collected")

    # The birth turns the unborn child into a child; the children must be confirmed again.
    clock.set(at(TUE))
    born = world.client.patch(
        f"{API}/households/{house['household']['id']}/children/{unborn.json()['id']}",
        json={"born_on": TUE.isoformat(), "reason": "Born at St Elsewhere's"},
        headers=world.home.headers(),
    )
    assert born.status_code == 200, born.text
    assert (born.json()["unborn"], born.json()["date_of_birth"]) == (False, TUE.isoformat())
    view = world.get(f"{API}/households/{house['household']['id']}").json()
    assert {(h["field"], h["new_value"]) for h in view["history"]} >= {
        ("unborn", "False"),
        ("date_of_birth", TUE.isoformat()),
    }
    clock.set(at(THU))
    assert codes(check(world, house["dad"]["id"])["blocks"]) == ["children_not_confirmed"]


def test_a_future_date_of_birth_is_refused_unless_the_child_is_unborn(world: World) -> None:
    household = world.household()
    refused_child = world.post(
        f"{API}/households/{household['id']}/children",
        {"name": "X.", "date_of_birth": "2027-03-01"},
    )
    assert refused_child.status_code == 422, refused_child.text
    assert "unborn" in refused_child.text


@pytest.mark.hazard("H-18.3", "H-22.2")
def test_a_child_placed_on_a_plan_re_runs_the_household_rules(
    world: World, clock: FixedClock
) -> None:
    household = world.household()
    child = world.child(household["id"])
    patient = world.patient(household["id"])
    prescribe(world, patient["id"], **twice_weekly_take_home(40))
    assert not [
        a
        for a in alerts(world, household_id=household["id"])
        if a["kind"] == "take_home_in_protected_household"
    ]
    changed = world.client.patch(
        f"{API}/households/{household['id']}/children/{child['id']}",
        json={
            "protection_status": "child_protection_plan",
            "social_worker_id": str(world.social_worker_id),
            "reason": "Conference on 27 Nov decided a plan",
        },
        headers=world.home.headers(),
    )
    assert changed.status_code == 200, changed.text
    (alert,) = [
        a
        for a in alerts(world, household_id=household["id"])
        if a["kind"] == "take_home_in_protected_household"
    ]
    assert alert["severity"] == "urgent"
    clock.set(clock.now() + timedelta(minutes=5))
    moved = world.client.patch(
        f"{API}/households/{household['id']}",
        json={"address": "9 New Road, Testtown", "reason": "Family moved"},
        headers=world.home.headers(),
    )
    assert moved.status_code == 200, moved.text
    history = world.get(f"{API}/households/{household['id']}").json()["history"]
    assert [(h["field"], h["old_value"], h["new_value"]) for h in history[:1]] == [
        ("address", "1 Test Street, Testtown", "9 New Road, Testtown")
    ]


# --- item 10: the prescriber's address on the register -------------------------------------


@pytest.mark.hazard("H-09.1")
def test_the_register_supply_line_names_the_prescribers_address(
    world: World, clock: FixedClock
) -> None:
    patient = world.patient()
    prescribe(world, patient["id"])
    hand_over(world, clock, patient["id"], MON)
    register = world.get(f"{API}/register", params={"product": "methadone-1mg-ml"}).json()
    (line,) = [e for e in register["items"] if e["patient_id"] == patient["id"]]
    assert line["prescriber_address"] == "1 Clinic Road, Testtown TT1 2BB"
    exported = world.get(f"{API}/register/export.csv", params={"product": "methadone-1mg-ml"})
    assert exported.status_code == 200, exported.text
    lines = exported.text.splitlines()
    start = next(i for i, text in enumerate(lines) if text.startswith("line,"))
    rows = [r for r in csv.DictReader(io.StringIO("\n".join(lines[start:]))) if r["entry"]]
    assert {r["prescriber address"] for r in rows} >= {"1 Clinic Road, Testtown TT1 2BB"}
    printed = world.get(f"{API}/register/print", params={"product": "methadone-1mg-ml"})
    assert "1 Clinic Road, Testtown TT1 2BB" in printed.text


# --- item 11: the conference report counts what happened -----------------------------------


def test_the_conference_report_counts_what_went_home_and_who_was_refused(
    world: World, clock: FixedClock
) -> None:
    house = two_parent_household(world, clock)
    hand_over(world, clock, house["mum"]["id"], MON)
    hand_over(world, clock, house["dad"]["id"], MON, outcome="collected")
    close_day(world, clock, MON)
    withhold(world, clock, house["mum"]["id"], TUE)
    for day in (TUE, WED):
        close_day(world, clock, day)
    hand_over(world, clock, house["dad"]["id"], THU, outcome="collected")
    close_day(world, clock, THU)
    clock.set(at(FRI))
    refused(world, house["mum"]["id"], FRI)  # three days without a dose: refused
    clock.set(at(FRI, 11))
    released = world.post(
        f"{API}/prescriptions/{house['mum_rx']['id']}/release",
        {"note": "Phoned: restart at 60 mg supervised"},
        role="prescriber",
    )
    assert released.status_code == 201, released.text

    # The period ends on Friday, in the middle of the father's Thursday-to-Sunday instalment.
    report = world.get(
        f"{API}/households/{house['household']['id']}/conference-report",
        role="safeguarding_lead",
        params={"from": MON.isoformat(), "to": FRI.isoformat()},
    ).json()
    kinds = [e["kind"] for e in report["chronology"]]
    assert "refused" in kinds
    assert "released" in kinds
    refusal = next(e for e in report["chronology"] if e["kind"] == "refused")
    assert "days without a dose reached the threshold" in refusal["summary"]
    release = next(e for e in report["chronology"] if e["kind"] == "released")
    assert "Phoned: restart at 60 mg supervised" in release["summary"]
    # What actually went home: 3 days on Monday and all 4 on Thursday (7 x 40 mg), plus the
    # mother's nothing (her Sunday take-home is collected on Saturday, outside the period).
    assert Decimal(str(report["analysis"]["take_home_mg"])) == Decimal(280)
    regimes = {r["patient_id"]: r for r in report["regimes"]}
    assert regimes[house["dad"]["id"]]["takes_methadone_home"] is True
    assert regimes[house["dad"]["id"]]["collection_days"] == ["Mon", "Thu"]
    assert regimes[house["mum"]["id"]]["supervised_days"] == [
        "Mon",
        "Tue",
        "Wed",
        "Thu",
        "Fri",
        "Sat",
    ]
    mum = next(p for p in report["analysis"]["patients"] if p["patient_ref"] == house["mum"]["id"])
    # The withheld Tuesday, the missed Wednesday and Thursday.
    assert mum["longest_gap_days"] == 3


# --- item 12: reassessment after a withhold, the same day -----------------------------------


@pytest.mark.hazard("H-05.2")
def test_a_withheld_patient_who_returns_sober_may_be_reassessed_the_same_day(
    world: World, clock: FixedClock
) -> None:
    patient = world.patient(world.household()["id"])
    prescribe(world, patient["id"])
    withhold(world, clock, patient["id"], MON)  # 11:00
    clock.set(at(MON, 14))
    assert codes(check(world, patient["id"])["blocks"]) == ["withheld_today"]
    technician = world.post(
        f"{API}/counter/reassess",
        {"patient_id": patient["id"], "not_intoxicated": True, "note": "Seems fine"},
        role="technician",
    )
    assert technician.status_code == 403, technician.text
    no_attestation = world.post(
        f"{API}/counter/reassess",
        {"patient_id": patient["id"], "not_intoxicated": False, "note": "Still unsteady"},
    )
    assert no_attestation.status_code == 422, no_attestation.text
    reassessed = world.post(
        f"{API}/counter/reassess",
        {
            "patient_id": patient["id"],
            "not_intoxicated": True,
            "note": "Back at 14:00, steady, speech clear, breath test not needed",
        },
    )
    assert reassessed.status_code == 201, reassessed.text
    assert reassessed.json()["withhold_reason"] == "intoxicated"
    supplied = world.post(f"{API}/counter/handover", handover(patient["id"], MON))
    assert supplied.status_code == 201, supplied.text
    assert supplied.json()["doses"][0]["state"] == "supervised"
    again = world.post(f"{API}/counter/handover", handover(patient["id"], MON))
    assert again.status_code == 409, again.text

    # The next day's dose needs no reassessment; a withhold then is not carried over.
    close_day(world, clock, MON)
    withhold(world, clock, patient["id"], TUE)
    clock.set(at(TUE, 15))
    assert codes(check(world, patient["id"])["blocks"]) == ["withheld_today"]


@pytest.mark.hazard("H-05.2")
def test_each_supplied_dose_names_the_reassessment_that_cleared_it(
    world: World, clock: FixedClock
) -> None:
    """Two patients withheld and reassessed the same afternoon, one of them twice: each dose
    handed over is linked to its own patient's latest reassessment of that day, the record a
    reviewer reads to see who judged the patient fit and when."""
    first, second = (world.patient(world.household()["id"]) for _ in range(2))
    for patient in (first, second):
        prescribe(world, patient["id"])
    withhold(world, clock, first["id"], TUE)
    withhold(world, clock, second["id"], TUE)
    reassessments: dict[str, str] = {}
    for hour, patient, note in (
        (13, first, "Steadier, asked to come back in an hour"),
        (14, first, "Back at 14:00, steady, speech clear"),
        (15, second, "Back at 15:00, steady, speech clear"),
    ):
        clock.set(at(TUE, hour))
        done = world.post(
            f"{API}/counter/reassess",
            {"patient_id": patient["id"], "not_intoxicated": True, "note": note},
        )
        assert done.status_code == 201, done.text
        reassessments[f"{patient['id']}@{hour}"] = done.json()["id"]
    clock.set(at(TUE, 16))
    for patient in (first, second):
        supplied = world.post(f"{API}/counter/handover", handover(patient["id"], TUE))
        assert supplied.status_code == 201, supplied.text
    with world.uow as uow:
        linked = {
            str(row.patient_id): str(row.reassessment_id)
            for row in uow.session.scalars(
                select(InstalmentDay).where(
                    InstalmentDay.patient_id.in_([UUID(first["id"]), UUID(second["id"])]),
                    InstalmentDay.dose_date == TUE,
                )
            )
        }
    assert linked == {
        first["id"]: reassessments[f"{first['id']}@14"],
        second["id"]: reassessments[f"{second['id']}@15"],
    }


# --- item 13: separate containers and the measuring device ---------------------------------


@pytest.mark.hazard("H-08.4")
def test_daily_containers_are_one_labelled_bottle_per_day_and_a_bottle_needs_a_measure(
    world: World, clock: FixedClock
) -> None:
    daily = world.patient(world.household()["id"])
    prescribe(
        world,
        daily["id"],
        **{
            **twice_weekly_take_home(40),
            "wording": {"closed_day_prior": True, "separate_containers": True},
        },
    )
    clock.set(at(MON))
    supplied = world.post(
        f"{API}/counter/handover",
        handover(daily["id"], MON, outcome="collected", measuring_device=False),
    )
    assert supplied.status_code == 201, supplied.text
    jobs = supplied.json()["label"]["jobs"]
    assert len(jobs) == 3
    for job, day in zip(jobs, (MON, TUE, WED), strict=True):
        label = world.get(f"{API}/labels/{job['label_id']}").json()
        assert label["dose_dates"] == [day.isoformat()]

    bottle = world.patient(world.household()["id"])
    prescribe(world, bottle["id"], **twice_weekly_take_home(40))
    without = refused(world, bottle["id"], MON, outcome="collected", measuring_device=False)
    assert codes(without["blocks"]) == ["measuring_device_not_recorded"]
    assert check(world, bottle["id"])["needs_measuring_device"] is True
    with_device = world.post(
        f"{API}/counter/handover",
        handover(bottle["id"], MON, outcome="collected", measuring_device=True),
    )
    assert with_device.status_code == 201, with_device.text
    assert len(with_device.json()["label"]["jobs"]) == 1


# --- item 14: methadone at home, and the youngest children ---------------------------------


@pytest.mark.hazard("H-06.5")
def test_any_take_home_into_a_home_with_a_child_under_five_is_a_warning(
    world: World, clock: FixedClock
) -> None:
    household = world.household()
    world.child(household["id"], date_of_birth="2024-06-01")
    patient = world.patient(household["id"])
    prescribe(world, patient["id"], **twice_weekly_take_home(20))
    clock.set(at(MON))
    world.post(
        f"{API}/patients/{patient['id']}/box-confirmations",
        {"seen_on": MON.isoformat(), "method": "shown_at_pharmacy"},
    )
    world.post(f"{API}/households/{household['id']}/confirmations", {})
    decision = check(world, patient["id"])
    assert codes(decision["warnings"]) == ["young_child_take_home"]
    assert (
        "less than 10 mL of methadone can kill a small child" in decision["warnings"][0]["message"]
    )
    body = refused(world, patient["id"], MON, outcome="collected", acknowledged=[])
    assert body["unacknowledged"] == ["young_child_take_home"]
