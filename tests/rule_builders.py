"""Builders shared by the pure counter-decision tests (tests/dosing/test_rules*.py): one
baseline of facts (an active prescription, a supervised dose due today, a household without
children) and the changes a test makes to it.

Pure: facts in, a decision out. Nothing here may import the database or the web framework
(tests/test_pure_rules_alone.py checks the rule tests run without them).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from app.dosing.decision_inputs import (
    BottleFacts,
    CounterFacts,
    CounterPolicy,
    HouseholdFacts,
    InstalmentDay,
    LastDose,
    PrescriptionFacts,
)
from app.dosing.rules import Code, Decision
from app.households.rules import ChildFacts

TODAY = date(2026, 3, 2)  # a Monday
TOMORROW = TODAY + timedelta(days=1)
PHARMACY = "pharmacy-1"
# The household-methadone arithmetic below is written against 300 mg; the default (100 mg,
# docs/decisions.md) is pinned by its own test.
POLICY = CounterPolicy(household_methadone_mg=Decimal(300))

RX = PrescriptionFacts(
    status="active",
    start_on=TODAY - timedelta(days=7),
    end_on=TODAY + timedelta(days=6),
    daily_dose_mg=Decimal(60),
    previous_daily_dose_mg=Decimal(60),
    pharmacy_id=PHARMACY,
    has_successor=False,
)
# Under 16 (a take-home needs a box) but 5 or over (no young_child_take_home warning).
SCHOOL_CHILD = ChildFacts(age_years=7, protection_status="none")
NO_CHILDREN = HouseholdFacts(
    children=(),
    children_confirmed_on=None,
    box_valid_until=None,
    methadone_at_home_mg=Decimal(0),
)
# Children confirmed a week ago and a box seen, valid for another month.
SAFE_FAMILY = HouseholdFacts(
    children=(SCHOOL_CHILD,),
    children_confirmed_on=TODAY - timedelta(days=7),
    box_valid_until=TODAY + timedelta(days=30),
    methadone_at_home_mg=Decimal(0),
)


def dose(
    dose_date: date = TODAY,
    *,
    mode: str = "supervised",
    mg: int | str = 60,
    state: str = "due",
    collect_on: date = TODAY,
    **recorded: Any,
) -> InstalmentDay:
    return InstalmentDay(
        dose_date=dose_date,
        collect_on=collect_on,
        mode=mode,  # type: ignore[arg-type]
        dose_mg=Decimal(mg),
        state=state,  # type: ignore[arg-type]
        **recorded,
    )


def take_home(dose_date: date = TODAY, **changes: Any) -> InstalmentDay:
    return dose(dose_date, mode="take_home", **changes)


BASE = CounterFacts(
    today=TODAY,
    counter_pharmacy_id=PHARMACY,
    prescription=RX,
    instalments=(dose(),),
    next_collect_on=TOMORROW,
    last_missed_collect_on=None,
    days_without_dose=0,
    household=NO_CHILDREN,
    intoxicated=False,
    last_dose=LastDose(TODAY - timedelta(days=1), "here", "supervised"),
)


def facts(**changes: Any) -> CounterFacts:
    return replace(BASE, **changes)


def rx(**changes: Any) -> PrescriptionFacts:
    return replace(RX, **changes)


def family(**changes: Any) -> HouseholdFacts:
    return replace(SAFE_FAMILY, **changes)


def blocks(decision: Decision) -> tuple[Code, ...]:
    return tuple(reason.code for reason in decision.blocks)


def warnings(decision: Decision) -> tuple[Code, ...]:
    return tuple(reason.code for reason in decision.warnings)


# The stock bottle of the prescribed product, in date, scanned at the handover (issue 20 §5).
RIGHT_BOTTLE = BottleFacts(
    prescribed_product="methadone-1mg-ml-sf",
    prescribed_name="Methadone 1mg/mL oral solution SUGAR FREE",
    liquid=True,
    gtin="05012345678900",
    product="methadone-1mg-ml-sf",
    product_name="Methadone 1mg/mL oral solution SUGAR FREE",
    expiry=TODAY + timedelta(days=200),
)


def bottle(**changes: Any) -> BottleFacts:
    return replace(RIGHT_BOTTLE, **changes)
