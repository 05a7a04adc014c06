from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime
from app.kit import new_id, one_of


class ContactKind(StrEnum):
    KEY_WORKER = "key_worker"
    PRESCRIBER = "prescriber"
    SOCIAL_WORKER = "social_worker"
    SAFEGUARDING_LEAD = "safeguarding_lead"
    MASH = "mash"
    # A hospital ward, custody suite or out-of-hours service: no alert is routed to it; the
    # pharmacy may send it a last-dose look-up link (app/lookup).
    CARE_SERVICE = "care_service"


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (one_of("kind", ContactKind),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    organisation: Mapped[str] = mapped_column(String(200))
    # Postal address: the register's supply line must name the prescriber's (MDR reg 19).
    address: Mapped[str | None] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(320))
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    # "whsec_<base64>" per Standard Webhooks; used to sign deliveries, never shown again.
    webhook_secret: Mapped[str | None] = mapped_column(String(200))
    # The pharmacy that registered the contact (a safeguarding lead or MASH for its area).
    pharmacy_id: Mapped[UUID | None] = mapped_column(ForeignKey("pharmacies.id"), index=True)
    # SHA-256 of the token in this contact's Atom feed URL (the token is shown once).
    feed_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Set when the receiver answered 410 Gone: no more webhooks until an admin re-enables it.
    webhook_disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
