"""Gather what the counter rules need from the database: the facts, never the decision.

Every query here is bounded by date or by patient, so its cost does not grow with history.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import NamedTuple
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
from app.households.service import age_on, lives_there
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


def current_prescriptions(
    session: Session,
    patient_ids: Sequence[UUID],
    product: str | None,
    today: date,
    *,
    live: Mapping[UUID, Sequence[Prescription]] | None = None,
) -> dict[UUID, Prescription]:
    """Each patient's current prescription: the live one covering today, else the next live
    one, else the most recent one (to explain why not).

    The live ones not yet ended come in one query (a bounded set: a patient has a few at most,
    whatever their history); only a patient with none of those has their most recent one
    looked up (`live`: already loaded by the caller).
    """
    if live is None:
        live = _live_from(session, patient_ids, product, today)
    chosen: dict[UUID, Prescription] = {}
    for patient_id in patient_ids:
        found = _covering_or_next(live.get(patient_id, []), today)
        if found is not None:
            chosen[patient_id] = found
    rest = [pid for pid in patient_ids if pid not in chosen]
    for batch in kit.chunks(rest):
        query = select(Prescription).where(
            Prescription.patient_id.in_(batch), Prescription.status != Status.CANCELLED
        )
        if product is not None:
            query = query.where(Prescription.product == product)
        latest = query.subquery()
        ends = (
            select(latest.c.patient_id, func.max(latest.c.end_on).label("end_on"))
            .group_by(latest.c.patient_id)
            .subquery()
        )
        for rx in session.scalars(
            query.join(
                ends,
                and_(
                    Prescription.patient_id == ends.c.patient_id,
                    Prescription.end_on == ends.c.end_on,
                ),
            ).order_by(Prescription.start_on)
        ):
            chosen[rx.patient_id] = rx  # of two ending the same day, the later-starting one
    return chosen


def _live_from(
    session: Session, patient_ids: Sequence[UUID], product: str | None, today: date
) -> dict[UUID, list[Prescription]]:
    """Each patient's live prescriptions that end today or later (covering today or to come)."""
    found: dict[UUID, list[Prescription]] = {}
    for batch in kit.chunks(patient_ids):
        query = select(Prescription).where(
            Prescription.patient_id.in_(batch),
            Prescription.status.in_(LIVE),
            Prescription.end_on >= today,
        )
        if product is not None:
            query = query.where(Prescription.product == product)
        for rx in session.scalars(query):
            found.setdefault(rx.patient_id, []).append(rx)
    return found


def _covering_or_next(live: Sequence[Prescription], today: date) -> Prescription | None:
    covering = [rx for rx in live if rx.start_on <= today <= rx.end_on]
    if covering:
        return max(covering, key=lambda rx: rx.start_on)
    upcoming = [rx for rx in live if rx.start_on > today]
    return min(upcoming, key=lambda rx: rx.start_on) if upcoming else None


def _has_successor(live: Sequence[Prescription], current: Prescription, today: date) -> bool:
    """Another live prescription for the same product starts after today (the next one is
    already written, so an ending prescription is no cause for a warning)."""
    return any(
        rx.id != current.id and rx.product == current.product and rx.start_on > today for rx in live
    )


