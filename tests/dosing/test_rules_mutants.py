"""Rule tests written to kill the mutants mutmut found surviving in the counter decision
(docs/safety/mutation-testing.md): the boundaries and the conditions no other pure test
pinned. Each names the survivor it kills."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from app.dosing.decision_inputs import CounterPolicy
from app.dosing.rules import Code, decide
from app.households.rules import ChildFacts
from tests.rule_builders import (
    POLICY,
    TODAY,
    TOMORROW,
    blocks,
    dose,
    facts,
    family,
    rx,
    take_home,
    warnings,
)


@pytest.mark.parametrize(
    "field",
    ["missed_threshold", "child_age_years", "box_validity_days", "children_confirmation_days"]
    + ["young_child_age_years"],
)
def test_one_is_the_smallest_setting_and_zero_is_refused(field: str) -> None:
    """`< 1` mutated to `<= 1` or `< 2`: a setting of 1 is lawful."""
    assert getattr(CounterPolicy(**{field: 1}), field) == 1
    with pytest.raises(ValueError, match="at least 1"):
        CounterPolicy(**{field: 0})


def test_prescription_ending_days_may_be_zero_but_not_negative() -> None:
    assert CounterPolicy(prescription_ending_days=0).prescription_ending_days == 0
    with pytest.raises(ValueError, match="negative"):
        CounterPolicy(prescription_ending_days=-1)


def test_an_override_of_a_block_that_was_not_overridden_lifts_nothing() -> None:
    """`overrides.get(code, "")` mutated to `overrides.get(code)`: a block without an
    override must be kept, not crash."""
    decision = decide(facts(household=None, instalments=(take_home(),)), POLICY)
    assert Code.CHILDREN_NOT_CONFIRMED in blocks(decision)
    assert decision.overridden({}) == ()
    assert decision.overridden({"no_lockable_box": "seen"}) == ()


def test_on_its_start_day_a_prescription_is_not_before_its_start() -> None:
    """`today < rx.start_on` mutated to `<=`: the start day itself is lawful."""
    decision = decide(facts(prescription=rx(start_on=TODAY), instalments=()), POLICY)
    assert Code.BEFORE_START not in blocks(decision)


@pytest.mark.parametrize("edge", ["start", "end"])
def test_nothing_due_on_the_first_or_last_day_of_the_prescription_is_not_due(edge: str) -> None:
    """`rx.start_on <= today <= rx.end_on` mutated to `<`: both ends are inside."""
    prescription = rx(start_on=TODAY) if edge == "start" else rx(end_on=TODAY)
    decision = decide(facts(prescription=prescription, instalments=()), POLICY)
    assert blocks(decision) == (Code.NOT_DUE_TODAY,)


def test_a_reassessed_withheld_dose_is_pending_and_an_unreassessed_one_is_not() -> None:
    """`state == "withheld" and reassessed` mutated to `or` / `!=`."""
    reassessed = decide(facts(instalments=(dose(state="withheld", reassessed=True),)), POLICY)
    assert reassessed.allowed, reassessed
    assert reassessed.dose_mg == Decimal(60)
    still = decide(facts(instalments=(dose(state="withheld"),)), POLICY)
    assert blocks(still) == (Code.WITHHELD_TODAY,)
    collected = decide(facts(instalments=(dose(state="supervised", reassessed=True),)), POLICY)
    assert Code.ALREADY_RECORDED in blocks(collected)


def test_a_supervised_dose_goes_home_only_with_a_representative_the_prescriber_authorised() -> None:
    """`collector != "patient" and representative_authorised` mutated to `or` / `==`: the
    household checks run on today's supervised dose only when it really goes home."""
    home = family(box_valid_until=None)  # a school-age child and no box
    patient = decide(facts(household=home, representative_authorised=True), POLICY)
    assert patient.mode == "supervised"
    assert Code.NO_LOCKABLE_BOX not in blocks(patient)
    authorised = decide(
        facts(household=home, collector="representative", representative_authorised=True),
        POLICY,
    )
    assert authorised.mode == "take_home"
    assert Code.NO_LOCKABLE_BOX in blocks(authorised)


