from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime
from app.kit import new_id, one_of


class DoseState(StrEnum):
    DUE = "due"
    SUPERVISED = "supervised"
    COLLECTED = "collected"
    MISSED = "missed"
    WITHHELD = "withheld"


FINAL_STATES = frozenset(
    {DoseState.SUPERVISED, DoseState.COLLECTED, DoseState.MISSED, DoseState.WITHHELD}
)


class Mode(StrEnum):
    SUPERVISED = "supervised"
    TAKE_HOME = "take_home"


class InstalmentDay(Base):
    """The ledger: one row per patient, product and dose date.

    `uq_instalment_days_patient_id_product_dose_date` makes a double dose impossible whatever
    the application does; database triggers refuse any change to a row in a final state.
    """

    __tablename__ = "instalment_days"
    __table_args__ = (
        UniqueConstraint("patient_id", "product", "dose_date"),
        one_of("state", DoseState),
        one_of("mode", Mode),
        Index(
            "ix_instalment_days_pharmacy_id_collect_on_state", "pharmacy_id", "collect_on", "state"
        ),
        Index("ix_instalment_days_patient_id_dose_date", "patient_id", "dose_date"),
        Index("ix_instalment_days_prescription_id", "prescription_id"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    prescription_id: Mapped[UUID] = mapped_column(ForeignKey("prescriptions.id"))
    patient_id: Mapped[UUID] = mapped_column(ForeignKey("patients.id"))
    pharmacy_id: Mapped[UUID] = mapped_column(ForeignKey("pharmacies.id"))
    household_id: Mapped[UUID | None] = mapped_column(ForeignKey("households.id"), index=True)
    product: Mapped[str] = mapped_column(String(64))
    dose_date: Mapped[date] = mapped_column(Date)
    collect_on: Mapped[date] = mapped_column(Date)
    mode: Mapped[str] = mapped_column(String(16))
    dose_mg: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    state: Mapped[str] = mapped_column(String(16), default=DoseState.DUE)
    # Set when the row reaches a final state.
    handover_id: Mapped[UUID | None] = mapped_column(index=True)
    recorded_by_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    collector: Mapped[str | None] = mapped_column(String(16))
    collector_details: Mapped[str | None] = mapped_column(String(500))
    id_asked: Mapped[bool | None] = mapped_column(Boolean)
    id_shown: Mapped[bool | None] = mapped_column(Boolean)
    children_present: Mapped[list[str] | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(String(500))
    # The decision's codes at handover: acknowledged warnings and overrides, for the record.
    decision: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    label_id: Mapped[UUID | None]


class Release(Base):
    """A prescriber's review after missed doses: supply may resume (append-only)."""

    __tablename__ = "releases"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    prescription_id: Mapped[UUID] = mapped_column(ForeignKey("prescriptions.id"))
    patient_id: Mapped[UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    released_on: Mapped[date] = mapped_column(Date)
    released_by_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IdempotentRequest(Base):
    """A stored response for an Idempotency-Key, so a retried handover replays, never repeats."""

    __tablename__ = "idempotent_requests"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int]
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