def missed_streaks(
    session: Session, pairs: Iterable[tuple[UUID, str]], *, through: date
) -> dict[tuple[UUID, str], int]:
    """Consecutive missed dose days up to and including `through`, across prescriptions, for
    many (patient, product) pairs in a few set-based queries.

    A prescriber's release resets the count: days missed before the release date do not count.
    A day with no instalment at all (a gap between prescriptions) ends the run.

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
    return methadone_at_home_by_household(session, [household_id], today).get(
        household_id, Decimal(0)
    )


def methadone_at_home_by_household(
    session: Session, household_ids: Iterable[UUID], today: date
) -> dict[UUID, Decimal]:
    take_homes: dict[UUID, list[tuple[date, Decimal]]] = {}
    for batch in kit.chunks(sorted(set(household_ids))):
        for household_id, dose_date, mg in session.execute(
            select(Patient.household_id, InstalmentDay.dose_date, InstalmentDay.dose_mg)
            .join(Patient, Patient.id == InstalmentDay.patient_id)
            .where(
                Patient.household_id.in_(batch),
                InstalmentDay.state == DoseState.COLLECTED,
                InstalmentDay.dose_date >= today,
                InstalmentDay.product.like("methadone%"),
            )
        ):
            if household_id is not None:  # always, given the IN; said for the type checker
                take_homes.setdefault(household_id, []).append((dose_date, Decimal(mg)))
    return {
        household_id: rules.household_methadone_at_home(doses, today=today)
        for household_id, doses in take_homes.items()
    }


def children_by_household(
    session: Session, household_ids: Iterable[UUID], day: date
) -> dict[UUID, list[Child]]:
    """Children living in each household on `day` (lives_from/lives_to respected)."""
    found: dict[UUID, list[Child]] = {}
    for batch in kit.chunks(sorted(set(household_ids))):
        for child in session.scalars(
            select(Child).where(Child.household_id.in_(batch)).order_by(Child.date_of_birth)
        ):
            if child.household_id is not None and lives_there(child, day):
                found.setdefault(child.household_id, []).append(child)
    return found


def household_facts_by_patient(
    session: Session, patients: Sequence[Patient], today: date
) -> dict[UUID, rules.HouseholdFacts]:
    """The household facts of every patient who lives in one: children, their confirmation,
    the patient's own lockable box, and the methadone already at home."""
    household_ids = {p.household_id for p in patients if p.household_id}
    if not household_ids:
        return {}
    households = {
        h.id: h
        for batch in kit.chunks(sorted(household_ids))
        for h in session.scalars(select(Household).where(Household.id.in_(batch)))
    }
    children = children_by_household(session, household_ids, today)
    at_home = methadone_at_home_by_household(session, household_ids, today)
    boxes: dict[UUID, date] = {}
    for batch in kit.chunks([p.id for p in patients if p.household_id]):
        for patient_id, valid_until in session.execute(
            select(BoxConfirmation.patient_id, func.max(BoxConfirmation.valid_until))
            .where(BoxConfirmation.patient_id.in_(batch))
            .group_by(BoxConfirmation.patient_id)
        ):
            boxes[patient_id] = valid_until
    return {
        p.id: rules.HouseholdFacts(
            children=children_facts(children.get(p.household_id, []), today),
            children_confirmed_on=households[p.household_id].children_confirmed_on,
            box_valid_until=boxes.get(p.id),
            methadone_at_home_mg=at_home.get(p.household_id, Decimal(0)),
        )
        for p in patients
        if p.household_id
    }


def _rows_today(
    session: Session, wanted: Iterable[tuple[UUID, str]], today: date
) -> dict[tuple[UUID, str], list[InstalmentDay]]:
    """Each (patient, product)'s instalments to collect today, in dose-date order."""
    pairs = set(wanted)
    found: dict[tuple[UUID, str], list[InstalmentDay]] = {pair: [] for pair in pairs}
    for batch in kit.chunks(sorted({pid for pid, _ in pairs})):
        for row in session.scalars(
            select(InstalmentDay)
            .where(InstalmentDay.patient_id.in_(batch), InstalmentDay.collect_on == today)
            .order_by(InstalmentDay.dose_date)
        ):
            if (row.patient_id, row.product) in found:
                found[(row.patient_id, row.product)].append(row)
    return found


def _recorder_names(session: Session, rows: Sequence[InstalmentDay]) -> dict[UUID, str]:
    recorder_ids = sorted({r.recorded_by_id for r in rows if r.recorded_by_id})
    names: dict[UUID, str] = {}
    for batch in kit.chunks(recorder_ids):
        for user_id, name in session.execute(
            select(User.id, User.display_name).where(User.id.in_(batch))
        ):
            names[user_id] = name
    return names


def _rule_days(
    rows: Sequence[InstalmentDay], names: Mapping[UUID, str], timezone: str | None
) -> tuple[rules.InstalmentDay, ...]:
    zone = ZoneInfo(timezone) if timezone else None
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


def _previous_doses(
    session: Session, current: Mapping[UUID, Prescription], today: date
) -> dict[tuple[UUID, str], Decimal]:
    """The last dose each patient was actually given of their current prescription's product
    before today: a correlated `ORDER BY dose_date DESC LIMIT 1` per patient, which walks the
    (patient_id, dose_date) index back from today and stops at the first supply, so its cost
    does not grow with the years of history behind it."""
    supplied = (DoseState.SUPERVISED, DoseState.COLLECTED)
    last = (
        select(InstalmentDay.dose_mg)
        .where(
            InstalmentDay.patient_id == Prescription.patient_id,
            InstalmentDay.product == Prescription.product,
            InstalmentDay.dose_date < today,
            InstalmentDay.state.in_(supplied),
        )
        .order_by(InstalmentDay.dose_date.desc())
        .limit(1)
        .correlate(Prescription)
        .scalar_subquery()
    )
    found: dict[tuple[UUID, str], Decimal] = {}
    for batch in kit.chunks([rx.id for rx in current.values()]):
        for patient_id, product, mg in session.execute(
            select(Prescription.patient_id, Prescription.product, last).where(
                Prescription.id.in_(batch)
            )
        ):
            if mg is not None:
                found[(patient_id, product)] = Decimal(mg)
    return found


