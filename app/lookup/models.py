"""The look-up's tables: the links a pharmacy issued to a contact, and the log of every
look-up (append-only, guarded by database triggers)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime
from app.kit import new_id, one_of


class LookupResult(StrEnum):
    FOUND = "found"
    # No patient holds the number, or (for a link) one outside the issuing pharmacy: the
    # caller is told the same either way; `outside_scope` says which it was, for the record.
    NOT_FOUND = "not_found"


class LookupLink(Base):
    """A signed link a pharmacy sent to one of its contacts (a ward, a custody suite). Only the
    token's SHA-256 is kept: the token is shown once, to the pharmacist who issued it."""

    __tablename__ = "lookup_links"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    pharmacy_id: Mapped[UUID] = mapped_column(ForeignKey("pharmacies.id"), index=True)
    contact_id: Mapped[UUID] = mapped_column(ForeignKey("contacts.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_by_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"))


class LookupEvent(Base):
    """One look-up: who asked (a clinician account, or a contact through a link), when, for
    which number (an HMAC of it, never the number itself), and what they were told."""

    __tablename__ = "lookup_events"
    __table_args__ = (
        one_of("result", LookupResult),
        CheckConstraint("(user_id IS NULL) <> (link_id IS NULL)", name="one_caller"),
        Index("ix_lookup_events_user_id_at", "user_id", "at"),
        Index("ix_lookup_events_link_id_at", "link_id", "at"),
        Index("ix_lookup_events_pharmacy_id_at", "pharmacy_id", "at"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    user_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"))
    link_id: Mapped[UUID | None] = mapped_column(ForeignKey("lookup_links.id"))
    contact_id: Mapped[UUID | None] = mapped_column(ForeignKey("contacts.id"))
    # Who asked, as the home pharmacy reads it ("Dr Casey Clinician", "Ward 7, Demotown General").
    caller: Mapped[str] = mapped_column(String(200))
    # HMAC-SHA256 of the NHS number under the secret key: repeated asks for one number can be
    # seen without keeping numbers nobody here holds.
    nhs_number_hash: Mapped[str] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(16))
    # The patient asked about (also when they were outside the link's pharmacy: that pharmacy is
    # shown the attempt) and their home pharmacy, which sees the look-up next morning.
    patient_id: Mapped[UUID | None] = mapped_column(ForeignKey("patients.id"), index=True)
    pharmacy_id: Mapped[UUID | None] = mapped_column(ForeignKey("pharmacies.id"))
    outside_scope: Mapped[bool] = mapped_column(default=False)
