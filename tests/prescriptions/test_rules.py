"""Prescription intake and schedule generation: every code, the worked examples, and properties.

Pure tests: no fixtures, no database. Each test changes one thing in a valid baseline: an
FP10MDA for methadone 1 mg/mL, 60 mg daily for 14 days from Monday 30 November 2026,
supervised Monday to Saturday, at a pharmacy open Monday to Saturday.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.prescriptions.intake_terms import (
    BLOCKS,
    WARNINGS,
    Calendar,
    Code,
    DosePart,
    DoseStep,
    Finding,
    IntakeContext,
    IntakeDecision,
    IntakePolicy,
    PrescriptionDraft,
    ScheduledDose,
    Wording,
    quantity_for,
)
from app.prescriptions.products import PRODUCTS
from app.prescriptions.rules import check_intake
from app.prescriptions.schedule import generate_schedule
from app.prescriptions.words import words_to_number

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
MON_TO_SAT = frozenset(range(6))
EVERY_DAY = frozenset(range(7))
START = date(2026, 11, 30)  # a Monday
END = date(2026, 12, 13)  # the 14th day, a Sunday
SUNDAYS = (date(2026, 12, 6), date(2026, 12, 13))
WRITTEN = date(2026, 11, 27)  # the Friday before
TODAY = date(2026, 11, 28)  # the prescription arrives on the Saturday
OPEN_MON_TO_SAT = Calendar(open_weekdays=MON_TO_SAT)
CLOSED_DAY_WORDING = Wording(closed_day_prior=True)
POLICY = IntakePolicy()
D = Decimal

RX = PrescriptionDraft(
    product_code="methadone-1mg-ml",
    daily_dose_mg=D(60),
    form_type="FP10MDA",
    written_on=WRITTEN,
    start_on=START,
    end_on=END,
    total_quantity=D(840),
    total_quantity_words="eight hundred and forty",
    supervised_days=MON_TO_SAT,
    collection_days=MON_TO_SAT,  # Saturday's instalment includes Sunday's dose
    wording=Wording(),
    direction_text="60mg (60mL) daily. Supervised consumption Mon-Sat. Sunday dose with Saturday.",
    prescriber_address="Testtown Recovery Service, 1 Clinic Road, Testtown TT1 2BB",
)
# Daily instalments, each due on its own day: a Sunday closure needs the closed-day wording.
DAILY_RX = replace(
    RX,
    collection_days=EVERY_DAY,
    direction_text="60mg (60mL) daily instalments. Supervised consumption Mon-Sat.",
)


def decide(
    draft: PrescriptionDraft = RX,
    *,
    today: date = TODAY,
    previous: Decimal | None = D(60),
    benzodiazepine: bool = False,
    pregnant: bool = False,
    calendar: Calendar = OPEN_MON_TO_SAT,
    policy: IntakePolicy = POLICY,
) -> IntakeDecision:
    context = IntakeContext(
        today=today,
        previous_daily_dose_mg=previous,
        benzodiazepine_coprescribed=benzodiazepine,
        pregnant=pregnant,
    )
    return check_intake(draft, context, calendar, policy)


def codes(findings: tuple[Finding, ...]) -> list[Code]:
    return [finding.code for finding in findings]


def days(start: date, count: int) -> list[date]:
    return [start + timedelta(days=offset) for offset in range(count)]


# --- the baseline --------------------------------------------------------------------------


def test_the_baseline_is_accepted_with_nothing_to_acknowledge() -> None:
    decision = decide()
    assert decision.accepted
    assert decision.blocks == ()
    assert decision.warnings == ()
    assert len(decision.schedule) == 14


def test_codes_are_either_blocks_or_warnings() -> None:
    assert set(Code) == BLOCKS | WARNINGS
    assert not BLOCKS & WARNINGS


# --- blocks: one behaviour per code --------------------------------------------------------

REQUIRED_FIELDS: list[tuple[str, Any]] = [
    ("product_code", ""),
    ("form_type", None),
    ("written_on", None),
    ("daily_dose_mg", None),
    ("total_quantity", None),
    ("total_quantity_words", None),
    ("collection_days", frozenset()),
    ("start_on", None),
    ("end_on", None),
    ("direction_text", None),
    ("prescriber_address", None),
]


@pytest.mark.parametrize(("name", "blank"), REQUIRED_FIELDS, ids=[n for n, _ in REQUIRED_FIELDS])
def test_a_missing_reg_15_element_is_named(name: str, blank: Any) -> None:
    blocks = decide(replace(RX, **{name: blank})).blocks
    missing = [finding for finding in blocks if finding.code == Code.MISSING_FIELD]
    assert [finding.field for finding in missing] == [name]


def test_blank_text_counts_as_missing() -> None:
    blocks = decide(replace(RX, direction_text="   ", total_quantity_words="")).blocks
    assert [(f.code, f.field) for f in blocks] == [
        (Code.MISSING_FIELD, "total_quantity_words"),
        (Code.MISSING_FIELD, "direction_text"),
    ]


def test_every_missing_field_is_reported_at_once() -> None:
    empty = PrescriptionDraft(
        product_code="",
        daily_dose_mg=None,
        form_type=None,
        written_on=None,
        start_on=None,
        end_on=None,
        total_quantity=None,
        total_quantity_words=None,
        supervised_days=frozenset(),
        collection_days=frozenset(),
        wording=Wording(),
        direction_text=None,
    )
    decision = decide(empty)
    assert codes(decision.blocks) == [Code.MISSING_FIELD] * len(REQUIRED_FIELDS)
    assert [f.field for f in decision.blocks] == [name for name, _ in REQUIRED_FIELDS]
    assert decision.schedule == ()


def test_quantity_in_words_or_figures_alone_is_the_correctable_defect() -> None:
    (only_figures,) = decide(replace(RX, total_quantity_words=None)).blocks
    (only_words,) = decide(replace(RX, total_quantity=None)).blocks
    for finding in (only_figures, only_words):
        assert finding.source == "MDR 2001 reg 15; reg 16(1A)"
        assert "you may add it yourself" in finding.message
    both = decide(replace(RX, total_quantity=None, total_quantity_words=None)).blocks
    assert [f.source for f in both] == ["MDR 2001 reg 15", "MDR 2001 reg 15"]


BLOCK_CASES: list[tuple[str, PrescriptionDraft, dict[str, Any], list[tuple[Code, str | None]]]] = [
    (
        "an FP10MDA may not cover 15 days",
        replace(
            RX,
            end_on=END + timedelta(days=1),
            total_quantity=D(900),
            total_quantity_words="nine hundred",
        ),
        {},
        [(Code.TOO_MANY_DAYS, "end_on")],
    ),
    (
        "nor may a WP10MDA",
        replace(
            RX,
            form_type="WP10MDA",
            end_on=END + timedelta(days=1),
            total_quantity=D(900),
            total_quantity_words="nine hundred",
        ),
        {},
        [(Code.TOO_MANY_DAYS, "end_on")],
    ),
    (
        "a standard FP10 may not order instalments (issue 14 #6)",
        replace(RX, form_type="paper"),
        {},
        [(Code.INSTALMENTS_NEED_MDA_FORM, "form_type")],
    ),
    (
        "the first supply is too late 29 days after the start date",
        RX,
        {"today": START + timedelta(days=29)},
        [(Code.FIRST_SUPPLY_WINDOW, "start_on")],
    ),
    (
        "the total quantity must equal the instalments",
        replace(RX, total_quantity=D(800), total_quantity_words="eight hundred"),
        {},
        [(Code.SCHEDULE_INCONSISTENT, "total_quantity")],
    ),
    (
        "the words must equal the figures",
        replace(RX, total_quantity_words="eight hundred and fifty"),
        {},
        [(Code.SCHEDULE_INCONSISTENT, "total_quantity_words")],
    ),
    (
        "a total of nothing is inconsistent",
        replace(RX, total_quantity=D(0)),
        {},
        [
            (Code.SCHEDULE_INCONSISTENT, "total_quantity"),
            (Code.SCHEDULE_INCONSISTENT, "total_quantity_words"),
        ],
    ),
    (
        "pregabalin cannot be instalment-dispensed on an FP10MDA",
        replace(
            RX,
            product_code="pregabalin-75mg-capsule",
            daily_dose_mg=D(150),
            total_quantity=D(28),
            total_quantity_words="twenty eight",
        ),
        {},
        [(Code.NOT_INSTALMENT_ELIGIBLE, "product_code")],
    ),
    (
        "daily instalments on a closed Sunday need the closed-day wording",
        DAILY_RX,
        {},
        [(Code.CLOSED_DAY_NEEDS_AMENDED_PRESCRIPTION, "wording")],
    ),
    (
        "a dose before the first collection day would be supplied before the start",
        replace(
            RX,
            collection_days=frozenset({MON, THU}),
            supervised_days=frozenset(),
            start_on=START - timedelta(days=1),
            total_quantity=D(900),
            total_quantity_words="nine hundred",
            form_type="private",
        ),
        {},
        [(Code.DOSE_BEFORE_FIRST_COLLECTION, "start_on")],
    ),
    (
        "an unknown product is refused",
        replace(RX, product_code="methadone-5mg-ml"),
        {},
        [(Code.UNKNOWN_PRODUCT, "product_code")],
    ),
    (
        "an unknown form type is refused",
        replace(RX, form_type="FP10"),
        {},
        [(Code.UNKNOWN_FORM_TYPE, "form_type")],
    ),
    (
        "the start date may not be after the end date",
        replace(RX, start_on=END, end_on=START),
        {},
        [(Code.START_AFTER_END, "end_on")],
    ),
    (
        "a prescription cannot be signed after it starts",
        replace(RX, written_on=START + timedelta(days=1)),
        {"today": START + timedelta(days=1)},
        [(Code.WRITTEN_AFTER_START, "written_on")],
    ),
    (
        "a prescription cannot be signed after today",
        replace(RX, written_on=TODAY + timedelta(days=1)),
        {},
        [(Code.DATE_OUT_OF_RANGE, "written_on")],
    ),
    (
        "a signature over a year old is the wrong year",
        replace(RX, written_on=date(2025, 11, 27)),
        {},
        [(Code.DATE_OUT_OF_RANGE, "written_on")],
    ),
    (
        "a start more than 60 days ahead is the wrong year",
        replace(RX, start_on=date(2027, 11, 30), end_on=date(2027, 12, 13)),
        {},
        [(Code.DATE_OUT_OF_RANGE, "start_on")],
    ),
    (
        "an end date over a year ago is the wrong year",
        replace(RX, end_on=date(2025, 11, 1)),
        {},
        [(Code.START_AFTER_END, "end_on"), (Code.DATE_OUT_OF_RANGE, "end_on")],
    ),
    (
        "no prescription covers more than 92 days",
        replace(
            RX,
            form_type="private",
            end_on=START + timedelta(days=92),
            total_quantity=D(60 * 93),
            total_quantity_words="five thousand five hundred and eighty",
        ),
        {},
        [(Code.DATE_OUT_OF_RANGE, "end_on")],
    ),
    (
        "a dose of 0 mg is out of range",
        replace(RX, daily_dose_mg=D(0)),
        {},
        [(Code.DOSE_OUT_OF_RANGE, "daily_dose_mg")],
    ),
    (
        "a negative dose is out of range",
        replace(RX, daily_dose_mg=D(-60)),
        {},
        [(Code.DOSE_OUT_OF_RANGE, "daily_dose_mg")],
    ),
    (
        "a dose over 1000 mg is out of range",
        replace(
            RX,
            daily_dose_mg=D(6000),
            total_quantity=D(84000),
            total_quantity_words="eighty four thousand",
        ),
        {},
        [(Code.DOSE_OUT_OF_RANGE, "daily_dose_mg")],
    ),
    (
        "a dose that is not a number is out of range",
        replace(RX, daily_dose_mg=D("NaN")),
        {},
        [(Code.DOSE_OUT_OF_RANGE, "daily_dose_mg")],
    ),
    (
        "12 mg a day cannot be made from 8 mg tablets",
        replace(
            RX,
            product_code="buprenorphine-8mg-tablet",
            daily_dose_mg=D(12),
            total_quantity=D(21),
            total_quantity_words="twenty one",
        ),
        {},
        [(Code.DOSE_NOT_WHOLE_UNITS, "daily_dose_mg")],
    ),
    (
        "collection days are weekdays 0 to 6",
        replace(RX, collection_days=frozenset({MON, 7}), supervised_days=frozenset({MON})),
        {},
        [(Code.COLLECTION_DAYS_INVALID, "collection_days")],
    ),
    (
        "supervised days are weekdays 0 to 6",
        replace(RX, supervised_days=frozenset({-1})),
        {},
        [(Code.SUPERVISED_DAYS_INVALID, "supervised_days")],
    ),
    (
        "a dose can only be supervised on a collection day",
        replace(RX, collection_days=frozenset({MON, THU}), supervised_days=frozenset({MON, TUE})),
        {},
        [(Code.SUPERVISED_DAYS_INVALID, "supervised_days")],
    ),
    (
        "quantity words that cannot be read are refused",
        replace(RX, total_quantity_words="eight hundred and fourty"),
        {},
        [(Code.QUANTITY_WORDS_UNREADABLE, "total_quantity_words")],
    ),
    (
        "figures alone in the words field are not words",
        replace(RX, total_quantity_words="840"),
        {},
        [(Code.QUANTITY_WORDS_UNREADABLE, "total_quantity_words")],
    ),
    (
        "a split dose whose parts do not add up",
        replace(
            RX,
            dose_parts=(DosePart("morning", D(40), True), DosePart("evening", D(10), False)),
        ),
        {},
        [(Code.DOSE_PARTS_INVALID, "dose_parts")],
    ),
    (
        "a step after the end of the prescription",
        replace(RX, steps=(DoseStep(END + timedelta(days=1), D(55)),)),
        {},
        [(Code.DOSE_STEPS_INVALID, "steps")],
    ),
]


@pytest.mark.parametrize(
    ("draft", "context", "expected"),
    [case[1:] for case in BLOCK_CASES],
    ids=[case[0] for case in BLOCK_CASES],
)
def test_each_block_is_reported_with_its_field(
    draft: PrescriptionDraft, context: dict[str, Any], expected: list[tuple[Code, str | None]]
) -> None:
    decision = decide(draft, **context)
    assert [(f.code, f.field) for f in decision.blocks] == expected
    assert not decision.accepted
    for finding in decision.blocks:
        assert finding.message.endswith(".") or finding.message.endswith(")")
        assert finding.source


def test_every_block_code_has_a_table_case() -> None:
    tested = {code for case in BLOCK_CASES for code, _ in case[3]} | {Code.MISSING_FIELD}
    assert tested == BLOCKS


def test_every_failing_rule_is_reported_at_once() -> None:
    draft = replace(
        RX,
        product_code="pregabalin-75mg-capsule",
        daily_dose_mg=D(150),
        end_on=END + timedelta(days=7),
        total_quantity=D(10),
        total_quantity_words="eleven",
        direction_text=None,
    )
    decision = decide(draft, today=START + timedelta(days=40))
    assert codes(decision.blocks) == [
        Code.MISSING_FIELD,
        Code.TOO_MANY_DAYS,
        Code.FIRST_SUPPLY_WINDOW,
        Code.SCHEDULE_INCONSISTENT,
        Code.SCHEDULE_INCONSISTENT,
        Code.NOT_INSTALMENT_ELIGIBLE,
    ]


# --- blocks: the edges of each rule --------------------------------------------------------


def test_the_first_supply_is_lawful_on_the_28th_day_after_the_start() -> None:
    assert decide(today=START + timedelta(days=28)).accepted
    (late,) = decide(today=START + timedelta(days=29)).blocks
    assert "Monday 28 December 2026" in late.message


def test_the_28_days_run_from_the_written_date_when_that_is_later() -> None:
    signed_late = replace(RX, written_on=START, start_on=START)
    assert decide(signed_late, today=START + timedelta(days=28)).accepted
    assert codes(decide(signed_late, today=START + timedelta(days=29)).blocks) == [
        Code.FIRST_SUPPLY_WINDOW
    ]


def test_later_instalments_may_fall_after_the_28_days() -> None:
    five_weeks = replace(
        RX,
        form_type="private",
        end_on=START + timedelta(days=34),
        total_quantity=D(2100),
        total_quantity_words="two thousand one hundred",
    )
    assert decide(five_weeks).accepted  # its last instalments fall on days 29 to 34


def test_fourteen_days_is_allowed_on_an_fp10mda() -> None:
    assert decide().accepted


def test_a_private_prescription_may_cover_more_than_14_days() -> None:
    three_weeks = replace(
        RX,
        form_type="private",
        end_on=START + timedelta(days=20),
        total_quantity=D(1260),
        total_quantity_words="one thousand two hundred and sixty",
    )
    assert decide(three_weeks).accepted


def test_a_wp10mda_may_carry_any_schedule_2_to_5_drug() -> None:
    pregabalin = replace(
        RX,
        product_code="pregabalin-75mg-capsule",
        form_type="WP10MDA",
        daily_dose_mg=D(150),
        total_quantity=D(28),
        total_quantity_words="twenty-eight",
    )
    assert decide(pregabalin).accepted


@pytest.mark.parametrize(
    ("product", "dose", "total"),
    [
        ("methadone-10mg-ml", D(60), D(84)),
        ("buprenorphine-2mg-tablet", D(6), D(42)),
        ("buprenorphine-8mg-tablet", D(16), D(28)),
        ("diazepam-2mg-tablet", D(4), D(28)),
        ("diazepam-5mg-tablet", D(10), D(28)),
    ],
)
def test_every_eligible_product_may_go_on_an_fp10mda(
    product: str, dose: Decimal, total: Decimal
) -> None:
    draft = replace(
        RX,
        product_code=product,
        daily_dose_mg=dose,
        total_quantity=total,
        total_quantity_words=f"{total} ({_spell(int(total))})",
    )
    assert decide(draft, previous=dose).blocks == ()


def test_a_total_in_decimal_mL_is_checked_exactly() -> None:
    draft = replace(
        RX,
        product_code="methadone-10mg-ml",
        daily_dose_mg=D(65),
        total_quantity=D("91.0"),
        total_quantity_words="ninety one",
    )
    assert decide(draft, previous=D(65)).blocks == ()
    off_by_a_little = replace(
        draft, total_quantity=D("91.1"), total_quantity_words="ninety one point one"
    )
    (inconsistent,) = decide(off_by_a_little, previous=D(65)).blocks
    assert inconsistent.code == Code.SCHEDULE_INCONSISTENT
    assert "91 mL" in inconsistent.message
    assert "6.5 mL a day" in inconsistent.message


def test_the_schedule_is_returned_even_when_other_rules_block() -> None:
    decision = decide(replace(RX, total_quantity=D(800), total_quantity_words="eight hundred"))
    assert not decision.accepted
    assert len(decision.schedule) == 14


def test_no_schedule_is_built_from_invalid_inputs() -> None:
    assert decide(replace(RX, daily_dose_mg=D(0))).schedule == ()
    assert decide(replace(RX, start_on=END, end_on=START)).schedule == ()
    assert decide(replace(RX, collection_days=frozenset({9}))).schedule == ()


def test_a_bad_written_date_alone_still_shows_the_schedule() -> None:
    decision = decide(replace(RX, written_on=TODAY + timedelta(days=1)))
    assert codes(decision.blocks) == [Code.DATE_OUT_OF_RANGE]
    assert len(decision.schedule) == 14


# --- warnings ------------------------------------------------------------------------------


def test_a_dose_above_100_mg_asks_about_qt_monitoring() -> None:
    draft = replace(
        RX,
        daily_dose_mg=D(101),
        total_quantity=D(1414),
        total_quantity_words="one thousand four hundred and fourteen",
    )
    assert codes(decide(draft, previous=D(100)).warnings) == [Code.HIGH_DOSE]
    at_100 = replace(
        RX, daily_dose_mg=D(100), total_quantity=D(1400), total_quantity_words="fourteen hundred"
    )
    assert decide(at_100, previous=D(100)).warnings == ()


def test_an_increase_of_more_than_10_mg_is_flagged() -> None:
    assert codes(decide(previous=D(49)).warnings) == [Code.LARGE_INCREASE]
    assert decide(previous=D(50)).warnings == ()
    assert decide(previous=D(90)).warnings == ()  # a reduction is not flagged


def test_a_new_patient_starting_above_30_mg_is_flagged() -> None:
    assert codes(decide(previous=None).warnings) == [Code.FIRST_DOSE_HIGH]
    thirty = replace(
        RX,
        daily_dose_mg=D(30),
        total_quantity=D(420),
        total_quantity_words="four hundred and twenty",
    )
    assert decide(thirty, previous=None).warnings == ()


def test_a_benzodiazepine_with_an_opioid_is_flagged_whichever_is_new() -> None:
    assert codes(decide(benzodiazepine=True).warnings) == [Code.BENZODIAZEPINE_COPRESCRIBED]
    diazepam = replace(
        RX,
        product_code="diazepam-5mg-tablet",
        daily_dose_mg=D(10),
        total_quantity=D(28),
        total_quantity_words="twenty eight",
    )
    assert codes(decide(diazepam, benzodiazepine=True).warnings) == [
        Code.BENZODIAZEPINE_COPRESCRIBED
    ]


def test_a_concentrate_is_flagged_for_mg_ml_confusion() -> None:
    concentrate = replace(
        RX,
        product_code="methadone-10mg-ml",
        total_quantity=D(84),
        total_quantity_words="eighty four",
    )
    assert codes(decide(concentrate).warnings) == [Code.NON_STANDARD_STRENGTH]


def test_a_dose_change_in_pregnancy_is_flagged() -> None:
    assert codes(decide(previous=D(55), pregnant=True).warnings) == [Code.DOSE_CHANGE_IN_PREGNANCY]
    assert decide(previous=D(60), pregnant=True).warnings == ()


def test_methadone_dose_thresholds_do_not_apply_to_diazepam() -> None:
    diazepam = replace(
        RX,
        product_code="diazepam-5mg-tablet",
        daily_dose_mg=D(40),
        total_quantity=D(112),
        total_quantity_words="one hundred and twelve",
    )
    assert decide(diazepam, previous=None).warnings == ()


def test_thresholds_come_from_the_policy() -> None:
    strict = IntakePolicy(high_dose_mg=50, large_increase_mg=D(5), first_dose_mg=20)
    assert codes(decide(previous=D(54), policy=strict).warnings) == [
        Code.HIGH_DOSE,
        Code.LARGE_INCREASE,
    ]
    assert Code.FIRST_DOSE_HIGH in codes(decide(previous=None, policy=strict).warnings)


def test_warnings_do_not_refuse_the_prescription() -> None:
    decision = decide(previous=None, benzodiazepine=True)
    assert decision.accepted
    assert len(decision.warnings) == 2


def test_a_policy_with_a_zero_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        IntakePolicy(validity_days=0)
    with pytest.raises(ValueError, match="positive"):
        IntakePolicy(high_dose_mg=0)


# --- the worked examples -------------------------------------------------------------------


def supervised(day: date) -> ScheduledDose:
    return ScheduledDose(day, day, "supervised", D(60))


def take_home(day: date, collect_on: date) -> ScheduledDose:
    return ScheduledDose(day, collect_on, "take_home", D(60))


def test_daily_instalments_with_the_wording_collect_each_sunday_on_saturday() -> None:
    decision = decide(replace(DAILY_RX, wording=CLOSED_DAY_WORDING))
    expected = tuple(
        take_home(day, day - timedelta(days=1)) if day in SUNDAYS else supervised(day)
        for day in days(START, 14)
    )
    assert decision.blocks == ()
    assert decision.warnings == ()
    assert decision.schedule == expected


def test_daily_instalments_without_the_wording_need_an_amended_prescription() -> None:
    decision = decide(DAILY_RX)
    (closed,) = decision.blocks
    assert closed.code == Code.CLOSED_DAY_NEEDS_AMENDED_PRESCRIPTION
    assert closed.dates == SUNDAYS
    assert "Sunday 6 December 2026 and Sunday 13 December 2026" in closed.message
    assert "prior suitable day" in closed.message
    assert [dose.dose_date for dose in decision.schedule] == [
        day for day in days(START, 14) if day not in SUNDAYS
    ]


def test_a_saturday_instalment_that_includes_sunday_needs_no_wording() -> None:
    # The brief's example as entered (collection Monday to Saturday): the direction itself puts
    # Sunday's dose in Saturday's instalment, so nothing moves and no wording is needed.
    decision = decide(RX)
    assert decision.blocks == ()
    assert decision.schedule == decide(replace(DAILY_RX, wording=CLOSED_DAY_WORDING)).schedule


def test_twice_weekly_collection_hands_out_the_days_until_the_next_collection() -> None:
    twice_weekly = replace(RX, collection_days=frozenset({MON, THU}), supervised_days=frozenset())
    decision = decide(twice_weekly)
    mon_1, thu_1, mon_2, thu_2 = START, date(2026, 12, 3), date(2026, 12, 7), date(2026, 12, 10)
    expected = tuple(
        [take_home(day, mon_1) for day in days(mon_1, 3)]
        + [take_home(day, thu_1) for day in days(thu_1, 4)]
        + [take_home(day, mon_2) for day in days(mon_2, 3)]
        + [take_home(day, thu_2) for day in days(thu_2, 4)]
    )
    assert decision.blocks == ()
    assert decision.schedule == expected


BANK_HOLIDAY = date(2026, 5, 25)  # Spring bank holiday, a Monday
MAY = replace(
    RX, written_on=date(2026, 5, 14), start_on=date(2026, 5, 18), end_on=date(2026, 5, 31)
)
MAY_CALENDAR = Calendar(open_weekdays=MON_TO_SAT, closures=frozenset({BANK_HOLIDAY}))


def test_a_bank_holiday_monday_instalment_moves_to_saturday_with_the_wording() -> None:
    decision = decide(
        replace(MAY, wording=CLOSED_DAY_WORDING), today=date(2026, 5, 15), calendar=MAY_CALENDAR
    )
    saturday, sunday = date(2026, 5, 23), date(2026, 5, 24)
    by_date = {dose.dose_date: dose for dose in decision.schedule}
    assert decision.blocks == ()
    assert by_date[saturday] == supervised(saturday)
    assert by_date[sunday] == take_home(sunday, saturday)
    assert by_date[BANK_HOLIDAY] == take_home(BANK_HOLIDAY, saturday)  # supervised day, shut
    assert by_date[date(2026, 5, 26)] == supervised(date(2026, 5, 26))


def test_a_bank_holiday_monday_without_the_wording_names_the_day() -> None:
    decision = decide(MAY, today=date(2026, 5, 15), calendar=MAY_CALENDAR)
    (closed,) = decision.blocks
    assert closed.code == Code.CLOSED_DAY_NEEDS_AMENDED_PRESCRIPTION
    assert closed.dates == (BANK_HOLIDAY,)
    assert "Monday 25 May 2026" in closed.message
    assert BANK_HOLIDAY not in {dose.dose_date for dose in decision.schedule}


CHRISTMAS = Calendar(
    open_weekdays=MON_TO_SAT, closures=frozenset({date(2026, 12, 25), date(2026, 12, 28)})
)
TWICE_WEEKLY_AT_CHRISTMAS = replace(
    RX,
    written_on=date(2026, 12, 17),
    start_on=date(2026, 12, 21),
    end_on=date(2027, 1, 3),
    collection_days=frozenset({MON, THU}),
    supervised_days=frozenset(),
)


def test_a_moved_instalment_goes_to_the_latest_open_day_before_it() -> None:
    # Monday 28 December is shut; the instalment for 28-30 December is collected on Saturday
    # 26th, the latest open day, not with Thursday's instalment: fewer doses at home at once.
    decision = decide(
        replace(TWICE_WEEKLY_AT_CHRISTMAS, wording=CLOSED_DAY_WORDING),
        today=date(2026, 12, 18),
        calendar=CHRISTMAS,
    )
    collected = {dose.dose_date: dose.collect_on for dose in decision.schedule}
    assert decision.blocks == ()
    assert [collected[day] for day in days(date(2026, 12, 24), 4)] == [date(2026, 12, 24)] * 4
    assert [collected[day] for day in days(date(2026, 12, 28), 3)] == [date(2026, 12, 26)] * 3


def test_a_closed_instalment_names_its_day_and_the_doses_it_covers() -> None:
    decision = decide(TWICE_WEEKLY_AT_CHRISTMAS, today=date(2026, 12, 18), calendar=CHRISTMAS)
    (closed,) = decision.blocks
    assert closed.dates == tuple(days(date(2026, 12, 28), 3))
    assert "closed on Monday 28 December 2026" in closed.message
    assert "doses for Monday 28 December 2026, Tuesday 29 December 2026 and" in closed.message


def test_a_bank_holiday_start_may_be_collected_before_the_start_if_written_earlier() -> None:
    starts_on_holiday = replace(
        MAY,
        start_on=BANK_HOLIDAY,
        end_on=BANK_HOLIDAY + timedelta(days=13),
        wording=CLOSED_DAY_WORDING,
    )
    decision = decide(starts_on_holiday, today=date(2026, 5, 22), calendar=MAY_CALENDAR)
    assert decision.blocks == ()
    assert decision.schedule[0] == take_home(BANK_HOLIDAY, date(2026, 5, 23))


def test_a_bank_holiday_start_cannot_be_moved_before_the_signature() -> None:
    signed_on_the_day = replace(
        MAY,
        written_on=BANK_HOLIDAY,
        start_on=BANK_HOLIDAY,
        end_on=BANK_HOLIDAY + timedelta(days=13),
        wording=CLOSED_DAY_WORDING,
    )
    decision = decide(signed_on_the_day, today=BANK_HOLIDAY, calendar=MAY_CALENDAR)
    (closed,) = decision.blocks
    assert closed.code == Code.CLOSED_DAY_NEEDS_AMENDED_PRESCRIPTION
    assert closed.dates == (BANK_HOLIDAY,)
    assert "no earlier day" in closed.message


def test_the_supervise_on_collection_wording_supervises_every_collection_day() -> None:
    draft = replace(
        RX,
        collection_days=frozenset({MON, THU}),
        supervised_days=frozenset(),
        wording=Wording(supervise_on_collection=True),
    )
    modes = {dose.dose_date: dose.mode for dose in decide(draft).schedule}
    assert modes[START] == "supervised"
    assert modes[START + timedelta(days=1)] == "take_home"
    assert modes[date(2026, 12, 3)] == "supervised"


def test_a_non_supervised_collection_day_is_a_take_home() -> None:
    draft = replace(RX, supervised_days=frozenset({MON, WED, FRI}))
    modes = [dose.mode for dose in decide(draft).schedule[:3]]
    assert modes == ["supervised", "take_home", "supervised"]


def test_generate_schedule_reports_missing_inputs_instead_of_guessing() -> None:
    schedule, problems = generate_schedule(
        replace(RX, start_on=None, daily_dose_mg=D(-1)), OPEN_MON_TO_SAT
    )
    assert schedule == ()
    assert [(p.code, p.field) for p in problems] == [
        (Code.MISSING_FIELD, "start_on"),
        (Code.DOSE_OUT_OF_RANGE, "daily_dose_mg"),
    ]


def test_a_pharmacy_that_never_opens_schedules_nothing() -> None:
    schedule, problems = generate_schedule(
        replace(DAILY_RX, wording=CLOSED_DAY_WORDING), Calendar(frozenset())
    )
    assert schedule == ()
    assert codes(problems) == [Code.CLOSED_DAY_NEEDS_AMENDED_PRESCRIPTION]
    assert problems[0].dates == tuple(days(START, 14))


# --- generate_schedule properties ----------------------------------------------------------


def _weekdays(mask: int) -> frozenset[int]:
    return frozenset(day for day in range(7) if mask >> day & 1)


@st.composite
def schedule_inputs(draw: st.DrawFn) -> tuple[PrescriptionDraft, Calendar]:
    # Weekday sets as bit masks and dates as offsets: few draws, so many examples run quickly.
    start = date(2026, 1, 1) + timedelta(days=draw(st.integers(min_value=0, max_value=730)))
    length = draw(st.integers(min_value=1, max_value=28))
    collection_mask = draw(st.integers(min_value=1, max_value=127))
    offsets = draw(st.lists(st.integers(min_value=-10, max_value=length), max_size=6))
    wording = draw(st.integers(min_value=0, max_value=3))
    draft = replace(
        RX,
        daily_dose_mg=D(draw(st.integers(min_value=5, max_value=3000))) / 10,
        written_on=start - timedelta(days=draw(st.integers(min_value=0, max_value=10))),
        start_on=start,
        end_on=start + timedelta(days=length - 1),
        supervised_days=_weekdays(collection_mask & draw(st.integers(min_value=0, max_value=127))),
        collection_days=_weekdays(collection_mask),
        wording=Wording(closed_day_prior=bool(wording & 1), supervise_on_collection=wording > 1),
    )
    calendar = Calendar(
        open_weekdays=_weekdays(draw(st.integers(min_value=0, max_value=127))),
        closures=frozenset(start + timedelta(days=offset) for offset in offsets),
    )
    return draft, calendar


PROPERTIES = settings(max_examples=300, deadline=None, database=None)


@PROPERTIES
@given(schedule_inputs())
def test_every_dose_date_is_scheduled_once_or_named_in_a_finding(
    inputs: tuple[PrescriptionDraft, Calendar],
) -> None:
    draft, calendar = inputs
    assert draft.start_on is not None
    assert draft.end_on is not None
    schedule, problems = generate_schedule(draft, calendar)
    scheduled = [dose.dose_date for dose in schedule]
    named = [day for problem in problems for day in problem.dates]
    assert sorted(scheduled + named) == days(
        draft.start_on, (draft.end_on - draft.start_on).days + 1
    )
    assert scheduled == sorted(scheduled)
    assert set(codes(problems)) <= {
        Code.CLOSED_DAY_NEEDS_AMENDED_PRESCRIPTION,
        Code.DOSE_BEFORE_FIRST_COLLECTION,
    }


@PROPERTIES
@given(schedule_inputs())
def test_no_dose_is_collected_late_on_a_closed_day_or_before_it_may_be(
    inputs: tuple[PrescriptionDraft, Calendar],
) -> None:
    draft, calendar = inputs
    assert draft.start_on is not None
    assert draft.written_on is not None
    schedule, _ = generate_schedule(draft, calendar)
    for dose in schedule:
        assert dose.collect_on <= dose.dose_date
        assert calendar.is_open(dose.collect_on)
        assert dose.collect_on >= draft.written_on
        if dose.collect_on < draft.start_on:
            # The one exception (domain-rules §6): the wording, and the start date is shut.
            assert draft.wording.closed_day_prior
            assert not calendar.is_open(draft.start_on)


@PROPERTIES
@given(schedule_inputs())
def test_collect_on_is_never_before_the_start_when_the_start_day_is_open(
    inputs: tuple[PrescriptionDraft, Calendar],
) -> None:
    draft, calendar = inputs
    assert draft.start_on is not None
    schedule, _ = generate_schedule(draft, calendar)
    if calendar.is_open(draft.start_on) or not draft.wording.closed_day_prior:
        assert all(dose.collect_on >= draft.start_on for dose in schedule)


@PROPERTIES
@given(schedule_inputs())
def test_the_total_is_the_dose_times_the_days(inputs: tuple[PrescriptionDraft, Calendar]) -> None:
    draft, calendar = inputs
    assert draft.daily_dose_mg is not None
    schedule, problems = generate_schedule(draft, calendar)
    assert all(dose.dose_mg == draft.daily_dose_mg for dose in schedule)
    assert sum(dose.dose_mg for dose in schedule) == draft.daily_dose_mg * len(schedule)
    if not problems:
        assert draft.start_on is not None
        assert draft.end_on is not None
        assert len(schedule) == (draft.end_on - draft.start_on).days + 1


@PROPERTIES
@given(schedule_inputs())
def test_only_the_wording_moves_an_instalment_and_supervision_is_on_the_day(
    inputs: tuple[PrescriptionDraft, Calendar],
) -> None:
    draft, calendar = inputs
    schedule, _ = generate_schedule(draft, calendar)
    supervised_days = draft.supervised_days | (
        draft.collection_days if draft.wording.supervise_on_collection else frozenset()
    )
    for dose in schedule:
        if not draft.wording.closed_day_prior:
            assert dose.collect_on.weekday() in draft.collection_days
        if dose.mode == "supervised":
            assert dose.collect_on == dose.dose_date
            assert dose.dose_date.weekday() in supervised_days


@PROPERTIES
@given(schedule_inputs())
def test_with_every_day_open_the_schedule_follows_the_direction_exactly(
    inputs: tuple[PrescriptionDraft, Calendar],
) -> None:
    draft, _ = inputs
    schedule, _ = generate_schedule(draft, Calendar(open_weekdays=EVERY_DAY))
    for dose in schedule:
        gap = (dose.dose_date - dose.collect_on).days
        assert dose.collect_on.weekday() in draft.collection_days
        # No collection day lies strictly between the collection and the dose.
        assert all(
            (dose.collect_on + timedelta(days=k)).weekday() not in draft.collection_days
            for k in range(1, gap + 1)
        )


# --- quantities and products ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("product", "dose", "quantity"),
    [
        ("methadone-1mg-ml", D(60), D(60)),
        ("methadone-10mg-ml", D(65), D("6.5")),
        ("buprenorphine-2mg-tablet", D(6), D(3)),
        ("buprenorphine-8mg-tablet", D(16), D(2)),
        ("diazepam-2mg-tablet", D(5), D("2.5")),
        ("diazepam-5mg-tablet", D(10), D(2)),
    ],
)
def test_quantity_for_converts_mg_to_what_is_measured(
    product: str, dose: Decimal, quantity: Decimal
) -> None:
    assert quantity_for(PRODUCTS[product], dose) == quantity


def test_every_product_has_one_strength_matching_its_unit() -> None:
    for product in PRODUCTS.values():
        per_ml, per_unit = product.strength_mg_per_ml, product.strength_mg_per_unit
        if product.unit == "mL":
            assert per_ml is not None
            assert per_ml > 0
            assert per_unit is None
        else:
            assert per_unit is not None
            assert per_unit > 0
            assert per_ml is None
        assert product.cautionary_wording
        assert 2 <= product.schedule <= 5
        assert not (product.opioid and product.benzodiazepine)


def test_the_product_table_has_what_intake_needs() -> None:
    assert {
        "methadone-1mg-ml",
        "methadone-10mg-ml",
        "buprenorphine-2mg-tablet",
        "buprenorphine-8mg-tablet",
        "diazepam-2mg-tablet",
        "diazepam-5mg-tablet",
    } <= {code for code, product in PRODUCTS.items() if product.instalment_eligible}
    assert any(not product.instalment_eligible for product in PRODUCTS.values())
    assert all(code == product.code for code, product in PRODUCTS.items())


# --- quantities in words -------------------------------------------------------------------

WORDS = [
    ("eight hundred and forty", D(840)),
    ("one thousand one hundred and twenty", D(1120)),
    ("840 (eight hundred and forty)", D(840)),
    ("Eight Hundred and Forty mL only", D(840)),
    ("1,120 (one thousand, one hundred and twenty) millilitres", D(1120)),
    ("eight hundred forty", D(840)),
    ("sixty-five point five", D("65.5")),
    ("nought point five", D("0.5")),
    ("twelve hundred", D(1200)),
    ("a hundred and five", D(105)),
    ("one thousand and forty", D(1040)),
    ("fourteen thousand", D(14000)),
    ("twenty eight tablets", D(28)),
    ("zero", D(0)),
]
UNREADABLE = [
    "840",
    "",
    "lots",
    "eight hundred and fourty",
    "forty forty",
    "eight hundred and",
    "840 (eight hundred and fifty)",
    "sixty point",
    "one thousand twelve hundred",
]


@pytest.mark.parametrize(("text", "value"), WORDS, ids=[text for text, _ in WORDS])
def test_words_are_read_as_a_prescriber_writes_them(text: str, value: Decimal) -> None:
    assert words_to_number(text) == value


@pytest.mark.parametrize("text", UNREADABLE, ids=[repr(text) for text in UNREADABLE])
def test_doubtful_words_are_not_guessed(text: str) -> None:
    assert words_to_number(text) is None


_ONES = [
    *("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    *("ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen"),
    *("eighteen", "nineteen"),
]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def _spell(n: int) -> str:
    """British English for 0 <= n < 1,000,000, as a prescriber writes it."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else f"-{_ONES[n % 10]}")
    if n < 1000:
        rest = n % 100
        return f"{_ONES[n // 100]} hundred" + ("" if rest == 0 else f" and {_spell(rest)}")
    rest = n % 1000
    joiner = " and " if 0 < rest < 100 else " "
    return f"{_spell(n // 1000)} thousand" + ("" if rest == 0 else joiner + _spell(rest))


@settings(max_examples=300, deadline=None, database=None)
@given(st.integers(min_value=0, max_value=999_999), st.booleans())
def test_any_whole_number_written_out_reads_back(n: int, with_figures: bool) -> None:
    text = f"{n} ({_spell(n)}) mL" if with_figures else _spell(n)
    assert words_to_number(text) == n
