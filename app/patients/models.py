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


class GuestGrant(Base):
    """The home pharmacy lets another pharmacy (also a Dosekeeper tenant) dose the patient on
    the collection days from `from_date` to `to_date` (a holiday, a stay elsewhere).

    Owned here because it decides who may see the patient at a counter: the guest pharmacy
    sees the patient's identity and that day's decision, never the rest of the record
    (`repository.load_for_counter`). Append-only; ended early by a `GuestGrantEnd`, and over by
    itself after `to_date`.
    """

    __tablename__ = "guest_grants"
    __table_args__ = (
        Index("ix_guest_grants_guest_pharmacy_id_to_date", "guest_pharmacy_id", "to_date"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    prescription_id: Mapped[UUID] = mapped_column(ForeignKey("prescriptions.id"))
    home_pharmacy_id: Mapped[UUID] = mapped_column(ForeignKey("pharmacies.id"))
    guest_pharmacy_id: Mapped[UUID] = mapped_column(ForeignKey("pharmacies.id"))
    from_date: Mapped[date] = mapped_column(Date)
    to_date: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(String(2000))
    days_granted: Mapped[int]
    granted_by_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GuestGrantEnd(Base):
    """A guest grant ended before its last day (the patient came home early, the stay was
    cancelled): the days still due go back to the home pharmacy. Append-only."""

    __tablename__ = "guest_grant_ends"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    grant_id: Mapped[UUID] = mapped_column(ForeignKey("guest_grants.id"), unique=True)
    ended_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(500))
    days_returned: Mapped[int]
    ended_by_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PatientTransfer(Base):
    """The patient moved to another pharmacy for good, with the handover note the new pharmacy
    reads first (append-only). The patient row, the live prescriptions and the days still due
    moved with it; the old pharmacy keeps the record of what it supplied, and sees no more."""

    __tablename__ = "patient_transfers"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    from_pharmacy_id: Mapped[UUID] = mapped_column(ForeignKey("pharmacies.id"))
    to_pharmacy_id: Mapped[UUID] = mapped_column(ForeignKey("pharmacies.id"))
    effective_on: Mapped[date] = mapped_column(Date)
    handover_note: Mapped[str] = mapped_column(String(2000))
    prescriptions_moved: Mapped[int]
    days_moved: Mapped[int]
    household_moved: Mapped[bool] = mapped_column(Boolean)
    transferred_by_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    transferred_at: Mapped[datetime] = mapped_column(UTCDateTime)
