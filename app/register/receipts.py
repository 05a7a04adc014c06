"""Receipts: stock received from a supplier (MDR reg 19(1)(d)), typed or filled from a scanned
GS1 pack. A use case of its own because only it reads the pack table and the scanner's answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import devices
from app.actor import Actor
from app.auth.policy import require_role
from app.db import UnitOfWork
from app.errors import InvalidInput, Refused
from app.register import rules
from app.register.access import WRITERS, own_pharmacy, register_product
from app.register.chain import append
from app.register.models import RegisterEntry
from app.register.pack_table import product_for
from app.register.packs import PACKS
from app.register.rules import EntryKind
from app.register.writing import audit_entry, refuse, stamp_author


@dataclass(frozen=True, slots=True)
class Receipt:
    received_on: date
    supplier_name: str
    supplier_address: str
    quantity_ml: Decimal
    invoice_ref: str
    product: str | None = None
    barcode: str | None = None
    batch: str | None = None
    expiry: date | None = None
    late_reason: str | None = None


@dataclass(frozen=True, slots=True)
class PackDetails:
    product: str
    gtin: str | None
    batch: str | None
    expiry: date | None


def _pack_details(receipt: Receipt, today: date, known: Callable[[str], str | None]) -> PackDetails:
    """What the receipt is of: the scanned pack fills product, batch and expiry; `known` is the
    pharmacy's pack table (`pack_table.product_for`)."""
    if not receipt.barcode:
        if not receipt.product:
            raise InvalidInput("product", "required", "name the product or scan the pack")
        return PackDetails(receipt.product, None, receipt.batch, receipt.expiry)
    scan = devices.interpret(receipt.barcode, today=today)
    if scan.kind != devices.ScanKind.STOCK_PACK:
        raise InvalidInput("barcode", "stock_pack", "is not a medicine pack barcode")
    if not scan.accepted or scan.pack is None:
        raise Refused(scan.message, code="pack_refused", field="barcode")
    pack = scan.pack
    mapped = known(pack.gtin)
    if mapped and receipt.product and receipt.product != mapped:
        raise InvalidInput(
            "product", "matches_pack", f"the scanned pack is {mapped}, not {receipt.product}"
        )
    product = mapped or receipt.product
    if not product:
        raise InvalidInput(
            "product",
            "required",
            f"pack {pack.gtin} is not in the pack table: name the product it contains",
        )
    return PackDetails(
        product, pack.gtin, pack.batch or receipt.batch, pack.expiry or receipt.expiry
    )


def record_receipt(
    uow: UnitOfWork,
    *,
    actor: Actor,
    receipt: Receipt,
    today: date,
    now: datetime,
    packs: Mapping[str, str] = PACKS,
) -> RegisterEntry:
    """Stock received from a supplier (MDR reg 19(1)(d)): date, supplier, quantity, invoice."""
    require_role(actor, WRITERS, "record CD receipts")
    with uow:
        pharmacy = own_pharmacy(uow.session, actor)

        def known(gtin: str) -> str | None:
            found = product_for(uow.session, pharmacy.id, gtin, packs)
            return found.product if found else None

        details = _pack_details(receipt, today, known)
    product = register_product(details.product)
    refuse(
        rules.entry_date_findings(
            transaction_date=receipt.received_on,
            today=today,
            late_reason=receipt.late_reason,
            field="received_on",
        )
    )
    if details.expiry is not None and details.expiry < receipt.received_on:
        raise InvalidInput("expiry", "not_expired", "the pack had expired when it was received")
    with uow:
        session = uow.session
        pharmacy = own_pharmacy(session, actor)
        entry = RegisterEntry(
            pharmacy_id=pharmacy.id,
            product=product.code,
            kind=EntryKind.RECEIPT,
            transaction_date=receipt.received_on,
            entered_on=today,
            late_reason=(receipt.late_reason or None) if receipt.received_on < today else None,
            quantity_ml=receipt.quantity_ml,
            change_ml=receipt.quantity_ml,
            party_name=receipt.supplier_name,
            party_address=receipt.supplier_address,
            invoice_ref=receipt.invoice_ref,
            gtin=details.gtin,
            batch=details.batch,
            expiry=details.expiry,
        )
        stamp_author(entry, actor, now)
        append(session, entry)
        audit_entry(session, actor, "register.receipt_recorded", entry, now)
        uow.commit()
        return entry
