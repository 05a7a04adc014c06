"""Append to the audit chain in the caller's transaction, and verify chains afterwards."""

from __future__ import annotations

import hashlib
import hmac
import json
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from types import EllipsisType
from typing import Any, cast
from uuid import UUID

from sqlalchemy import Table, bindparam, func, insert, select, text
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, aliased

from app.actor import Actor
from app.audit import keys
from app.audit.models import AuditEvent

GENESIS = "0" * 64
GLOBAL_CHAIN = "global"


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


def _digest(prev_hash: str, body: Mapping[str, Any], key: bytes | None | EllipsisType = ...) -> str:
    """The link: HMAC-SHA256 under the audit key (the current one unless given) of the previous
    hash and this event's content; plain SHA-256 for events written before the chain was keyed
    (`key` None)."""
    if key is ...:
        key = keys.keyring().current
    message = (prev_hash + canonical(body)).encode()
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


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
        session.execute(_ADVISORY_LOCK, {"k": key})
    # SQLite: every transaction began with BEGIN IMMEDIATE, which already holds the write lock.


_ADVISORY_LOCK = text("SELECT pg_advisory_xact_lock(:k)")


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
) -> None:
    """Append an audit event in the caller's transaction: it commits or rolls back with the change.

    Facts must not carry clinical narrative: ids, codes and numbers, so the log itself is not a
    second copy of the record.
    """
    record_many(session, actor, [Entry(action, entity, entity_id, at, pharmacy_id, facts)])


def record_patient_reads(
    session: Session,
    actor: Actor,
    action: str,
    patients: Iterable[tuple[UUID, UUID | None]],
    *,
    at: datetime,
    facts: Mapping[str, Any] | None = None,
) -> None:
    """One read event per patient shown (DSPT access logging: who saw which record, when), each
    on its pharmacy's chain, appended in one go. `patients` are (patient id, pharmacy id)."""
    entries = [
        Entry(action, "patient", pid, at, pharmacy_id, facts) for pid, pharmacy_id in patients
    ]
    if entries:
        record_many(session, actor, entries)


# Audit events wait on the session until it commits: see record_many.
_PENDING = "dosekeeper_audit_pending"


def record_many(session: Session, actor: Actor, entries: Sequence[Entry]) -> None:
    """Queue audit events to be appended when the caller's transaction commits.

    The chain's lock is the last lock any transaction takes (docs/decisions.md, lock order):
    appending as events happen took it mid-transaction, and a use case that then waited on an
    alert row (a history line on the day's shared alert) while the worker held that row and
    wanted the chain's lock deadlocked. Events still commit or roll back with the change; those
    queued inside a savepoint that rolls back are dropped with it.
    """
    owner = session.get_nested_transaction() or session.get_transaction()
    queued: list[tuple[object, Actor, Entry]] = session.info.setdefault(_PENDING, [])
    queued.extend((owner, actor, entry) for entry in entries)


@sa_event.listens_for(Session, "before_commit")
def _append_queued(session: Session) -> None:
    queued = session.info.pop(_PENDING, None)
    if not queued:
        return
    by_actor: list[tuple[Actor, list[Entry]]] = []
    for _, actor, entry in queued:
        if by_actor and by_actor[-1][0] is actor:
            by_actor[-1][1].append(entry)
        else:
            by_actor.append((actor, [entry]))
    heads: dict[str, str] = {}
    for actor, entries in by_actor:
        _append(session, actor, entries, heads)


@sa_event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous_transaction: object) -> None:
    queued = session.info.get(_PENDING)
    if queued:
        session.info[_PENDING] = [q for q in queued if not _within(q[0], previous_transaction)]
    if not session.in_transaction():
        session.info.pop(_PENDING, None)


def _within(owner: object, transaction: object) -> bool:
    """Whether `owner` is `transaction` or a savepoint inside it."""
    while owner is not None:
        if owner is transaction:
            return True
        owner = getattr(owner, "parent", None)
    return False


# A chain's head, built once and reused so SQLAlchemy keeps its cache key (issue 21).
_HEAD = (
    select(AuditEvent.hash)
    .where(AuditEvent.chain == bindparam("chain"))
    .order_by(AuditEvent.seq.desc())
    .limit(1)
)


