"""The patient's injection page: the course, the last dose given, when the next is due and
whether it is overdue, in words; the forms to start a course, record a dose and stop a course.
Every change is made by the page's script through the JSON API, so the page refuses exactly
what the API refuses, each finding beside its field."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.auth.deps import ActorDep
from app.clock import local_date
from app.http.deps import NowDep, SettingsDep, UowDep
from app.http.templates import page
from app.injections import reads, service
from app.injections.products import PRODUCTS, SITES

router = APIRouter(include_in_schema=False)


@router.get("/patients/{patient_id}/injections", response_class=HTMLResponse)
def injections_page(
    patient_id: UUID,
    request: Request,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> Response:
    today = local_date(now, settings.timezone)
    found = reads.patient_injections(
        uow, actor=actor, patient_id=patient_id, today=today, policy=settings.policy
    )
    running = [v for v in found.courses if v.record.stop is None]
    return page(
        request,
        "injections/patient.html",
        {
            "patient": found.patient,
            "courses": found.courses,
            "running": running[0] if running else None,
            "who": found.who,
            "products": PRODUCTS,
            "sites": SITES,
            "today": today,
            "may_keep_course": actor.role in service.COURSE_KEEPERS,
            "may_give_here": actor.role in service.GIVES_HERE,
            "may_record_elsewhere": actor.role in service.RECORDS_ELSEWHERE,
        },
    )
