"""Corrections: a dated note on an earlier entry (MDR reg 20(c)); the original stays as it was.
`record_correction` is the register page's use case; `append_correction` writes the same line
in the caller's transaction, for the counter's dose corrections.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.auth.policy import require_role
from app.db import UnitOfWork
from app.errors import InvalidInput, NotFound
from app.register.access import CORRECTORS
from app.register.chain import append
from app.register.models import RegisterEntry
from app.register.rules import EntryKind
from app.register.writing import audit_entry, stamp_author


def record_correction(
    uow: UnitOfWork,
    *,
    actor: Actor,
    corrects_id: UUID,
    change_ml: Decimal,
    reason: str,
    today: date,
    now: datetime,
) -> RegisterEntry:
    """A dated note on an earlier entry (MDR reg 20(c)): the original stays as it was.

    `change_ml` is the signed adjustment to the balance the correction makes (0 for a detail
    such as an invoice number); the reason and the author are part of the entry.
    """
    require_role(actor, CORRECTORS, "correct the CD register")
    if not reason.strip():
        raise InvalidInput("reason", "required", "a correction states its reason")
    with uow:
        session = uow.session
        original = session.scalar(select(RegisterEntry).where(RegisterEntry.id == corrects_id))
        if original is None or original.pharmacy_id != actor.pharmacy_id:
            raise NotFound("register entry", corrects_id)
        entry = append_correction(
            session,
            actor=actor,
            original=original,
            change_ml=change_ml,
            reason=reason,
            today=today,
            now=now,
        )
        uow.commit()
        return entry


def append_correction(
    session: Session,
    *,
    actor: Actor,
    original: RegisterEntry,
    change_ml: Decimal,
    reason: str,
    today: date,
    now: datetime,
) -> RegisterEntry:
    """Append a correction of `original` in the caller's transaction (never commits): the
    register page's corrections and the counter's dose corrections write the same line."""
    entry = RegisterEntry(
        pharmacy_id=original.pharmacy_id,
        product=original.product,
        kind=EntryKind.CORRECTION,
        transaction_date=today,
        entered_on=today,
        quantity_ml=abs(change_ml),
        change_ml=change_ml,
        corrects_id=original.id,
        reason=reason.strip(),
    )
    stamp_author(entry, actor, now)
    append(session, entry)
    audit_entry(session, actor, "register.corrected", entry, now, corrects_line=original.line)
    return entry