def _append(
    session: Session, actor: Actor, entries: Sequence[Entry], heads: dict[str, str]
) -> None:
    """Append several events in one go: each chain is locked and its head read once, the links
    are computed here in order, and one INSERT writes them all.

    Close-day raises thousands of alerts in one transaction; a head query and a flush per event
    was most of its time. The rows are plain Core parameters, not ORM objects (nothing reads an
    event back in the transaction that wrote it, and the unit of work cost as much as the
    insert: issue 21), inserted in the order they were linked, so `seq` follows the chain.
    """
    rows: list[dict[str, Any]] = []
    ring = keys.keyring()
    for entry in entries:
        chain = str(entry.pharmacy_id) if entry.pharmacy_id else GLOBAL_CHAIN
        if chain not in heads:
            _lock_chain(session, chain)
            head = session.scalar(_HEAD, {"chain": chain})
            heads[chain] = head or GENESIS
        prev = heads[chain]
        row: dict[str, Any] = {
            "chain": chain,
            "at": entry.at.astimezone(UTC),
            "actor_id": actor.id,
            "actor": actor.name,
            "action": entry.action,
            "entity": entry.entity,
            "entity_id": str(entry.entity_id),
            "facts": json.loads(canonical(dict(entry.facts or {}))),
        }
        row["hash"] = heads[chain] = _digest(prev, row, ring.current)
        row["prev_hash"], row["key_id"] = prev, ring.current_id
        rows.append(row)
    session.execute(_INSERT, rows)


_INSERT = insert(cast(Table, AuditEvent.__table__))


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


def verify(session: Session, keyring: keys.Keyring | None = None) -> ChainReport:
    """Walk every chain in order; report the first event that does not link or hash correctly.

    Each event's hash is checked with the key that sealed it (by id): an event rewritten by
    someone without the key does not verify, even with every later hash recomputed. Unkeyed
    events are accepted only before the first keyed one (written before the chain was keyed).
    """
    ring = keyring or keys.keyring()
    heads: dict[str, str] = {}
    count = 0
    keyed = False
    for event in _iter_events(session):
        count += 1
        prev = heads.get(event.chain, GENESIS)

        def broken(reason: str, seq: int = event.seq, count: int = count) -> ChainReport:
            return ChainReport(count, len(heads), seq, reason)

        if event.prev_hash != prev:
            return broken(f"event {event.seq} does not link to the previous event of its chain")
        if event.key_id is None:
            if keyed:
                return broken(f"event {event.seq} is not sealed with a key, after sealed events")
            key = None
        else:
            keyed = True
            key = ring.keys.get(event.key_id)
            if key is None:
                return broken(
                    f"event {event.seq} is sealed with a key this verifier does not hold "
                    f"(id {event.key_id}): set DOSEKEEPER_AUDIT_KEY or _PREVIOUS_KEYS"
                )
        if _digest(prev, _body(event), key) != event.hash:
            return broken(f"event {event.seq} was altered: its content does not match its hash")
        heads[event.chain] = event.hash
    return ChainReport(count, len(heads), None, None)


def chain_heads(session: Session) -> dict[str, tuple[int, str]]:
    """The newest (seq, hash) of every chain: what an off-box anchor records.

    Proportional to the number of chains, not of events: every close-day anchors, and the
    GROUP BY chain this replaced read the whole log each time (on PostgreSQL ~35 ms at 200 000
    events, ~350 ms at 2 million; a year at regional scale is ~12 million). The chains are
    found by a loose index scan of ix_audit_events_chain_seq, a recursive query that jumps
    from each chain to the next in one index probe (neither database skips through an index
    by itself), and each chain's head, its largest seq, is one backward probe of the same
    index: ~5 ms for 200 chains whatever the log's length.
    """
    following, newest = aliased(AuditEvent), aliased(AuditEvent)
    chains = select(func.min(AuditEvent.chain).label("chain")).cte("chains", recursive=True)
    chains = chains.union_all(
        select(
            select(func.min(following.chain))
            .where(following.chain > chains.c.chain)
            .scalar_subquery()
        ).where(chains.c.chain.is_not(None))
    )
    head = (
        select(newest.seq)
        .where(newest.chain == chains.c.chain)
        .order_by(newest.seq.desc())
        .limit(1)
        .scalar_subquery()
    )
    heads = select(head.label("seq")).where(chains.c.chain.is_not(None)).subquery()
    rows = session.execute(
        select(AuditEvent.chain, AuditEvent.seq, AuditEvent.hash).join(
            heads, AuditEvent.seq == heads.c.seq
        )
    )
    return {chain: (seq, digest) for chain, seq, digest in rows}
