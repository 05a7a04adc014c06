"""Gather the counter decision's facts for patients at the counter today (`gather_many`).

One code path for one patient and for a whole due list: the current prescription, today's
instalments, the doses around them, and the shared facts of `app.dosing.facts` (days without a
dose, the household, the prescriber's directions), in a dozen queries however many patients.
Split from `facts.py`, which keeps the facts end of day, intake and the reports read too.

Every query here is bounded by date or by patient, so its cost does not grow with history.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, NamedTuple
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import BindParameter, Date, Uuid, and_, bindparam, case, func, select
from sqlalchemy.orm import Session

from app import kit
from app.auth.models import User
from app.config import PolicySettings
from app.dosing import decision_inputs
from app.dosing.facts import (
    collectable_on,
    drug_of,
    household_facts_by_patient,
    lapses,
)
from app.dosing.models import (
    DoseState,
    InstalmentDay,
    Reassessment,
    RepresentativeAuthorisation,
)
from app.patients.models import GuestGrant, GuestGrantEnd, Patient
from app.pharmacies.models import Pharmacy
from app.prescriptions import dose_plan
from app.prescriptions import repository as prescriptions_repository
from app.prescriptions.models import Prescription, Status
from app.prescriptions.products import PRODUCTS

# How far back the counter looks for the last missed collection it names (a lapse this long
# has blocked the counter long before).
STREAK_HORIZON = 31
LIVE = (Status.PENDING_CHECK, Status.ACTIVE, Status.SUSPENDED)


def counter_policy(policy: PolicySettings) -> decision_inputs.CounterPolicy:
    return decision_inputs.CounterPolicy(
        missed_threshold=policy.missed_threshold,
        missed_threshold_by_drug=dict(policy.missed_threshold_by_drug),
        child_age_years=policy.child_age_years,
        box_validity_days=policy.box_validity_days,
        children_confirmation_days=policy.children_confirmation_days,
        household_methadone_mg=Decimal(policy.household_methadone_mg),
        high_dose_mg=Decimal(policy.high_dose_mg),
        prescription_ending_days=policy.prescription_ending_days,
        young_child_age_years=policy.young_child_age_years,
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


# The counter's queries are built once, with bound parameters (`ids`: a chunk of patient ids),
# and reused: SQLAlchemy then keeps each statement's cache key instead of rebuilding the
# statement and its key on every call, which cost as much as running the query (issue 21).
IDS: BindParameter[Any] = bindparam("ids", expanding=True)
TODAY = bindparam("today", type_=Date)
_LIVE = select(Prescription).where(
    Prescription.patient_id.in_(IDS), Prescription.status.in_(LIVE), Prescription.end_on >= TODAY
)
_LIVE_OF_PRODUCT = _LIVE.where(Prescription.product == bindparam("product"))


def _live_from(
    session: Session, patient_ids: Sequence[UUID], product: str | None, today: date
) -> dict[UUID, list[Prescription]]:
    """Each patient's live prescriptions that end today or later (covering today or to come)."""
    found: dict[UUID, list[Prescription]] = {}
    query = _LIVE if product is None else _LIVE_OF_PRODUCT
    for batch in kit.chunks(patient_ids):
        for rx in session.scalars(query, {"ids": batch, "today": today, "product": product}):
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


_ROWS_TODAY = (
    select(InstalmentDay)
    .where(InstalmentDay.patient_id.in_(IDS), collectable_on(TODAY))
    .order_by(InstalmentDay.dose_date)
)


def _rows_today(
    session: Session, wanted: Iterable[tuple[UUID, str]], today: date
) -> dict[tuple[UUID, str], list[InstalmentDay]]:
    """Each (patient, product)'s instalments to collect today (`collectable_on`), in
    dose-date order."""
    pairs = set(wanted)
    found: dict[tuple[UUID, str], list[InstalmentDay]] = {pair: [] for pair in pairs}
    for batch in kit.chunks(sorted({pid for pid, _ in pairs})):
        for row in session.scalars(_ROWS_TODAY, {"ids": batch, "today": today}):
            if (row.patient_id, row.product) in found:
                found[(row.patient_id, row.product)].append(row)
    return found


