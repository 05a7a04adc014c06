"""Dose exceptions and their replacements (issue 20 §1): what happened to a dose after it was
supplied, recorded on the day, and the prescriber-authorised supply that replaced it.

All three tables are append-only (database triggers): a mistaken exception is answered by a
note in a new record, never by changing the first.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime
from app.kit import new_id, one_of


class ExceptionKind(StrEnum):
    """What happened to a dose after it was supplied (never rename one)."""

    VOMITED = "vomited"  # a supervised dose brought up, minutes after swallowing
    SPILT = "spilt"  # spilt at the counter
    LOST = "lost"  # a take-home reported lost
    STOLEN = "stolen"  # a take-home reported stolen (police reference where given)
    DAMAGED = "damaged"  # a take-home container broken or spoilt
    RETURNED = "returned"  # a take-home brought back unused (a patient return)


# A take-home that left the pharmacy and did not reach the patient: the methadone may be where
# a child can find it.
GONE_ASTRAY = frozenset({ExceptionKind.LOST, ExceptionKind.STOLEN})
TAKE_HOME_KINDS = frozenset(
    {ExceptionKind.LOST, ExceptionKind.STOLEN, ExceptionKind.DAMAGED, ExceptionKind.RETURNED}
)


class AuthorisedHow(StrEnum):
    PHONE = "phone"
    WRITTEN = "written"
    IN_PERSON = "in_person"
    EMAIL = "email"


class DoseException(Base):
    """One exception, naming the ledger day(s) it concerns; the ledger rows are never changed
    (append-only)."""

    __tablename__ = "dose_exceptions"
    __table_args__ = (
        one_of("kind", ExceptionKind),
        Index("ix_dose_exceptions_patient_id_dose_date", "patient_id", "dose_date"),
        Index("ix_dose_exceptions_pharmacy_id_occurred_on", "pharmacy_id", "occurred_on"),
        UniqueConstraint("replacement_id"),  # a replacement is lost (spilt, ...) once
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    pharmacy_id: Mapped[UUID] = mapped_column(ForeignKey("pharmacies.id"))
    patient_id: Mapped[UUID] = mapped_column(ForeignKey("patients.id"))
    prescription_id: Mapped[UUID] = mapped_column(ForeignKey("prescriptions.id"))
    household_id: Mapped[UUID | None] = mapped_column(ForeignKey("households.id"))
    # The replacement whose supply this exception concerns (a replacement itself lost, stolen,
    # damaged, returned, vomited or spilt); None: the ledger day's own supply. The key goes
    # both ways (a replacement names its exception), so it is added after both tables exist.
    replacement_id: Mapped[UUID | None] = mapped_column(
        ForeignKey("dose_replacements.id", use_alter=True)
    )
    product: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    # The first ledger day it concerns; every day is in `dose_dates` (ISO dates).
    dose_date: Mapped[date] = mapped_column(Date)
    dose_dates: Mapped[list[str]] = mapped_column(JSON)
    # The dose involved: the days' doses (or the replacement's), or what was brought back.
    dose_mg: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    volume_ml: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    minutes_after: Mapped[int | None] = mapped_column(Integer)  # vomited: after swallowing
    police_reference: Mapped[str | None] = mapped_column(String(80))
    note: Mapped[str] = mapped_column(String(2000), default="")
    occurred_on: Mapped[date] = mapped_column(Date)  # the day it was recorded (on the day)
    recorded_by_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DoseReplacement(Base):
    """A separate supply replacing an exception's dose, on the prescriber's authorisation, with
    its own CD register line and label; the day's ledger row is never reused (append-only)."""

    __tablename__ = "dose_replacements"
    __table_args__ = (
        UniqueConstraint("exception_id"),  # one replacement per exception
        one_of("authorised_how", AuthorisedHow),
        one_of("mode", ["supervised", "take_home"]),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    exception_id: Mapped[UUID] = mapped_column(ForeignKey("dose_exceptions.id"))
    pharmacy_id: Mapped[UUID] = mapped_column(ForeignKey("pharmacies.id"))
    patient_id: Mapped[UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    prescription_id: Mapped[UUID] = mapped_column(ForeignKey("prescriptions.id"))
    product: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(16))
    dose_mg: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    volume_ml: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    dose_dates: Mapped[list[str]] = mapped_column(JSON)
    authorised_by: Mapped[str] = mapped_column(String(300))
    authorised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    authorised_how: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(2000), default="")
    supplied_on: Mapped[date] = mapped_column(Date)
    supplied_by_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    supplied_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReturnDestruction(Base):
    """Returned liquid destroyed (denatured), in the patients' returns record, not the CD
    register (domain rules §5.5): one per return (append-only)."""

    __tablename__ = "dose_return_destructions"
    __table_args__ = (UniqueConstraint("exception_id"),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    exception_id: Mapped[UUID] = mapped_column(ForeignKey("dose_exceptions.id"))
    pharmacy_id: Mapped[UUID] = mapped_column(ForeignKey("pharmacies.id"), index=True)
    destroyed_on: Mapped[date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(300))
    witness: Mapped[str] = mapped_column(String(200))
    destroyed_by_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
