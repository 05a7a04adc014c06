"""The injection log's routes: a patient's long-acting buprenorphine courses, the doses given,
and stopping a course (`app.injections.service`; reads in `app.injections.reads`)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from app.auth.deps import ActorDep
from app.clock import local_date
from app.http import problems
from app.http.deps import NowDep, SettingsDep, UowDep
from app.injections import reads, service
from app.injections.models import InjectionAdministration
from app.injections.schemas import (
    AdministrationBody,
    AdministrationRead,
    CourseBody,
    CourseList,
    CourseRead,
    StopBody,
)

router = APIRouter(tags=["injections"], responses=problems.API_ERRORS)


def _given(given: InjectionAdministration) -> AdministrationRead:
    return AdministrationRead.model_validate(given, from_attributes=True)


def course_read(view: reads.CourseView) -> CourseRead:
    record, status = view.record, view.status
    course = record.course
    given = [_given(g) for g in record.given]
    return CourseRead(
        id=course.id,
        patient_id=course.patient_id,
        product=course.product,
        product_name=view.product_name,
        dose_mg=course.dose_mg,
        interval_days=course.interval_days,
        started_on=course.started_on,
        prescriber_id=course.prescriber_id,
        note=course.note,
        recorded_at=course.recorded_at,
        stop=(
            {
                "stopped_on": record.stop.stopped_on,
                "reason": record.stop.reason,
                "stopped_at": record.stop.stopped_at,
            }
            if record.stop
            else None
        ),
        last_given=max(given, key=lambda g: (g.given_on, g.given_at)) if given else None,
        status={
            "state": str(status.state),
            "next_due": status.next_due,
            "window_opens": status.window_opens,
            "overdue_from": status.overdue_from,
            "days_overdue": status.days_overdue,
            "words": status.words,
        },
        administrations=given,
    )


@router.post(
    "/patients/{patient_id}/injections",
    status_code=201,
    response_model=CourseRead,
    responses={409: {"description": "course_active"}},
)
def start_course(
    patient_id: UUID,
    body: CourseBody,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> object:
    """Start a course of long-acting buprenorphine injections (a pharmacist or the prescriber):
    the first dose is due on `started_on`, each next one an interval after the last given.
    Refused while another course of the patient's is running (`409 course_active`)."""
    today = local_date(now, settings.timezone)
    made = service.start_course(
        uow,
        actor=actor,
        patient_id=patient_id,
        product=body.product,
        dose_mg=body.dose_mg,
        started_on=body.started_on,
        prescriber_id=body.prescriber_id,
        note=body.note,
        today=today,
        now=now,
    )
    return course_read(reads.view(made, today=today, policy=settings.policy))


@router.get("/patients/{patient_id}/injections", response_model=CourseList)
def list_courses(
    patient_id: UUID, uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> object:
    """The patient's courses, newest first, each with its doses (newest first), the last one
    given, and its status today: `scheduled`, `due` (in its window), `overdue`, `stopped`, with
    the next due date and the words the pages show."""
    found = reads.patient_injections(
        uow,
        actor=actor,
        patient_id=patient_id,
        today=local_date(now, settings.timezone),
        policy=settings.policy,
    )
    return {"items": [course_read(v) for v in found.courses], "next": None}


@router.post(
    "/patients/{patient_id}/injections/{course_id}/administrations",
    status_code=201,
    response_model=AdministrationRead,
    responses={409: {"description": "already_recorded"}},
)
def record_administration(
    patient_id: UUID,
    course_id: UUID,
    body: AdministrationBody,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> object:
    """Record a dose given: `place: here` by a pharmacist (administering is theirs), `place:
    elsewhere` (the drug service's clinic: `place_name`, `given_by`) by a pharmacist or a
    technician. Recording it resolves the patient's open `injection_overdue` alerts once the
    course is no longer overdue."""
    given = service.record_administration(
        uow,
        actor=actor,
        patient_id=patient_id,
        course_id=course_id,
        dose=service.Dose(
            given_at=body.given_at,
            dose_mg=body.dose_mg,
            site=body.site,
            batch=body.batch,
            expires_on=body.expires_on,
            place=body.place,
            place_name=body.place_name,
            given_by=body.given_by,
            given_by_role=body.given_by_role,
            note=body.note,
        ),
        today=local_date(now, settings.timezone),
        now=now,
        policy=settings.policy,
    )
    return _given(given)


@router.post(
    "/patients/{patient_id}/injections/{course_id}/stop",
    response_model=CourseRead,
    responses={409: {"description": "already_stopped"}},
)
def stop_course(
    patient_id: UUID,
    course_id: UUID,
    body: StopBody,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> object:
    """Stop the course (a pharmacist or the prescriber), with why: no dose is due after it and
    its open overdue alerts are resolved."""
    today = local_date(now, settings.timezone)
    stopped = service.stop_course(
        uow,
        actor=actor,
        patient_id=patient_id,
        course_id=course_id,
        stopped_on=body.stopped_on,
        reason=body.reason,
        today=today,
        now=now,
    )
    return course_read(reads.view(stopped, today=today, policy=settings.policy))