_GUEST_GRANT_COVERING_TODAY = and_(
    GuestGrant.from_date <= TODAY,
    GuestGrant.to_date >= TODAY,
    ~select(GuestGrantEnd.id).where(GuestGrantEnd.grant_id == GuestGrant.id).exists(),
)
_GUEST_GRANTS = (
    select(GuestGrant, Pharmacy.name)
    .join(Pharmacy, Pharmacy.id == GuestGrant.guest_pharmacy_id)
    .where(GuestGrant.patient_id.in_(IDS), _GUEST_GRANT_COVERING_TODAY)
)
_COUNTER = bindparam("counter", type_=Uuid)
# Today's marks on each patient, in one statement (issue 21: a round trip each was a fifth of
# the handover's statements): whether a pharmacist reassessed them today, whether the prescriber
# authorised a representative for today, whether a guest grant covers today, and the counter's
# time zone. Each mark is the same condition its own query would ask.
_MARKS = select(
    Patient.id,
    select(Reassessment.id)
    .where(Reassessment.patient_id == Patient.id, Reassessment.dose_date == TODAY)
    .correlate(Patient)
    .exists(),
    select(RepresentativeAuthorisation.id)
    .where(
        RepresentativeAuthorisation.patient_id == Patient.id,
        RepresentativeAuthorisation.dose_date == TODAY,
    )
    .correlate(Patient)
    .exists(),
    select(GuestGrant.id)
    .where(GuestGrant.patient_id == Patient.id, _GUEST_GRANT_COVERING_TODAY)
    .correlate(Patient)
    .exists(),
    select(Pharmacy.timezone)
    .where(Pharmacy.id == func.coalesce(_COUNTER, Patient.pharmacy_id))
    .correlate(Patient)
    .scalar_subquery(),
).where(Patient.id.in_(IDS))


class _Marks(NamedTuple):
    reassessed: set[UUID]
    authorised: set[UUID]
    guests: dict[UUID, tuple[GuestGrant, str]]
    zones: dict[UUID, str]


def _marks_today(
    session: Session, patients: Sequence[Patient], today: date, counter_id: UUID | None
) -> _Marks:
    """Today's marks on each patient (`_MARKS`); a guest grant, where one covers today, is
    then read with the guest pharmacy's name (few patients have one)."""
    marks = _Marks(set(), set(), {}, {})
    homes = {p.id: p.pharmacy_id for p in patients}
    guest_ids: list[UUID] = []
    for batch in kit.chunks(list(homes)):
        params = {"ids": batch, "today": today, "counter": counter_id}
        for patient_id, reassessed, authorised, guest, zone in session.execute(_MARKS, params):
            if reassessed:
                marks.reassessed.add(patient_id)
            if authorised:
                marks.authorised.add(patient_id)
            if guest:
                guest_ids.append(patient_id)
            marks.zones[counter_id or homes[patient_id]] = zone
    for batch in kit.chunks(guest_ids):
        for grant, name in session.execute(_GUEST_GRANTS, {"ids": batch, "today": today}):
            marks.guests[grant.patient_id] = (grant, name)
    return marks


def _guest_facts(
    found: tuple[GuestGrant, str] | None, rows: Sequence[InstalmentDay], counter_id: UUID
) -> decision_inputs.GuestDosing | None:
    """Today's instalment is at the guest's counter (the grant moved it there)."""
    if found is None:
        return None
    grant, name = found
    if not any(row.pharmacy_id == grant.guest_pharmacy_id for row in rows):
        return None
    return decision_inputs.GuestDosing(
        here=counter_id == grant.guest_pharmacy_id, guest_pharmacy=name, until=grant.to_date
    )


_NAMES = select(User.id, User.display_name).where(User.id.in_(IDS))


