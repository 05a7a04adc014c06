"""Register rules, pure: the day-or-next-day rule, the liquid tolerance, the running balance."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from app.prescriptions.products import PRODUCTS
from app.register.rules import (
    Code,
    assess_balance,
    entry_date_findings,
    is_register_product,
    quantity_ml,
    running_balances,
)

TODAY = date(2026, 12, 1)


def codes(transaction_date: date, late_reason: str | None = None) -> list[Code]:
    return [
        f.code
        for f in entry_date_findings(
            transaction_date=transaction_date, today=TODAY, late_reason=late_reason, field="date"
        )
    ]


@pytest.mark.parametrize(
    ("days_ago", "reason", "expected"),
    [
        (0, None, []),
        (1, None, [Code.LATE_REASON_REQUIRED]),
        (1, "   ", [Code.LATE_REASON_REQUIRED]),
        (1, "Delivery after closing", []),
        (2, "Forgot", [Code.TOO_LATE]),
        (-1, None, [Code.FUTURE_DATE]),
    ],
    ids=[
        "on the day",
        "next day without a reason",
        "next day with a blank reason",
        "next day with a reason",
        "two days later is an incident",
        "tomorrow is not yet",
    ],
)
def test_an_entry_is_made_on_the_day_or_the_next_day_with_a_reason(
    days_ago: int, reason: str | None, expected: list[Code]
) -> None:
    assert codes(TODAY - timedelta(days=days_ago), reason) == expected


def test_the_tolerance_is_a_share_of_the_book_balance_for_liquids() -> None:
    within = assess_balance(
        expected_ml=Decimal(1000),
        counted_ml=Decimal(1009),
        tolerance_percent=Decimal(1),
        liquid=True,
    )
    assert (within.variance_ml, within.tolerance_ml, within.discrepancy) == (
        Decimal("9.00"),
        Decimal("10.00"),
        False,
    )
    short = assess_balance(
        expected_ml=Decimal(1000),
        counted_ml=Decimal(989),
        tolerance_percent=Decimal(1),
        liquid=True,
    )
    assert (short.variance_ml, short.discrepancy) == (Decimal("-11.00"), True)


def test_a_small_balance_leaves_no_room_for_a_childs_lethal_dose() -> None:
    low = assess_balance(
        expected_ml=Decimal(60), counted_ml=Decimal(50), tolerance_percent=Decimal(1), liquid=True
    )
    assert low.discrepancy is True


def test_a_tablet_count_must_be_exact() -> None:
    tablets = assess_balance(
        expected_ml=Decimal(100), counted_ml=Decimal(99), tolerance_percent=Decimal(5), liquid=False
    )
    assert (tablets.tolerance_ml, tablets.discrepancy) == (Decimal("0.00"), True)


def test_only_schedule_2_products_are_in_the_register() -> None:
    assert is_register_product("methadone-1mg-ml")
    assert is_register_product("methadone-10mg-ml")
    assert not is_register_product("buprenorphine-8mg-tablet")  # Schedule 3
    assert not is_register_product("diazepam-5mg-tablet")  # Schedule 4
    assert not is_register_product("unknown")


def test_the_register_quantity_is_the_dose_in_the_products_unit() -> None:
    assert quantity_ml(PRODUCTS["methadone-1mg-ml"], Decimal(60)) == Decimal("60.00")
    assert quantity_ml(PRODUCTS["methadone-10mg-ml"], Decimal(65)) == Decimal("6.50")


def test_running_balances_follow_entry_order() -> None:
    changes = [Decimal(500), Decimal(-60), Decimal(-60), Decimal(-10), Decimal(0)]
    assert running_balances(Decimal(0), changes) == [
        Decimal("500.00"),
        Decimal("440.00"),
        Decimal("380.00"),
        Decimal("370.00"),
        Decimal("370.00"),
    ]
