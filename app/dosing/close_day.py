"""Close of day: every dose still due is marked missed in one set-based statement, and the
evening's alerts are raised from the same count the counter blocks on (DESIGN §3)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from app import events as domain_events
from app import kit
from app.actor import SYSTEM, Actor
from app.audit import service as audit_service
from app.auth.policy import require_role
from app.auth.roles import Role
from app.clock import local_midnight_utc
from app.config import PolicySettings
from app.db import UnitOfWork, retrying
from app.dosing import events as dosing_events
from app.dosing import facts as dosing_facts
from app.dosing import rules
from app.dosing.models import (
    NOT_TAKEN_STATES,
    DoseState,
    InstalmentDay,
)
from app.errors import InvalidInput
from app.patients.models import Patient
from app.pharmacies import repository as pharmacies_repository
from app.pharmacies.models import Pharmacy
from app.prescriptions.models import Prescription, Status
from app.safeguarding import rules as safeguarding_rules
from app.safeguarding import service as safeguarding_service


@dataclass(frozen=True, slots=True)
class DayClosed:
    date: date
    missed: int
    patients: int
    alerts: int


@retrying
def close_day(
    uow: UnitOfWork,
    *,
    actor: Actor,
    pharmacy_id: UUID,
    day: date,
    today: date,
    policy: PolicySettings,
    now: datetime,
) -> DayClosed:
    """Mark every instalment due for collection by `day` and not recorded as missed, in one
    statement, then run the missed-dose rules for every patient who took no dose on `day`.

    Under the Home Office "missed remaining" wording a missed instalment's later days stay due
    (collectable up to their own date), so only the days up to `day` are marked. The rules run
    for the patients marked now and for those whose `day` was already without a dose (a
    take-home instalment marked missed on its collection day, a withheld dose), so the alert
    follows the same count of days as the counter's block. Running it twice changes nothing
    the second time: only rows still `due` are marked, and an alert already raised for the day
    is left alone.
    """
    if actor is not SYSTEM:
        require_role(actor, {Role.PHARMACIST, Role.ADMIN}, "close the day")
    if day > today:
        raise InvalidInput("date", "not_in_future", "a day can be closed once it has begun")
    with uow:
        session = uow.session
        if actor is not SYSTEM:
            pharmacies_repository.load_visible(session, actor, pharmacy_id)
        result = session.execute(
            update(InstalmentDay)
            .where(
                InstalmentDay.pharmacy_id == pharmacy_id,
                InstalmentDay.collect_on <= day,
                InstalmentDay.state == DoseState.DUE,
                or_(
                    InstalmentDay.remaining_collectable.is_(False),
                    InstalmentDay.dose_date <= day,
                ),
            )
            .values(state=DoseState.MISSED, recorded_at=now)
            .returning(InstalmentDay.patient_id, InstalmentDay.product)
            .execution_options(synchronize_session=False)
        )
        marked = result.all()
        touched_pairs = {(row[0], row[1]) for row in marked}
        touched = sorted(touched_pairs)
        # Who took no dose on `day`, as known by that evening: the rows marked now, and those
        # decided by the end of the day (a take-home instalment marked missed on its collection
        # day, a dose withheld). A row decided later (a later close-day marked it, a late
        # prescription's day) was alerted on by whatever decided it.
        zone = session.scalar(select(Pharmacy.timezone).where(Pharmacy.id == pharmacy_id))
        day_ends = local_midnight_utc(day + timedelta(days=1), zone or "Europe/London")
        without = {
            (patient_id, product): state
            for patient_id, product, state, recorded_at in session.execute(
                select(
                    InstalmentDay.patient_id,
                    InstalmentDay.product,
                    InstalmentDay.state,
                    InstalmentDay.recorded_at,
                ).where(
                    InstalmentDay.pharmacy_id == pharmacy_id,
                    InstalmentDay.dose_date == day,
                    InstalmentDay.state.in_(NOT_TAKEN_STATES),
                )
            )
            if (patient_id, product) in touched_pairs
            or (recorded_at is not None and recorded_at < day_ends)
        }
        alerts = 0
        if without:
            # Set-based: a few queries for all these patients, not several per patient.
            # Only the columns the rules need: most of them raise nothing, and building ten
            # thousand full ORM objects was a fifth of the close.
            patients = {
                p.id: p
                for batch in kit.chunks({pair[0] for pair in without})
                for p in session.execute(
                    select(Patient.id, Patient.pharmacy_id, Patient.household_id).where(
                        Patient.id.in_(batch)
                    )
                )
            }
            lapsed = dosing_facts.lapses(session, without, through=day, pharmacy_id=pharmacy_id)
            households = {p.household_id for p in patients.values() if p.household_id}
            children_by_household = dosing_facts.children_by_household(session, households, day)
            thresholds = _thresholds(session, list(without), policy)
            requests = []
            for (patient_id, product), state in sorted(without.items()):
                patient = patients[patient_id]
                living = (
                    children_by_household.get(patient.household_id, [])
                    if patient.household_id
                    else []
                )
                events = safeguarding_rules.missed_dose_events(
                    days_without_dose=lapsed[(patient_id, product)].days,
                    children=dosing_facts.children_facts(living, day),
                    policy_missed_threshold=thresholds[(patient_id, product)],
                    withheld_today=state == DoseState.WITHHELD,
                )
                requests += [
                    safeguarding_service.Raise(
                        event, patient.pharmacy_id, patient.id, patient.household_id
                    )
                    for event in events
                ]
            alerts = len(
                safeguarding_service.raise_alerts(
                    session,
                    requests,
                    actor=actor,
                    day=day,
                    now=now,
                    routing=policy.alert_routing,
                    repeats=False,
                )
            )
        # The rest of the evening's checks (an injection past its window), in this transaction.
        domain_events.publish(
            session, dosing_events.DayClosed(pharmacy_id, day, actor, now, policy)
        )
        audit_service.record(
            session,
            actor,
            "day.closed",
            entity="pharmacy",
            entity_id=pharmacy_id,
            at=now,
            pharmacy_id=pharmacy_id,
            facts={"date": day, "missed": len(marked), "patients": len(touched), "alerts": alerts},
        )
        uow.commit()
        return DayClosed(day, len(marked), len(touched), alerts)


def _thresholds(
    session: Session, pairs: Sequence[tuple[UUID, str]], policy: PolicySettings
) -> dict[tuple[UUID, str], int]:
    """The stopping threshold per (patient, product): the drug's setting (methadone and
    buprenorphine may differ), and 3 at most where the patient's current prescription carries
    Home Office wording 3 (the prescriber's direction)."""
    found = {pair: policy.missed_threshold_for(dosing_facts.drug_of(pair[1])) for pair in pairs}
    above = {pair for pair, threshold in found.items() if threshold > 3}
    for batch in kit.chunks(sorted({pair[0] for pair in above})):
        for patient_id, product in session.execute(
            select(Prescription.patient_id, Prescription.product).where(
                Prescription.patient_id.in_(batch),
                Prescription.status == Status.ACTIVE,
                Prescription.wording_consult_after_3_missed.is_(True),
            )
        ):
            if (patient_id, product) in above:
                found[(patient_id, product)] = rules.threshold_for(
                    True, found[(patient_id, product)]
                )
    return found
