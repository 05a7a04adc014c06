from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from sqlalchemy import Boolean, Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime
from app.kit import new_id


class Patient(Base):
    __tablename__ = "patients"
    __table_args__ = (Index("ix_patients_pharmacy_id_family_name", "pharmacy_id", "family_name"),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    date_of_birth: Mapped[date] = mapped_column(Date)
    nhs_number: Mapped[str] = mapped_column(String(10), unique=True)
    pharmacy_id: Mapped[UUID] = mapped_column(ForeignKey("pharmacies.id"), index=True)
    household_id: Mapped[UUID | None] = mapped_column(ForeignKey("households.id"), index=True)
    key_worker_id: Mapped[UUID | None] = mapped_column(ForeignKey("contacts.id"))
    prescriber_id: Mapped[UUID | None] = mapped_column(ForeignKey("contacts.id"))
    pregnant: Mapped[bool] = mapped_column(Boolean, default=False)
    # Expected date of delivery while pregnant (None otherwise, or not known yet).
    expected_delivery_on: Mapped[date | None] = mapped_column(Date)
    card_code: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PatientChange(Base):
    """One field of a patient changed: old and new value, who, when and why (append-only).

    The patient row holds the current values; this history is how nothing is overwritten
    without trace.
    """

    __tablename__ = "patient_changes"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    field: Mapped[str] = mapped_column(String(64))
    old_value: Mapped[str | None] = mapped_column(String(500))
    new_value: Mapped[str | None] = mapped_column(String(500))
    reason: Mapped[str] = mapped_column(String(500), default="")
    changed_by_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
