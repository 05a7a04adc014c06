"""Reading the injection log: a patient's courses with their stops and doses, and the facts the
rules are asked with. Shared by the use cases (`service.py`), the reads (`reads.py`) and close
of day (`overdue.py`), so every one of them computes the next due date from the same rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from uuid import UUID

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from app import kit
from app.config import PolicySettings
from app.injections import rules
from app.injections.models import InjectionAdministration, InjectionCourse, InjectionCourseStop
from app.injections.products import PRODUCTS
from app.patients.models import Patient


@dataclass(frozen=True, slots=True)
class CourseRecord:
    """A course, its stop (if any) and its doses, newest first."""

    course: InjectionCourse
    stop: InjectionCourseStop | None
    given: Sequence[InjectionAdministration] = field(default_factory=tuple)

    def facts(self, *, through: date | None = None) -> rules.CourseFacts:
        """The rules' facts, counting only doses given by `through` (a day being closed)."""
        days = [g.given_on for g in self.given if through is None or g.given_on <= through]
        return rules.CourseFacts(
            course_id=str(self.course.id),
            product=PRODUCTS[self.course.product],
            dose_mg=self.course.dose_mg,
            interval_days=self.course.interval_days,
            started_on=self.course.started_on,
            stopped_on=self.stop.stopped_on if self.stop else None,
            last_given_on=max(days) if days else None,
        )

    def status(self, *, today: date, policy: PolicySettings) -> rules.Status:
        return rules.status(
            self.facts(through=today), today=today, tolerance=tolerance(self.course, policy)
        )


def tolerance(course: InjectionCourse, policy: PolicySettings) -> int:
    return rules.tolerance_days(
        PRODUCTS[course.product],
        weekly=policy.injection_overdue_weekly_days,
        monthly=policy.injection_overdue_monthly_days,
    )


def load(session: Session, courses: Iterable[InjectionCourse]) -> list[CourseRecord]:
    """The courses with their stops and doses, in a few queries whatever their number."""
    courses = list(courses)
    ids = [c.id for c in courses]
    stops: dict[UUID, InjectionCourseStop] = {}
    given: dict[UUID, list[InjectionAdministration]] = {}
    for batch in kit.chunks(ids):
        for stop in session.scalars(
            select(InjectionCourseStop).where(InjectionCourseStop.course_id.in_(batch))
        ):
            stops[stop.course_id] = stop
        for dose in session.scalars(
            select(InjectionAdministration)
            .where(InjectionAdministration.course_id.in_(batch))
            .order_by(InjectionAdministration.given_at.desc(), InjectionAdministration.id)
        ):
            given.setdefault(dose.course_id, []).append(dose)
    return [CourseRecord(c, stops.get(c.id), tuple(given.get(c.id, ()))) for c in courses]


def for_patient(session: Session, patient_id: UUID) -> list[CourseRecord]:
    """The patient's courses, newest first."""
    return load(
        session,
        session.scalars(
            select(InjectionCourse)
            .where(InjectionCourse.patient_id == patient_id)
            .order_by(InjectionCourse.started_on.desc(), InjectionCourse.recorded_at.desc())
        ),
    )


def one(session: Session, patient_id: UUID, course_id: UUID) -> CourseRecord | None:
    course = session.scalar(
        select(InjectionCourse).where(
            InjectionCourse.id == course_id, InjectionCourse.patient_id == patient_id
        )
    )
    return load(session, [course])[0] if course is not None else None


def _running(day: date) -> Select[InjectionCourse]:
    return (
        select(InjectionCourse)
        .outerjoin(InjectionCourseStop, InjectionCourseStop.course_id == InjectionCourse.id)
        .where(or_(InjectionCourseStop.id.is_(None), InjectionCourseStop.stopped_on > day))
        .order_by(InjectionCourse.patient_id, InjectionCourse.started_on)
    )


def running(session: Session, patient_ids: Sequence[UUID], day: date) -> list[CourseRecord]:
    """The courses of these patients not stopped by `day`."""
    found: list[InjectionCourse] = []
    for batch in kit.chunks(patient_ids):
        found += session.scalars(_running(day).where(InjectionCourse.patient_id.in_(batch)))
    return load(session, found)


def running_at(session: Session, pharmacy_id: UUID, day: date) -> list[CourseRecord]:
    """The courses not stopped by `day` of the patients the pharmacy has now (a transferred
    patient's course goes with them)."""
    return load(
        session,
        session.scalars(
            _running(day)
            .join(Patient, Patient.id == InjectionCourse.patient_id)
            .where(Patient.pharmacy_id == pharmacy_id)
        ),
    )


def given_between(
    session: Session, patient_id: UUID, start: date, end: date
) -> list[tuple[InjectionAdministration, InjectionCourse]]:
    """The patient's doses given from `start` to `end`, oldest first, each with its course (the
    FHIR export and the conference chronology)."""
    return [
        (given, course)
        for given, course in session.execute(
            select(InjectionAdministration, InjectionCourse)
            .join(InjectionCourse, InjectionCourse.id == InjectionAdministration.course_id)
            .where(
                InjectionAdministration.patient_id == patient_id,
                InjectionAdministration.given_on >= start,
                InjectionAdministration.given_on <= end,
            )
            .order_by(InjectionAdministration.given_at, InjectionAdministration.id)
        )
    ]
