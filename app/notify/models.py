from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime
from app.kit import new_id, one_of


class DeliveryState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    DEAD = "dead"


class Delivery(Base):
    """One alert to one contact over one channel: the outbox row."""

    __tablename__ = "deliveries"
    __table_args__ = (
        one_of("state", DeliveryState),
        one_of("channel", ["webhook", "email"]),
        Index("ix_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    # webhook-id, CloudEvents id and the email Message-ID: the same on every retry.
    event_id: Mapped[UUID] = mapped_column(unique=True, default=new_id)
    alert_id: Mapped[UUID] = mapped_column(ForeignKey("alerts.id"), index=True)
    contact_id: Mapped[UUID] = mapped_column(ForeignKey("contacts.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    # Why this contact is told: their relation to the subject, or the escalation step.
    reason: Mapped[str] = mapped_column(String(64))
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default=DeliveryState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_by: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DeliveryAttempt(Base):
    """Each try, kept for good: what was sent to whom, when, and what came back."""

    __tablename__ = "delivery_attempts"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    delivery_id: Mapped[UUID] = mapped_column(ForeignKey("deliveries.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(16))  # delivered | retry | dead | disabled
    status_code: Mapped[int | None]
    detail: Mapped[str] = mapped_column(String(500), default="")
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str] = mapped_column(String(64))
