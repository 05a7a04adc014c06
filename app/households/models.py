from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from sqlalchemy import JSON, Boolean, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime
from app.kit import new_id, one_of


class ProtectionStatus(StrEnum):
    NONE = "none"
    CHILD_IN_NEED = "child_in_need"
    CHILD_PROTECTION_PLAN = "child_protection_plan"
    LOOKED_AFTER = "looked_after"


class Household(Base):
    __tablename__ = "households"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    # The pharmacy that registered the household; members may use other pharmacies.
    pharmacy_id: Mapped[UUID] = mapped_column(ForeignKey("pharmacies.id"), index=True)
    address: Mapped[str] = mapped_column(String(500))
    postcode: Mapped[str] = mapped_column(String(10))
    notes: Mapped[str] = mapped_column(String(2000), default="")
    # The last date someone confirmed which children live here (None: never confirmed).
    children_confirmed_on: Mapped[date | None] = mapped_column(Date)
    # When the children living here last changed (a child added, born, moved in or out):
    # a confirmation older than this no longer counts.
    children_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When someone last confirmed who lives here (the instant; children_confirmed_on is the day).
    children_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Child(Base):
    __tablename__ = "children"
    __table_args__ = (one_of("protection_status", ProtectionStatus),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    household_id: Mapped[UUID] = mapped_column(ForeignKey("households.id"), index=True)
    # Name or initials: the minimum the safeguarding flow needs.
    name: Mapped[str] = mapped_column(String(120))
    # For an unborn child, the expected date of delivery until the birth is recorded.
    date_of_birth: Mapped[date] = mapped_column(Date)
    # Not born yet: the household rules treat the child as a newborn living there (a
    # pre-birth plan means children's social care is already involved).
    unborn: Mapped[bool] = mapped_column(Boolean, default=False)
    protection_status: Mapped[str] = mapped_column(String(32), default=ProtectionStatus.NONE)
    social_worker_id: Mapped[UUID | None] = mapped_column(ForeignKey("contacts.id"))
    lives_from: Mapped[date | None] = mapped_column(Date)
    lives_to: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class HouseholdConfirmation(Base):
    """Somebody confirmed who lives in the household on a date (append-only)."""

    __tablename__ = "household_confirmations"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    household_id: Mapped[UUID] = mapped_column(ForeignKey("households.id"), index=True)
    confirmed_on: Mapped[date] = mapped_column(Date)
    # None when the system recorded it (an import or the demo seed).
    confirmed_by_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"))
    children_count: Mapped[int]
    note: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BoxMethod(StrEnum):
    SHOWN_AT_PHARMACY = "shown_at_pharmacy"
    SEEN_AT_HOME = "seen_at_home"


class BoxConfirmation(Base):
    """A lockable box was seen (append-only); it counts for take-homes until `valid_until`."""

    __tablename__ = "box_confirmations"
    __table_args__ = (one_of("method", BoxMethod),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    household_id: Mapped[UUID | None] = mapped_column(ForeignKey("households.id"), index=True)
    seen_on: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(32))
    seen_by_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class HouseholdChange(Base):
    """One field of a household or of a child living in it changed: old and new value, who,
    when and why (append-only). The chronology on the household page reads from here."""

    __tablename__ = "household_changes"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    household_id: Mapped[UUID] = mapped_column(ForeignKey("households.id"), index=True)
    child_id: Mapped[UUID | None] = mapped_column(ForeignKey("children.id"))
    field: Mapped[str] = mapped_column(String(64))
    # As long as the notes they record (2,000): a history never cuts what it keeps.
    old_value: Mapped[str | None] = mapped_column(String(2000))
    new_value: Mapped[str | None] = mapped_column(String(2000))
    reason: Mapped[str] = mapped_column(String(500), default="")
    changed_by_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class NaloxoneRecipient(StrEnum):
    PATIENT = "patient"
    HOUSEHOLD_ADULT = "household_adult"


class NaloxoneSupply(Base):
    """Take-home naloxone supplied to the patient or a named adult of the household
    (append-only). Recorded, never judged: docs/decisions.md."""

    __tablename__ = "naloxone_supplies"
    __table_args__ = (one_of("recipient", NaloxoneRecipient),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    household_id: Mapped[UUID] = mapped_column(ForeignKey("households.id"), index=True)
    # The patient it was supplied for: the one at the counter (who may not be the recipient).
    patient_id: Mapped[UUID | None] = mapped_column(ForeignKey("patients.id"))
    # A code of `app.households.home_safety.NALOXONE_PRODUCTS`; "other" names it below.
    product: Mapped[str] = mapped_column(String(32))
    product_name: Mapped[str] = mapped_column(String(200))
    batch: Mapped[str] = mapped_column(String(40))
    expires_on: Mapped[date] = mapped_column(Date)
    trained: Mapped[bool] = mapped_column(Boolean)
    recipient: Mapped[str] = mapped_column(String(16))
    # Who received it, as named at the counter (the patient's name, or the adult's).
    recipient_name: Mapped[str] = mapped_column(String(120))
    supplied_on: Mapped[date] = mapped_column(Date)
    supplied_by_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StorageAdvice(Base):
    """Safe-storage advice given about take-home doses in the household: what was covered, to
    whom, by whom, when (append-only)."""

    __tablename__ = "storage_advice"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    household_id: Mapped[UUID] = mapped_column(ForeignKey("households.id"), index=True)
    patient_id: Mapped[UUID | None] = mapped_column(ForeignKey("patients.id"))
    # Codes of `app.households.home_safety.ADVICE_TOPICS`, in that order.
    topics: Mapped[list[str]] = mapped_column(JSON)
    given_to: Mapped[str] = mapped_column(String(120))
    given_on: Mapped[date] = mapped_column(Date)
    given_by_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
