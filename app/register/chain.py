"""The register's hash chain: how a line is numbered, given its running balance and linked to
the one before (`append`, under the register's lock), and how a register is walked to prove
that nothing was changed (`verify_chain`).

Kept apart from the use cases because every one of them writes through it and the chain's
rules (what is hashed, how lines link) are the register's tamper evidence: one place to read.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from app.audit.service import canonical
from app.kit import new_id
from app.register.models import RegisterEntry
from app.register.rules import ml

GENESIS = "0" * 64

# Advisory-lock namespace for register chains (the two-key form never meets the audit log's
# one-key locks: PostgreSQL keeps the two key spaces apart).
LOCK_NAMESPACE = 0x52474953  # "RGIS"


def _dec(value: Decimal | None) -> Decimal | None:
    return None if value is None else ml(value)


def entry_body(entry: RegisterEntry) -> dict[str, Any]:
    """Everything an entry says, as hashed: a change to any of it breaks the chain."""
    return {
        "id": entry.id,
        "pharmacy_id": entry.pharmacy_id,
        "product": entry.product,
        "line": entry.line,
        "kind": entry.kind,
        "transaction_date": entry.transaction_date,
        "entered_on": entry.entered_on,
        "late_reason": entry.late_reason,
        "quantity_ml": _dec(entry.quantity_ml),
        "change_ml": _dec(entry.change_ml),
        "balance_ml": _dec(entry.balance_ml),
        "party_name": entry.party_name,
        "party_address": entry.party_address,
        "prescriber": entry.prescriber,
        # Added later: hashed only when set, so entries made before it still verify.
        **({"prescriber_address": entry.prescriber_address} if entry.prescriber_address else {}),
        "collector": entry.collector,
        "collector_details": entry.collector_details,
        "id_asked": entry.id_asked,
        "id_shown": entry.id_shown,
        "patient_id": entry.patient_id,
        "handover_id": entry.handover_id,
        "dose_dates": entry.dose_dates,
        "invoice_ref": entry.invoice_ref,
        "gtin": entry.gtin,
        "batch": entry.batch,
        "expiry": entry.expiry,
        "corrects_id": entry.corrects_id,
        "reason": entry.reason,
        "expected_ml": _dec(entry.expected_ml),
        "variance_ml": _dec(entry.variance_ml),
        "tolerance_ml": _dec(entry.tolerance_ml),
        "discrepancy": entry.discrepancy,
        "witness_id": entry.witness_id,
        "witness_name": entry.witness_name,
        "alert_id": entry.alert_id,
        "author_id": entry.author_id,
        "author_name": entry.author_name,
        "created_at": entry.created_at,
    }


def _digest(prev_hash: str, entry: RegisterEntry) -> str:
    return hashlib.sha256((prev_hash + canonical(entry_body(entry))).encode()).hexdigest()


_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(:ns, :k)")


def lock_register(session: Session, pharmacy_id: UUID, product: str) -> None:
    """Serialise appends to one register so two writers never take the same line or head."""
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(f"{pharmacy_id}:{product}".encode()) & 0x7FFFFFFF
        session.execute(_ADVISORY_LOCK, {"ns": LOCK_NAMESPACE, "k": key})
    # SQLite: every transaction began with BEGIN IMMEDIATE and already holds the write lock.


_LAST = (
    select(RegisterEntry)
    .where(
        RegisterEntry.pharmacy_id == bindparam("pharmacy_id"),
        RegisterEntry.product == bindparam("product"),
    )
    .order_by(RegisterEntry.line.desc())
    .limit(1)
)
# What a new line needs of the one before: built once and reused (issue 21), three columns
# rather than a whole entry.
_HEAD = (
    select(RegisterEntry.line, RegisterEntry.balance_ml, RegisterEntry.hash)
    .where(
        RegisterEntry.pharmacy_id == bindparam("pharmacy_id"),
        RegisterEntry.product == bindparam("product"),
    )
    .order_by(RegisterEntry.line.desc())
    .limit(1)
)


def last_entry(session: Session, pharmacy_id: UUID, product: str) -> RegisterEntry | None:
    return session.scalar(_LAST, {"pharmacy_id": pharmacy_id, "product": product})


def append(session: Session, entry: RegisterEntry) -> RegisterEntry:
    """Number the line, compute the running balance and link the chain, then insert."""
    lock_register(session, entry.pharmacy_id, entry.product)
    head = session.execute(
        _HEAD, {"pharmacy_id": entry.pharmacy_id, "product": entry.product}
    ).one_or_none()
    entry.id = entry.id or new_id()  # hashed, so it must exist before the insert assigns it
    entry.line = head.line + 1 if head else 1
    entry.change_ml = ml(entry.change_ml)
    entry.quantity_ml = ml(entry.quantity_ml)
    entry.balance_ml = ml((head.balance_ml if head else Decimal(0)) + entry.change_ml)
    entry.prev_hash = head.hash if head else GENESIS
    entry.hash = _digest(entry.prev_hash, entry)
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True, slots=True)
class ChainReport:
    entries: int
    broken_at_line: int | None
    reason: str | None

    @property
    def ok(self) -> bool:
        return self.broken_at_line is None


def _iter_register(session: Session, pharmacy_id: UUID, product: str) -> Iterator[RegisterEntry]:
    return iter(
        session.scalars(
            select(RegisterEntry)
            .where(RegisterEntry.pharmacy_id == pharmacy_id, RegisterEntry.product == product)
            .order_by(RegisterEntry.line)
            .execution_options(yield_per=2000)
        )
    )


def verify_chain(session: Session, pharmacy_id: UUID, product: str) -> ChainReport:
    """Walk one register: lines without gaps, each linked to the last, each hash and running
    balance recomputed. Reports the first line that does not hold."""
    prev, balance, count = GENESIS, Decimal("0.00"), 0
    for entry in _iter_register(session, pharmacy_id, product):
        count += 1
        if entry.line != count:
            return ChainReport(count, entry.line, f"line {count} is missing")
        if entry.prev_hash != prev:
            return ChainReport(count, entry.line, f"line {entry.line} does not link to the last")
        if _digest(prev, entry) != entry.hash:
            return ChainReport(count, entry.line, f"line {entry.line} was altered")
        balance = ml(balance + entry.change_ml)
        if ml(entry.balance_ml) != balance:
            return ChainReport(count, entry.line, f"line {entry.line} has a wrong balance")
        prev = entry.hash
    return ChainReport(count, None, None)
