"""Reading the look-up log: what the home pharmacy sees next morning ("Look-ups since
yesterday" on the counter's page, and `GET /lookups`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import or_, select

from app.actor import Actor
from app.auth.policy import pharmacy_scope, require_role
from app.clock import local_date, local_midnight_utc
from app.db import UnitOfWork
from app.lookup.links import READERS
from app.lookup.models import LookupEvent, LookupLink
from app.patients.models import Patient


@dataclass(frozen=True, slots=True)
class LogRow:
    event: LookupEvent
    # The patient's name when they are the viewer's own patient (None: no patient, or another
    # pharmacy's, asked through this pharmacy's link).
    patient_name: str | None
    patient_id: UUID | None

    @property
    def via(self) -> str:
        return "link" if self.event.link_id is not None else "clinician"


def since_yesterday(now: datetime, timezone: str) -> datetime:
    """The start of yesterday at the pharmacy: the morning's panel covers the night before."""
    return local_midnight_utc(local_date(now, timezone) - timedelta(days=1), timezone)


def recent(uow: UnitOfWork, *, actor: Actor, since: datetime, limit: int = 200) -> list[LogRow]:
    """The look-ups of the caller's pharmacy's patients, and those made through its links,
    since `since`, newest first (every pharmacy's for an admin)."""
    require_role(actor, READERS, "see the look-up log")
    scope = pharmacy_scope(actor)
    query = (
        select(LookupEvent, Patient)
        .outerjoin(Patient, Patient.id == LookupEvent.patient_id)
        .where(LookupEvent.at >= since)
    )
    if scope is not None:
        ours = select(LookupLink.id).where(LookupLink.pharmacy_id == scope)
        query = query.where(or_(LookupEvent.pharmacy_id == scope, LookupEvent.link_id.in_(ours)))
    with uow:
        rows = uow.session.execute(
            query.order_by(LookupEvent.at.desc(), LookupEvent.id).limit(limit)
        ).all()
        result = []
        for event, patient in rows:
            mine = patient is not None and (scope is None or patient.pharmacy_id == scope)
            result.append(
                LogRow(
                    event,
                    f"{patient.given_name} {patient.family_name}" if mine else None,
                    patient.id if mine else None,
                )
            )
        return result
