"""Idempotency-Key: a retried request replays the stored response, never repeats the act.

Stored per user and key with a hash of the request, in the same transaction as what the
request did (a dose, its register line), so a crash between the commit and the response is
answered on retry with the first response and exactly one dose. A key reused for a different
request is refused, never silently replayed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.http.models import IdempotentRequest


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
