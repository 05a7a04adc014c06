"""The counter's naloxone and safe-storage prompts: the facts gathered from the ledger and the
household's records, the prompts decided by `app.households.home_safety.prompts`.

The counter composes dosing (today's take-homes, the doses withheld for intoxication) and
households (children, naloxone, advice, boxes), so the gathering lives here, above both. A
prompt is guidance shown on the counter page and in `GET /counter/prompts/{patient_id}`; it
never blocks a handover (docs/decisions.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app import kit
from app.actor import Actor
from app.auth.policy import require_role
from app.auth.roles import Role
from app.clock import local_date
from app.config import PolicySettings, Settings
from app.db import UnitOfWork
from app.dosing.models import DoseState, InstalmentDay, Mode, Reassessment
from app.households import home_safety
from app.households.models import BoxConfirmation, NaloxoneSupply, StorageAdvice
from app.households.naloxone import HOME_SAFETY_RECORDERS
from app.households.repository import current_children
from app.patients import repository as patients_repository
from app.patients.models import Patient
from app.prescriptions import dose_plan

COUNTER_ROLES = {Role.PHARMACIST, Role.TECHNICIAN, Role.ADMIN}
INTOXICATED = "intoxicated%"


@dataclass(frozen=True, slots=True)
class PatientPrompts:
    patient: Patient
    prompts: tuple[home_safety.Prompt, ...]


def _take_home_today(session: Session, patient_id: UUID, today: date) -> bool:
    """Methadone goes home today: a take-home day, or the evening part of a split dose
    swallowed here in the morning (issue 20 §2)."""
    rows = session.execute(
        select(InstalmentDay.mode, InstalmentDay.state, InstalmentDay.parts).where(
            InstalmentDay.patient_id == patient_id,
            InstalmentDay.collect_on == today,
            InstalmentDay.state.in_((DoseState.DUE, DoseState.COLLECTED, DoseState.SUPERVISED)),
        )
    )
    return any(
        (mode == Mode.TAKE_HOME and state != DoseState.SUPERVISED)
        or dose_plan.home_part_mg(parts) > 0
        for mode, state, parts in rows
    )


def _intoxicated_on(session: Session, patient_id: UUID, today: date) -> date | None:
    since = today - timedelta(days=home_safety.INTOXICATION_WINDOW_DAYS)
    withheld = session.scalar(
        select(func.max(InstalmentDay.dose_date)).where(
            InstalmentDay.patient_id == patient_id,
            InstalmentDay.state == DoseState.WITHHELD,
            InstalmentDay.reason.like(INTOXICATED),
            InstalmentDay.dose_date >= since,
        )
    )
    # A patient withheld and reassessed fit the same day was still intoxicated that morning.
    reassessed = session.scalar(
        select(func.max(Reassessment.dose_date)).where(
            Reassessment.patient_id == patient_id,
            Reassessment.withhold_reason.like(INTOXICATED),
            Reassessment.dose_date >= since,
        )
    )
    days = [d for d in (withheld, reassessed) if d is not None]
    return max(days) if days else None


def facts_for(
    session: Session, patient: Patient, today: date, policy: PolicySettings
) -> home_safety.HomeSafetyFacts | None:
    """The home-safety facts of the patient's household (None: no household on record)."""
    household_id = patient.household_id
    if household_id is None:
        return None
    children = [
        c
        for c in current_children(session, household_id, today)
        if c.unborn or kit.age_on(c.date_of_birth, today) < policy.child_age_years
    ]
    naloxone = session.execute(
        select(NaloxoneSupply.supplied_on, NaloxoneSupply.expires_on).where(
            NaloxoneSupply.household_id == household_id
        )
    ).all()
    advice = session.execute(
        select(StorageAdvice.created_at, StorageAdvice.topics).where(
            StorageAdvice.household_id == household_id
        )
    ).all()
    box_at = session.scalar(
        select(func.max(BoxConfirmation.created_at)).where(
            or_(
                BoxConfirmation.household_id == household_id,
                BoxConfirmation.patient_id == patient.id,
            )
        )
    )
    return home_safety.HomeSafetyFacts(
        today=today,
        children=len(children),
        take_home_today=_take_home_today(session, patient.id, today),
        naloxone=tuple((supplied, expires) for supplied, expires in naloxone),
        intoxicated_on=_intoxicated_on(session, patient.id, today),
        advice=tuple(home_safety.AdviceGiven(at, frozenset(topics)) for at, topics in advice),
        box_confirmed_at=box_at,
    )


