"""Owning an alert: acknowledging it (a user, or a contact through a signed link) and
resolving a patient's alerts when their cause is dealt with. Escalation stops at either; an
urgent alert or a concern is owned only with a note of what was done."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit_service
from app.auth.roles import Role
from app.db import UnitOfWork
from app.errors import Conflict, InvalidInput, NotFound
from app.safeguarding.models import Alert, AlertHistory, AlertState
from app.safeguarding.repository import get_alert
from app.safeguarding.rules import EventKind


def _check_note(alert: Alert, note: str) -> None:
    """An urgent alert is owned only with a note of what was done or will be: "acknowledged"
    alone is how information gets "shared" with nobody acting on it."""
    if alert.severity == "urgent" and len(note.strip()) < 3:
        raise InvalidInput(
            "note",
            "required_for_urgent",
            "an urgent alert needs a note saying what you have done or will do",
        )
    if alert.kind == EventKind.PHARMACIST_CONCERN and len(note.strip()) < 3:
        raise InvalidInput(
            "note",
            "action_required",
            "a concern is closed only with a note of the action you have taken or will take",
        )


def resolve_for_patient(
    session: Session,
    *,
    actor: Actor,
    patient_id: UUID,
    kinds: Sequence[str],
    why: str,
    now: datetime,
    raised_since: datetime | None = None,
    cause: str = "release",
) -> int:
    """Mark the patient's open alerts of these kinds resolved: their cause has been dealt with
    (a prescriber's review after days without a dose; a missed mark corrected), so they stop
    escalating. The alert and its history stay; who resolved it and why are added to it.
    `raised_since` limits it to alerts raised from then on (those the corrected day caused)."""
    resolved = 0
    query = select(Alert).where(
        Alert.patient_id == patient_id,
        Alert.kind.in_(kinds),
        Alert.state.in_((AlertState.OPEN, AlertState.ESCALATED)),
    )
    if raised_since is not None:
        query = query.where(Alert.created_at >= raised_since)
    for alert in session.scalars(query.with_for_update()):
        alert.state = AlertState.RESOLVED
        alert.next_escalation_at = None
        session.add(
            AlertHistory(alert_id=alert.id, at=now, action="resolved", actor=actor.name, note=why)
        )
        audit_service.record(
            session,
            actor,
            "alert.resolved",
            entity="alert",
            entity_id=alert.id,
            at=now,
            pharmacy_id=alert.pharmacy_id,
            facts={"why": cause},
        )
        resolved += 1
    return resolved


def acknowledge(
    uow: UnitOfWork, *, actor: Actor, alert_id: UUID, note: str, now: datetime
) -> Alert:
    """Someone owns the alert now: escalation stops, and who and when is kept for good."""
    with uow:
        alert = get_alert(uow.session, actor, alert_id, for_update=True)
        _check_note(alert, note)
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
        _check_note(alert, note)
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


def follow_the_patient(
    session: Session,
    *,
    actor: Actor,
    patient_id: UUID,
    to_pharmacy_id: UUID,
    why: str,
    now: datetime,
) -> int:
    """A transferred patient's alerts not yet resolved go with them: the new pharmacy owns them
    from now (its inbox, its escalation), the old one sees them no more. Their history says
    so. Resolved alerts stay where they were raised. Returns how many moved."""
    moved = 0
    for alert in session.scalars(
        select(Alert)
        .where(Alert.patient_id == patient_id, Alert.state != AlertState.RESOLVED)
        .with_for_update()
    ):
        if alert.pharmacy_id == to_pharmacy_id:
            continue
        alert.pharmacy_id = to_pharmacy_id
        session.add(
            AlertHistory(
                alert_id=alert.id, at=now, action="transferred", actor=actor.name, note=why
            )
        )
        moved += 1
    return moved
