"""Demo: a patient on monthly long-acting buprenorphine (Buvidal) whose dose is overdue.

Drew Elder (fictional, registered with the other demo patients; no methadone) started monthly
injections at the drug service's clinic; the last dose was given 37 days ago, so the next was
due 9 days ago and its week-long window ended 2 days ago. The patient's injection page says "Overdue", the counter's page lists it, and tonight's
close of day raises the urgent alert to the prescriber and key worker.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from uuid import UUID

from app.actor import Actor
from app.config import Settings
from app.db import UnitOfWork
from app.injections import service as injections


def seed(
    uow: UnitOfWork,
    settings: Settings,
    *,
    patient_id: UUID,
    pharmacist: Actor,
    today: date,
    now: datetime,
) -> str:
    first = today - timedelta(days=65)
    course = injections.start_course(
        uow,
        actor=pharmacist,
        patient_id=patient_id,
        product="buvidal-monthly",
        dose_mg=96,
        started_on=first,
        prescriber_id=None,
        note="Demo: monthly Buvidal given at the drug service clinic.",
        today=today,
        now=now,
    )
    for given_on in (first, first + timedelta(days=28)):
        injections.record_administration(
            uow,
            actor=pharmacist,
            patient_id=patient_id,
            course_id=course.course.id,
            dose=injections.Dose(
                given_at=datetime.combine(given_on, now.timetz()).replace(hour=11, minute=0),
                dose_mg=96,
                site="abdomen",
                batch=f"DEMO{given_on.month:02d}",
                expires_on=today + timedelta(days=300),
                place="elsewhere",
                place_name="Demotown Drug Service clinic",
                given_by="Nia Nurse",
                given_by_role="nurse",
                note="",
            ),
            today=today,
            now=now,
            policy=settings.policy,
        )
    return "Drew Elder: monthly buprenorphine injection overdue (see the patient's injections)."
