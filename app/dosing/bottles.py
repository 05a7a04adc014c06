"""The stock bottle and the dose pump at the handover (issue 20 §5).

`hand_over` asks `check` for the facts of the bottle scanned (the GS1 pack code the scanner
typed into the handover form) and of the pump's report, decides again with them
(`decide_with`: the counter decision's `wrong_product_measured`, `bottle_expired`,
`bottle_not_scanned`, `pump_volume_mismatch` blocks and `bottle_not_mapped`,
`bottle_expiry_unknown` warnings, in `app.dosing.bottle_rules`), and once the dose is recorded
writes what was scanned with it (`record`) and on the CD register's supply line
(`supplied_pack`).

The pack table asked is the counter's pharmacy's (`app.register.pack_table`): its own stock.
The pump is checked one container at a time (`app.dosing.containers`): each figure the
handover gives, and the pump's last result today on record, against the container it filled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy.orm import Session

import devices
from app.actor import Actor
from app.config import PolicySettings
from app.dosing import gather, rules
from app.dosing.containers import PumpReport
from app.dosing.counter import CounterView
from app.dosing.decision_inputs import BottleFacts
from app.dosing.models import HandoverBottle
from app.errors import InvalidInput
from app.prescriptions.products import PRODUCTS
from app.register import pack_table
from app.register.packs import PACKS
from app.register.supplies import SuppliedPack


@dataclass(frozen=True, slots=True)
class CheckedBottle:
    """The facts the decision was asked with, and the pack as scanned (None: no scan)."""

    facts: BottleFacts
    pack: devices.StockPack | None
    # The pump figure kept with the handover: the supervised cup's, else the first container's.
    pump_ml: Decimal | None = None
    measured_ml: Decimal | None = None


def _scanned_pack(code: str, today: date) -> devices.StockPack:
    found = devices.interpret(code, today=today)
    if found.kind != devices.ScanKind.STOCK_PACK:
        raise InvalidInput(
            "bottle", "stock_pack", "is not a medicine pack's barcode: scan the stock bottle"
        )
    if found.pack is None:  # recognised as a pack, but unreadable (an expired one keeps its pack)
        raise InvalidInput("bottle", "stock_pack", found.message)
    return found.pack


def check(
    session: Session,
    *,
    view: CounterView,
    pharmacy_id: UUID,
    scan: str | None,
    pump: PumpReport,
    today: date,
    scan_required: bool = False,
    seed: Mapping[str, str] = PACKS,
) -> CheckedBottle | None:
    """The bottle's facts for the decision; None when there is no prescribed product to check
    against (the decision already refuses such a handover). `pump`: each pump measure against
    its container (`app.dosing.containers.pump_report`); `seed`: the pack table's seed for
    this deployment (`app.register.packs.seed_for`)."""
    product = PRODUCTS.get(view.product or "")
    if product is None:
        return None
    pack = _scanned_pack(scan, today) if scan and scan.strip() else None
    known = pack_table.product_for(session, pharmacy_id, pack.gtin, seed) if pack else None
    mapped = PRODUCTS.get(known.product) if known else None
    facts = BottleFacts(
        prescribed_product=product.code,
        prescribed_name=product.name,
        liquid=product.unit == "mL",
        scan_required=scan_required,
        gtin=pack.gtin if pack else None,
        product=known.product if known else None,
        product_name=mapped.name if mapped else None,
        expiry=pack.expiry if pack else None,
        pump_checks=pump.checks,
    )
    return CheckedBottle(facts, pack, pump.dispensed_ml, pump.measured_ml)


def decide_with(
    view: CounterView, bottle: CheckedBottle | None, policy: PolicySettings
) -> rules.Decision:
    """The counter decision again, with the bottle and the pump among its facts."""
    if bottle is None:
        return view.decision
    facts = replace(view.facts, bottle=bottle.facts)
    return rules.decide(facts, gather.counter_policy(policy))


def record(
    session: Session,
    bottle: CheckedBottle | None,
    *,
    actor: Actor,
    handover_id: UUID,
    pharmacy_id: UUID,
    patient_id: UUID,
    now: datetime,
) -> HandoverBottle | None:
    """What was scanned and what the pump reported, kept with the handover (when either was)."""
    if bottle is None or (bottle.pack is None and bottle.pump_ml is None):
        return None
    pack = bottle.pack
    row = HandoverBottle(
        handover_id=handover_id,
        pharmacy_id=pharmacy_id,
        patient_id=patient_id,
        product=bottle.facts.prescribed_product,
        gtin=pack.gtin if pack else None,
        batch=pack.batch if pack else None,
        serial=pack.serial if pack else None,
        expiry=pack.expiry if pack else None,
        mapped_product=bottle.facts.product,
        measured_ml=bottle.measured_ml,
        pump_dispensed_ml=bottle.pump_ml,
        recorded_by_id=actor.id,
        recorded_at=now,
    )
    session.add(row)
    return row


def supplied_pack(bottle: CheckedBottle | None) -> SuppliedPack | None:
    """The pack for the CD register's supply line (GTIN, batch, expiry), when one was scanned."""
    if bottle is None or bottle.pack is None:
        return None
    return SuppliedPack(bottle.pack.gtin, bottle.pack.batch, bottle.pack.expiry)
