"""Counter decisions: every block and warning, their combinations, overrides and acknowledgements.

Pure tests: no fixtures, no database. Each test builds the facts it needs from one baseline
(an active prescription, a supervised dose due today, a household without children).
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.dosing.counter_wording import describe_last_dose
from app.dosing.decision_inputs import (
    CounterFacts,
    CounterPolicy,
    DoseStep,
    GuestDosing,
    HouseholdFacts,
    InstalmentDay,
    LastDose,
    PrescriptionFacts,
    Suspension,
    days_without_dose,
    household_methadone_at_home,
)
from app.dosing.rules import OVERRIDABLE, Code, Decision, decide
from app.households.rules import ChildFacts
from app.prescriptions.intake_terms import DosePart
from app.safeguarding.alert_vocabulary import Severity
from app.safeguarding.household_alerts import MemberRegime, household_events
from app.safeguarding.rules import EventKind
from tests.rule_builders import (
    BASE,
    NO_CHILDREN,
    PHARMACY,
    POLICY,
    SAFE_FAMILY,
    TODAY,
    TOMORROW,
    blocks,
    bottle,
    dose,
    facts,
    family,
    rx,
    take_home,
    warnings,
)

TODDLER = ChildFacts(age_years=3, protection_status="none")
# 60 mg split: 40 mg swallowed here in the morning, 20 mg to take home for the evening.
SPLIT = (DosePart("morning", Decimal(40), True), DosePart("evening", Decimal(20), False))
TODDLER_ON_PLAN = ChildFacts(age_years=3, protection_status="child_protection_plan")
TEENAGER = ChildFacts(age_years=16, protection_status="none")


def message(decision: Decision, code: Code) -> str:
    return next(r.message for r in (*decision.blocks, *decision.warnings) if r.code == code)


RECORDED_AT = datetime(2026, 3, 2, 9, 12, tzinfo=UTC)

# (facts, expected blocks, expected warnings), one row per rule, each side of its edge.
CASES: list[Any] = [
    pytest.param(BASE, (), (), id="a supervised dose due today is allowed"),
    pytest.param(
        facts(
            prescription=rx(steps=(DoseStep(TODAY, Decimal(60), Decimal(55)),)),
            instalments=(dose(mg=55),),
        ),
        (),
        (Code.DOSE_STEPS_TODAY,),
        id="the day a stepped prescription changes the dose is a warning to measure the new amount",
    ),
    pytest.param(
        facts(
            prescription=rx(steps=(DoseStep(TOMORROW, Decimal(60), Decimal(55)),)),
            instalments=(dose(),),
        ),
        (),
        (),
        id="a step tomorrow says nothing today",
    ),
    pytest.param(
        facts(instalments=(dose(parts=SPLIT),), household=family(box_valid_until=None)),
        (Code.NO_LOCKABLE_BOX,),
        (),
        id="the evening part of a supervised split dose goes home, so it needs the box",
    ),
    pytest.param(
        facts(
            instalments=(dose(parts=(SPLIT[0], replace(SPLIT[1], supervised=True))),),
            household=family(box_valid_until=None),
        ),
        (),
        (),
        id="a split dose with every part swallowed here sends nothing home",
    ),
    pytest.param(
        facts(
            instalments=(
                dose(
                    parts=(
                        replace(SPLIT[0], dose_mg=Decimal(59)),
                        replace(SPLIT[1], dose_mg=Decimal(1)),
                    )
                ),
            ),
            household=family(box_valid_until=None),
        ),
        (Code.NO_LOCKABLE_BOX,),
        (),
        id="even 1 mg of an evening part going home needs the box",
    ),
    pytest.param(
        facts(
            prescription=rx(steps=(DoseStep(TODAY, Decimal(60), Decimal(60)),)),
            instalments=(dose(),),
        ),
        (),
        (),
        id="a step that keeps the dose the same says nothing",
    ),
    pytest.param(
        facts(
            prescription=rx(
                daily_dose_mg=Decimal(120),
                previous_daily_dose_mg=Decimal(90),
                steps=(DoseStep(TODAY - timedelta(days=7), Decimal(120), Decimal(90)),),
            ),
            instalments=(dose(mg=90),),
        ),
        (),
        (),
        id="after a step down below 100 mg the first step's high dose no longer warns",
    ),
    pytest.param(
        facts(
            prescription=rx(
                daily_dose_mg=Decimal(90),
                previous_daily_dose_mg=Decimal(120),
                steps=(DoseStep(TODAY - timedelta(days=7), Decimal(90), Decimal(120)),),
            ),
            instalments=(dose(mg=120),),
        ),
        (),
        (Code.HIGH_DOSE,),
        id="after a step up above 100 mg the day's dose warns",
    ),
    pytest.param(
        facts(prescription=None, instalments=()),
        (Code.NO_PRESCRIPTION,),
        (),
        id="no prescription blocks with no_prescription",
    ),
    pytest.param(
        facts(prescription=rx(end_on=TODAY - timedelta(days=1)), instalments=()),
        (Code.NO_PRESCRIPTION,),
        (),
        id="a prescription that ended yesterday is no prescription, not a day off",
    ),
    pytest.param(
        facts(prescription=rx(status="suspended")),
        (Code.PRESCRIPTION_NOT_ACTIVE,),
        (),
        id="a suspended prescription is not active",
    ),
    pytest.param(
        facts(prescription=rx(status="pending_check")),
        (Code.PRESCRIPTION_NOT_ACTIVE,),
        (),
        id="a prescription awaiting its transcription check is not active",
    ),
    pytest.param(
        facts(prescription=rx(start_on=TODAY + timedelta(days=2)), instalments=()),
        (Code.BEFORE_START,),
        (),
        id="a visit before the start date is before_start alone",
    ),
    pytest.param(
        facts(
            prescription=rx(start_on=TOMORROW),
            instalments=(take_home(TOMORROW),),
            household=SAFE_FAMILY,
        ),
        (),
        (),
        id="a closed start day collected early as the schedule directs is allowed",
    ),
    pytest.param(
        facts(prescription=rx(start_on=TOMORROW), instalments=(dose(),)),
        (Code.BEFORE_START,),
        (),
        id="a dose dated before the start date is before_start",
    ),
    pytest.param(
        facts(instalments=()),
        (Code.NOT_DUE_TODAY,),
        (),
        id="nothing to collect today is not_due_today",
    ),
    pytest.param(
        facts(
            instalments=(dose(state="supervised", recorded_by="jsmith", recorded_at=RECORDED_AT),)
        ),
        (Code.ALREADY_RECORDED,),
        (),
        id="a dose already supervised today is already_recorded",
    ),
    pytest.param(
        facts(instalments=(dose(state="withheld"),)),
        (Code.WITHHELD_TODAY,),
        (),
        id="a dose withheld earlier today is withheld_today until a reassessment",
    ),
    pytest.param(
        facts(instalments=(dose(state="withheld", reassessed=True),)),
        (),
        (),
        id="a dose withheld earlier today and reassessed since may be supplied",
    ),
    pytest.param(
        facts(counter_pharmacy_id="pharmacy-2"),
        (Code.WRONG_PHARMACY,),
        (),
        id="a patient nominated elsewhere is wrong_pharmacy",
    ),
    pytest.param(
        facts(
            counter_pharmacy_id="pharmacy-2",
            guest=GuestDosing(here=True, guest_pharmacy="Leeds Pharmacy", until=TOMORROW),
        ),
        (),
        (),
        id="a guest pharmacy doses the day granted to it",
    ),
    pytest.param(
        facts(guest=GuestDosing(here=False, guest_pharmacy="Leeds Pharmacy", until=TOMORROW)),
        (Code.DOSED_AT_GUEST_PHARMACY,),
        (),
        id="the home pharmacy refuses a day granted to a guest pharmacy",
    ),
    pytest.param(
        facts(
            counter_pharmacy_id="pharmacy-3",
            guest=GuestDosing(here=False, guest_pharmacy="Leeds Pharmacy", until=TOMORROW),
        ),
        (Code.WRONG_PHARMACY, Code.DOSED_AT_GUEST_PHARMACY),
        (),
        id="a third pharmacy is wrong_pharmacy and told where the dose is",
    ),
    pytest.param(
        facts(days_without_dose=2),
        (),
        (),
        id="two missed days do not block",
    ),
    pytest.param(
        facts(days_without_dose=3),
        (Code.MISSED_THRESHOLD_REACHED,),
        (),
        id="three missed days block until the prescriber reviews",
    ),
    pytest.param(
        facts(intoxicated=True),
        (Code.PATIENT_INTOXICATED,),
        (),
        id="an intoxicated patient is blocked",
    ),
    pytest.param(
        facts(instalments=(take_home(),), household=family(box_valid_until=None)),
        (Code.NO_LOCKABLE_BOX,),
        (),
        id="a take-home with a toddler at home and no box is no_lockable_box",
    ),
    pytest.param(
        facts(
            instalments=(take_home(),),
            household=family(box_valid_until=TODAY - timedelta(days=1)),
        ),
        (Code.NO_LOCKABLE_BOX,),
        (),
        id="a box confirmation that expired yesterday is no box",
    ),
    pytest.param(
        facts(instalments=(take_home(),), household=family(box_valid_until=TODAY)),
        (),
        (),
        id="a box confirmation valid until today still counts",
    ),
    pytest.param(
        facts(
            instalments=(take_home(),),
            household=family(children=(TEENAGER,), box_valid_until=None),
        ),
        (),
        (),
        id="a child of sixteen does not need a box",
    ),
    pytest.param(
        facts(household=family(box_valid_until=None, children_confirmed_on=None)),
        (),
        (),
        id="a supervised dose needs neither a box nor confirmed children",
    ),
    pytest.param(
        facts(
            instalments=(take_home(),),
            household=family(children_confirmed_on=TODAY - timedelta(days=29)),
        ),
        (Code.CHILDREN_NOT_CONFIRMED,),
        (),
        id="children confirmed twenty nine days ago are not confirmed",
    ),
    pytest.param(
        facts(
            instalments=(take_home(),),
            household=family(children_confirmed_on=TODAY - timedelta(days=28)),
        ),
        (),
        (),
        id="children confirmed twenty eight days ago are confirmed",
    ),
    pytest.param(
        facts(instalments=(take_home(),), household=family(children_confirmed_on=None)),
        (Code.CHILDREN_NOT_CONFIRMED,),
        (),
        id="children never confirmed are not confirmed",
    ),
    pytest.param(
        facts(instalments=(take_home(),), household=NO_CHILDREN),
        (),
        (),
        id="a household recorded without children needs no confirmation",
    ),
    pytest.param(
        facts(instalments=(take_home(),), household=None),
        (Code.CHILDREN_NOT_CONFIRMED,),
        (),
        id="a take-home with no household on record is children_not_confirmed",
    ),
    pytest.param(
        facts(household=None),
        (),
        (),
        id="a supervised dose with no household on record is allowed",
    ),
    pytest.param(
        facts(instalments=(take_home(),), household=family(methadone_at_home_mg=Decimal(250))),
        (),
        (Code.HOUSEHOLD_METHADONE_HIGH,),
        id="a take-home taking the household above 300 mg warns",
    ),
    pytest.param(
        facts(instalments=(take_home(),), household=family(methadone_at_home_mg=Decimal(240))),
        (),
        (),
        id="a take-home taking the household to exactly 300 mg does not warn",
    ),
    pytest.param(
        facts(household=family(methadone_at_home_mg=Decimal(400))),
        (),
        (),
        id="a supervised dose adds nothing at home so does not warn",
    ),
    pytest.param(
        facts(
            instalments=(take_home(),),
            household=replace(NO_CHILDREN, methadone_at_home_mg=Decimal(400)),
        ),
        (),
        (),
        id="methadone piling up where no child lives is not a counter warning",
    ),
    pytest.param(
        facts(instalments=(take_home(),), household=family(children=(TODDLER,))),
        (),
        (Code.YOUNG_CHILD_TAKE_HOME,),
        id="any take-home into a home with a child under 5 warns, however small",
    ),
    pytest.param(
        facts(household=family(children=(TODDLER,))),
        (),
        (),
        id="a supervised dose with a toddler at home does not warn",
    ),
    pytest.param(
        facts(collector="representative"),
        (Code.SUPERVISED_NEEDS_PATIENT,),
        (),
        id="a representative can never take a supervised dose",
    ),
    pytest.param(
        facts(collector="hcp"),
        (Code.SUPERVISED_NEEDS_PATIENT,),
        (),
        id="nor can a healthcare professional",
    ),
    pytest.param(
        facts(collector="representative", representative_authorised=True, household=SAFE_FAMILY),
        (),
        (),
        id="the prescriber's direction makes it a take-home a representative may collect",
    ),
    pytest.param(
        facts(collector="patient", representative_authorised=True),
        (),
        (),
        id="the patient themselves still swallows it here",
    ),
    pytest.param(
        facts(last_dose=None),
        (Code.LAST_DOSE_UNKNOWN,),
        (),
        id="no dose on record anywhere is last_dose_unknown",
    ),
    pytest.param(
        facts(last_dose=LastDose(None, "induction")),
        (),
        (),
        id="a patient new to treatment may start",
    ),
    pytest.param(
        facts(
            prescription=rx(measured_liquid=True),
            instalments=(take_home(), take_home(TOMORROW, collect_on=TODAY)),
            household=SAFE_FAMILY,
            measuring_device=False,
        ),
        (Code.MEASURING_DEVICE_NOT_RECORDED,),
        (),
        id="a multi-day bottle without a measuring device is refused",
    ),
    pytest.param(
        facts(
            prescription=rx(measured_liquid=True, separate_containers=True),
            instalments=(take_home(), take_home(TOMORROW, collect_on=TODAY)),
            household=SAFE_FAMILY,
            measuring_device=False,
        ),
        (),
        (),
        id="daily containers are drunk whole and need no measuring device",
    ),
    pytest.param(
        facts(
            prescription=rx(measured_liquid=True),
            instalments=(take_home(),),
            household=SAFE_FAMILY,
            measuring_device=False,
        ),
        (),
        (),
        id="a single day's take-home needs no measuring device",
    ),
    pytest.param(
        facts(prescription=rx(consult_after_3_missed=True), days_without_dose=3),
        (Code.MISSED_THRESHOLD_REACHED,),
        (),
        id="Home Office wording 3 stops supply at 3 days",
    ),
    pytest.param(
        facts(prescription=rx(previous_daily_dose_mg=Decimal(50))),
        (),
        (Code.DOSE_CHANGED,),
        id="a dose different from the last supplied dose warns",
    ),
    pytest.param(
        facts(prescription=rx(previous_daily_dose_mg=None)),
        (),
        (),
        id="a first ever dose is not a dose change",
    ),
    pytest.param(
        facts(prescription=rx(end_on=TODAY + timedelta(days=2))),
        (),
        (Code.PRESCRIPTION_ENDING,),
        id="a prescription ending in two days with no successor warns",
    ),
    pytest.param(
        facts(prescription=rx(end_on=TODAY)),
        (),
        (Code.PRESCRIPTION_ENDING,),
        id="a prescription ending today with no successor warns",
    ),
    pytest.param(
        facts(prescription=rx(end_on=TODAY + timedelta(days=3))),
        (),
        (),
        id="a prescription ending in three days does not warn yet",
    ),
    pytest.param(
        facts(prescription=rx(end_on=TODAY + timedelta(days=1), has_successor=True)),
        (),
        (),
        id="a prescription ending with a successor does not warn",
    ),
    pytest.param(
        facts(prescription=rx(daily_dose_mg=Decimal(120), previous_daily_dose_mg=Decimal(120))),
        (),
        (Code.HIGH_DOSE,),
        id="a daily dose above 100 mg warns",
    ),
    pytest.param(
        facts(prescription=rx(daily_dose_mg=Decimal(100), previous_daily_dose_mg=Decimal(100))),
        (),
        (),
        id="a daily dose of exactly 100 mg does not warn",
    ),
    # The stock bottle scanned at the handover (issue 20 §5; more in test_rules_bottles.py).
    pytest.param(facts(bottle=bottle()), (), (), id="the right bottle, in date, is allowed"),
    pytest.param(
        facts(bottle=bottle(product="methadone-10mg-ml", product_name="Methadone 10mg/mL")),
        (Code.WRONG_PRODUCT_MEASURED,),
        (),
        id="a concentrate bottle for a 1 mg/mL prescription blocks",
    ),
    pytest.param(
        facts(bottle=bottle(expiry=TODAY - timedelta(days=1))),
        (Code.BOTTLE_EXPIRED,),
        (),
        id="a bottle past its expiry blocks",
    ),
    pytest.param(
        facts(bottle=bottle(gtin=None, product=None, expiry=None)),
        (),
        (),
        id="no bottle scanned is allowed while the scan is not required",
    ),
    pytest.param(
        facts(bottle=bottle(gtin=None, product=None, expiry=None, scan_required=True)),
        (Code.BOTTLE_NOT_SCANNED,),
        (),
        id="no bottle scanned blocks where the scan is required",
    ),
    pytest.param(
        facts(bottle=bottle(pump_ml=Decimal("59.50"), measured_ml=Decimal(60))),
        (Code.PUMP_VOLUME_MISMATCH,),
        (),
        id="a pump reporting another volume blocks",
    ),
    pytest.param(
        facts(bottle=bottle(product=None, product_name=None)),
        (),
        (Code.BOTTLE_NOT_MAPPED,),
        id="a bottle whose GTIN is not mapped warns",
    ),
    pytest.param(
        facts(bottle=bottle(expiry=None)),
        (),
        (Code.BOTTLE_EXPIRY_UNKNOWN,),
        id="a barcode without an expiry warns",
    ),
]


@pytest.mark.parametrize(("counter", "expected_blocks", "expected_warnings"), CASES)
def test_each_rule_blocks_or_warns_exactly_when_it_applies(
    counter: CounterFacts,
    expected_blocks: tuple[Code, ...],
    expected_warnings: tuple[Code, ...],
) -> None:
    decision = decide(counter, POLICY)

    assert blocks(decision) == expected_blocks
    assert warnings(decision) == expected_warnings
    assert decision.allowed is (not expected_blocks)
    for reason in (*decision.blocks, *decision.warnings):
        assert reason.message.strip()
        assert reason.source.strip()


def test_every_code_is_reached_by_some_case() -> None:
    reached = {
        code
        for case in CASES
        for code in (*case.values[1], *case.values[2])  # expected blocks, expected warnings
    }
    assert reached == set(Code)


def test_every_reason_that_applies_is_listed_at_once_in_code_order() -> None:
    everything_wrong = facts(
        prescription=rx(
            status="suspended",
            daily_dose_mg=Decimal(120),
            previous_daily_dose_mg=Decimal(100),
            end_on=TOMORROW,
        ),
        counter_pharmacy_id="pharmacy-2",
        instalments=(take_home(mg=120, state="collected", recorded_by="jsmith"),),
        days_without_dose=3,
        intoxicated=True,
        household=family(
            box_valid_until=None,
            children_confirmed_on=None,
            methadone_at_home_mg=Decimal(250),
        ),
    )

    decision = decide(everything_wrong, POLICY)

    assert blocks(decision) == (
        Code.PRESCRIPTION_NOT_ACTIVE,
        Code.ALREADY_RECORDED,
        Code.WRONG_PHARMACY,
        Code.MISSED_THRESHOLD_REACHED,
        Code.PATIENT_INTOXICATED,
        Code.NO_LOCKABLE_BOX,
        Code.CHILDREN_NOT_CONFIRMED,
    )
    assert warnings(decision) == (
        Code.HOUSEHOLD_METHADONE_HIGH,
        Code.DOSE_CHANGED,
        Code.PRESCRIPTION_ENDING,
        Code.HIGH_DOSE,
    )
    assert not decision.allowed


def test_no_prescription_still_lists_the_patient_level_blocks() -> None:
    decision = decide(
        facts(prescription=None, instalments=(), days_without_dose=4, intoxicated=True), POLICY
    )

    assert blocks(decision) == (
        Code.MISSED_THRESHOLD_REACHED,
        Code.PATIENT_INTOXICATED,
        Code.NO_PRESCRIPTION,
    )


def test_a_suspended_prescription_is_refused_naming_since_when_and_why() -> None:
    since = TODAY - timedelta(days=2)
    suspended = rx(status="suspended", suspension=Suspension(since=since, reason="hospital"))

    decision = decide(facts(prescription=suspended), POLICY)

    assert blocks(decision) == (Code.PRESCRIPTION_NOT_ACTIVE,)
    assert message(decision, Code.PRESCRIPTION_NOT_ACTIVE) == (
        "Suspended since Sat 28 Feb 2026 (hospital admission) — do not supply; the prescription "
        "resumes when the pharmacist or prescriber records the patient's return."
    )
    # Suspended before suspensions were recorded: the words without a date.
    assert message(
        decide(facts(prescription=rx(status="suspended")), POLICY), Code.PRESCRIPTION_NOT_ACTIVE
    ).startswith("The prescription is suspended — do not supply")
    # A reason recorded before its words existed is still named, never dropped.
    unnamed = rx(status="suspended", suspension=Suspension(since=since, reason="ward_transfer"))
    assert "(ward_transfer)" in message(
        decide(facts(prescription=unnamed), POLICY), Code.PRESCRIPTION_NOT_ACTIVE
    )


def test_a_suspended_prescription_before_its_start_lists_both_reasons() -> None:
    decision = decide(
        facts(prescription=rx(status="suspended", start_on=TOMORROW), instalments=()), POLICY
    )

    assert blocks(decision) == (Code.PRESCRIPTION_NOT_ACTIVE, Code.BEFORE_START)


def test_a_lower_missed_threshold_setting_blocks_sooner() -> None:
    decision = decide(facts(days_without_dose=2), CounterPolicy(missed_threshold=2))

    assert blocks(decision) == (Code.MISSED_THRESHOLD_REACHED,)
    assert message(decision, Code.MISSED_THRESHOLD_REACHED).startswith(
        "2 consecutive days without a dose taken (last dose taken: Sun 1 Mar 2026 (yesterday), "
        "supervised here) — no supply until the prescriber reviews"
    )


def test_the_household_thresholds_are_settings() -> None:
    policy = CounterPolicy(
        child_age_years=18,
        children_confirmation_days=7,
        household_methadone_mg=Decimal(100),
        high_dose_mg=Decimal(50),
        prescription_ending_days=7,
    )
    counter = facts(
        instalments=(take_home(),),
        household=family(
            children=(TEENAGER,),
            box_valid_until=None,
            children_confirmed_on=TODAY - timedelta(days=8),
            methadone_at_home_mg=Decimal(50),
        ),
    )

    decision = decide(counter, policy)

    assert blocks(decision) == (Code.NO_LOCKABLE_BOX, Code.CHILDREN_NOT_CONFIRMED)
    assert warnings(decision) == (
        Code.HOUSEHOLD_METHADONE_HIGH,
        Code.PRESCRIPTION_ENDING,
        Code.HIGH_DOSE,
    )


def test_a_threshold_of_zero_missed_days_is_refused_as_a_setting() -> None:
    with pytest.raises(ValueError, match="missed_threshold"):
        CounterPolicy(missed_threshold=0)


# Messages: plain English for the counter, naming what to do next.


def test_not_due_today_names_the_next_collection_date() -> None:
    decision = decide(facts(instalments=(), next_collect_on=date(2026, 3, 5)), POLICY)

    assert message(decision, Code.NOT_DUE_TODAY) == (
        "Nothing is due for collection today. Next collection: Thu 5 Mar 2026. "
        "No early or late supply."
    )


def test_not_due_today_after_a_missed_collection_says_it_was_missed() -> None:
    counter = facts(
        instalments=(),
        days_without_dose=1,
        last_missed_collect_on=TODAY - timedelta(days=1),
        next_collect_on=date(2026, 3, 5),
    )

    text = message(decide(counter, POLICY), Code.NOT_DUE_TODAY)

    assert "The collection on Sun 1 Mar 2026 was missed and cannot be supplied later." in text
    assert "Next collection: Thu 5 Mar 2026." in text


def test_not_due_today_with_nothing_left_to_collect_says_so() -> None:
    decision = decide(facts(instalments=(), next_collect_on=None), POLICY)

    assert "No further collection is scheduled" in message(decision, Code.NOT_DUE_TODAY)


def test_an_old_missed_collection_is_not_mentioned_when_the_patient_has_been_since() -> None:
    counter = facts(instalments=(), days_without_dose=0, last_missed_collect_on=date(2026, 1, 5))

    assert "missed" not in message(decide(counter, POLICY), Code.NOT_DUE_TODAY)


def test_already_recorded_names_who_and_when() -> None:
    counter = facts(
        instalments=(dose(state="supervised", recorded_by="jsmith", recorded_at=RECORDED_AT),)
    )

    assert message(decide(counter, POLICY), Code.ALREADY_RECORDED) == (
        "Already recorded: the dose for Mon 2 Mar 2026 was supervised by jsmith at 09:12 UTC. "
        "Do not supply again; if the record is wrong, add a correction."
    )


def test_missed_threshold_message_says_to_contact_the_prescriber() -> None:
    text = message(decide(facts(days_without_dose=3), POLICY), Code.MISSED_THRESHOLD_REACHED)

    assert text.startswith("3 consecutive days without a dose taken (last dose taken:")
    assert "no supply until the prescriber reviews" in text
    assert "contact the prescriber" in text


def test_stale_children_message_names_when_they_were_last_confirmed() -> None:
    counter = facts(
        instalments=(take_home(),), household=family(children_confirmed_on=date(2026, 1, 30))
    )

    assert message(decide(counter, POLICY), Code.CHILDREN_NOT_CONFIRMED) == (
        "The children in the household were last confirmed on Fri 30 Jan 2026, more than 28 "
        "days ago — re-confirm who lives there before a take-home, or override with a reason."
    )


def test_an_expired_box_message_names_the_expiry_date() -> None:
    counter = facts(instalments=(take_home(),), household=family(box_valid_until=date(2026, 2, 27)))

    text = message(decide(counter, POLICY), Code.NO_LOCKABLE_BOX)

    assert "the last box confirmation expired on Fri 27 Feb 2026" in text
    assert "override with a reason" in text


def test_dose_changed_names_both_doses() -> None:
    counter = facts(
        prescription=rx(daily_dose_mg=Decimal("62.5"), previous_daily_dose_mg=Decimal("55.00"))
    )

    text = message(decide(counter, POLICY), Code.DOSE_CHANGED)

    assert "changed up from 55 mg to 62.5 mg a day" in text


def test_household_methadone_message_gives_the_total_and_what_was_already_there() -> None:
    counter = facts(instalments=(take_home(),), household=family(methadone_at_home_mg=Decimal(270)))

    text = message(decide(counter, POLICY), Code.HOUSEHOLD_METHADONE_HIGH)

    assert "to 330 mg (270 mg already there), above 300 mg" in text


# Overrides and acknowledgements.


NO_BOX_UNCONFIRMED = facts(
    instalments=(take_home(),),
    household=family(box_valid_until=None, children_confirmed_on=None),
)


def test_a_pharmacist_may_override_the_box_and_confirmation_blocks_with_a_reason() -> None:
    decision = decide(NO_BOX_UNCONFIRMED, POLICY)
    overrides = {
        "no_lockable_box": "Box seen by key worker yesterday, record to follow",
        "children_not_confirmed": "Patient confirmed at counter; key worker informed",
    }

    assert not decision.allowed
    assert decision.refusal(frozenset(), overrides) == ()
    assert decision.permits(overrides=overrides)
    assert decision.overridden(overrides) == (Code.NO_LOCKABLE_BOX, Code.CHILDREN_NOT_CONFIRMED)


@pytest.mark.parametrize("reason", ["", "   ", "\n"], ids=["empty", "spaces", "a newline"])
def test_an_override_without_a_written_reason_does_not_lift_the_block(reason: str) -> None:
    decision = decide(NO_BOX_UNCONFIRMED, POLICY)
    overrides = {"no_lockable_box": reason, "children_not_confirmed": "confirmed by phone"}

    standing = decision.refusal(frozenset(), overrides)

    assert [r.code for r in standing] == [Code.NO_LOCKABLE_BOX]
    assert decision.overridden(overrides) == (Code.CHILDREN_NOT_CONFIRMED,)


@pytest.mark.parametrize(
    "counter",
    [
        pytest.param(facts(intoxicated=True), id="intoxicated"),
        pytest.param(facts(days_without_dose=3), id="missed threshold"),
        pytest.param(facts(counter_pharmacy_id="pharmacy-2"), id="wrong pharmacy"),
        pytest.param(facts(prescription=rx(status="cancelled")), id="cancelled prescription"),
        pytest.param(facts(instalments=()), id="not due today"),
        pytest.param(facts(instalments=(dose(state="supervised"),)), id="already recorded"),
    ],
)
def test_only_the_household_storage_blocks_can_be_overridden(counter: CounterFacts) -> None:
    decision = decide(counter, POLICY)
    every_code: dict[str, str] = {code: "pharmacist insists" for code in Code}

    assert decision.refusal(frozenset(Code), every_code) == decision.blocks
    assert decision.overridden(every_code) == ()
    assert {r.code for r in decision.blocks}.isdisjoint(OVERRIDABLE)


def test_acknowledging_a_block_does_not_lift_it() -> None:
    decision = decide(NO_BOX_UNCONFIRMED, POLICY)

    assert decision.refusal(frozenset(Code)) == decision.blocks


def test_warnings_stand_until_each_is_acknowledged() -> None:
    decision = decide(
        facts(
            prescription=rx(
                daily_dose_mg=Decimal(110), previous_daily_dose_mg=Decimal(100), end_on=TOMORROW
            )
        ),
        POLICY,
    )

    assert decision.allowed  # no block: the warnings are for the pharmacist to acknowledge
    assert [r.code for r in decision.refusal()] == [
        Code.DOSE_CHANGED,
        Code.PRESCRIPTION_ENDING,
        Code.HIGH_DOSE,
    ]
    assert [r.code for r in decision.refusal(frozenset({"dose_changed", "high_dose"}))] == [
        Code.PRESCRIPTION_ENDING
    ]
    assert decision.permits(frozenset({"dose_changed", "high_dose", "prescription_ending"}))


def test_an_override_does_not_stand_in_for_acknowledging_a_warning() -> None:
    decision = decide(facts(prescription=rx(previous_daily_dose_mg=Decimal(50))), POLICY)

    assert [r.code for r in decision.refusal(frozenset(), {"dose_changed": "seen"})] == [
        Code.DOSE_CHANGED
    ]


# What is handed over: mode, dates and total.


def test_a_twice_weekly_take_home_covers_several_dose_dates_and_sums_the_dose() -> None:
    counter = facts(
        instalments=(
            take_home(TODAY + timedelta(days=2)),
            take_home(TODAY),
            take_home(TOMORROW),
        ),
        household=SAFE_FAMILY,
    )

    decision = decide(counter, POLICY)

    assert decision.allowed
    assert decision.mode == "take_home"
    assert decision.dose_dates == (TODAY, TOMORROW, TODAY + timedelta(days=2))
    assert decision.dose_mg == Decimal(180)


def test_supervised_today_and_take_home_tomorrow_is_one_supervised_handover() -> None:
    counter = facts(instalments=(dose(), take_home(TOMORROW)), household=SAFE_FAMILY)

    decision = decide(counter, POLICY)

    assert decision.allowed
    assert decision.mode == "supervised"
    assert decision.dose_dates == (TODAY, TOMORROW)
    assert decision.dose_mg == Decimal(120)


def test_the_take_home_part_of_a_supervised_handover_needs_a_box() -> None:
    counter = facts(
        instalments=(dose(), take_home(TOMORROW)), household=family(box_valid_until=None)
    )

    decision = decide(counter, POLICY)

    assert decision.mode == "supervised"
    assert blocks(decision) == (Code.NO_LOCKABLE_BOX,)


def test_a_supervised_dose_dated_tomorrow_still_goes_home() -> None:
    counter = facts(instalments=(dose(TOMORROW),), household=family(box_valid_until=None))

    decision = decide(counter, POLICY)

    assert decision.mode == "take_home"
    assert blocks(decision) == (Code.NO_LOCKABLE_BOX,)


def test_only_the_take_home_part_counts_towards_methadone_at_home() -> None:
    counter = facts(
        instalments=(dose(), take_home(TOMORROW)),
        household=family(methadone_at_home_mg=Decimal(240)),
    )

    # 240 at home + 60 taken home is exactly 300; the 60 swallowed here never reaches home.
    assert warnings(decide(counter, POLICY)) == ()


def test_nothing_to_hand_over_has_no_mode_and_no_dose() -> None:
    decision = decide(facts(instalments=()), POLICY)

    assert decision.mode is None
    assert decision.dose_mg == Decimal(0)
    assert decision.dose_dates == ()


# The seed case: two methadone patients in one household, a child on a protection plan.


def test_the_seed_household_blocks_the_take_home_and_alerts_the_social_worker() -> None:
    household = HouseholdFacts(
        children=(TODDLER_ON_PLAN,),
        children_confirmed_on=TODAY - timedelta(days=3),
        box_valid_until=None,
        methadone_at_home_mg=Decimal(0),
    )
    # Mother collects Monday and Thursday: today's collection covers Mon to Wed.
    mother = facts(
        instalments=tuple(take_home(TODAY + timedelta(days=n)) for n in range(3)),
        household=household,
        next_collect_on=date(2026, 3, 5),
    )
    # Father is supervised daily because of the child.
    father = facts(household=household)

    mother_decision = decide(mother, POLICY)
    father_decision = decide(father, POLICY)
    events = household_events(
        members=(
            MemberRegime(
                "patient-mother", has_take_home=True, supervised_share=Decimal(0), dose_days=14
            ),
            MemberRegime(
                "patient-father", has_take_home=False, supervised_share=Decimal(1), dose_days=14
            ),
        ),
        children=household.children,
        methadone_at_home_mg=household.methadone_at_home_mg,
        policy_household_mg=POLICY.household_methadone_mg,
        child_age_years=POLICY.child_age_years,
    )

    assert blocks(mother_decision) == (Code.NO_LOCKABLE_BOX,)
    assert mother_decision.dose_mg == Decimal(180)
    assert father_decision.allowed
    kinds = {event.kind: event for event in events}
    assert set(kinds) == {
        EventKind.TAKE_HOME_IN_PROTECTED_HOUSEHOLD,
        EventKind.HOUSEHOLD_REGIME_MISMATCH,
    }
    assert kinds[EventKind.TAKE_HOME_IN_PROTECTED_HOUSEHOLD].severity is Severity.URGENT


# Methadone at home.


def test_a_take_home_dated_today_is_still_at_home_until_the_day_ends() -> None:
    take_homes = [
        (TODAY - timedelta(days=1), Decimal(60)),
        (TODAY, Decimal(60)),
        (TOMORROW, Decimal(60)),
        (TOMORROW, Decimal("32.5")),
    ]

    assert household_methadone_at_home(take_homes, today=TODAY) == Decimal("152.5")


def test_no_take_homes_is_nothing_at_home() -> None:
    assert household_methadone_at_home([], today=TODAY) == Decimal(0)


# Properties over arbitrary facts.


def _instalment_days() -> st.SearchStrategy[InstalmentDay]:
    return st.builds(
        InstalmentDay,
        dose_date=st.sampled_from([TODAY, TOMORROW, TODAY + timedelta(days=2)]),
        collect_on=st.just(TODAY),
        mode=st.sampled_from(["supervised", "take_home"]),
        dose_mg=st.sampled_from([Decimal(30), Decimal(60), Decimal(120)]),
        state=st.sampled_from(["due", "due", "supervised", "collected", "missed", "withheld"]),
    )


_dates = st.dates(min_value=TODAY - timedelta(days=40), max_value=TODAY + timedelta(days=40))
_counter_facts = st.builds(
    CounterFacts,
    today=st.just(TODAY),
    counter_pharmacy_id=st.sampled_from([PHARMACY, "pharmacy-2"]),
    prescription=st.none()
    | st.builds(
        PrescriptionFacts,
        status=st.sampled_from(["pending_check", "active", "suspended", "cancelled", "completed"]),
        start_on=_dates,
        end_on=_dates,
        daily_dose_mg=st.sampled_from([Decimal(60), Decimal(120)]),
        previous_daily_dose_mg=st.sampled_from([None, Decimal(60)]),
        pharmacy_id=st.just(PHARMACY),
        has_successor=st.booleans(),
    ),
    instalments=st.lists(_instalment_days(), max_size=3).map(tuple),
    next_collect_on=st.none() | _dates,
    last_missed_collect_on=st.none() | _dates,
    days_without_dose=st.integers(min_value=0, max_value=5),
    household=st.none()
    | st.builds(
        HouseholdFacts,
        children=st.lists(
            st.builds(
                ChildFacts,
                age_years=st.integers(min_value=0, max_value=17),
                protection_status=st.sampled_from(
                    ["none", "child_in_need", "child_protection_plan", "looked_after"]
                ),
            ),
            max_size=2,
        ).map(tuple),
        children_confirmed_on=st.none() | _dates,
        box_valid_until=st.none() | _dates,
        methadone_at_home_mg=st.sampled_from([Decimal(0), Decimal(280)]),
    ),
    intoxicated=st.booleans(),
)


# scripts/mutation lowers the examples: it runs this test once per mutant.
@settings(max_examples=int(os.environ.get("DOSEKEEPER_HYPOTHESIS_EXAMPLES", "300")), deadline=None)
@given(counter=_counter_facts)
def test_any_decision_lists_each_code_once_and_only_overrides_lift_blocks(
    counter: CounterFacts,
) -> None:
    decision = decide(counter, POLICY)
    codes = [r.code for r in (*decision.blocks, *decision.warnings)]
    everything_waived = decision.refusal(frozenset(Code), {code: "reason" for code in OVERRIDABLE})

    assert len(codes) == len(set(codes))
    assert codes == sorted(codes, key=list(Code).index)
    assert decision.allowed is (not decision.blocks)
    assert everything_waived == tuple(r for r in decision.blocks if r.code not in OVERRIDABLE)
    assert decision.dose_mg == sum((day.dose_mg for day in counter.instalments), Decimal(0))
    if counter.intoxicated:
        assert not decision.allowed


def test_home_office_wording_3_caps_a_higher_local_threshold_at_3() -> None:
    """The prescriber's direction ("consult the prescriber if 3 or more consecutive days...")
    is a hard rule: a local setting of 5 cannot let a fourth day through."""
    lenient = CounterPolicy(missed_threshold=5)
    with_wording = facts(prescription=rx(consult_after_3_missed=True), days_without_dose=3)

    assert blocks(decide(with_wording, lenient)) == (Code.MISSED_THRESHOLD_REACHED,)
    assert blocks(decide(facts(days_without_dose=3), lenient)) == ()


def test_the_household_methadone_default_is_100_mg() -> None:
    """docs/decisions.md: 300 mg was thirty times what the label says can kill a child."""
    assert CounterPolicy().household_methadone_mg == Decimal(100)
    counter = facts(
        instalments=(take_home(mg=60),), household=family(methadone_at_home_mg=Decimal(60))
    )

    assert warnings(decide(counter, CounterPolicy())) == (Code.HOUSEHOLD_METHADONE_HIGH,)


@pytest.mark.parametrize(
    ("last", "today", "text"),
    [
        (None, TODAY, "last dose taken: not known"),
        (LastDose(None, "induction"), TODAY, "last dose taken: none — new to treatment"),
        (
            LastDose(TODAY - timedelta(days=4), "here", "supervised"),
            TODAY,
            "last dose taken: Thu 26 Feb 2026 (4 days ago), supervised here",
        ),
        (
            LastDose(TODAY - timedelta(days=1), "previous_pharmacy"),
            TODAY,
            "last dose taken: Sun 1 Mar 2026 (yesterday), at the previous pharmacy (recorded)",
        ),
    ],
)
def test_the_counter_always_says_when_the_last_dose_was_taken(
    last: LastDose | None, today: date, text: str
) -> None:
    assert describe_last_dose(last, today) == text


@pytest.mark.parametrize(
    ("last_taken_on", "released_on", "first_day", "expected"),
    [
        (date(2026, 3, 1), None, None, 0),  # dosed yesterday
        (date(2026, 2, 26), None, None, 3),  # Fri, Sat, Sun without
        (date(2026, 2, 26), date(2026, 2, 28), None, 2),  # the review restarts the count
        (date(2026, 2, 26), date(2026, 3, 2), None, 0),  # reviewed today
        (None, None, date(2026, 2, 27), 3),  # new to treatment, never came from day one
        (None, None, None, 0),  # nothing scheduled, nothing known
        (date(2026, 3, 2), None, None, 0),  # a take-home dated today collected earlier
    ],
)
def test_days_without_a_dose_count_every_day_whatever_the_reason(
    last_taken_on: date | None, released_on: date | None, first_day: date | None, expected: int
) -> None:
    through = TODAY - timedelta(days=1)
    assert (
        days_without_dose(
            last_taken_on=last_taken_on,
            released_on=released_on,
            first_day=first_day,
            through=through,
        )
        == expected
    )


def test_the_home_counter_names_the_guest_pharmacy_and_the_last_day() -> None:
    decision = decide(
        facts(guest=GuestDosing(here=False, guest_pharmacy="Leeds Pharmacy", until=TOMORROW)),
        POLICY,
    )
    (block,) = decision.blocks
    assert block.code == Code.DOSED_AT_GUEST_PHARMACY
    assert "Today's dose is at Leeds Pharmacy" in block.message
    assert f"until {TOMORROW.strftime('%a')} {TOMORROW.day} " in block.message


# --- per-drug missed-dose thresholds and what a streak means (issue 20 §3, H-31) ------------

BUPRENORPHINE = rx(drug="buprenorphine")


@pytest.mark.hazard("H-31.3")
def test_a_drug_with_its_own_threshold_blocks_at_that_threshold() -> None:
    policy = CounterPolicy(missed_threshold_by_drug={"buprenorphine": 5})
    on_buprenorphine = facts(prescription=BUPRENORPHINE)

    assert blocks(decide(replace(on_buprenorphine, days_without_dose=4), policy)) == ()
    assert blocks(decide(replace(on_buprenorphine, days_without_dose=5), policy)) == (
        Code.MISSED_THRESHOLD_REACHED,
    )
    # Methadone is not named, so it keeps the general threshold (3).
    assert blocks(decide(facts(days_without_dose=3), policy)) == (Code.MISSED_THRESHOLD_REACHED,)


@pytest.mark.hazard("H-31.3")
def test_a_drug_not_named_uses_the_general_threshold_not_another_drugs() -> None:
    policy = CounterPolicy(missed_threshold=5, missed_threshold_by_drug={"buprenorphine": 2})

    assert blocks(decide(facts(days_without_dose=4), policy)) == ()
    assert blocks(decide(facts(prescription=BUPRENORPHINE, days_without_dose=2), policy)) == (
        Code.MISSED_THRESHOLD_REACHED,
    )


@pytest.mark.hazard("H-31.3")
def test_home_office_wording_3_caps_a_drugs_own_threshold_at_3() -> None:
    policy = CounterPolicy(missed_threshold_by_drug={"buprenorphine": 5})
    worded = facts(
        prescription=rx(drug="buprenorphine", consult_after_3_missed=True), days_without_dose=3
    )

    assert blocks(decide(worded, policy)) == (Code.MISSED_THRESHOLD_REACHED,)


def test_without_a_prescription_the_general_threshold_applies() -> None:
    policy = CounterPolicy(missed_threshold=4, missed_threshold_by_drug={"methadone": 2})
    nothing = facts(prescription=None, instalments=())

    assert Code.MISSED_THRESHOLD_REACHED not in blocks(
        decide(replace(nothing, days_without_dose=3), policy)
    )
    decision = decide(replace(nothing, days_without_dose=4), policy)
    assert Code.MISSED_THRESHOLD_REACHED in blocks(decision)
    # No drug to speak of: the plain reason only.
    assert "(tolerance may be lost);" in message(decision, Code.MISSED_THRESHOLD_REACHED)


def test_a_drugs_threshold_of_0_is_refused() -> None:
    with pytest.raises(ValueError, match="missed_threshold"):
        CounterPolicy(missed_threshold_by_drug={"buprenorphine": 0})


@pytest.mark.hazard("H-31.3")
def test_a_methadone_streak_warns_of_overdose_at_the_usual_dose() -> None:
    # The baseline prescription is methadone unless it says otherwise.
    text = message(decide(facts(days_without_dose=3), POLICY), Code.MISSED_THRESHOLD_REACHED)

    assert "tolerance to methadone may be lost" in text
    assert "the usual dose could now cause an overdose" in text
    assert "re-induction" not in text


@pytest.mark.hazard("H-31.3")
def test_a_buprenorphine_streak_leaves_re_induction_to_the_prescriber() -> None:
    text = message(
        decide(facts(prescription=BUPRENORPHINE, days_without_dose=3), POLICY),
        Code.MISSED_THRESHOLD_REACHED,
    )

    assert "the prescriber decides whether to continue at the usual dose" in text
    assert "re-induction" in text
    assert "overdose" not in text
    assert "contact the prescriber, who records the review to release" in text


def test_another_drugs_streak_gives_the_plain_reason() -> None:
    text = message(
        decide(facts(prescription=rx(drug="diazepam"), days_without_dose=3), POLICY),
        Code.MISSED_THRESHOLD_REACHED,
    )

    assert "(tolerance may be lost);" in text


def test_only_the_evening_part_of_a_split_dose_counts_towards_methadone_at_home() -> None:
    # 280 at home + the 20 mg evening part is exactly 300; the 40 mg swallowed here is not.
    at_the_limit = facts(
        instalments=(dose(parts=SPLIT),), household=family(methadone_at_home_mg=Decimal(280))
    )
    over = facts(
        instalments=(dose(parts=SPLIT),), household=family(methadone_at_home_mg=Decimal(281))
    )

    assert Code.HOUSEHOLD_METHADONE_HIGH not in warnings(decide(at_the_limit, POLICY))
    assert Code.HOUSEHOLD_METHADONE_HIGH in warnings(decide(over, POLICY))
    assert decide(over, POLICY).mode == "supervised"


def test_a_take_home_day_with_a_split_dose_sends_the_whole_dose_home() -> None:
    counter = facts(
        instalments=(take_home(parts=SPLIT),), household=family(methadone_at_home_mg=Decimal(241))
    )

    # The whole 60 mg goes home (241 + 60 > 300), not only the evening part.
    assert Code.HOUSEHOLD_METHADONE_HIGH in warnings(decide(counter, POLICY))


def test_the_step_message_names_the_day_and_both_doses() -> None:
    counter = facts(
        prescription=rx(steps=(DoseStep(TODAY, Decimal(60), Decimal(55)),)),
        instalments=(dose(mg=55),),
    )

    text = message(decide(counter, POLICY), Code.DOSE_STEPS_TODAY)
    assert "steps the dose down on Mon 2 Mar 2026" in text
    assert "from 60 mg to 55 mg" in text
    up = facts(
        prescription=rx(steps=(DoseStep(TODAY, Decimal(50), Decimal(55)),)),
        instalments=(dose(mg=55),),
    )
    assert "steps the dose up" in message(decide(up, POLICY), Code.DOSE_STEPS_TODAY)


def test_after_a_step_the_dose_is_compared_with_todays_not_the_first() -> None:
    stepped = rx(
        daily_dose_mg=Decimal(60),
        previous_daily_dose_mg=Decimal(55),
        steps=(DoseStep(TODAY - timedelta(days=1), Decimal(60), Decimal(55)),),
    )

    # Yesterday's 55 mg and today's 55 mg: nothing changed, whatever the first step's dose.
    assert warnings(decide(facts(prescription=stepped, instalments=(dose(mg=55),)), POLICY)) == ()
    changed = decide(facts(prescription=stepped, instalments=(dose(mg=50),)), POLICY)
    assert warnings(changed) == (Code.DOSE_CHANGED,)
    assert "from 55 mg to 50 mg" in message(changed, Code.DOSE_CHANGED)


def test_on_a_step_day_the_step_is_named_instead_of_a_dose_change() -> None:
    stepped = rx(
        previous_daily_dose_mg=Decimal(60), steps=(DoseStep(TODAY, Decimal(60), Decimal(55)),)
    )

    decision = decide(facts(prescription=stepped, instalments=(dose(mg=55),)), POLICY)

    assert warnings(decision) == (Code.DOSE_STEPS_TODAY,)
