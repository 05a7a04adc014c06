"""The stock bottle checked at the handover (issue 20 §5): which of the counter decision's
bottle reasons apply, and their words.

`bottle_findings` answers for `app.dosing.rules.decide` with (code, wording) pairs, the codes
being `rules.Code` values (blocks `wrong_product_measured`, `bottle_expired`,
`bottle_not_scanned`, `pump_volume_mismatch`; warnings `bottle_not_mapped`,
`bottle_expiry_unknown`). Kept apart from `rules.py` so that module stays the decision's
outline; mutation-tested with it (`scripts/mutation rules`). Each message names both products
in the words their labels use and ends with what to do next.

Choices where guidance is silent (docs/decisions.md, "The stock bottle checked"):

- A GTIN this pharmacy has not mapped is a warning, not a block: the pharmacist reads the label
  by eye as before scanning existed, acknowledges, and may map it for next time.
- A barcode without an expiry (a plain EAN) is a warning to read the expiry by eye.
- Expired means past its expiry date: a bottle is usable on the day it expires.
- The pump's report must equal the measured volume exactly (both to the hundredth of a mL), one
  container at a time (the supervised cup, each take-home container): a measure of the whole
  handover in one is wrong whatever it reports.

Pure like the rules (standard library only: no database, no clock).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from app.dosing.decision_inputs import BottleFacts, PumpCheck

# (the message the counter shows, the short name of the rule's source)
Wording = tuple[str, str]

_PRODUCT_SOURCE = "Supply the product and strength prescribed (domain-rules §8.1; H-30)"

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _day(value: date) -> str:
    return f"{_WEEKDAYS[value.weekday()]} {value.day} {_MONTHS[value.month - 1]} {value.year}"


def _ml(value: Decimal) -> str:
    # 60 -> "60", 59.50 -> "59.5": no exponent, no trailing zeros.
    return f"{value.normalize():f}"


def wrong_product_measured(bottle: str, prescribed: str) -> Wording:
    return (
        f"This bottle is {bottle}; the prescription is for {prescribed} — do not use it: "
        f"put it back and measure the dose from a bottle of {prescribed}.",
        _PRODUCT_SOURCE,
    )


def bottle_expired(expiry: date) -> Wording:
    return (
        f"This bottle expired on {_day(expiry)} — do not measure from it: set it aside for "
        "destruction and use an in-date bottle.",
        "Expired stock is never supplied (pharmacy standards; H-30)",
    )


def bottle_not_mapped(gtin: str, prescribed: str) -> Wording:
    return (
        f"The bottle's barcode (GTIN {gtin}) is not in this pharmacy's pack table, so "
        f"Dosekeeper cannot confirm it is {prescribed} — read the bottle's label against the "
        "prescription, then acknowledge; a pharmacist can add the GTIN to the pack table on "
        "the register page.",
        "Unknown pack: checked by eye (issue 20 §5)",
    )


BOTTLE_EXPIRY_UNKNOWN: Wording = (
    "This barcode carries no expiry date — read the expiry on the bottle before measuring "
    "(or scan the bottle's 2D code), then acknowledge.",
    "Expired stock is never supplied (pharmacy standards; H-30)",
)


def bottle_not_scanned(prescribed: str) -> Wording:
    return (
        f"Scan the stock bottle of {prescribed} before measuring: this pharmacy checks the "
        "bottle before every liquid dose.",
        "Local setting: bottle scan required (docs/configuration.md)",
    )


def pump_volume_mismatch(pump_ml: Decimal, measured_ml: Decimal | None) -> Wording:
    wanted = (
        f"this dose is {_ml(measured_ml)} mL"
        if measured_ml is not None
        else ("this product is not measured in mL")
    )
    return (
        f"The pump reports {_ml(pump_ml)} mL dispensed; {wanted} — do not hand it over: "
        "check the pump and measure the dose again.",
        "Dose measured as prescribed (issue 20 §5; H-30)",
    )


def pump_container_mismatch(checks: Sequence[PumpCheck]) -> Wording:
    """Every pump measure that differs from its container, in one message."""
    sentences = []
    for check in checks:
        holds = (
            f"{check.container} is {_ml(check.measured_ml)} mL"
            if check.measured_ml is not None
            else f"{check.container} is not measured in mL"
        )
        if check.on_record:
            sentences.append(
                f"The pump's last measure today for {check.container} was "
                f"{_ml(check.dispensed_ml)} mL, not {_ml(check.measured_ml or Decimal(0))} mL, "
                "and it has not measured it right since"
            )
        else:
            sentences.append(f"The pump reports {_ml(check.dispensed_ml)} mL dispensed; {holds}")
    return (
        ". ".join(sentences) + " — do not hand it over: discard it and measure that container "
        "again on the pump.",
        "Dose measured as prescribed (issue 20 §5; H-30)",
    )


def bottle_findings(bottle: BottleFacts | None, today: date) -> list[tuple[str, Wording]]:
    """The bottle reasons that apply, as (code, wording); none at a check (no bottle yet)."""
    if bottle is None:
        return []
    found: list[tuple[str, Wording]] = []
    if bottle.gtin is None:
        if bottle.scan_required and bottle.liquid:
            found.append(("bottle_not_scanned", bottle_not_scanned(bottle.prescribed_name)))
    elif bottle.product is None:
        found.append(("bottle_not_mapped", bottle_not_mapped(bottle.gtin, bottle.prescribed_name)))
    elif bottle.product != bottle.prescribed_product:
        named = bottle.product_name or bottle.product
        found.append(
            ("wrong_product_measured", wrong_product_measured(named, bottle.prescribed_name))
        )
    if bottle.gtin is not None and bottle.expiry is None:
        found.append(("bottle_expiry_unknown", BOTTLE_EXPIRY_UNKNOWN))
    elif bottle.expiry is not None and bottle.expiry < today:
        found.append(("bottle_expired", bottle_expired(bottle.expiry)))
    if bottle.pump_ml is not None and bottle.pump_ml != bottle.measured_ml:
        found.append(
            ("pump_volume_mismatch", pump_volume_mismatch(bottle.pump_ml, bottle.measured_ml))
        )
    wrong = [c for c in bottle.pump_checks if c.dispensed_ml != c.measured_ml]
    if wrong:
        found.append(("pump_volume_mismatch", pump_container_mismatch(wrong)))
    return found
