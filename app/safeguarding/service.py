"""Raise safeguarding alerts (reading them is `repository.py`, owning them `acknowledgement.py`).

`raise_alert` is called inside another use case's transaction (a handover, close-day, an
intake), so the alert exists if and only if the event that caused it was recorded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import kit
from app.actor import Actor
from app.audit import service as audit_service
from app.contacts.models import Contact
from app.patients.models import Patient
from app.safeguarding import routing as alert_routing
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
    roles = alert_routing.roles_for(alert.kind, alert.recipients, routing)
    targets = alert_routing.resolve(
        session,
        roles,
        pharmacy_id=request.pharmacy_id,
        patient_id=request.patient_id,
        household_id=request.household_id,
        today=day,
    )
    alert_routing.send(session, alert, targets, level=0, now=now, actor=actor.name)
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
