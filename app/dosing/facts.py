"""Gather what the counter rules need from the database: the facts, never the decision.

Every query here is bounded by date or by patient, so its cost does not grow with history.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from app import kit
from app.auth.models import User
from app.config import PolicySettings
from app.dosing import rules
from app.dosing.models import DoseState, InstalmentDay, Release
from app.households.models import BoxConfirmation, Child, Household
from app.households.service import age_on
from app.patients.models import Patient
from app.pharmacies.models import Pharmacy
from app.prescriptions.models import Prescription, Status

# A missed streak longer than this is reported as this: the counter is blocked long before.
STREAK_HORIZON = 31
LIVE = (Status.PENDING_CHECK, Status.ACTIVE, Status.SUSPENDED)


def counter_policy(policy: PolicySettings) -> rules.CounterPolicy:
    return rules.CounterPolicy(
        missed_threshold=policy.missed_threshold,
        child_age_years=policy.child_age_years,
        box_validity_days=policy.box_validity_days,
        children_confirmation_days=policy.children_confirmation_days,
        household_methadone_mg=Decimal(policy.household_methadone_mg),
        high_dose_mg=Decimal(policy.high_dose_mg),
        prescription_ending_days=policy.prescription_ending_days,
    )


def current_prescription(
    session: Session, patient_id: UUID, product: str | None, today: date
) -> Prescription | None:
    """The live prescription covering today, else the most recent one (to explain why not)."""
    query = select(Prescription).where(
        Prescription.patient_id == patient_id, Prescription.status != Status.CANCELLED
    )
    if product is not None:
        query = query.where(Prescription.product == product)
    covering = session.scalar(
        query.where(
            Prescription.start_on <= today,
            Prescription.end_on >= today,
            Prescription.status.in_(LIVE),
        )
        .order_by(Prescription.start_on.desc())
        .limit(1)
    )
    if covering is not None:
        return covering
    upcoming = session.scalar(
        query.where(Prescription.start_on > today, Prescription.status.in_(LIVE))
        .order_by(Prescription.start_on)
        .limit(1)
    )
    if upcoming is not None:
        return upcoming
    return session.scalar(query.order_by(Prescription.end_on.desc()).limit(1))


def missed_streak(session: Session, patient_id: UUID, product: str, *, through: date) -> int:
    """Consecutive missed dose days up to and including `through`, across prescriptions.

    A prescriber's release resets the count: days missed before the release date do not count.
    A day with no instalment at all (a gap between prescriptions) ends the run.
    """
    return missed_streaks(session, {(patient_id, product)}, through=through)[(patient_id, product)]


def missed_streaks(
    session: Session, pairs: Iterable[tuple[UUID, str]], *, through: date
) -> dict[tuple[UUID, str], int]:
    """`missed_streak` for many (patient, product) pairs in a few set-based queries.

    End of day asks this for every patient it marked missed; one query per patient would make
    closing a large day scale with the number of patients rather than with the data.
    """
    wanted = set(pairs)
    patient_ids = sorted({patient_id for patient_id, _ in wanted})
    horizon = through - timedelta(days=STREAK_HORIZON)
    released: dict[UUID, date] = {}
    rows: dict[tuple[UUID, str], list[tuple[date, str]]] = {pair: [] for pair in wanted}
    for batch in kit.chunks(patient_ids):
        for patient_id, released_on in session.execute(
            select(Release.patient_id, func.max(Release.released_on))
            .where(Release.patient_id.in_(batch))
            .group_by(Release.patient_id)
        ):
            released[patient_id] = released_on
        for patient_id, product, dose_date, state in session.execute(
            select(
                InstalmentDay.patient_id,
                InstalmentDay.product,
                InstalmentDay.dose_date,
                InstalmentDay.state,
            ).where(
                InstalmentDay.patient_id.in_(batch),
                InstalmentDay.dose_date <= through,
                InstalmentDay.dose_date > horizon,
            )
        ):
            if (patient_id, product) in rows:
                rows[(patient_id, product)].append((dose_date, state))
    streaks = {}
    for (patient_id, product), days in rows.items():
        since = horizon
        release = released.get(patient_id)
        if release is not None and release > since:
            since = release - timedelta(days=1)
        streak = 0
        expected = through
        for dose_date, state in sorted(days, reverse=True):
            if dose_date <= since:
                break
            if dose_date != expected or state != DoseState.MISSED:
                break
            streak += 1
            expected -= timedelta(days=1)
        streaks[(patient_id, product)] = streak
    return streaks


def children_facts(children: Iterable[Child], today: date) -> tuple[rules.ChildFacts, ...]:
    return tuple(
        rules.ChildFacts(
            age_years=age_on(c.date_of_birth, today),
            protection_status=c.protection_status,  # type: ignore[arg-type]
        )
        for c in children
    )


def methadone_at_home(session: Session, household_id: UUID, today: date) -> Decimal:
    """Take-home mg handed over to any member and not yet past its dose date."""
    rows = session.execute(
        select(InstalmentDay.dose_date, InstalmentDay.dose_mg)
        .join(Patient, Patient.id == InstalmentDay.patient_id)
        .where(
            Patient.household_id == household_id,
            InstalmentDay.state == DoseState.COLLECTED,
            InstalmentDay.dose_date >= today,
            InstalmentDay.product.like("methadone%"),
        )
    ).all()
    return rules.household_methadone_at_home(((d, Decimal(mg)) for d, mg in rows), today=today)


def box_valid_until(session: Session, patient_id: UUID) -> date | None:
    return session.scalar(
        select(func.max(BoxConfirmation.valid_until)).where(
            BoxConfirmation.patient_id == patient_id
        )
    )


def household_facts(session: Session, patient: Patient, today: date) -> rules.HouseholdFacts | None:
    from app.households.service import current_children

    if patient.household_id is None:
        return None
    household = session.get(Household, patient.household_id)
    assert household is not None
    return rules.HouseholdFacts(
        children=children_facts(current_children(session, household.id, today), today),
        children_confirmed_on=household.children_confirmed_on,
        box_valid_until=box_valid_until(session, patient.id),
        methadone_at_home_mg=methadone_at_home(session, household.id, today),
    )


def instalments_today(
    session: Session, patient_id: UUID, product: str, today: date
) -> list[InstalmentDay]:
    return list(
        session.scalars(
            select(InstalmentDay)
            .where(
                InstalmentDay.patient_id == patient_id,
                InstalmentDay.product == product,
                InstalmentDay.collect_on == today,
            )
            .order_by(InstalmentDay.dose_date)
        )
    )


def as_rule_days(
    session: Session, rows: Sequence[InstalmentDay], timezone: str | None = None
) -> tuple[rules.InstalmentDay, ...]:
    """The ledger rows as the rules see them; `recorded_at` in `timezone` (the counter's local
    time) when given, so "already recorded at …" reads as the pharmacy's clock showed it."""
    zone = ZoneInfo(timezone) if timezone else None
    names: dict[UUID, str] = {}
    recorder_ids = {r.recorded_by_id for r in rows if r.recorded_by_id}
    if recorder_ids:
        names = {
            user_id: name
            for user_id, name in session.execute(
                select(User.id, User.display_name).where(User.id.in_(recorder_ids))
            )
        }
    return tuple(
        rules.InstalmentDay(
            dose_date=r.dose_date,
            collect_on=r.collect_on,
            mode=r.mode,  # type: ignore[arg-type]
            dose_mg=Decimal(r.dose_mg),
            state=r.state,  # type: ignore[arg-type]
            recorded_by=names.get(r.recorded_by_id)
            if r.recorded_by_id
            else ("end of day" if r.state == DoseState.MISSED else None),
            recorded_at=r.recorded_at.astimezone(zone) if zone and r.recorded_at else r.recorded_at,
        )
        for r in rows
    )