def _recorder_names(session: Session, rows: Sequence[InstalmentDay]) -> dict[UUID, str]:
    recorder_ids = sorted({r.recorded_by_id for r in rows if r.recorded_by_id})
    names: dict[UUID, str] = {}
    for batch in kit.chunks(recorder_ids):
        for user_id, name in session.execute(_NAMES, {"ids": batch}):
            names[user_id] = name
    return names


def _rule_days(
    rows: Sequence[InstalmentDay],
    names: Mapping[UUID, str],
    timezone: str | None,
    *,
    reassessed: bool = False,
) -> tuple[decision_inputs.InstalmentDay, ...]:
    zone = ZoneInfo(timezone) if timezone else None
    return tuple(
        decision_inputs.InstalmentDay(
            dose_date=r.dose_date,
            collect_on=r.collect_on,
            mode=r.mode,  # type: ignore[arg-type]
            dose_mg=Decimal(r.dose_mg),
            state=r.state,  # type: ignore[arg-type]
            recorded_by=names.get(r.recorded_by_id)
            if r.recorded_by_id
            else ("end of day" if r.state == DoseState.MISSED else None),
            recorded_at=r.recorded_at.astimezone(zone) if zone and r.recorded_at else r.recorded_at,
            reassessed=reassessed and r.state == DoseState.WITHHELD and r.reassessment_id is None,
            reason=r.reason if r.state == DoseState.WITHHELD else None,
            parts=dose_plan.parts_of(r.parts),
        )
        for r in rows
    )


def _dose_steps(rx: Prescription) -> tuple[decision_inputs.DoseStep, ...]:
    """Where a stepped prescription changes the daily dose, and from what to what."""
    changes = []
    before = Decimal(rx.daily_dose_mg)
    for step in sorted(dose_plan.steps_of(rx.dose_steps), key=lambda step: step.starts_on):
        changes.append(decision_inputs.DoseStep(step.starts_on, before, step.daily_dose_mg))
        before = step.daily_dose_mg
    return tuple(changes)


_LAST_SUPPLIED_MG = (
    select(InstalmentDay.dose_mg)
    .where(
        InstalmentDay.patient_id == Prescription.patient_id,
        InstalmentDay.product == Prescription.product,
        InstalmentDay.dose_date < TODAY,
        InstalmentDay.state.in_((DoseState.SUPERVISED, DoseState.COLLECTED)),
    )
    .order_by(InstalmentDay.dose_date.desc())
    .limit(1)
    .correlate(Prescription)
    .scalar_subquery()
)
_PREVIOUS_DOSES = select(Prescription.patient_id, Prescription.product, _LAST_SUPPLIED_MG).where(
    Prescription.id.in_(IDS)
)


def _previous_doses(
    session: Session, current: Mapping[UUID, Prescription], today: date
) -> dict[tuple[UUID, str], Decimal]:
    """The last dose each patient was actually given of their current prescription's product
    before today: a correlated `ORDER BY dose_date DESC LIMIT 1` per patient, which walks the
    (patient_id, dose_date) index back from today and stops at the first supply, so its cost
    does not grow with the years of history behind it."""
    found: dict[tuple[UUID, str], Decimal] = {}
    for batch in kit.chunks([rx.id for rx in current.values()]):
        for patient_id, product, mg in session.execute(
            _PREVIOUS_DOSES, {"ids": batch, "today": today}
        ):
            if mg is not None:
                found[(patient_id, product)] = Decimal(mg)
    return found


