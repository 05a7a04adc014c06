"""The conference chronology's long-acting buprenorphine injections (issue 20 §3): each dose
given, here or at the clinic, on the day it was given."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from uuid import UUID

from sqlalchemy.orm import Session

from app.injections import records as injection_records
from app.injections.products import PRODUCTS, SITES
from app.reports.rules import Event, EventKind


def injection_events(
    session: Session, patient_ids: Sequence[UUID], start: date, end: date
) -> list[Event]:
    events: list[Event] = []
    for patient_id in patient_ids:
        for given, course in injection_records.given_between(session, patient_id, start, end):
            where = "at this pharmacy" if given.place == "here" else f"at {given.place_name}"
            events.append(
                Event(
                    given.given_on,
                    given.recorded_at,
                    EventKind.INJECTION_GIVEN,
                    f"injection:{given.id}",
                    str(patient_id),
                    f"{PRODUCTS[course.product].name} {given.dose_mg} mg given {where} "
                    f"({SITES.get(given.site, given.site)}, batch {given.batch}).",
                    details={"place": given.place},
                )
            )
    return events