def previous_dose_mg(
    session: Session, patient_id: UUID, product: str, today: date
) -> Decimal | None:
    value = session.scalar(
        select(InstalmentDay.dose_mg)
        .where(
            InstalmentDay.patient_id == patient_id,
            InstalmentDay.product == product,
            InstalmentDay.dose_date < today,
            InstalmentDay.state.in_((DoseState.SUPERVISED, DoseState.COLLECTED)),
        )
        .order_by(InstalmentDay.dose_date.desc())
        .limit(1)
    )
    return Decimal(value) if value is not None else None


def collections_around(
    session: Session, patient_id: UUID, product: str, today: date
) -> tuple[date | None, date | None]:
    """The next collection still due after today, and the last missed one before it: one
    query over the patient's rows for the product, which number in the hundreds at most."""
    collect_on, state = InstalmentDay.collect_on, InstalmentDay.state
    row = session.execute(
        select(
            func.min(case((and_(collect_on > today, state == DoseState.DUE), collect_on))),
            func.max(case((and_(collect_on < today, state == DoseState.MISSED), collect_on))),
        ).where(InstalmentDay.patient_id == patient_id, InstalmentDay.product == product)
    ).one()
    return row[0], row[1]


def gather(
    session: Session,
    *,
    patient: Patient,
    product: str | None,
    today: date,
    counter_pharmacy_id: UUID | None,
    intoxicated: bool,
) -> tuple[rules.CounterFacts, Prescription | None, list[InstalmentDay]]:
    """Everything `rules.decide` needs about one patient at the counter today."""
    prescription = current_prescription(session, patient.id, product, today)
    product = prescription.product if prescription else product
    rows = instalments_today(session, patient.id, product, today) if product else []
    facts_rx = None
    streak = 0
    next_collect = last_missed = None
    if prescription is not None and product is not None:
        successor = session.scalar(
            select(func.count())
            .select_from(Prescription)
            .where(
                Prescription.patient_id == patient.id,
                Prescription.product == product,
                Prescription.id != prescription.id,
                Prescription.status.in_(LIVE),
                Prescription.start_on > today,
            )
        )
        facts_rx = rules.PrescriptionFacts(
            status=prescription.status,  # type: ignore[arg-type]
            start_on=prescription.start_on,
            end_on=prescription.end_on,
            daily_dose_mg=Decimal(prescription.daily_dose_mg),
            previous_daily_dose_mg=previous_dose_mg(session, patient.id, product, today),
            pharmacy_id=str(prescription.pharmacy_id),
            has_successor=bool(successor),
        )
        streak = missed_streak(session, patient.id, product, through=today - timedelta(days=1))
        next_collect, last_missed = collections_around(session, patient.id, product, today)
    counter = session.get(Pharmacy, counter_pharmacy_id or patient.pharmacy_id)
    facts = rules.CounterFacts(
        today=today,
        counter_pharmacy_id=str(counter_pharmacy_id or patient.pharmacy_id),
        prescription=facts_rx,
        instalments=as_rule_days(session, rows, counter.timezone if counter else None),
        next_collect_on=next_collect,
        last_missed_collect_on=last_missed,
        missed_streak=streak,
        household=household_facts(session, patient, today),
        intoxicated=intoxicated,
    )
    return facts, prescription, rows
