"""Raise, list and acknowledge safeguarding alerts.

`raise_alert` is called inside another use case's transaction (a handover, close-day, an
intake), so the alert exists if and only if the event that caused it was recorded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from sqlalchemy import case, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import kit
from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import CLINICIANS, pharmacy_scope
from app.auth.roles import Role
from app.contacts.models import Contact
from app.db import UnitOfWork
from app.errors import Conflict, InvalidInput, NotFound
from app.households.models import Household
from app.notify import outbox
from app.notify import routing as notify_routing
from app.notify.models import Delivery
from app.patients.models import Patient
from app.safeguarding.models import Alert, AlertHistory, AlertState
from app.safeguarding.rules import EventKind, SafeguardingEvent


def dedupe_key(
    event: SafeguardingEvent,
    *,
    patient_id: UUID | None,
    household_id: UUID | None,
    day: date,
    pharmacy_id: UUID | None = None,
) -> str:
    """The same kind for the same subject and day is one alert."""
    if event.dedupe_scope == "record":  # one alert per record that raised it
        return f"{event.kind}:{event.facts['record']}"
    subject = household_id if event.dedupe_scope == "household" and household_id else patient_id
    if event.dedupe_scope == "pharmacy" or subject is None:  # no patient: e.g. a CD register
        subject = pharmacy_id  # discrepancy, or a delivery of one failing (never cross-tenant)
    return f"{event.kind}:{subject}:{day.isoformat()}"


@dataclass(frozen=True, slots=True)
class Raise:
    """One safeguarding event about one subject, to become an alert (or a repeat of one)."""

    event: SafeguardingEvent
    pharmacy_id: UUID | None
    patient_id: UUID | None
    household_id: UUID | None

    def key(self, day: date) -> str:
        return dedupe_key(
            self.event,
            patient_id=self.patient_id,
            household_id=self.household_id,
            day=day,
            pharmacy_id=self.pharmacy_id,
        )


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
    request = Raise(event, pharmacy_id, patient_id, household_id)
    return raise_alerts(session, [request], actor=actor, day=day, now=now, routing=routing)[0]


def raise_alerts(
    session: Session,
    requests: Sequence[Raise],
    *,
    actor: Actor,
    day: date,
    now: datetime,
    routing: Mapping[str, Sequence[str]],
    repeats: bool = True,
) -> list[Alert]:
    """`raise_alert` for many events at once, in request order: close-day raises thousands.

    With `repeats` off, an alert that already exists for the same kind, subject and day is left
    as it is (no "repeated" line) and only the alerts this call created are returned: end of
    day re-run for the same day changes nothing.

    Existing alerts are found in one query per chunk of keys, the new ones inserted in one
    statement, their audit events appended together. If another transaction raised one of the
    same alerts at the same moment, the batch insert fails as a whole and the new alerts are
    inserted one at a time instead, each taking the other transaction's alert where it won.
    """
    keyed = [(request.key(day), request) for request in requests]
    alerts: dict[str, Alert] = {}
    for batch in kit.chunks(sorted({key for key, _ in keyed})):
        for alert in session.scalars(select(Alert).where(Alert.dedupe_key.in_(batch))):
            alerts[alert.dedupe_key] = alert
    fresh: dict[str, Raise] = {}
    for key, request in keyed:
        if key not in alerts:
            fresh.setdefault(key, request)  # the first of the same key raises; the rest repeat
    inserted, created = _insert_new(session, fresh, now)
    alerts |= inserted
    held = _prefetch_contacts(session, [r for key, r in keyed if key in created])
    audit: list[audit_service.Entry] = []
    announced: set[str] = set()
    for key, request in keyed:
        alert = alerts[key]
        if key in created and key not in announced:
            announced.add(key)
            _announce(session, alert, request, actor=actor, day=day, now=now, routing=routing)
            audit.append(
                audit_service.Entry(
                    "alert.raised",
                    "alert",
                    alert.id,
                    now,
                    request.pharmacy_id,
                    {"kind": alert.kind, "severity": alert.severity},
                )
            )
        elif repeats:
            session.add(
                AlertHistory(
                    alert_id=alert.id,
                    at=now,
                    action="repeated",
                    actor=actor.name,
                    note=request.event.message,
                )
            )
    if audit:
        audit_service.record_many(session, actor, audit)
    del held
    if not repeats:
        return list({key: alerts[key] for key, _ in keyed if key in announced}.values())
    return [alerts[key] for key, _ in keyed]


def _new_alert(request: Raise, key: str, now: datetime) -> Alert:
    event = request.event
    alert = Alert(
        id=kit.new_id(),
        kind=str(event.kind),
        severity=str(event.severity),
        state=AlertState.OPEN,
        pharmacy_id=request.pharmacy_id,
        patient_id=request.patient_id,
        household_id=request.household_id,
        message=event.message,
        facts=dict(event.facts),
        recipients=[str(r) for r in event.recipients],
        dedupe_key=key,
        created_at=now,
        escalation_level=0,
    )
    return alert


def _insert_new(
    session: Session, fresh: Mapping[str, Raise], now: datetime
) -> tuple[dict[str, Alert], set[str]]:
    """Insert the alerts not found; return them by key, and the keys this transaction created
    (a key another transaction created first maps to that transaction's alert)."""
    if not fresh:
        return {}, set()
    made = {key: _new_alert(request, key, now) for key, request in fresh.items()}
    try:
        with session.begin_nested():
            session.add_all(made.values())
    except IntegrityError:
        made, ours = {}, set()
        for key, request in fresh.items():
            try:
                with session.begin_nested():
                    made[key] = _new_alert(request, key, now)
                    session.add(made[key])
                ours.add(key)
            except IntegrityError:
                made[key] = session.scalars(select(Alert).where(Alert.dedupe_key == key)).one()
        return made, ours
    return made, set(made)


def _prefetch_contacts(session: Session, requests: Sequence[Raise]) -> list[Patient | Contact]:
    """Load the patients and their key workers and prescribers in a few queries, so routing
    each alert finds them in the session without a query of its own.

    The caller keeps the returned list until routing is done: the session's identity map only
    holds objects weakly, and an object nobody references is loaded again.
    """
    patient_ids = {r.patient_id for r in requests if r.patient_id}
    if len(patient_ids) < 2:
        return []
    loaded: list[Patient | Contact] = []
    missing = []
    for patient_id in patient_ids:  # the caller (close-day) has usually loaded them already
        known = session.identity_map.get(session.identity_key(Patient, patient_id))
        if known is not None:
            loaded.append(known)
        else:
            missing.append(patient_id)
    for batch in kit.chunks(missing):
        loaded += session.scalars(select(Patient).where(Patient.id.in_(batch)))
    contact_ids = {
        c for p in loaded if isinstance(p, Patient) for c in (p.key_worker_id, p.prescriber_id) if c
    }
    for batch in kit.chunks(contact_ids):
        loaded += session.scalars(select(Contact).where(Contact.id.in_(batch)))
    return loaded


def _announce(
    session: Session,
    alert: Alert,
    request: Raise,
    *,
    actor: Actor,
    day: date,
    now: datetime,
    routing: Mapping[str, Sequence[str]],
) -> None:
    """A new alert's history line and its deliveries to everyone the routing names."""
    session.add(
        AlertHistory(
            alert_id=alert.id, at=now, action="raised", actor=actor.name, note=alert.message
        )
    )
    roles = notify_routing.roles_for(alert.kind, alert.recipients, routing)
    targets = notify_routing.resolve(
        session,
        roles,
        pharmacy_id=request.pharmacy_id,
        patient_id=request.patient_id,
        household_id=request.household_id,
        today=day,
    )
    outbox.enqueue(session, alert, targets, level=0, now=now, actor=actor.name)
    if roles and not targets:
        # Meant for someone, but nobody is recorded in those roles (a patient with no key
        # worker on file): waiting out the SLA would leave it unowned for hours, so the
        # worker's next pass escalates it to the safeguarding lead.
        alert.next_escalation_at = now
        session.add(
            AlertHistory(
                alert_id=alert.id,
                at=now,
                action="no_recipient",
                actor=actor.name,
                note=f"nobody is recorded as {', '.join(roles)}: "
                "escalating to the safeguarding lead at once",
            )
        )


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


def alert_summary(uow: UnitOfWork, alert_id: UUID) -> dict[str, str] | None:
    """What a signed acknowledgement page may show of an alert: kind, severity, the patient's
    initials, the household's postcode district, when it was raised. Nothing that identifies
    a person outright: the link may be forwarded."""

    with uow:
        alert = uow.session.get(Alert, alert_id)
        if alert is None:
            return None
        patient = uow.session.get(Patient, alert.patient_id) if alert.patient_id else None
        household = uow.session.get(Household, alert.household_id) if alert.household_id else None
        return {
            "kind": alert.kind.replace("_", " "),
            "severity": alert.severity,
            "initials": f"{patient.given_name[:1]}.{patient.family_name[:1]}." if patient else "",
            "district": household.postcode.split(" ")[0] if household else "",
            "raised": alert.created_at.strftime("%a %d %b %Y, %H:%M UTC"),
        }


def alerts_for_contact(uow: UnitOfWork, *, contact_id: UUID, limit: int = 100) -> list[Alert]:
    """Alerts a contact was sent, newest first (their Atom feed)."""

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
