"""Register decisions: facts in, findings out. No database, no clock, no I/O (STYLE B3).

What the law says (domain-rules §5): an entry is made on the day of the transaction or, if that is
not reasonably practicable, the next day; nothing is altered; corrections are dated notes. What
guidance adds: a running balance, regular two-person balance checks, and a tolerance for the
manufacturer's overage in methadone liquid, outside which a variance is a discrepancy that is
investigated and reported to the CD accountable officer.

Choices made where the rules are silent (each is pinned by a test):

- Only Schedule 2 products have a register: buprenorphine (Schedule 3) and diazepam (Schedule 4)
  are dispensed in instalments too, but MDR reg 19 does not apply to them.
- An entry dated the day before today needs a written reason ("not reasonably practicable");
  anything older, or in the future, is refused. An older omission is an incident, not an entry.
- The tolerance is a percentage of the book balance and applies to liquids only: overage comes
  with the volume in stock, while a tablet count must be exact. At a small balance the tolerance
  shrinks with it, so a missing amount that could poison a child is never "within tolerance".
- A variance inside the tolerance is recorded as it is; outside it, an explanation is required
  and the check raises a `register_discrepancy` alert. The book balance is not adjusted by a
  check: a correction entry, with its own reason, does that once the cause is known.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from app.prescriptions.products import PRODUCTS, Product

__all__ = [
    "CENT",
    "BalanceAssessment",
    "Code",
    "EntryKind",
    "Finding",
    "assess_balance",
    "entry_date_findings",
    "is_register_product",
    "ml",
    "quantity_ml",
    "running_balances",
]

CENT = Decimal("0.01")
REGISTER_SCHEDULE = 2


class EntryKind(StrEnum):
    RECEIPT = "receipt"
    SUPPLY = "supply"
    CORRECTION = "correction"
    BALANCE_CHECK = "balance_check"


class Code(StrEnum):
    """Stable API codes for refused register entries. Never rename one."""

    FUTURE_DATE = "future_date"
    TOO_LATE = "too_late"
    LATE_REASON_REQUIRED = "late_reason_required"
    NOT_IN_REGISTER = "not_in_register"
    EXPLANATION_REQUIRED = "explanation_required"


@dataclass(frozen=True, slots=True)
class Finding:
    code: Code
    message: str  # plain English for the pharmacist, ending with what to do
    field: str
    source: str


@dataclass(frozen=True, slots=True)
class BalanceAssessment:
    """A physical count against the book balance."""

    expected_ml: Decimal
    counted_ml: Decimal
    variance_ml: Decimal  # counted - expected: positive is more in the cupboard than the book
    tolerance_ml: Decimal
    discrepancy: bool  # outside the tolerance: explain, and the accountable officer hears


def ml(value: Decimal | int | str) -> Decimal:
    """Quantities are held to the hundredth of a mL, so the stored, hashed and read-back values
    are the same string on SQLite and PostgreSQL."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def is_register_product(product: str) -> bool:
    """True when MDR reg 19 requires a register entry for the product (Schedule 2)."""
    known = PRODUCTS.get(product)
    return known is not None and known.schedule == REGISTER_SCHEDULE


def quantity_ml(product: Product, dose_mg: Decimal) -> Decimal:
    """The register quantity (in the product's unit) for a dose in mg."""
    return ml(product.quantity(dose_mg))


def entry_date_findings(
    *, transaction_date: date, today: date, late_reason: str | None, field: str
) -> tuple[Finding, ...]:
    """May an entry for `transaction_date` be made `today`? MDR 2001 reg 20(b)."""
    source = "MDR 2001 reg 20(b)"
    if transaction_date > today:
        return (
            Finding(
                Code.FUTURE_DATE,
                f"{transaction_date.isoformat()} is in the future: enter it on the day it happens.",
                field,
                source,
            ),
        )
    if transaction_date < today - timedelta(days=1):
        return (
            Finding(
                Code.TOO_LATE,
                f"A register entry for {transaction_date.isoformat()} can no longer be made: "
                "entries are made on the day or the next day. Report it as an incident to the "
                "CD accountable officer.",
                field,
                source,
            ),
        )
    if transaction_date < today and not (late_reason or "").strip():
        return (
            Finding(
                Code.LATE_REASON_REQUIRED,
                "An entry made the day after the transaction needs the reason it was not "
                "reasonably practicable on the day (late_reason).",
                "late_reason",
                source,
            ),
        )
    return ()


def assess_balance(
    *,
    expected_ml: Decimal,
    counted_ml: Decimal,
    tolerance_percent: Decimal,
    liquid: bool,
) -> BalanceAssessment:
    """Compare a physical count with the book balance, allowing the liquid-overage tolerance."""
    variance = ml(counted_ml - expected_ml)
    tolerance = ml(abs(expected_ml) * tolerance_percent / 100) if liquid else Decimal("0.00")
    return BalanceAssessment(
        expected_ml=ml(expected_ml),
        counted_ml=ml(counted_ml),
        variance_ml=variance,
        tolerance_ml=tolerance,
        discrepancy=abs(variance) > tolerance,
    )


def running_balances(opening: Decimal, changes: Iterable[Decimal]) -> list[Decimal]:
    """The balance after each change, in entry order (what each entry must show)."""
    balance = ml(opening)
    out = []
    for change in changes:
        balance = ml(balance + change)
        out.append(balance)
    return out
