"""The injection log's use cases: start a course, record a dose given, stop a course.

Who may (docs/decisions.md, "Long-acting injections: who records what"):
- a course is started or stopped by a pharmacist (transcribing the prescriber's plan) or the
  prescriber;
- a dose given at this pharmacy is recorded by a pharmacist: administering is a clinical act,
  and the record is their statement that they gave it;
- a dose given elsewhere (the drug service's clinic) is a fact the pharmacy is told, recorded by
  a pharmacist or a technician with who gave it and where.

Recording a dose resolves the patient's open overdue-injection alerts once the course is no
longer overdue (the cause is dealt with; a dose recorded late for an older date may leave it
overdue); stopping a course resolves them too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import require_role
from app.auth.roles import Role
from app.clock import local_date
from app.config import PolicySettings
from app.contacts import repository as contacts_repository
from app.db import UnitOfWork
from app.errors import Conflict, InvalidInput, NotFound
from app.injections import records, rules
from app.injections.models import (
    InjectionAdministration,
    InjectionCourse,
    InjectionCourseStop,
    Place,
)
from app.injections.products import PRODUCTS
from app.patients import repository as patients_repository
from app.patients.models import Patient
from app.pharmacies.models import Pharmacy
from app.safeguarding import acknowledgement
from app.safeguarding.rules import EventKind

COURSE_KEEPERS = frozenset({Role.PHARMACIST, Role.PRESCRIBER})
GIVES_HERE = frozenset({Role.PHARMACIST})
RECORDS_ELSEWHERE = frozenset({Role.PHARMACIST, Role.TECHNICIAN})
# How far back a course may start or a dose given elsewhere be recorded, and ahead a course
# may be planned.
MAX_BACK_DAYS = 366
MAX_AHEAD_DAYS = 28


@dataclass(frozen=True, slots=True)
class Dose:
    """A dose as the caller describes it (validated for shape by the API's schema)."""

    given_at: datetime
    dose_mg: int
    site: str
    batch: str
    expires_on: date
    place: str
    place_name: str
    given_by: str
    given_by_role: str
    note: str


def start_course(
    uow: UnitOfWork,
    *,
    actor: Actor,
    patient_id: UUID,
    product: str,
    dose_mg: int,
    started_on: date,
    prescriber_id: UUID | None,
    note: str,
    today: date,
    now: datetime,
) -> records.CourseRecord:
    """Start the patient's course: the first dose is due on `started_on`. Refused while another
    course of theirs is running (stop it first: one plan at a time)."""
    require_role(actor, COURSE_KEEPERS, "start an injection course")
    found = PRODUCTS.get(product)
    if found is None:
        raise InvalidInput("product", "known_product", "must be a known injection product")
    if dose_mg not in found.strengths_mg:
        strengths = ", ".join(str(s) for s in found.strengths_mg)
        raise InvalidInput("dose_mg", "strength", f"must be one of {strengths} mg for {found.name}")
    if (
        not today - timedelta(days=MAX_BACK_DAYS)
        <= started_on
        <= today + timedelta(days=MAX_AHEAD_DAYS)
    ):
        raise InvalidInput(
            "started_on",
            "within_range",
            f"must be within a year before today and at most {MAX_AHEAD_DAYS} days ahead",
        )
    with uow:
        session = uow.session
        patient = patients_repository.load_visible(session, actor, patient_id, for_update=True)
        prescriber = _prescriber(uow, actor, patient, prescriber_id)
        if records.running(session, [patient.id], today):
            raise Conflict(
                "The patient already has an injection course running: stop it before starting "
                "another (a new dose or presentation is a new course)",
                code="course_active",
            )
        course = InjectionCourse(
            patient_id=patient.id,
            pharmacy_id=patient.pharmacy_id,
            product=found.code,
            dose_mg=dose_mg,
            interval_days=found.interval_days,
            started_on=started_on,
            prescriber_id=prescriber,
            note=note,
            recorded_by_id=actor.id,
            recorded_at=now,
        )
        session.add(course)
        session.flush()
        audit_service.record(
            session,
            actor,
            "injection.course_started",
            entity="patient",
            entity_id=patient.id,
            at=now,
            pharmacy_id=patient.pharmacy_id,
            facts={"course": course.id, "product": found.code, "dose_mg": dose_mg},
        )
        made = records.CourseRecord(course, None, ())
        uow.commit()
        return made


def _prescriber(uow: UnitOfWork, actor: Actor, patient: Patient, named: UUID | None) -> UUID:
    if named is None:
        if patient.prescriber_id is None:
            raise InvalidInput(
                "prescriber_id",
                "required",
                "name the prescriber (the patient's record names none)",
            )
        return patient.prescriber_id
    if actor.role == Role.PRESCRIBER and named == actor.contact_id:
        return named
    try:
        contact = contacts_repository.load_visible(uow, actor, named)
    except NotFound:
        contact = None
    if contact is None or contact.kind != "prescriber":
        raise InvalidInput("prescriber_id", "prescriber", "must be a prescriber you can see")
    return contact.id


def record_administration(
    uow: UnitOfWork,
    *,
    actor: Actor,
    patient_id: UUID,
    course_id: UUID,
    dose: Dose,
    today: date,
    now: datetime,
    policy: PolicySettings,
) -> InjectionAdministration:
    """Record one dose given, here (a pharmacist) or elsewhere (a pharmacist or technician)."""
    here = dose.place == Place.HERE
    if here:
        require_role(actor, GIVES_HERE, "record an injection given here (a pharmacist must)")
    else:
        require_role(actor, RECORDS_ELSEWHERE, "record an injection given elsewhere")
    if not here and len(dose.place_name.strip()) < 3:
        raise InvalidInput("place_name", "required", "say where it was given (e.g. the clinic)")
    if not here and len(dose.given_by.strip()) < 1:
        raise InvalidInput("given_by", "required", "say who gave it")
    with uow:
        session = uow.session
        patient = patients_repository.load_visible(session, actor, patient_id, for_update=True)
        record = records.one(session, patient.id, course_id)
        if record is None:
            raise NotFound("injection course", course_id)
        # A year 1 or year 9999 instant cannot be moved to local time: refuse it as a date.
        if dose.given_at > now:
            raise InvalidInput("given_at", "not_in_future", "must not be in the future")
        if dose.given_at < now - timedelta(days=366 * 5):
            raise InvalidInput("given_at", "recent", "must be within the last five years")
        given_on = local_date(dose.given_at, _timezone(session, patient.pharmacy_id))
        finding = rules.check_administration(
            record.facts(), given_on=given_on, dose_mg=dose.dose_mg, here=here, today=today
        )
        if finding is not None:
            raise InvalidInput(finding.field, finding.rule, finding.message)
        if dose.given_at > now:
            raise InvalidInput("given_at", "not_in_future", "must not be in the future")
        if here and dose.expires_on < given_on:
            raise InvalidInput("expires_on", "not_expired", "the batch had expired: do not give it")
        if any(g.given_on == given_on for g in record.given):
            raise Conflict(
                f"A dose of this course is already recorded on {rules.day_words(given_on)}: "
                "it is not recorded twice",
                code="already_recorded",
            )
        given = InjectionAdministration(
            course_id=record.course.id,
            patient_id=patient.id,
            pharmacy_id=patient.pharmacy_id,
            given_at=dose.given_at,
            given_on=given_on,
            dose_mg=dose.dose_mg,
            site=dose.site,
            batch=dose.batch,
            expires_on=dose.expires_on,
            given_by=dose.given_by.strip() or actor.name,
            given_by_role=dose.given_by_role.strip() or (Role.PHARMACIST if here else ""),
            place=dose.place,
            place_name="" if here else dose.place_name.strip(),
            note=dose.note,
            recorded_by_id=actor.id,
            recorded_at=now,
        )
        session.add(given)
        session.flush()
        after = records.CourseRecord(record.course, record.stop, (given, *record.given))
        if after.status(today=today, policy=policy).state != rules.State.OVERDUE:
            _resolve(session, actor, patient, now, "injection_given")
        audit_service.record(
            session,
            actor,
            "injection.administered",
            entity="patient",
            entity_id=patient.id,
            at=now,
            pharmacy_id=patient.pharmacy_id,
            facts={"course": record.course.id, "place": dose.place, "dose_mg": dose.dose_mg},
        )
        uow.commit()
        return given


def stop_course(
    uow: UnitOfWork,
    *,
    actor: Actor,
    patient_id: UUID,
    course_id: UUID,
    stopped_on: date,
    reason: str,
    today: date,
    now: datetime,
) -> records.CourseRecord:
    """Stop a course from `stopped_on` (today or a day already past): no dose is due after it.
    A course planned to start later may be stopped before it starts (it never does)."""
    require_role(actor, COURSE_KEEPERS, "stop an injection course")
    if stopped_on > today:
        raise InvalidInput("stopped_on", "not_in_future", "must be today or a day already past")
    with uow:
        session = uow.session
        patient = patients_repository.load_visible(session, actor, patient_id, for_update=True)
        record = records.one(session, patient.id, course_id)
        if record is None:
            raise NotFound("injection course", course_id)
        if record.stop is not None:
            raise Conflict("The course is already stopped", code="already_stopped")
        stop = InjectionCourseStop(
            course_id=record.course.id,
            stopped_on=stopped_on,
            reason=reason,
            stopped_by_id=actor.id,
            stopped_at=now,
        )
        session.add(stop)
        session.flush()
        _resolve(session, actor, patient, now, "injection_course_stopped")
        audit_service.record(
            session,
            actor,
            "injection.course_stopped",
            entity="patient",
            entity_id=patient.id,
            at=now,
            pharmacy_id=patient.pharmacy_id,
            facts={"course": record.course.id, "stopped_on": stopped_on},
        )
        stopped = records.CourseRecord(record.course, stop, record.given)
        uow.commit()
        return stopped


def _resolve(session: Session, actor: Actor, patient: Patient, now: datetime, cause: str) -> None:
    why = (
        "An injection was recorded as given."
        if cause == "injection_given"
        else "The injection course was stopped."
    )
    acknowledgement.resolve_for_patient(
        session,
        actor=actor,
        patient_id=patient.id,
        kinds=[EventKind.INJECTION_OVERDUE],
        why=why,
        now=now,
        cause=cause,
    )


def _timezone(session: Session, pharmacy_id: UUID) -> str:
    zone = session.scalar(select(Pharmacy.timezone).where(Pharmacy.id == pharmacy_id))
    return zone or "Europe/London"
