"""Reading the register: one product's entries in order with their corrections as footnotes
(`read_register`, logged because entries name patients), and checking its chain on request
(`verify`). Neither writes a register line: reading records only its audit event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import select

from app.actor import Actor
from app.audit import service as audit_service
from app.db import UnitOfWork
from app.errors import InvalidInput
from app.pharmacies.models import Pharmacy
from app.prescriptions.products import Product
from app.register.access import readable_pharmacy, register_product
from app.register.chain import ChainReport, last_entry, verify_chain
from app.register.models import RegisterEntry
from app.register.rules import ml


@dataclass
class RegisterPage:
    pharmacy: Pharmacy
    product: Product
    opening_balance_ml: Decimal
    closing_balance_ml: Decimal
    entries: list[RegisterEntry]
    # Original entry id -> the corrections that annotate it (footnotes).
    corrections: dict[UUID, list[RegisterEntry]] = field(default_factory=dict)
    lines: dict[UUID, int] = field(default_factory=dict)  # entry id -> line, for references
    next_cursor: str | None = None


def read_register(
    uow: UnitOfWork,
    *,
    actor: Actor,
    product: str,
    start: date | None,
    end: date | None,
    now: datetime,
    pharmacy_id: UUID | None = None,
    after_line: int = 0,
    limit: int | None = None,
) -> RegisterPage:
    """One product's register in entry order, with the balance before the first line shown.

    `start`/`end` filter on the transaction date; reading is logged (entries name patients).
    """
    known = register_product(product)
    if start and end and end < start:
        raise InvalidInput("to", "after_from", "must not be before 'from'")
    with uow:
        session = uow.session
        pharmacy = readable_pharmacy(session, actor, pharmacy_id)
        query = (
            select(RegisterEntry)
            .where(
                RegisterEntry.pharmacy_id == pharmacy.id,
                RegisterEntry.product == known.code,
                RegisterEntry.line > after_line,
            )
            .order_by(RegisterEntry.line)
        )
        if start is not None:
            query = query.where(RegisterEntry.transaction_date >= start)
        if end is not None:
            query = query.where(RegisterEntry.transaction_date <= end)
        if limit is not None:
            query = query.limit(limit + 1)
        entries = list(session.scalars(query))
        more = limit is not None and len(entries) > limit
        entries = entries[:limit] if limit is not None else entries
        ids = [e.id for e in entries]
        corrections: dict[UUID, list[RegisterEntry]] = {}
        lines: dict[UUID, int] = {e.id: e.line for e in entries}
        if ids:
            for c in session.scalars(
                select(RegisterEntry)
                .where(RegisterEntry.corrects_id.in_(ids))
                .order_by(RegisterEntry.line)
            ):
                assert c.corrects_id is not None
                corrections.setdefault(c.corrects_id, []).append(c)
                lines[c.id] = c.line
            referenced = {e.corrects_id for e in entries if e.corrects_id} - set(lines)
            if referenced:
                for entry_id, line in session.execute(
                    select(RegisterEntry.id, RegisterEntry.line).where(
                        RegisterEntry.id.in_(referenced)
                    )
                ):
                    lines[entry_id] = line
        head = last_entry(session, pharmacy.id, known.code)
        audit_service.record(
            session,
            actor,
            "register.viewed",
            entity="pharmacy",
            entity_id=pharmacy.id,
            at=now,
            pharmacy_id=pharmacy.id,
            facts={"product": known.code, "from": start, "to": end, "entries": len(entries)},
        )
        uow.commit()
    opening = ml(entries[0].balance_ml - entries[0].change_ml) if entries else Decimal("0.00")
    closing = entries[-1].balance_ml if entries else (head.balance_ml if head else opening)
    return RegisterPage(
        pharmacy=pharmacy,
        product=known,
        opening_balance_ml=opening,
        closing_balance_ml=ml(closing),
        entries=entries,
        corrections=corrections,
        lines=lines,
        next_cursor=str(entries[-1].line) if more and entries else None,
    )


def verify(
    uow: UnitOfWork, *, actor: Actor, product: str, pharmacy_id: UUID | None = None
) -> ChainReport:
    known = register_product(product)
    with uow:
        pharmacy = readable_pharmacy(uow.session, actor, pharmacy_id)
        return verify_chain(uow.session, pharmacy.id, known.code)
