"""Who hears about an alert: recipient roles resolved to contacts, and the escalation ladder.

Safeguarding decides who is told; notify is handed plain targets (a contact and why) and only
delivers. The alert's history says who was queued, and who could not be reached.

Roles are relative to the alert's subject: the patient's key worker and prescriber, each child's
social worker, the pharmacy's safeguarding lead, the MASH (the pharmacy's, else the area's).
The policy (kind -> roles) is data: what each alert rule proposes, replaced per kind by
`DOSEKEEPER_NOTIFY__ROUTING` where a service wants otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.contacts.models import Contact, ContactKind
from app.households.repository import current_children
from app.notify import outbox
from app.notify.outbox import Target
from app.patients.models import Patient
from app.safeguarding.models import Alert, AlertHistory
from app.safeguarding.rules import EventKind, Recipient

# Escalation ladder: level 1 is the pharmacy's safeguarding lead, level 2 the MASH.
ESCALATION: tuple[Recipient, ...] = (Recipient.SAFEGUARDING_LEAD, Recipient.MASH)
DELIVERY_FAILED = "delivery_failed"


def roles_for(kind: str, proposed: Sequence[str], policy: Mapping[str, Sequence[str]]) -> list[str]:
    return list(policy.get(kind, proposed))


def effective_table(policy: Mapping[str, Sequence[str]]) -> dict[str, list[str] | None]:
    """Kind -> roles as configured (None: as the alert rule proposes), for the admin page."""
    kinds = [str(k) for k in EventKind] + [DELIVERY_FAILED]
    return {kind: list(policy[kind]) if kind in policy else None for kind in kinds}


def _area(session: Session, kind: str, pharmacy_id: UUID | None) -> list[Contact]:
    """The pharmacy's own contacts of a kind, else the area's (registered with no pharmacy)."""
    own = list(
        session.scalars(
            select(Contact).where(Contact.kind == kind, Contact.pharmacy_id == pharmacy_id)
        )
    )
    if own:
        return own
    return list(
        session.scalars(select(Contact).where(Contact.kind == kind, Contact.pharmacy_id.is_(None)))
    )


def resolve(
    session: Session,
    roles: Iterable[str],
    *,
    pharmacy_id: UUID | None,
    patient_id: UUID | None,
    household_id: UUID | None,
    today: date,
) -> list[Target]:
    patient = session.get(Patient, patient_id) if patient_id else None
    household = household_id or (patient.household_id if patient else None)
    found: dict[UUID, Target] = {}

    def add(contacts: Iterable[Contact | None], reason: str) -> None:
        for contact in contacts:
            if contact is not None and contact.id not in found:
                found[contact.id] = Target(contact, reason)

    for role in roles:
        if role == Recipient.KEY_WORKER and patient and patient.key_worker_id:
            add([session.get(Contact, patient.key_worker_id)], "key_worker")
        elif role == Recipient.PRESCRIBER and patient and patient.prescriber_id:
            add([session.get(Contact, patient.prescriber_id)], "prescriber")
        elif role == Recipient.SOCIAL_WORKER and household:
            ids = {
                c.social_worker_id
                for c in current_children(session, household, today)
                if c.social_worker_id
            }
            if ids:
                add(session.scalars(select(Contact).where(Contact.id.in_(ids))), "social_worker")
        elif role == Recipient.SAFEGUARDING_LEAD:
            add(_area(session, ContactKind.SAFEGUARDING_LEAD, pharmacy_id), "safeguarding_lead")
        elif role == Recipient.MASH:
            add(_area(session, ContactKind.MASH, pharmacy_id), "mash")
    return list(found.values())


def escalation_targets(
    session: Session, level: int, *, pharmacy_id: UUID | None, today: date
) -> list[Target]:
    """Contacts for escalation `level` (1-based); empty once the ladder is exhausted."""
    if level < 1 or level > len(ESCALATION):
        return []
    role = ESCALATION[level - 1]
    return [
        Target(t.contact, f"escalation_{level}_{role}")
        for t in resolve(
            session,
            [role],
            pharmacy_id=pharmacy_id,
            patient_id=None,
            household_id=None,
            today=today,
        )
    ]


def send(
    session: Session,
    alert: Alert,
    targets: Sequence[Target],
    *,
    level: int,
    now: datetime,
    actor: str,
) -> None:
    """Queue the alert for its targets in the caller's transaction and say so in its history:
    who it went to, and every contact with no working channel (the worker makes that delivery
    dead on its next pass, which tells the safeguarding lead)."""
    queued = outbox.enqueue(session, alert.id, targets, level=level, now=now)
    for target in queued.unreachable:
        session.add(
            AlertHistory(
                alert_id=alert.id,
                at=now,
                action="no_channel",
                actor=actor,
                note=f"contact {target.contact.id} ({target.reason}) has no working channel: "
                "the safeguarding lead will be told",
            )
        )
    if queued.sent_to:
        session.add(
            AlertHistory(
                alert_id=alert.id,
                at=now,
                action="queued" if level == 0 else "escalated",
                actor=actor,
                note=", ".join(queued.sent_to),
            )
        )
