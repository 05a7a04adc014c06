"""CD register over HTTP: read, receive stock, count, correct, export. No update or delete path
exists, by design: the register is append-only (MDR 2001 reg 20(c))."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import StringConstraints

from app.actor import Actor
from app.auth.deps import ActorDep
from app.clock import local_date
from app.db import UnitOfWork
from app.errors import InvalidInput
from app.http import problems
from app.http.deps import NowDep, SettingsDep, UowDep
from app.http.schemas import SINGLE_LINE, IsoDate
from app.register import balance_checks, corrections, export, reading, receipts
from app.register.packs import seed_for
from app.register.reading import RegisterPage
from app.register.schemas import (
    BalanceCheckBody,
    ChainRead,
    CorrectionBody,
    EntryRead,
    ReceiptBody,
    RegisterRead,
    entry_read,
    page_read,
)

router = APIRouter(tags=["register"], responses=problems.API_ERRORS)

ProductQuery = Annotated[str, StringConstraints(min_length=1, max_length=64), SINGLE_LINE]


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
    return page_read(page)


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
        packs=seed_for(settings.environment),
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