def _collections_around(
    session: Session, pairs: Iterable[tuple[UUID, str]], today: date
) -> dict[tuple[UUID, str], tuple[date | None, date | None]]:
    """For each (patient, product): the next collection still due after today, and the last
    missed one before it.

    The rules only name the last missed collection while a missed streak runs, and a streak
    is counted back at most `STREAK_HORIZON` days; a take-home is collected at most a
    fortnight before its dose date. Looking back that far is enough, and bounds the rows read
    (by the patient's dose-date index) whatever the length of their history.
    """
    wanted = set(pairs)
    collect_on, state = InstalmentDay.collect_on, InstalmentDay.state
    since = today - timedelta(days=STREAK_HORIZON + 14)
    found: dict[tuple[UUID, str], tuple[date | None, date | None]] = {}
    for batch in kit.chunks(sorted({pid for pid, _ in wanted})):
        for patient_id, product, next_due, last_missed in session.execute(
            select(
                InstalmentDay.patient_id,
                InstalmentDay.product,
                func.min(case((and_(collect_on > today, state == DoseState.DUE), collect_on))),
                func.max(case((and_(collect_on < today, state == DoseState.MISSED), collect_on))),
            )
            .where(
                InstalmentDay.patient_id.in_(batch),
                InstalmentDay.dose_date >= since,  # collected on or before its dose date
                InstalmentDay.collect_on >= since,
            )
            .group_by(InstalmentDay.patient_id, InstalmentDay.product)
        ):
            if (patient_id, product) in wanted:
                found[(patient_id, product)] = (next_due, last_missed)
    return found


class Gathered(NamedTuple):
    facts: rules.CounterFacts
    prescription: Prescription | None
    rows: list[InstalmentDay]


def gather_many(
    session: Session,
    patients: Sequence[Patient],
    *,
    product: str | None,
    today: date,
    counter_pharmacy_id: UUID | None,
    intoxicated: bool,
) -> dict[UUID, Gathered]:
    """Everything `rules.decide` needs about each patient at the counter today, in a dozen
    queries however many patients there are (a whole due list).

    One code path for one patient and for many (`service.views`), so the counter's answer for
    a patient is the same whether it was asked at the counter or in the due list.
    """
    ids = [p.id for p in patients]
    live = _live_from(session, ids, product, today)
    current = current_prescriptions(session, ids, product, today, live=live)
    pairs = {(pid, rx.product) for pid, rx in current.items()}
    if product is not None:
        pairs |= {(pid, product) for pid in ids if pid not in current}
    rows = _rows_today(session, pairs, today)
    previous = _previous_doses(session, current, today)
    streaks = missed_streaks(session, pairs, through=today - timedelta(days=1))
    around = _collections_around(session, pairs, today)
    households = household_facts_by_patient(session, patients, today)
    counters = {counter_pharmacy_id or p.pharmacy_id for p in patients}
    zones = {
        ph.id: ph.timezone
        for ph in session.scalars(select(Pharmacy).where(Pharmacy.id.in_(counters)))
    }
    names = _recorder_names(session, [r for day in rows.values() for r in day])
    gathered = {}
    for patient in patients:
        rx = current.get(patient.id)
        chosen = rx.product if rx else product
        pair = (patient.id, chosen) if chosen else None
        today_rows = rows.get(pair, []) if pair else []
        facts_rx = None
        if rx is not None and pair is not None:
            facts_rx = rules.PrescriptionFacts(
                status=rx.status,  # type: ignore[arg-type]
                start_on=rx.start_on,
                end_on=rx.end_on,
                daily_dose_mg=Decimal(rx.daily_dose_mg),
                previous_daily_dose_mg=previous.get(pair),
                pharmacy_id=str(rx.pharmacy_id),
                has_successor=_has_successor(live.get(patient.id, []), rx, today),
            )
        next_collect, last_missed = around.get(pair, (None, None)) if rx and pair else (None, None)
        counter_id = counter_pharmacy_id or patient.pharmacy_id
        facts = rules.CounterFacts(
            today=today,
            counter_pharmacy_id=str(counter_id),
            prescription=facts_rx,
            instalments=_rule_days(today_rows, names, zones.get(counter_id)),
            next_collect_on=next_collect,
            last_missed_collect_on=last_missed,
            missed_streak=streaks.get(pair, 0) if rx and pair else 0,
            household=households.get(patient.id),
            intoxicated=intoxicated,
        )
        gathered[patient.id] = Gathered(facts, rx, today_rows)
    return gathered