@pytest.mark.parametrize(("age", "warned"), [(4, True), (5, False)])
def test_the_young_child_warning_is_for_a_child_under_five(age: int, warned: bool) -> None:
    """`age_years < young_child_age_years` mutated to `<=`."""
    child = ChildFacts(age_years=age, protection_status="none")
    decision = decide(
        facts(household=family(children=(child,)), instalments=(take_home(),)), POLICY
    )
    assert (Code.YOUNG_CHILD_TAKE_HOME in warnings(decision)) is warned


@pytest.mark.parametrize(("age", "warned"), [(15, True), (16, False)])
def test_household_methadone_counts_a_child_under_sixteen(age: int, warned: bool) -> None:
    """`age_years < child_age_years` mutated to `<=` (in the methadone-at-home warning)."""
    child = ChildFacts(age_years=age, protection_status="none")
    home = family(children=(child,), methadone_at_home_mg=Decimal(280))
    decision = decide(facts(household=home, instalments=(take_home(),)), POLICY)
    assert (Code.HOUSEHOLD_METHADONE_HIGH in warnings(decision)) is warned


def test_children_changed_since_a_recent_confirmation_block_the_take_home() -> None:
    """`changed = household.children_changed_since_confirmed` mutated to `None`."""
    recent = family(children_changed_since_confirmed=True)
    decision = decide(facts(household=recent, instalments=(take_home(),)), POLICY)
    assert Code.CHILDREN_NOT_CONFIRMED in blocks(decision)
    assert "changed (a child added, born or moved)" in decision.blocks[0].message
    assert recent.children_confirmed_on == TODAY - timedelta(days=7)


@pytest.mark.parametrize(
    ("state", "reassessed", "refused"),
    [("withheld", True, True), ("withheld", False, False), ("supervised", True, False)],
)
def test_only_a_dose_still_to_hand_over_needs_the_patient_in_person(
    state: str, reassessed: bool, refused: bool
) -> None:
    """`_pending` mutated (`and` to `or`, `==` to `!=`): a representative is refused for a
    supervised dose still to hand over (a reassessed withhold), and a dose not to hand over
    (withheld, or already recorded) raises no such block."""
    decision = decide(
        facts(instalments=(dose(state=state, reassessed=reassessed),), collector="representative"),
        POLICY,
    )
    assert (Code.SUPERVISED_NEEDS_PATIENT in blocks(decision)) is refused


def test_a_take_home_collected_by_a_representative_needs_no_patient_in_person() -> None:
    """`dose_date == today and mode == "supervised"` mutated to `or`."""
    decision = decide(facts(instalments=(take_home(),), collector="representative"), POLICY)
    assert Code.SUPERVISED_NEEDS_PATIENT not in blocks(decision)
    assert decision.allowed, decision


def test_with_todays_supervised_dose_recorded_what_is_left_goes_home() -> None:
    """`_mode(pending or days)` mutated to `pending and days`: the mode is that of what is
    still to hand over."""
    decision = decide(
        facts(instalments=(dose(state="supervised"), take_home(TOMORROW, collect_on=TODAY))),
        POLICY,
    )
    assert decision.mode == "take_home"


def test_a_multi_day_bottle_of_liquid_needs_a_measuring_device() -> None:
    """`needs_measuring_device=needs_device` mutated to `None` or dropped."""
    two_days = (take_home(), take_home(TOMORROW, collect_on=TODAY))
    liquid = decide(facts(prescription=rx(measured_liquid=True), instalments=two_days), POLICY)
    assert liquid.needs_measuring_device is True
    daily = rx(measured_liquid=True, separate_containers=True)
    assert (
        decide(facts(prescription=daily, instalments=two_days), POLICY).needs_measuring_device
        is False
    )


def test_without_a_prescription_the_local_threshold_applies() -> None:
    """`consult_after_3_missed if rx is not None else False` mutated to `else True`."""
    lenient = CounterPolicy(missed_threshold=5)
    decision = decide(facts(prescription=None, days_without_dose=3), lenient)
    assert Code.MISSED_THRESHOLD_REACHED not in blocks(decision)
    assert Code.MISSED_THRESHOLD_REACHED in blocks(
        decide(facts(prescription=None, days_without_dose=5), lenient)
    )
