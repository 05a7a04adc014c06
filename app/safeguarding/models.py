from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime
from app.kit import new_id, one_of


class AlertState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"
    RESOLVED = "resolved"


class Alert(Base):
    """A safeguarding alert, written in the same transaction as the event that caused it.

    `uq_alerts_dedupe_key` makes "the same kind for the same subject and day" one alert.
    """

    __tablename__ = "alerts"
    __table_args__ = (
        one_of("state", AlertState),
        one_of("severity", ["info", "warning", "urgent"]),
        Index("ix_alerts_pharmacy_id_state_created_at", "pharmacy_id", "state", "created_at"),
        # The worker's escalation scan every pass: open alerts by when they fall due, without
        # reading the years of acknowledged ones.
        Index("ix_alerts_state_next_escalation_at", "state", "next_escalation_at"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default=AlertState.OPEN)
    pharmacy_id: Mapped[UUID | None] = mapped_column(ForeignKey("pharmacies.id"))
    patient_id: Mapped[UUID | None] = mapped_column(ForeignKey("patients.id"), index=True)
    household_id: Mapped[UUID | None] = mapped_column(ForeignKey("households.id"), index=True)
    message: Mapped[str] = mapped_column(String(1000))
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)
    recipients: Mapped[list[str]] = mapped_column(JSON)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledgement_note: Mapped[str | None] = mapped_column(String(2000))
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    next_escalation_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AlertHistory(Base):
    """Every step in an alert's life (append-only): raised, repeated, acknowledged, escalated."""

    __tablename__ = "alert_history"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    alert_id: Mapped[UUID] = mapped_column(ForeignKey("alerts.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    action: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(String(2000), default="")


class Concern(Base):
    """A safeguarding concern a person recorded (append-only): what they saw or were told, who
    else they told and on what lawful basis, and when to follow it up. It raises its own alert
    to the recipients they chose; that alert is closed only with a note of the action taken.
    Together with the alert's deliveries this is the log of information shared."""

    __tablename__ = "concerns"
    __table_args__ = (
        one_of(
            "category",
            [
                "observation",
                "disclosure",
                "child_unwell_or_unsupervised",
                "partner_intoxicated",
                "refused_home_visit",
                "other",
            ],
        ),
        one_of("severity", ["info", "warning", "urgent"]),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    pharmacy_id: Mapped[UUID | None] = mapped_column(ForeignKey("pharmacies.id"))
    patient_id: Mapped[UUID | None] = mapped_column(ForeignKey("patients.id"), index=True)
    household_id: Mapped[UUID | None] = mapped_column(ForeignKey("households.id"), index=True)
    category: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(16))
    seen: Mapped[str] = mapped_column(String(2000))
    # Who was told outside Dosekeeper (a phone call to the duty social worker, say), and why
    # sharing was lawful: what, with whom, when, why, on what basis (the information-sharing log).
    shared_with: Mapped[str] = mapped_column(String(500), default="")
    lawful_basis: Mapped[str] = mapped_column(String(40))
    recipients: Mapped[list[str]] = mapped_column(JSON)
    follow_up_on: Mapped[date | None] = mapped_column(Date)
    alert_id: Mapped[UUID | None] = mapped_column(ForeignKey("alerts.id"))
    raised_by_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"))
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
