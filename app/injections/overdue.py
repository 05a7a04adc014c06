"""Close of day finds the long-acting injections past their window and alerts, by itself.

Answers `app.dosing.events.DayClosed` in the close's transaction: for every patient of the
pharmacy (wherever their doses are given) with a course running on the day closed whose next
dose is overdue that day, an urgent `injection_overdue` alert to the prescriber and the key
worker. One per overdue dose: the alert's dedupe record is the course and the due date, so the
following evenings add nothing (not even a "repeated" line) until a dose is recorded and a
later one falls overdue.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import events
from app.dosing.events import DayClosed
from app.injections import records, rules
from app.injections.products import PRODUCTS
from app.patients.models import Patient
from app.safeguarding import service as safeguarding_service
from app.safeguarding.injection_alerts import injection_overdue_event


def on_day_closed(session: Session, event: DayClosed) -> None:
    day = event.day
    overdue = [
        (record, status)
        for record in records.running_at(session, event.pharmacy_id, day)
        if (status := record.status(today=day, policy=event.policy)).state == rules.State.OVERDUE
    ]
    if not overdue:
        return
    patients = {
        row.id: row
        for row in session.execute(
            select(Patient.id, Patient.pharmacy_id, Patient.household_id).where(
                Patient.id.in_({record.course.patient_id for record, _ in overdue})
            )
        )
    }
    requests: list[safeguarding_service.Raise] = []
    for record, status in overdue:
        assert status.next_due is not None
        assert status.overdue_from is not None
        course = record.course
        patient = patients[course.patient_id]
        alert = injection_overdue_event(
            record=rules.overdue_key(str(course.id), status.next_due),
            product_name=PRODUCTS[course.product].name,
            due_words=rules.day_words(status.next_due),
            window_end_words=rules.day_words(status.overdue_from - timedelta(days=1)),
            days_overdue=status.days_overdue,
            first_dose=status.first_dose,
        )
        requests.append(
            safeguarding_service.Raise(alert, patient.pharmacy_id, patient.id, patient.household_id)
        )
    safeguarding_service.raise_alerts(
        session,
        requests,
        actor=event.actor,
        day=day,
        now=event.now,
        routing=event.policy.alert_routing,
        repeats=False,
    )


events.subscribe(DayClosed, on_day_closed)
