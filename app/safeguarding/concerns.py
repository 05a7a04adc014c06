"""Concerns a person records: what the rules cannot see, raised to the people who must act.

The serious case reviews this product answers found information "shared" with nobody owning
what happened next. A concern is written with what was seen or told, who else was told outside
the system and on what lawful basis, and a follow-up date; in the same transaction it raises an
alert to the recipients chosen, which travels and escalates like every alert and is closed only
with a note of the action taken (`service._check_note`). The concern rows, with each alert's
deliveries, are the log of information shared: what, with whom, when, why and on what basis.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal
from uuid import UUID, uuid4

from sqlalchemy import or_, select

from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import require_role
from app.auth.roles import Role
from app.config import PolicySettings
from app.db import UnitOfWork
from app.errors import InvalidInput
from app.households import repository as households_repository
from app.patients import repository as patients_repository
from app.safeguarding import alert_vocabulary, concern_alerts, rules
from app.safeguarding import service as safeguarding_service
from app.safeguarding.models import Concern

# Those who see patients and households and may record what they saw (the issue names the
# pharmacist, the technician and the key worker; the prescriber and the lead may too).
RECORDERS = frozenset(
    {
        Role.PHARMACIST,
        Role.TECHNICIAN,
        Role.KEY_WORKER,
        Role.PRESCRIBER,
        Role.SAFEGUARDING_LEAD,
    }
)
# Why sharing was lawful (UK GDPR and the Data Protection Act 2018; docs/decisions.md).
LawfulBasis = Literal[
    "safeguarding", "consent", "vital_interests", "direct_care", "legal_obligation"
]
LAWFUL_BASIS_WORDS = {
    "safeguarding": "safeguarding children or individuals at risk (DPA 2018 Sch. 1 para. 18)",
    "consent": "the person's consent",
    "vital_interests": "to protect someone's life (vital interests)",
    "direct_care": "the patient's direct care",
    "legal_obligation": "a legal obligation",
}
FOLLOW_UP_DAYS = 90  # a follow-up further away than this is not a follow-up


@dataclass(frozen=True, slots=True)
class NewConcern:
    patient_id: UUID | None
    household_id: UUID | None
    category: str
    severity: alert_vocabulary.Severity
    seen: str
    shared_with: str
    lawful_basis: str
    recipients: tuple[rules.Recipient, ...]
    follow_up_on: date | None


def _check(concern: NewConcern, today: date) -> None:
    if concern.patient_id is None and concern.household_id is None:
        raise InvalidInput("patient_id", "required", "name the patient or the household")
    if len(concern.seen.strip()) < 3:
        raise InvalidInput("seen", "required", "say what you saw or were told")
    if not concern.recipients:
        raise InvalidInput("recipients", "required", "choose at least one person to tell")
    if concern.follow_up_on is not None and not (
        today <= concern.follow_up_on <= date.fromordinal(today.toordinal() + FOLLOW_UP_DAYS)
    ):
        raise InvalidInput(
            "follow_up_on",
            "within_90_days",
            f"must be today or within {FOLLOW_UP_DAYS} days",
        )


def record_concern(
    uow: UnitOfWork,
    *,
    actor: Actor,
    concern: NewConcern,
    today: date,
    now: datetime,
    policy: PolicySettings,
) -> Concern:
    """Record a concern and raise its alert in the same transaction."""
    require_role(actor, RECORDERS, "record safeguarding concerns")
    _check(concern, today)
    with uow:
        session = uow.session
        patient = (
            patients_repository.load_visible(session, actor, concern.patient_id)
            if concern.patient_id is not None
            else None
        )
        household_id = concern.household_id or (patient.household_id if patient else None)
        household = (
            households_repository.load_visible(session, actor, household_id)
            if household_id is not None
            else None
        )
        if patient is not None and household is not None and patient.household_id != household.id:
            raise InvalidInput(
                "household_id", "not_the_patients", "is not the household the patient lives in"
            )
        pharmacy_id = (
            patient.pharmacy_id if patient else household.pharmacy_id if household else None
        )
        concern_id = uuid4()
        # The alert first (it names the concern), then the concern with its alert: both rows
        # are append-only, so neither is written twice.
        (event,) = concern_alerts.concern_events(
            category=concern.category,
            severity=concern.severity,
            recipients=concern.recipients,
            record=str(concern_id),
        )
        patient_ref = patient.id if patient else None
        household_ref = household.id if household else None
        alert = safeguarding_service.raise_alert(
            session,
            event,
            actor=actor,
            pharmacy_id=pharmacy_id,
            patient_id=patient_ref,
            household_id=household_ref,
            day=today,
            now=now,
            routing=policy.alert_routing,
        )
        row = Concern(
            id=concern_id,
            pharmacy_id=pharmacy_id,
            patient_id=patient_ref,
            household_id=household_ref,
            category=concern.category,
            severity=concern.severity,
            seen=concern.seen.strip(),
            shared_with=concern.shared_with.strip(),
            lawful_basis=concern.lawful_basis,
            recipients=[str(r) for r in concern.recipients],
            follow_up_on=concern.follow_up_on,
            alert_id=alert.id,
            raised_by_id=actor.id,
            raised_at=now,
        )
        session.add(row)
        session.flush()
        audit_service.record(
            session,
            actor,
            "concern.recorded",
            entity="patient" if row.patient_id else "household",
            entity_id=row.patient_id or row.household_id,
            at=now,
            pharmacy_id=pharmacy_id,
            facts={"concern_id": row.id, "category": row.category, "alert_id": alert.id},
        )
        uow.commit()
        return row


def concerns_about(
    uow: UnitOfWork,
    *,
    actor: Actor,
    patient_id: UUID | None,
    household_id: UUID | None,
    now: datetime,
) -> list[Concern]:
    """The concerns recorded about a patient (and their household) or a household, newest
    first: the information-sharing log for that record (the read is logged)."""
    require_role(actor, RECORDERS | {Role.ADMIN}, "read safeguarding concerns")
    with uow:
        session = uow.session
        subjects = []
        if patient_id is not None:
            patient = patients_repository.load_visible(session, actor, patient_id)
            subjects.append(Concern.patient_id == patient.id)
            if patient.household_id is not None:
                subjects.append(Concern.household_id == patient.household_id)
        if household_id is not None:
            household = households_repository.load_visible(session, actor, household_id)
            subjects.append(Concern.household_id == household.id)
        if not subjects:
            raise InvalidInput("patient_id", "required", "name the patient or the household")
        rows = list(
            session.scalars(
                select(Concern).where(or_(*subjects)).order_by(Concern.raised_at.desc()).limit(200)
            )
        )
        audit_service.record(
            session,
            actor,
            "concerns.viewed",
            entity="patient" if patient_id else "household",
            entity_id=patient_id or household_id,
            at=now,
            facts={"count": len(rows)},
        )
        uow.commit()
        return rows
