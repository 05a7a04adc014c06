from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime
from app.kit import new_id, one_of


class Status(StrEnum):
    PENDING_CHECK = "pending_check"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    CANCELLED = "cancelled"
    COMPLETED = "completed"


class FormType(StrEnum):
    FP10MDA = "FP10MDA"
    WP10MDA = "WP10MDA"
    PAPER = "paper"
    PRIVATE = "private"


class Prescription(Base):
    """What the instalment prescription states, transcribed, plus who entered and checked it."""

    __tablename__ = "prescriptions"
    __table_args__ = (
        one_of("status", Status),
        one_of("form_type", FormType),
        Index("ix_prescriptions_patient_id_product_start_on", "patient_id", "product", "start_on"),
        Index("ix_prescriptions_pharmacy_id_status", "pharmacy_id", "status"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[UUID] = mapped_column(ForeignKey("patients.id"))
    # The dispensing pharmacy (the patient's nominated pharmacy when transcribed).
    pharmacy_id: Mapped[UUID] = mapped_column(ForeignKey("pharmacies.id"))
    prescriber_id: Mapped[UUID] = mapped_column(ForeignKey("contacts.id"))
    # As on the form (MDR reg 15), and as the register's supply line must give it (reg 19).
    prescriber_address: Mapped[str | None] = mapped_column(String(500))
    product: Mapped[str] = mapped_column(String(64))
    daily_dose_mg: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    form_type: Mapped[str] = mapped_column(String(16))
    written_on: Mapped[date] = mapped_column(Date)
    start_on: Mapped[date] = mapped_column(Date)
    end_on: Mapped[date] = mapped_column(Date)
    total_quantity: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    total_quantity_words: Mapped[str] = mapped_column(String(300))
    supervised_days: Mapped[list[int]] = mapped_column(JSON)
    collection_days: Mapped[list[int]] = mapped_column(JSON)
    wording_closed_day_prior: Mapped[bool] = mapped_column(Boolean, default=False)
    wording_missed_remaining: Mapped[bool] = mapped_column(Boolean, default=False)
    wording_consult_after_3_missed: Mapped[bool] = mapped_column(Boolean, default=False)
    wording_supervise_on_collection: Mapped[bool] = mapped_column(Boolean, default=False)
    wording_separate_containers: Mapped[bool] = mapped_column(Boolean, default=False)
    direction_text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=Status.PENDING_CHECK)
    # Intake warnings the transcriber saw: [{code, message}].
    warnings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    supersedes_id: Mapped[UUID | None] = mapped_column(ForeignKey("prescriptions.id"))
    entered_by_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    verified_by_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_by_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    # A split daily dose: [{when, dose_mg, supervised}] (issue 20 §2); None or []: one dose.
    dose_parts: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # The steps of a reduction or titration: [{starts_on, daily_dose_mg, parts}]; the
    # prescription's daily dose runs from its start to the first step.
    dose_steps: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)

    @property
    def wording(self) -> dict[str, bool]:
        return {
            "closed_day_prior": self.wording_closed_day_prior,
            "missed_remaining": self.wording_missed_remaining,
            "consult_after_3_missed": self.wording_consult_after_3_missed,
            "supervise_on_collection": self.wording_supervise_on_collection,
            "separate_containers": self.wording_separate_containers,
        }


class SuspensionReason(StrEnum):
    HOSPITAL = "hospital"  # admitted: the ward gives the doses
    CUSTODY = "custody"  # police custody or prison
    HOLIDAY = "holiday"  # away, with doses from another service
    PRESCRIBER = "prescriber"  # the prescriber's instruction


class SuspensionChange(StrEnum):
    SUSPENDED = "suspended"
    RESUMED = "resumed"


class SuspensionEvent(Base):
    """A prescription suspended from a date, or resumed (append-only: the latest row is the
    current state). A suspended day is neither due nor missed: the pharmacy was told not to
    supply it. On resume, `last_dose_on` and `last_dose_source` say what the hospital, prison or
    other service confirmed was given; without it, the days since the last dose taken count
    toward the loss-of-tolerance threshold and the prescriber must review before supply."""

    __tablename__ = "suspension_events"
    __table_args__ = (
        one_of("change", SuspensionChange),
        one_of("reason", SuspensionReason),
        Index("ix_suspension_events_prescription_id_recorded_at", "prescription_id", "recorded_at"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    prescription_id: Mapped[UUID] = mapped_column(ForeignKey("prescriptions.id"))
    patient_id: Mapped[UUID] = mapped_column(ForeignKey("patients.id"))
    pharmacy_id: Mapped[UUID] = mapped_column(ForeignKey("pharmacies.id"))
    change: Mapped[str] = mapped_column(String(16))
    effective_on: Mapped[date] = mapped_column(Date)
    # Why it was suspended (the resume row repeats the suspension's reason).
    reason: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(2000), default="")
    last_dose_on: Mapped[date | None] = mapped_column(Date)
    last_dose_source: Mapped[str | None] = mapped_column(String(32))
    days_removed: Mapped[int] = mapped_column(default=0)
    days_planned: Mapped[int] = mapped_column(default=0)
    recorded_by_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
