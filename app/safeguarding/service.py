"""Raise, list and acknowledge safeguarding alerts.

`raise_alert` is called inside another use case's transaction (a handover, close-day, an
intake), so the alert exists if and only if the event that caused it was recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from uuid import UUID

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit import service as audit_service
from app.audit.service import Actor
from app.auth.models import Role
from app.auth.policy import CLINICIANS, pharmacy_scope
from app.db import UnitOfWork
from app.errors import Conflict, NotFound
from app.patients.models import Patient
from app.safeguarding.models import Alert, AlertHistory, AlertState
from app.safeguarding.rules import SafeguardingEvent


def dedupe_key(
    event: SafeguardingEvent, *, patient_id: UUID | None, household_id: UUID | None, day: date
) -> str:
    """The same kind for the same subject and day is one alert."""
    subject = household_id if event.dedupe_scope == "household" and household_id else patient_id
    return f"{event.kind}:{subject}:{day.isoformat()}"


def raise_alert(
    session: Session,
    event: SafeguardingEvent,
    *,
    actor: Actor,
    pharmacy_id: UUID | None,
    patient_id: UUID | None,
    household_id: UUID | None,
    day: date,
    now: datetime,
) -> Alert:
    """Record an alert in the caller's transaction, or note a repeat on today's existing one."""
    key = dedupe_key(event, patient_id=patient_id, household_id=household_id, day=day)
    existing = session.scalar(select(Alert).where(Alert.dedupe_key == key))
    if existing is None:
        alert = Alert(
            kind=str(event.kind),
            severity=str(event.severity),
            state=AlertState.OPEN,
            pharmacy_id=pharmacy_id,
            patient_id=patient_id,
            household_id=household_id,
            message=event.message,
            facts=dict(event.facts),
            recipients=[str(r) for r in event.recipients],
            dedupe_key=key,
            created_at=now,
            escalation_level=0,
        )
        try:
            with session.begin_nested():
                session.add(alert)
        except IntegrityError:
            existing = session.scalar(select(Alert).where(Alert.dedupe_key == key))
        else:
            session.add(
                AlertHistory(
                    alert_id=alert.id, at=now, action="raised", actor=actor.name, note=event.message
                )
            )
            audit_service.record(
                session,
                actor,
                "alert.raised",
                entity="alert",
                entity_id=alert.id,
                at=now,
                pharmacy_id=pharmacy_id,
                facts={"kind": str(event.kind), "severity": str(event.severity)},
            )
            return alert
    assert existing is not None
    session.add(
        AlertHistory(
            alert_id=existing.id, at=now, action="repeated", actor=actor.name, note=event.message
        )
    )
    return existing


def _visible(query, actor: Actor):  # type: ignore[no-untyped-def]
    if actor.role in CLINICIANS:
        return query.join(Patient, Patient.id == Alert.patient_id).where(
            or_(
                Patient.key_worker_id == actor.contact_id, Patient.prescriber_id == actor.contact_id
            )
        )
    scope = pharmacy_scope(actor)
    if scope is not None:
        query = query.where(Alert.pharmacy_id == scope)
    return query


def list_alerts(
    uow: UnitOfWork,
    *,
    actor: Actor,
    state: str | None = None,
    kind: str | None = None,
    severity: str | None = None,
    pharmacy_id: UUID | None = None,
    patient_id: UUID | None = None,
    household_id: UUID | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[Sequence[Alert], bool]:
    with uow:
        query = _visible(select(Alert), actor)
        for column, value in (
            (Alert.state, state),
            (Alert.kind, kind),
            (Alert.severity, severity),
            (Alert.pharmacy_id, pharmacy_id),
            (Alert.patient_id, patient_id),
            (Alert.household_id, household_id),
        ):
            if value is not None:
                query = query.where(column == value)
        rows = list(
            uow.session.scalars(
                query.order_by(Alert.created_at.desc(), Alert.id).offset(offset).limit(limit + 1)
            )
        )
        return rows[:limit], len(rows) > limit


def get_alert(session: Session, actor: Actor, alert_id: UUID, *, for_update: bool = False) -> Alert:
    query = _visible(select(Alert).where(Alert.id == alert_id), actor)
    if for_update:
        query = query.with_for_update(of=Alert)
    alert = session.scalar(query)
    if alert is None:
        raise NotFound("alert", alert_id)
    return alert


def acknowledge(
    uow: UnitOfWork, *, actor: Actor, alert_id: UUID, note: str, now: datetime
) -> Alert:
    """Someone owns the alert now: escalation stops, and who and when is kept for good."""
    with uow:
        alert = get_alert(uow.session, actor, alert_id, for_update=True)
        if alert.state in (AlertState.ACKNOWLEDGED, AlertState.RESOLVED):
            raise Conflict(
                f"The alert was already acknowledged at {alert.acknowledged_at}",
                code="already_acknowledged",
            )
        alert.state = AlertState.ACKNOWLEDGED
        alert.acknowledged_by_id = actor.id
        alert.acknowledged_at = now
        alert.acknowledgement_note = note
        alert.next_escalation_at = None
        uow.session.add(
            AlertHistory(
                alert_id=alert.id, at=now, action="acknowledged", actor=actor.name, note=note
            )
        )
        audit_service.record(
            uow.session,
            actor,
            "alert.acknowledged",
            entity="alert",
            entity_id=alert.id,
            at=now,
            pharmacy_id=alert.pharmacy_id,
        )
        uow.commit()
        return alert


def history(uow: UnitOfWork, *, actor: Actor, alert_id: UUID) -> list[AlertHistory]:
    with uow:
        get_alert(uow.session, actor, alert_id)
        return list(
            uow.session.scalars(
                select(AlertHistory)
                .where(AlertHistory.alert_id == alert_id)
                .order_by(AlertHistory.at)
            )
        )


ACKNOWLEDGERS = {
    Role.PHARMACIST,
    Role.PRESCRIBER,
    Role.KEY_WORKER,
    Role.SAFEGUARDING_LEAD,
    Role.ADMIN,
}
