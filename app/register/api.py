"""CD register over HTTP: read, receive stock, count, correct, export. No update or delete path
exists, by design: the register is append-only (MDR 2001 reg 20(c))."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field, StringConstraints

from app.actor import Actor
from app.auth.deps import ActorDep
from app.clock import local_date
from app.db import UnitOfWork
from app.errors import InvalidInput
from app.http import problems
from app.http.deps import NowDep, SettingsDep, UowDep
from app.http.schemas import BARCODE, SINGLE_LINE, In, IsoDate, Name, Text200, Text500
from app.register import balance_checks, corrections, export, reading, receipts
from app.register.models import RegisterEntry
from app.register.reading import RegisterPage

router = APIRouter(tags=["register"], responses=problems.API_ERRORS)

Quantity = Annotated[Decimal, Field(gt=0, le=1_000_000, decimal_places=2)]
Reason = Annotated[str, Field(min_length=3, max_length=1000)]
ProductCode = Annotated[str, Field(min_length=1, max_length=64)]
ProductQuery = Annotated[str, StringConstraints(min_length=1, max_length=64), SINGLE_LINE]


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


def _page_read(page: RegisterPage) -> RegisterRead:
    return RegisterRead(
        pharmacy_id=page.pharmacy.id,
        product=page.product.code,
        product_name=page.product.name,
        opening_balance_ml=page.opening_balance_ml,
        closing_balance_ml=page.closing_balance_ml,
        items=[entry_read(e, [c.id for c in page.corrections.get(e.id, [])]) for e in page.entries],
        next=page.next_cursor,
    )


def _cursor(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit():
        raise InvalidInput("cursor", "cursor", "pass the `next` value of the previous page")
    return int(cursor)


@router.get("/register", response_model=RegisterRead)
def read_register(
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
    product: Annotated[ProductQuery, Query()],
    start: Annotated[IsoDate | None, Query(alias="from")] = None,
    end: Annotated[IsoDate | None, Query(alias="to")] = None,
    pharmacy_id: UUID | None = None,
    cursor: Annotated[
        Annotated[str, StringConstraints(max_length=20), SINGLE_LINE] | None, Query()
    ] = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
) -> RegisterRead:
    """One product's register in entry order, with the computed running balance on each line
    and the balance before the first line shown. `from`/`to` filter on the transaction date."""
    page = reading.read_register(
        uow,
        actor=actor,
        product=product,
        start=start,
        end=end,
        now=now,
        pharmacy_id=pharmacy_id,
        after_line=_cursor(cursor),
        limit=min(limit or settings.max_page_size, settings.max_page_size),
    )
    return _page_read(page)


@router.post("/register/receipts", status_code=201, response_model=EntryRead)
def record_receipt(
    body: ReceiptBody, uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> EntryRead:
    """Stock received: IsoDate, supplier name and address, quantity, invoice. A scanned GS1 pack
    fills product, batch and expiry. Entered on the day, or the next day with a reason."""
    entry = receipts.record_receipt(
        uow,
        actor=actor,
        receipt=receipts.Receipt(
            received_on=body.received_on,
            supplier_name=body.supplier_name,
            supplier_address=body.supplier_address,
            quantity_ml=body.quantity_ml,
            invoice_ref=body.invoice_ref,
            product=body.product,
            barcode=body.barcode,
            batch=body.batch,
            expiry=body.expiry,
            late_reason=body.late_reason,
        ),
        today=local_date(now, settings.timezone),
        now=now,
    )
    return entry_read(entry)


@router.post("/register/balance-checks", status_code=201, response_model=EntryRead)
def record_balance_check(
    body: BalanceCheckBody, uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> EntryRead:
    """A physical count witnessed by a second person (who confirms with their password). A
    variance outside the tolerance needs an explanation and raises `register_discrepancy`."""
    today = local_date(now, settings.timezone)
    entry, _ = balance_checks.record_balance_check(
        uow,
        actor=actor,
        check=balance_checks.BalanceCheck(
            product=body.product,
            counted_on=body.counted_on or today,
            counted_ml=body.counted_ml,
            witness_username=body.witness_username,
            witness_password=body.witness_password,
            explanation=body.explanation,
            late_reason=body.late_reason,
        ),
        today=today,
        now=now,
        policy=settings.policy,
        auth=settings.auth,
    )
    return entry_read(entry)


@router.post("/register/corrections", status_code=201, response_model=EntryRead)
def record_correction(
    body: CorrectionBody, uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> EntryRead:
    """A dated correction of an earlier entry, with its reason; the original is never changed."""
    entry = corrections.record_correction(
        uow,
        actor=actor,
        corrects_id=body.corrects_id,
        change_ml=body.change_ml,
        reason=body.reason,
        today=local_date(now, settings.timezone),
        now=now,
    )
    return entry_read(entry)


def _whole(
    uow: UnitOfWork,
    actor: Actor,
    now: dt.datetime,
    product: str,
    start: IsoDate | None,
    end: IsoDate | None,
    pharmacy_id: UUID | None,
) -> RegisterPage:
    return reading.read_register(
        uow,
        actor=actor,
        product=product,
        start=start,
        end=end,
        now=now,
        pharmacy_id=pharmacy_id,
    )


@router.get("/register/export.csv", response_class=Response)
def export_csv(
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    product: Annotated[ProductQuery, Query()],
    start: Annotated[IsoDate | None, Query(alias="from")] = None,
    end: Annotated[IsoDate | None, Query(alias="to")] = None,
    pharmacy_id: UUID | None = None,
) -> Response:
    """The register for one product as CSV in the legal layout, in entry order."""
    page = _whole(uow, actor, now, product, start, end, pharmacy_id)
    filename = f"cd-register-{page.pharmacy.ods_code}-{page.product.code}.csv"
    return Response(
        export.to_csv(page),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/register/print", response_class=HTMLResponse)
def print_page(
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    product: Annotated[ProductQuery, Query()],
    start: Annotated[IsoDate | None, Query(alias="from")] = None,
    end: Annotated[IsoDate | None, Query(alias="to")] = None,
    pharmacy_id: UUID | None = None,
) -> HTMLResponse:
    """A printable page for one product: receipts and supplies under their headings, running
    balance, corrections as dated footnotes."""
    page = _whole(uow, actor, now, product, start, end, pharmacy_id)
    return HTMLResponse(export.to_html(page))


@router.get("/register/verify", response_model=ChainRead)
def verify(
    uow: UowDep,
    actor: ActorDep,
    product: Annotated[ProductQuery, Query()],
    pharmacy_id: UUID | None = None,
) -> ChainRead:
    """Recompute one register's hash chain and running balance: proof nothing was altered."""
    report = reading.verify(uow, actor=actor, product=product, pharmacy_id=pharmacy_id)
    return ChainRead(
        ok=report.ok,
        entries=report.entries,
        broken_at_line=report.broken_at_line,
        reason=report.reason,
    )
