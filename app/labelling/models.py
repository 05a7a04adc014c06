from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime
from app.kit import new_id, one_of


class JobState(StrEnum):
    QUEUED = "queued"
    PRINTED = "printed"
    FAILED = "failed"


class Label(Base):
    """A label as printed (append-only). Its whole-number id is the label barcode."""

    __tablename__ = "labels"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    handover_id: Mapped[UUID | None] = mapped_column(index=True)
    patient_id: Mapped[UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    pharmacy_id: Mapped[UUID] = mapped_column(ForeignKey("pharmacies.id"))
    dose_dates: Mapped[list[str]] = mapped_column(JSON)  # ISO dates
    # [{text, bold, centre, double_height}] before wrapping: the printer decides the width.
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    reprint_of_id: Mapped[int | None] = mapped_column(ForeignKey("labels.id"))
    is_reprint: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PrintJob(Base):
    __tablename__ = "print_jobs"
    __table_args__ = (one_of("state", JobState),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    label_id: Mapped[int] = mapped_column(ForeignKey("labels.id"), index=True)
    state: Mapped[str] = mapped_column(String(16), default=JobState.QUEUED)
    printer: Mapped[str | None] = mapped_column(String(200))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    printed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