_COLLECT_ON, _STATE, _SINCE = (
    InstalmentDay.collect_on,
    InstalmentDay.state,
    bindparam("since", type_=Date),
)
_AROUND = (
    select(
        InstalmentDay.patient_id,
        InstalmentDay.product,
        func.min(case((and_(_COLLECT_ON > TODAY, _STATE == DoseState.DUE), _COLLECT_ON))),
        func.max(case((and_(_COLLECT_ON < TODAY, _STATE == DoseState.MISSED), _COLLECT_ON))),
    )
    .where(
        InstalmentDay.patient_id.in_(IDS),
        InstalmentDay.dose_date >= _SINCE,  # collected on or before its dose date
        InstalmentDay.collect_on >= _SINCE,
    )
    .group_by(InstalmentDay.patient_id, InstalmentDay.product)
)


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
    since = today - timedelta(days=STREAK_HORIZON + 14)
    found: dict[tuple[UUID, str], tuple[date | None, date | None]] = {}
    for batch in kit.chunks(sorted({pid for pid, _ in wanted})):
        for patient_id, product, next_due, last_missed in session.execute(
            _AROUND, {"ids": batch, "today": today, "since": since}
        ):
            if (patient_id, product) in wanted:
                found[(patient_id, product)] = (next_due, last_missed)
    return found


def _suspensions(
    session: Session, current: Iterable[Prescription]
) -> dict[UUID, decision_inputs.Suspension]:
    """Since when and why each suspended prescription is suspended, so the counter can say so;
    asked only about the suspended ones (no query at all on a day nobody's is)."""
    found = prescriptions_repository.current_suspensions(
        session, [rx.id for rx in current if rx.status == Status.SUSPENDED]
    )
    return {
        pid: decision_inputs.Suspension(since=event.effective_on, reason=event.reason)
        for pid, event in found.items()
    }


def _measured_liquid(product: str) -> bool:
    known = PRODUCTS.get(product)
    return known is not None and known.unit == "mL"


class Gathered(NamedTuple):
    facts: decision_inputs.CounterFacts
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
    collector: str = "patient",
    measuring_device: bool | None = None,
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
    lapsed = lapses(
        session, pairs, through=today - timedelta(days=1), pharmacy_id=counter_pharmacy_id
    )
    around = _collections_around(session, pairs, today)
    marks = _marks_today(session, patients, today, counter_pharmacy_id)
    households = household_facts_by_patient(session, patients, today)
    names = _recorder_names(session, [r for day in rows.values() for r in day])
    suspended = _suspensions(session, current.values())
    gathered = {}
    for patient in patients:
        rx = current.get(patient.id)
        chosen = rx.product if rx else product
        pair = (patient.id, chosen) if chosen else None
        today_rows = rows.get(pair, []) if pair else []
        facts_rx = None
        if rx is not None and pair is not None:
            facts_rx = decision_inputs.PrescriptionFacts(
                status=rx.status,  # type: ignore[arg-type]
                start_on=rx.start_on,
                end_on=rx.end_on,
                daily_dose_mg=Decimal(rx.daily_dose_mg),
                previous_daily_dose_mg=previous.get(pair),
                pharmacy_id=str(rx.pharmacy_id),
                has_successor=_has_successor(live.get(patient.id, []), rx, today),
                consult_after_3_missed=rx.wording_consult_after_3_missed,
                separate_containers=rx.wording_separate_containers,
                measured_liquid=_measured_liquid(rx.product),
                suspension=suspended.get(rx.id),
                drug=drug_of(rx.product),
                steps=_dose_steps(rx),
            )
        next_collect, last_missed = around.get(pair, (None, None)) if rx and pair else (None, None)
        counter_id = counter_pharmacy_id or patient.pharmacy_id
        lapse = lapsed.get(pair) if rx and pair else None
        facts = decision_inputs.CounterFacts(
            today=today,
            counter_pharmacy_id=str(counter_id),
            prescription=facts_rx,
            instalments=_rule_days(
                today_rows,
                names,
                marks.zones.get(counter_id),
                reassessed=patient.id in marks.reassessed,
            ),
            next_collect_on=next_collect,
            last_missed_collect_on=last_missed,
            days_without_dose=lapse.days if lapse else 0,
            household=households.get(patient.id),
            intoxicated=intoxicated,
            last_dose=lapse.last_dose if lapse else None,
            collector=collector,
            representative_authorised=patient.id in marks.authorised,
            measuring_device=measuring_device,
            guest=_guest_facts(marks.guests.get(patient.id), today_rows, counter_id),
        )
        gathered[patient.id] = Gathered(facts, rx, today_rows)
    return gathered
