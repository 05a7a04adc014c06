from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from sqlalchemy import JSON, Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, UTCDateTime
from app.kit import new_id


class Pharmacy(Base):
    __tablename__ = "pharmacies"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    ods_code: Mapped[str] = mapped_column(String(10), unique=True)
    address: Mapped[str] = mapped_column(String(500))
    phone: Mapped[str] = mapped_column(String(40))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/London")
    # Monday = 0 … Sunday = 6, the days the pharmacy normally opens.
    open_weekdays: Mapped[list[int]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    closures: Mapped[list[Closure]] = relationship(
        lazy="raise", order_by="Closure.closed_on", back_populates="pharmacy"
    )


class Closure(Base):
    """A day the pharmacy is shut although it normally opens (bank holiday, ad hoc)."""

    __tablename__ = "closures"
    __table_args__ = (UniqueConstraint("pharmacy_id", "closed_on"),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    pharmacy_id: Mapped[UUID] = mapped_column(ForeignKey("pharmacies.id"), index=True)
    closed_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"))

    pharmacy: Mapped[Pharmacy] = relationship(lazy="raise", back_populates="closures")
