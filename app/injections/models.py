"""The injection log's tables: a course per patient, its stop, and each dose given. All three
are append-only (database triggers): a course is never edited, it is stopped by a new row, and
a dose recorded in error stays in the log with the record of what followed."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from sqlalchemy import Date, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime
from app.injections.products import PRODUCTS, SITES
from app.kit import new_id, one_of


class Place(StrEnum):
    HERE = "here"  # administered at this pharmacy (a pharmacist records it)
    ELSEWHERE = "elsewhere"  # the drug service's clinic, a GP, a prison (told to the pharmacy)


class InjectionCourse(Base):
    """The prescriber's plan: one product, one dose, one interval, from a day. A new dose or
    presentation is a new course (the old one stopped first)."""

    __tablename__ = "injection_courses"
    __table_args__ = (one_of("product", PRODUCTS),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    pharmacy_id: Mapped[UUID] = mapped_column(ForeignKey("pharmacies.id"))
    product: Mapped[str] = mapped_column(String(40))
    dose_mg: Mapped[int]
    interval_days: Mapped[int]
    started_on: Mapped[date] = mapped_column(Date)
    prescriber_id: Mapped[UUID] = mapped_column(ForeignKey("contacts.id"))
    note: Mapped[str] = mapped_column(String(2000))
    recorded_by_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InjectionCourseStop(Base):
    """A course stopped (the prescriber's decision, a move to another treatment): who, when
    and why. No dose is due after it."""

    __tablename__ = "injection_course_stops"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    course_id: Mapped[UUID] = mapped_column(ForeignKey("injection_courses.id"), unique=True)
    stopped_on: Mapped[date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(500))
    stopped_by_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"))
    stopped_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InjectionAdministration(Base):
    """One dose given: when, how much, where on the body, the batch and its expiry, who gave
    it, and whether here or elsewhere (the clinic's nurse, told to the pharmacy)."""

    __tablename__ = "injection_administrations"
    __table_args__ = (
        one_of("site", SITES),
        one_of("place", Place),
        Index("ix_injection_administrations_course_id_given_on", "course_id", "given_on"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    course_id: Mapped[UUID] = mapped_column(ForeignKey("injection_courses.id"))
    patient_id: Mapped[UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    pharmacy_id: Mapped[UUID] = mapped_column(ForeignKey("pharmacies.id"))
    given_at: Mapped[datetime] = mapped_column(UTCDateTime)
    given_on: Mapped[date] = mapped_column(Date)  # the pharmacy's local date of `given_at`
    dose_mg: Mapped[int]
    site: Mapped[str] = mapped_column(String(20))
    batch: Mapped[str] = mapped_column(String(40))
    expires_on: Mapped[date] = mapped_column(Date)
    given_by: Mapped[str] = mapped_column(String(100))
    given_by_role: Mapped[str] = mapped_column(String(100))
    place: Mapped[str] = mapped_column(String(20))
    place_name: Mapped[str] = mapped_column(String(200))  # "" here; the clinic's name elsewhere
    note: Mapped[str] = mapped_column(String(2000))
    recorded_by_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
