"""Idempotency-Key: a retried request replays the stored response, never repeats the act.

Stored per user and key with a hash of the request, in the same transaction as what the
request did (a dose, its register line), so a crash between the commit and the response is
answered on retry with the first response and exactly one dose. A key reused for a different
request is refused, never silently replayed.

A stored response is kept `idempotency_retention_hours` (a week by default), then deleted by
the delivery worker (`purge_task`, wired in by app/safeguarding/delivery.py): they were a
fifth of the database's growth. A retry after that is answered as a fresh request would be,
which for a handover is the ledger's refusal (409 already_recorded), never a second dose.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import UnitOfWork
from app.errors import InvalidInput
from app.http.models import IdempotentRequest

log = logging.getLogger("dosekeeper.http")


@dataclass(frozen=True, slots=True)
class Stored:
    """A response: its status and body (the same whether just made or replayed)."""

    status: int
    body: dict[str, Any]


def _reused() -> InvalidInput:
    return InvalidInput(
        "Idempotency-Key",
        "idempotency_key_reused",
        "this key was used for a different request; use a new key",
    )


def replay(session: Session, user_id: UUID | None, key: str | None, digest: str) -> Stored | None:
    """The stored response for this user's key, if any; a key stored for another request
    (a different `digest`) is refused."""
    if not key:
        return None
    stored = session.scalar(
        select(IdempotentRequest).where(
            IdempotentRequest.user_id == user_id, IdempotentRequest.key == key
        )
    )
    if stored is None:
        return None
    if stored.request_hash != digest:
        raise _reused()
    return Stored(stored.status_code, stored.response)


def remember(
    session: Session,
    *,
    user_id: UUID | None,
    key: str,
    digest: str,
    response: Stored,
    now: datetime,
) -> None:
    """Store the response under the key, in the caller's transaction. The key claimed meanwhile
    by the same user's request for something else is refused (the same request would have
    waited on the caller's row lock and replayed)."""
    session.add(
        IdempotentRequest(
            user_id=user_id,
            key=key,
            request_hash=digest,
            status_code=response.status,
            response=response.body,
            created_at=now,
        )
    )
    try:
        session.flush()
    except IntegrityError:
        raise _reused() from None


# Rows deleted per transaction, and transactions per purge: each batch is its own short
# transaction (on SQLite it holds the write lock, so a counter's handover waits milliseconds,
# not the whole purge), and one purge stops after PURGE_BATCHES so the worker's alerts are
# never held up behind a backlog (the first purge after an upgrade: a year of records).
PURGE_BATCH = 1000
PURGE_BATCHES = 10
# How often the worker purges when nothing is left over (seconds).
PURGE_EVERY_SECONDS = 600.0


def purge_expired(
    uow: UnitOfWork,
    *,
    now: datetime,
    retention: timedelta,
    batch_size: int = PURGE_BATCH,
    max_batches: int = PURGE_BATCHES,
) -> int:
    """Delete stored responses older than `retention`, `batch_size` rows per transaction, at
    most `max_batches` transactions; return how many were deleted.

    On PostgreSQL the rows are claimed with SKIP LOCKED, so two workers purging at once share
    the work instead of waiting on (or deadlocking over) each other's rows.
    """
    cutoff = now - retention
    deleted = 0
    for _ in range(max_batches):
        with uow:
            expired = (
                select(IdempotentRequest.id)
                .where(IdempotentRequest.created_at < cutoff)
                .limit(batch_size)
                .with_for_update(skip_locked=True)
            )
            count = int(
                uow.session.execute(
                    delete(IdempotentRequest)
                    .where(IdempotentRequest.id.in_(expired))
                    .execution_options(synchronize_session=False)
                ).rowcount  # type: ignore[attr-defined]
            )
            uow.commit()
        deleted += count
        if count < batch_size:
            break
    return deleted


def purge_task(
    retention_hours: int,
    *,
    every_seconds: float = PURGE_EVERY_SECONDS,
    batch_size: int = PURGE_BATCH,
    max_batches: int = PURGE_BATCHES,
) -> Callable[[UnitOfWork, datetime], int]:
    """A task for the delivery worker's passes (app/notify/worker.py, `before_pass`): purge
    at most every `every_seconds`, and again on the next pass while a backlog remains.

    The worker passes several times a second; purging on each would scan the table for
    nothing. The first pass purges at once, so a restarted worker catches up. A purge that
    fails is logged and tried again next time, never raised: the same pass delivers the
    safeguarding alerts, and housekeeping must not hold them up.
    """
    retention = timedelta(hours=retention_hours)
    next_run: datetime | None = None

    def purge(uow: UnitOfWork, now: datetime) -> int:
        nonlocal next_run
        if next_run is not None and now < next_run:
            return 0
        try:
            deleted = purge_expired(
                uow, now=now, retention=retention, batch_size=batch_size, max_batches=max_batches
            )
        except Exception:
            log.exception("purging expired idempotency records failed; trying again later")
            next_run = now + timedelta(seconds=every_seconds)
            return 0
        if deleted:
            log.info("purged expired idempotency records", extra={"deleted": deleted})
        backlog = deleted >= batch_size * max_batches
        next_run = now if backlog else now + timedelta(seconds=every_seconds)
        return deleted

    return purge
