"""Append to the audit chain in the caller's transaction, and verify chains afterwards."""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.audit.models import AuditEvent

GENESIS = "0" * 64
GLOBAL_CHAIN = "global"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it: a signed-in user, or the system (worker, CLI, scheduled job)."""

    id: UUID | None
    name: str
    role: str
    pharmacy_id: UUID | None = None
    contact_id: UUID | None = None


SYSTEM = Actor(id=None, name="system", role="system")


def _default(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, Decimal | UUID):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"not canonical: {type(value).__name__}")


def canonical(value: Mapping[str, Any]) -> str:
    """Sorted keys, no whitespace, UTF-8, decimals and ids as strings, UTC times with Z."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), default=_default, ensure_ascii=False
    )


def _digest(prev_hash: str, body: Mapping[str, Any]) -> str:
    return hashlib.sha256((prev_hash + canonical(body)).encode()).hexdigest()


def _body(event: AuditEvent) -> dict[str, Any]:
    return {
        "chain": event.chain,
        "at": event.at,
        "actor_id": event.actor_id,
        "actor": event.actor,
        "action": event.action,
        "entity": event.entity,
        "entity_id": event.entity_id,
        "facts": event.facts,
    }


def _lock_chain(session: Session, chain: str) -> None:
    """Serialise appends to one chain so two writers never link to the same head."""
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(chain.encode()) & 0x7FFFFFFF
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
    # SQLite: every transaction began with BEGIN IMMEDIATE, which already holds the write lock.


@dataclass(frozen=True, slots=True)
class Entry:
    """One audit event to append: what `record` takes, for appending many at once."""

    action: str
    entity: str
    entity_id: object
    at: datetime
    pharmacy_id: UUID | None = None
    facts: Mapping[str, Any] | None = None


def record(
    session: Session,
    actor: Actor,
    action: str,
    *,
    entity: str,
    entity_id: object,
    at: datetime,
    pharmacy_id: UUID | None = None,
    facts: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Append an audit event in the caller's transaction: it commits or rolls back with the change.

    Facts must not carry clinical narrative: ids, codes and numbers, so the log itself is not a
    second copy of the record.
    """
    entry = Entry(action, entity, entity_id, at, pharmacy_id, facts)
    return record_many(session, actor, [entry])[0]


def record_many(session: Session, actor: Actor, entries: Sequence[Entry]) -> list[AuditEvent]:
    """Append several events in one go: each chain is locked and its head read once, the links
    are computed here in order, and one flush writes them all.

    Close-day raises thousands of alerts in one transaction; a head query and a flush per event
    was most of its time. The rows are inserted in the order they were linked (SQLAlchemy
    orders a batched INSERT's generated keys by parameter order), so `seq` follows the chain.
    """
    heads: dict[str, str] = {}
    events: list[AuditEvent] = []
    for entry in entries:
        chain = str(entry.pharmacy_id) if entry.pharmacy_id else GLOBAL_CHAIN
        if chain not in heads:
            _lock_chain(session, chain)
            head = session.scalar(
                select(AuditEvent.hash)
                .where(AuditEvent.chain == chain)
                .order_by(AuditEvent.seq.desc())
                .limit(1)
            )
            heads[chain] = head or GENESIS
        prev = heads[chain]
        event = AuditEvent(
            chain=chain,
            at=entry.at.astimezone(UTC),
            actor_id=actor.id,
            actor=actor.name,
            action=entry.action,
            entity=entry.entity,
            entity_id=str(entry.entity_id),
            facts=json.loads(canonical(dict(entry.facts or {}))),
            prev_hash=prev,
        )
        event.hash = heads[chain] = _digest(prev, _body(event))
        events.append(event)
    session.add_all(events)
    session.flush()
    return events


@dataclass(frozen=True, slots=True)
class ChainReport:
    events: int
    chains: int
    broken_at: int | None  # seq of the first event whose link or hash does not verify
    reason: str | None

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def _iter_events(session: Session) -> Iterator[AuditEvent]:
    return iter(
        session.scalars(
            select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=2000)
        )
    )


def verify(session: Session) -> ChainReport:
    """Walk every chain in order; report the first event that does not link or hash correctly."""
    heads: dict[str, str] = {}
    count = 0
    for event in _iter_events(session):
        count += 1
        prev = heads.get(event.chain, GENESIS)
        if event.prev_hash != prev:
            return ChainReport(
                count,
                len(heads),
                event.seq,
                f"event {event.seq} does not link to the previous event of its chain",
            )
        if _digest(prev, _body(event)) != event.hash:
            return ChainReport(
                count,
                len(heads),
                event.seq,
                f"event {event.seq} was altered: its content does not match its hash",
            )
        heads[event.chain] = event.hash
    return ChainReport(count, len(heads), None, None)


def chain_heads(session: Session) -> dict[str, tuple[int, str]]:
    """The newest (seq, hash) of every chain: what an off-box anchor records."""
    heads: dict[str, tuple[int, str]] = {}
    for event in _iter_events(session):
        heads[event.chain] = (event.seq, event.hash)
    return heads
