"""Split and stepped doses at intake (issue 20 §2): the pure rules, no database.

What a pharmacist transcribing a reduction, a titration or a split dose in pregnancy needs the
check to catch: parts that do not add up, a second supervised visit the system cannot record,
a step outside the prescription, a stepped total that disagrees with the figures or the words,
and a titration step larger than guidance allows.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from app.prescriptions import dose_plan
from app.prescriptions.intake_terms import (
    Calendar,
    Code,
    DosePart,
    DoseStep,
    IntakeContext,
    IntakeDecision,
    IntakePolicy,
    PrescriptionDraft,
    Wording,
)
from app.prescriptions.products import PRODUCTS
from app.prescriptions.rules import check_intake

D = Decimal
START = date(2026, 11, 30)  # a Monday
END = START + timedelta(days=13)
EVERY_DAY = frozenset(range(7))
MORNING = DosePart("morning", D(40), True)
EVENING = DosePart("evening", D(20), False)
RX = PrescriptionDraft(
    product_code="methadone-1mg-ml",
    daily_dose_mg=D(60),
    form_type="FP10MDA",
    written_on=START - timedelta(days=3),
    start_on=START,
    end_on=END,
    total_quantity=D(840),
    total_quantity_words="eight hundred and forty",
    supervised_days=frozenset(range(6)),
    collection_days=EVERY_DAY,
    wording=Wording(closed_day_prior=True),
    direction_text="60mg daily, split 40mg morning supervised, 20mg evening take home.",
    prescriber_address="1 Clinic Road",
)
# 60 mg for a week, then 55 mg for a week: 420 + 385.
REDUCTION = replace(
    RX,
    steps=(DoseStep(START + timedelta(days=7), D(55)),),
    total_quantity=D(805),
    total_quantity_words="eight hundred and five",
)
METHADONE = PRODUCTS["methadone-1mg-ml"]
CONTEXT = IntakeContext(
    today=START - timedelta(days=2), previous_daily_dose_mg=D(60), benzodiazepine_coprescribed=False
)
OPEN_EVERY_DAY = Calendar(open_weekdays=EVERY_DAY)


def check(draft: PrescriptionDraft, policy: IntakePolicy = IntakePolicy()) -> IntakeDecision:
    return check_intake(draft, CONTEXT, OPEN_EVERY_DAY, policy)


def messages(draft: PrescriptionDraft, code: Code) -> list[str]:
    return [f.message for f in check(draft).blocks if f.code == code]


def test_a_stepped_reduction_schedules_each_day_at_its_own_dose() -> None:
    decision = check(REDUCTION)

    assert decision.accepted, decision.blocks
    doses = {dose.dose_date: dose.dose_mg for dose in decision.schedule}
    assert doses[START + timedelta(days=6)] == D(60)
    assert doses[START + timedelta(days=7)] == D(55)
    assert sum(doses.values()) == D(805)
    assert dose_plan.dose_on(REDUCTION, END) == (D(55), ())
    assert dose_plan.expected_quantity(REDUCTION, METHADONE) == D(805)
    assert dose_plan.describe(REDUCTION, METHADONE) == (
        "60 mg (60 mL) a day for 7 days, then 55 mg (55 mL) a day for 7 days"
    )


def test_a_stepped_total_that_disagrees_is_refused_naming_the_steps() -> None:
    unstepped_total = replace(
        REDUCTION, total_quantity=D(840), total_quantity_words="eight hundred and forty"
    )
    (message,) = messages(unstepped_total, Code.SCHEDULE_INCONSISTENT)

    assert "the stepped doses (60 mg (60 mL) a day for 7 days, then 55 mg" in message
    assert "add up to 805 mL" in message
    # The words are checked against the figures as ever: "eight hundred and forty" is not 805.
    (words,) = messages(
        replace(REDUCTION, total_quantity_words="eight hundred and forty"),
        Code.SCHEDULE_INCONSISTENT,
    )
    assert "does not match the figures (805)" in words


def test_steps_outside_the_prescription_out_of_order_or_repeated_are_refused() -> None:
    cases = {
        "not after the start": (DoseStep(START, D(55)),),
        "on or before the end": (DoseStep(END + timedelta(days=1), D(55)),),
        "two steps start on": (
            DoseStep(START + timedelta(days=3), D(55)),
            DoseStep(START + timedelta(days=3), D(50)),
        ),
        "not in date order": (
            DoseStep(START + timedelta(days=5), D(55)),
            DoseStep(START + timedelta(days=3), D(50)),
        ),
        "must be more than 0 mg and at most 1000 mg": (DoseStep(START + timedelta(days=3), D(0)),),
    }
    for expected, steps in cases.items():
        found = messages(replace(RX, steps=steps), Code.DOSE_STEPS_INVALID)
        assert len(found) == 1, (expected, found)
        assert expected in found[0], (expected, found)
    assert dose_plan.plan_problems(REDUCTION, METHADONE, D(1000)) == []


def test_a_split_dose_must_add_up_and_be_swallowed_at_one_visit() -> None:
    cases = {
        "do not add up to 60 mg": (MORNING, replace(EVENING, dose_mg=D(10))),
        "2 to 4 parts, not 1": (replace(MORNING, dose_mg=D(60)),),
        "2 to 4 parts, not 5": (*[replace(MORNING, dose_mg=D(12), supervised=False)] * 4, MORNING),
        "every part must be more than 0 mg": (MORNING, replace(EVENING, dose_mg=D(0))),
        "needs the time of day": (MORNING, replace(EVENING, when=" ")),
        "second visit the same day": (MORNING, replace(EVENING, supervised=True)),
        "no part is supervised": (replace(MORNING, supervised=False), EVENING),
    }
    for expected, parts in cases.items():
        found = messages(replace(RX, dose_parts=parts), Code.DOSE_PARTS_INVALID)
        assert len(found) == 1, (expected, found)
        assert expected in found[0], (expected, found)
    assert check(replace(RX, dose_parts=(MORNING, EVENING))).accepted
    # A take-home-only prescription may split its dose with no supervised part.
    unsupervised = replace(
        RX, supervised_days=frozenset(), dose_parts=(replace(MORNING, supervised=False), EVENING)
    )
    assert check(unsupervised).accepted


def test_a_tablet_part_must_be_whole_tablets() -> None:
    tablets = replace(
        RX,
        product_code="buprenorphine-8mg-tablet",
        daily_dose_mg=D(16),
        total_quantity=D(28),
        total_quantity_words="twenty-eight",
        dose_parts=(DosePart("morning", D(12), True), DosePart("evening", D(4), False)),
    )

    (message,) = messages(tablets, Code.DOSE_PARTS_INVALID)

    assert "the morning part (12 mg) is not a whole number of tablets" in message


def test_each_step_splits_its_own_dose_and_the_schedule_carries_the_parts() -> None:
    split_from_the_step = replace(
        REDUCTION,
        steps=(
            DoseStep(START + timedelta(days=7), D(55), (replace(MORNING, dose_mg=D(35)), EVENING)),
        ),
    )

    decision = check(split_from_the_step)

    assert decision.accepted, decision.blocks
    by_day = {dose.dose_date: dose.parts for dose in decision.schedule}
    assert by_day[START] == ()
    assert by_day[END] == (replace(MORNING, dose_mg=D(35)), EVENING)
    bad = replace(
        REDUCTION, steps=(DoseStep(START + timedelta(days=7), D(55), (MORNING, EVENING)),)
    )
    (message,) = messages(bad, Code.DOSE_PARTS_INVALID)
    assert message.startswith("The split of the step from Monday 7 December 2026 cannot be right")


def test_a_titration_step_above_the_increase_threshold_is_a_warning() -> None:
    induction = replace(
        RX,
        daily_dose_mg=D(20),
        steps=(
            DoseStep(START + timedelta(days=3), D(30)),  # +10: within guidance
            DoseStep(START + timedelta(days=6), D(45)),  # +15: more than 10 mg
        ),
        total_quantity=D(510),
        total_quantity_words="five hundred and ten",
    )

    decision = check(induction)

    assert decision.accepted, decision.blocks
    steps = [f for f in decision.warnings if f.code == Code.LARGE_INCREASE and f.field == "steps"]
    assert [f.message[:64] for f in steps] == [
        "The dose steps up from 30 mg to 45 mg a day on Sunday 6 December"
    ]
    buprenorphine = dose_plan.step_warnings(induction, large_increase_mg=D(10), checked=False)
    assert buprenorphine == []
    assert dose_plan.step_warnings(induction, large_increase_mg=D(15), checked=True) == []


def test_parts_and_steps_survive_the_database_columns() -> None:
    split = replace(
        REDUCTION,
        dose_parts=(MORNING, EVENING),
        steps=(
            DoseStep(START + timedelta(days=7), D(55), (replace(MORNING, dose_mg=D(35)), EVENING)),
        ),
    )

    assert dose_plan.parts_of(dose_plan.parts_json(split.dose_parts)) == split.dose_parts
    assert dose_plan.steps_of(dose_plan.steps_json(split.steps)) == split.steps
    assert dose_plan.parts_json(()) is None
    assert dose_plan.steps_json(()) is None
    assert dose_plan.parts_of(None) == ()
