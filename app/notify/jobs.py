"""What the delivery worker passes between its parts: the claimed job, the row as recording
finds it, the outcome of a send, the retry delay and the hooks the worker is built with.

Split from `app.notify.worker` (issue 21) so that claiming and sending (`worker`) and
recording (`recording`) share one definition of each.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from sqlalchemy import Table
from sqlalchemy.orm import Session

from app.config import Settings
from app.contacts.models import Contact
from app.db import UnitOfWork
from app.notify import payloads
from app.notify.channels import Result
from app.notify.models import Delivery, DeliveryAttempt, DeliveryState

DELIVERIES = cast(Table, Delivery.__table__)
ATTEMPTS = cast(Table, DeliveryAttempt.__table__)
CONTACTS = cast(Table, Contact.__table__)


# Outcomes that make a delivery dead at once, and the attempt's outcome for each.
FINAL = {"gone": "disabled", "refused": "refused", "no_channel": "no_channel"}


def next_delay(attempts: int, settings: Settings, rng: random.Random) -> float:
    """Seconds before retry number `attempts` (1-based), with jitter so retries spread out."""
    delays = settings.notify.retry_delays_seconds or (60.0,)
    base = delays[min(attempts, len(delays)) - 1]
    jitter = settings.notify.retry_jitter
    return max(0.0, base * (1 + rng.uniform(-jitter, jitter)))


# What each delivery is about, by subject id, loaded in the claim's transaction.
SubjectLoader = Callable[[Session, Sequence[UUID]], Mapping[UUID, payloads.Subject]]


@dataclass(frozen=True, slots=True)
class DeadDelivery:
    """A delivery that will not be attempted again, and why (`cause`: retries, gone, refused,
    no_channel)."""

    delivery_id: UUID
    subject_id: UUID
    contact_id: UUID
    channel: str
    cause: str
    detail: str
    at: datetime


# Told of a dead delivery in the transaction that records it: it must never be only a log line.
DeadHandler = Callable[[Session, DeadDelivery], None]
# Work run in its own unit of work before each pass (returns how many things it did).
PassTask = Callable[[UnitOfWork, datetime], int]


@dataclass
class Job:
    delivery_id: UUID
    event_id: str
    channel: str
    attempts: int
    created_at: datetime
    alert_kind: str
    url: str | None
    secret: str | None
    email: str | None
    contact_id: UUID
    ref: payloads.AlertRef
    webhook_disabled_at: datetime | None = None
    # time.monotonic() after which this delivery's lease has run out: not sent after it.
    send_by: float = math.inf


@dataclass(slots=True)
class Recording:
    """A claimed delivery's row as `record` found it (locked, and still this worker's), which
    `_record_one` changes in place; the batch's rows are then written together."""

    id: UUID
    alert_id: UUID
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_error: str | None
    delivered_at: datetime | None
    state: str = DeliveryState.SENDING
    # The DeliveryAttempt row to insert, set by `_record_one`.
    attempt: dict[str, Any] | None = None


Outcome = tuple[Job, Result, int]
