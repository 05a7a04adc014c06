"""Raise, list and acknowledge safeguarding alerts.

`raise_alert` is called inside another use case's transaction (a handover, close-day, an
intake), so the alert exists if and only if the event that caused it was recorded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from uuid import UUID

from sqlalchemy import case, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit import service as audit_service
from app.audit.service import Actor
from app.auth.models import Role
from app.auth.policy import CLINICIANS, pharmacy_scope
from app.db import UnitOfWork
from app.errors import Conflict, NotFound
from app.notify import outbox
from app.notify import routing as notify_routing
from app.patients.models import Patient
from app.safeguarding.models import Alert, AlertHistory, AlertState
from app.safeguarding.rules import SafeguardingEvent


def dedupe_key(
    event: SafeguardingEvent,
    *,
    patient_id: UUID | None,
    household_id: UUID | None,
    day: date,
    pharmacy_id: UUID | None = None,
) -> str:
    """The same kind for the same subject and day is one alert."""
    subject = household_id if event.dedupe_scope == "household" and household_id else patient_id
    if event.dedupe_scope == "pharmacy" or subject is None:  # no patient: e.g. a CD register
        subject = pharmacy_id  # discrepancy, or a delivery of one failing (never cross-tenant)
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
    routing: Mapping[str, Sequence[str]],
) -> Alert:
    """Record an alert and its deliveries in the caller's transaction, or note a repeat on
    today's existing one (no second round of messages for the same thing on the same day)."""
    key = dedupe_key(
        event, patient_id=patient_id, household_id=household_id, day=day, pharmacy_id=pharmacy_id
    )
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
            roles = notify_routing.roles_for(str(event.kind), alert.recipients, routing)
            targets = notify_routing.resolve(
                session,
                roles,
                pharmacy_id=pharmacy_id,
                patient_id=patient_id,
                household_id=household_id,
                today=day,
            )
            outbox.enqueue(session, alert, targets, level=0, now=now, actor=actor.name)
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
    alert: Alert | None = session.scalar(query)
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
        # Steps of one transaction share an instant and ids are random: "raised" is first by
        # definition, the rest keep a stable order (insertion order needs a sequence column).
        return list(
            uow.session.scalars(
                select(AlertHistory)
                .where(AlertHistory.alert_id == alert_id)
                .order_by(
                    AlertHistory.at,
                    case((AlertHistory.action == "raised", 0), else_=1),
                    AlertHistory.id,
                )
            )
        )


ACKNOWLEDGERS = {
    Role.PHARMACIST,
    Role.PRESCRIBER,
    Role.KEY_WORKER,
    Role.SAFEGUARDING_LEAD,
    Role.ADMIN,
}


def acknowledge_by_contact(
    uow: UnitOfWork, *, alert_id: UUID, contact_id: UUID, note: str, now: datetime
) -> Alert:
    """A recipient who is not a user acknowledges through their signed link."""
    with uow:
        alert = uow.session.scalar(select(Alert).where(Alert.id == alert_id).with_for_update())
        if alert is None:
            raise NotFound("alert", alert_id)
        who = f"contact:{contact_id}"
        if alert.state in (AlertState.ACKNOWLEDGED, AlertState.RESOLVED):
            raise Conflict(
                f"The alert was already acknowledged at {alert.acknowledged_at}",
                code="already_acknowledged",
            )
        alert.state = AlertState.ACKNOWLEDGED
        alert.acknowledged_at = now
        alert.acknowledgement_note = note
        alert.next_escalation_at = None
        uow.session.add(
            AlertHistory(alert_id=alert.id, at=now, action="acknowledged", actor=who, note=note)
        )
        audit_service.record(
            uow.session,
            Actor(id=None, name=who, role="contact"),
            "alert.acknowledged",
            entity="alert",
            entity_id=alert.id,
            at=now,
            pharmacy_id=alert.pharmacy_id,
            facts={"contact_id": contact_id},
        )
        uow.commit()
        return alert


def alerts_for_contact(uow: UnitOfWork, *, contact_id: UUID, limit: int = 100) -> list[Alert]:
    """Alerts a contact was sent, newest first (their Atom feed)."""
    from app.notify.models import Delivery

    with uow:
        return list(
            uow.session.scalars(
                select(Alert)
                .where(
                    Alert.id.in_(select(Delivery.alert_id).where(Delivery.contact_id == contact_id))
                )
                .order_by(Alert.created_at.desc())
                .limit(limit)
            )
        )


def deliveries_for(
    session: Session, alert_ids: Sequence[UUID]
) -> dict[UUID, list[dict[str, object]]]:
    from app.notify.models import Delivery

    found: dict[UUID, list[dict[str, object]]] = {a: [] for a in alert_ids}
    if not alert_ids:
        return found
    for d in session.scalars(
        select(Delivery).where(Delivery.alert_id.in_(alert_ids)).order_by(Delivery.created_at)
    ):
        found[d.alert_id].append(
            {
                "contact_id": d.contact_id,
                "channel": d.channel,
                "state": d.state,
                "attempts": d.attempts,
                "escalation_level": d.escalation_level,
                "reason": d.reason,
                "last_error": d.last_error,
            }
        )
    return found