def prompts_for(
    session: Session, patient: Patient, today: date, policy: PolicySettings
) -> tuple[home_safety.Prompt, ...]:
    facts = facts_for(session, patient, today, policy)
    return home_safety.prompts(facts) if facts is not None else ()


def patient_prompts(
    uow: UnitOfWork, *, actor: Actor, patient_id: UUID, today: date, policy: PolicySettings
) -> PatientPrompts:
    """One patient's prompts, for the counter's own route."""
    require_role(actor, COUNTER_ROLES, "use the counter")
    with uow:
        patient = patients_repository.load_visible(uow.session, actor, patient_id)
        return PatientPrompts(patient, prompts_for(uow.session, patient, today, policy))


def _candidates(session: Session, pharmacy_id: UUID, today: date) -> Iterable[UUID]:
    """Patients of this counter with a take-home today or a dose withheld for intoxication in
    the window: the only ones a prompt can concern."""
    since = today - timedelta(days=home_safety.INTOXICATION_WINDOW_DAYS)
    found = set(
        session.scalars(
            select(InstalmentDay.patient_id)
            .where(
                InstalmentDay.pharmacy_id == pharmacy_id,
                or_(
                    (InstalmentDay.collect_on == today) & (InstalmentDay.mode == Mode.TAKE_HOME),
                    (InstalmentDay.state == DoseState.WITHHELD)
                    & InstalmentDay.reason.like(INTOXICATED)
                    & (InstalmentDay.dose_date >= since),
                ),
            )
            .distinct()
        )
    )
    # The evening part of a split dose goes home on a supervised day too.
    split_today = session.execute(
        select(InstalmentDay.patient_id, InstalmentDay.parts).where(
            InstalmentDay.pharmacy_id == pharmacy_id,
            InstalmentDay.collect_on == today,
            InstalmentDay.mode == Mode.SUPERVISED,
        )
    )
    found |= {patient_id for patient_id, parts in split_today if dose_plan.home_part_mg(parts) > 0}
    return found


def counter_prompts(
    uow: UnitOfWork, *, actor: Actor, today: date, policy: PolicySettings
) -> list[PatientPrompts]:
    """Today's prompts at the caller's counter, by patient name (the counter page's list)."""
    if actor.pharmacy_id is None:
        return []
    with uow:
        session = uow.session
        found = []
        for patient_id in sorted(set(_candidates(session, actor.pharmacy_id, today))):
            patient = session.get(Patient, patient_id)
            if patient is None or not patients_repository.visible_to(actor, patient):
                continue
            prompts = prompts_for(session, patient, today, policy)
            if prompts:
                found.append(PatientPrompts(patient, prompts))
        found.sort(key=lambda p: (p.patient.family_name, p.patient.given_name))
        return found


def page_context(
    uow: UnitOfWork, actor: Actor, now: datetime, settings: Settings
) -> dict[str, Any]:
    """What the counter page's home-safety card shows (`counter/_home_safety.html`)."""
    today = local_date(now, settings.timezone)
    return {
        "patients": counter_prompts(uow, actor=actor, today=today, policy=settings.policy),
        "topics": home_safety.ADVICE_TOPICS,
        "products": home_safety.NALOXONE_PRODUCTS,
        "today": today,
        "may_record": actor.role in HOME_SAFETY_RECORDERS,
    }
