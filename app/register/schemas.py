"""Request and response bodies of the CD register API and the serializers of its entries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field

from app.http.schemas import BARCODE, In, IsoDate, Name, Text200, Text500
from app.register.models import RegisterEntry
from app.register.reading import RegisterPage

Quantity = Annotated[Decimal, Field(gt=0, le=1_000_000, decimal_places=2)]
Reason = Annotated[str, Field(min_length=3, max_length=1000)]
ProductCode = Annotated[str, Field(min_length=1, max_length=64)]


class ReceiptBody(In):
    received_on: IsoDate
    supplier_name: Name
    supplier_address: Text500
    quantity_ml: Quantity
    invoice_ref: Text200
    product: ProductCode | None = None
    barcode: Annotated[str, BARCODE, Field(max_length=200)] | None = Field(
        default=None, description="A scanned GS1 pack code: fills product, batch and expiry"
    )
    batch: Annotated[str, Field(max_length=40)] | None = None
    expiry: IsoDate | None = None
    late_reason: Annotated[str, Field(max_length=500)] | None = Field(
        default=None, description="Required when the receipt is entered the day after"
    )


class BalanceCheckBody(In):
    product: ProductCode
    counted_on: IsoDate | None = None
    counted_ml: Annotated[Decimal, Field(ge=0, le=1_000_000, decimal_places=2)]
    witness_username: Annotated[str, Field(min_length=1, max_length=64)]
    witness_password: Annotated[str, Field(min_length=1, max_length=200)]
    explanation: Annotated[str, Field(max_length=1000)] | None = None
    late_reason: Annotated[str, Field(max_length=500)] | None = None


class CorrectionBody(In):
    corrects_id: UUID
    change_ml: Annotated[Decimal, Field(ge=-1_000_000, le=1_000_000, decimal_places=2)] = Decimal(0)
    reason: Reason


class EntryRead(BaseModel):
    id: UUID
    line: int
    kind: str
    product: str
    transaction_date: IsoDate
    entered_on: IsoDate
    late_reason: str | None
    quantity_ml: Decimal
    change_ml: Decimal
    balance_ml: Decimal
    party_name: str | None
    party_address: str | None
    prescriber: str | None
    prescriber_address: str | None = None
    collector: str | None
    collector_details: str | None
    id_asked: bool | None
    id_shown: bool | None
    patient_id: UUID | None
    handover_id: UUID | None
    dose_dates: list[dt.date] | None
    invoice_ref: str | None
    gtin: str | None
    batch: str | None
    expiry: IsoDate | None
    corrects_id: UUID | None
    corrected_by: list[UUID] = []
    reason: str | None
    expected_ml: Decimal | None
    variance_ml: Decimal | None
    tolerance_ml: Decimal | None
    discrepancy: bool | None
    witness_name: str | None
    alert_id: UUID | None
    author_name: str
    created_at: dt.datetime
    hash: str


class RegisterRead(BaseModel):
    pharmacy_id: UUID
    product: str
    product_name: str
    opening_balance_ml: Decimal
    closing_balance_ml: Decimal
    items: list[EntryRead]
    next: str | None


class ChainRead(BaseModel):
    ok: bool
    entries: int
    broken_at_line: int | None
    reason: str | None


def entry_read(entry: RegisterEntry, corrected_by: list[UUID] | None = None) -> EntryRead:
    fields = {
        name: getattr(entry, name) for name in EntryRead.model_fields if name != "corrected_by"
    }
    return EntryRead(**fields, corrected_by=corrected_by or [])


def page_read(page: RegisterPage) -> RegisterRead:
    return RegisterRead(
        pharmacy_id=page.pharmacy.id,
        product=page.product.code,
        product_name=page.product.name,
        opening_balance_ml=page.opening_balance_ml,
        closing_balance_ml=page.closing_balance_ml,
        items=[entry_read(e, [c.id for c in page.corrections.get(e.id, [])]) for e in page.entries],
        next=page.next_cursor,
    )


class PackMappingBody(In):
    gtin: Annotated[str, BARCODE, Field(min_length=8, max_length=200)] = Field(
        description="The pack's GTIN (8 to 14 digits), or its scanned GS1 code"
    )
    product: ProductCode
    reason: Annotated[str, Field(min_length=10, max_length=500)] = Field(
        description="Why, in a sentence (10 characters or more, spaces trimmed): what the "
        "pack's label reads, where the GTIN was checked"
    )
    confirm_change: bool = Field(
        default=False,
        description="The pharmacist read the label again and confirms a mapping that repoints "
        "a GTIN the table already gives another product, or maps it to a confusable strength "
        "(a concentrate); without it such a mapping is refused (409 pack_change_unconfirmed)",
    )


class PackMappingRead(BaseModel):
    id: UUID
    gtin: str
    product: str
    product_name: str | None
    reason: str
    mapped_by: str
    mapped_at: dt.datetime
    in_force: bool = Field(description="The latest mapping of its GTIN here: the one that counts")
    replaces: str | None = Field(
        default=None,
        description="The product the GTIN was (earlier mapping here, or the seed) when this "
        "mapping changed it to another; None: a new GTIN, or the same product again",
    )
    replaces_name: str | None = None
    confusable_strength: bool = Field(
        default=False, description="The product is a strength easily confused with the usual one"
    )


class SeedPackRead(BaseModel):
    gtin: str
    product: str


class PackTableRead(BaseModel):
    pharmacy_id: UUID
    items: list[PackMappingRead] = Field(description="This pharmacy's mappings, newest first")
    seed: list[SeedPackRead] = Field(
        description="The table every pharmacy starts from; a mapping here wins over it"
    )
