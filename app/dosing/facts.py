"""Facts about patients and households the counter, end of day, intake and the reports share.

How long a patient has gone without a dose (`lapses`), the household facts (children, the
lockable box, the methadone already at home) and the prescriber's directions for today: read
from the database, never decided here. `app.dosing.gather` puts them together with today's
instalments into the counter decision's facts.

Every query here is bounded by date or by patient, so its cost does not grow with history.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple
from uuid import UUID

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Date,
    Uuid,
    and_,
    bindparam,
    func,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session, aliased

from app import kit
from app.dosing.decision_inputs import (
    HouseholdFacts,
    LastDose,
    days_without_dose,
    household_methadone_at_home,
)
from app.dosing.models import (
    TAKEN_STATES,
    DoseState,
    InstalmentDay,
    LastDoseRecord,
    Release,
    RepresentativeAuthorisation,
)
from app.households.models import BoxConfirmation, Child, Household
from app.households.repository import lives_there
from app.households.rules import ChildFacts
from app.kit import age_on
from app.patients.models import Patient
from app.prescriptions import dose_plan
from app.prescriptions.products import PRODUCTS


class Lapse(NamedTuple):
    """How long a patient has gone without a dose, and the last dose they are known to have
    taken (None: nothing on record here or elsewhere)."""

    days: int
    last_dose: LastDose | None


def drug_of(product: str) -> str:
    """Tolerance belongs to the drug, not the strength: methadone 1 mg/mL and 10 mg/mL are one."""
    known = PRODUCTS.get(product)
    return known.drug if known else product


def _products_of(drug: str) -> list[str]:
    return sorted(code for code, known in PRODUCTS.items() if known.drug == drug) or [drug]


# Built once with bound parameters and reused, so SQLAlchemy keeps their cache keys (issue 21).
_IDS: BindParameter[Any] = bindparam("ids", expanding=True)
_CODES: BindParameter[Any] = bindparam("codes", expanding=True)
_LAST_TAKEN = (
    select(InstalmentDay.id)
    .where(
        InstalmentDay.patient_id == Patient.id,
        InstalmentDay.product.in_(_CODES),
        InstalmentDay.dose_date <= bindparam("through", type_=Date),
        InstalmentDay.state.in_(TAKEN_STATES),
    )
    .order_by(InstalmentDay.dose_date.desc())
    .limit(1)
    .correlate(Patient)
    .scalar_subquery()
)
_FIRST_DAY = (
    select(InstalmentDay.dose_date)
    .where(InstalmentDay.patient_id == Patient.id, InstalmentDay.product.in_(_CODES))
    .order_by(InstalmentDay.dose_date)
    .limit(1)
    .correlate(Patient)
    .scalar_subquery()
)
_RELEASED_ON = (
    select(func.max(Release.released_on))
    .where(Release.patient_id == Patient.id)
    .correlate(Patient)
    .scalar_subquery()
)


def _latest_record(column: Any) -> Any:
    """`column` of the latest statement of a dose taken elsewhere, of this drug (append-only:
    the latest wins). A patient has a handful of them: an index walk each."""
    return (
        select(column)
        .where(
            LastDoseRecord.patient_id == Patient.id,
            LastDoseRecord.drug == bindparam("drug"),
        )
        .order_by(LastDoseRecord.recorded_at.desc(), LastDoseRecord.id.desc())
        .limit(1)
        .correlate(Patient)
        .scalar_subquery()
    )


# The last day taken here is joined on the index walk that finds it (instalment_days is the
# largest table, so the planner looks it up by primary key per patient), and the latest record
# of a dose taken elsewhere comes as two walks of the patient's few records: the lapse's facts
# in one round trip per drug instead of four (issue 21).
_TAKEN = aliased(InstalmentDay, name="last_taken")
_LAPSE_FACTS = (
    select(
        Patient.id,
        _FIRST_DAY,
        _RELEASED_ON,
        _TAKEN.dose_date,
        _TAKEN.mode,
        # A foreign key's type comes from the table it points at; an alias made before that
        # table is imported copies no type at all, and the id would come back as text.
        type_coerce(_TAKEN.pharmacy_id, Uuid()),
        _latest_record(LastDoseRecord.source),
        _latest_record(LastDoseRecord.taken_on),
    )
    .select_from(Patient)
    .outerjoin(_TAKEN, _TAKEN.id == _LAST_TAKEN)
    .where(Patient.id.in_(_IDS))
)


class _Recorded(NamedTuple):
    """The latest statement of a dose taken elsewhere (`taken_on` None: induction)."""

    taken_on: date | None
    source: str


def lapses(
    session: Session,
    pairs: Iterable[tuple[UUID, str]],
    *,
    through: date,
    pharmacy_id: UUID | None = None,
) -> dict[tuple[UUID, str], Lapse]:
    """Days without a dose taken up to and including `through`, for many (patient, product)
    pairs at once: the one count the counter's block and end of day's alerts both use.

    The last dose taken here is an index walk back from `through` per patient (it stops at the
    first dose taken, so its cost does not grow with years of history); the last dose taken
    elsewhere is the latest `LastDoseRecord`; the prescriber's latest review restarts the count.
    A dose taken at another pharmacy than `pharmacy_id` is reported as taken at another pharmacy.
    """
    wanted = set(pairs)
    by_drug: dict[str, set[UUID]] = {}
    for patient_id, product in wanted:
        by_drug.setdefault(drug_of(product), set()).add(patient_id)
    released: dict[UUID, date] = {}
    taken: dict[tuple[UUID, str], tuple[date, str, UUID]] = {}
    first: dict[tuple[UUID, str], date] = {}
    records: dict[tuple[UUID, str], _Recorded] = {}
    for drug, ids in by_drug.items():
        params = {"codes": _products_of(drug), "through": through, "drug": drug}
        for batch in kit.chunks(sorted(ids)):
            for row in session.execute(_LAPSE_FACTS, {"ids": batch, **params}):
                patient_id, first_on, released_on, dose_date, mode, at, source, taken_on = row
                if first_on is not None:
                    first[(patient_id, drug)] = first_on
                if released_on is not None:
                    released[patient_id] = released_on
                if dose_date is not None:
                    taken[(patient_id, drug)] = (dose_date, mode, at)
                if source is not None:
                    records[(patient_id, drug)] = _Recorded(taken_on, source)
    found: dict[tuple[UUID, str], Lapse] = {}
    for patient_id, product in wanted:
        key = (patient_id, drug_of(product))
        last = _last_dose(taken.get(key), records.get(key), pharmacy_id)
        days = days_without_dose(
            last_taken_on=last.taken_on if last is not None else None,
            released_on=released.get(patient_id),
            first_day=first.get(key),
            through=through,
        )
        found[(patient_id, product)] = Lapse(days, last)
    return found


def _last_dose(
    here: tuple[date, str, UUID] | None,
    record: _Recorded | None,
    pharmacy_id: UUID | None,
) -> LastDose | None:
    """The later of the last dose taken here and the one recorded as taken elsewhere."""
    recorded = record
    if here is not None:
        dose_date, mode, at_pharmacy = here
        if recorded is None or recorded.taken_on is None or dose_date >= recorded.taken_on:
            source = "here" if pharmacy_id in (None, at_pharmacy) else "another_pharmacy"
            return LastDose(dose_date, source, mode)  # type: ignore[arg-type]
    if recorded is None:
        return None
    return LastDose(recorded.taken_on, recorded.source)  # type: ignore[arg-type]


def children_facts(children: Iterable[Child], today: date) -> tuple[ChildFacts, ...]:
    return tuple(
        ChildFacts(
            # An unborn child counts as a newborn living there (pre-birth plans included).
            age_years=0 if c.unborn else max(0, age_on(c.date_of_birth, today)),
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
        for household_id, dose_date, mg, state, parts in session.execute(
            select(
                Patient.household_id,
                InstalmentDay.dose_date,
                InstalmentDay.dose_mg,
                InstalmentDay.state,
                InstalmentDay.parts,
            )
            .join(Patient, Patient.id == InstalmentDay.patient_id)
            .where(
                Patient.household_id.in_(batch),
                InstalmentDay.state.in_((DoseState.COLLECTED, DoseState.SUPERVISED)),
                InstalmentDay.dose_date >= today,
                InstalmentDay.product.like("methadone%"),
            )
        ):
            # A supervised day sends home only the evening part of a split dose (issue 20 §2).
            home = Decimal(mg) if state == DoseState.COLLECTED else dose_plan.home_part_mg(parts)
            if household_id is not None and home > 0:  # household: always, given the IN
                take_homes.setdefault(household_id, []).append((dose_date, home))
    return {
        household_id: household_methadone_at_home(doses, today=today)
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
) -> dict[UUID, HouseholdFacts]:
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
        p.id: HouseholdFacts(
            children=children_facts(children.get(p.household_id, []), today),
            children_confirmed_on=households[p.household_id].children_confirmed_on,
            box_valid_until=boxes.get(p.id),
            methadone_at_home_mg=at_home.get(p.household_id, Decimal(0)),
            children_changed_since_confirmed=_changed_since_confirmed(households[p.household_id]),
        )
        for p in patients
        if p.household_id
    }


def collectable_on(today: date | ColumnElement[date]) -> ColumnElement[bool]:
    """The instalment days handed over (or to be) on `today`: those scheduled today, and,
    under the Home Office "missed remaining" wording, the days still due of an instalment whose
    collection day was missed (never a day already past)."""
    return or_(
        InstalmentDay.collect_on == today,
        and_(
            InstalmentDay.remaining_collectable.is_(True),
            InstalmentDay.state == DoseState.DUE,
            InstalmentDay.collect_on < today,
            InstalmentDay.dose_date >= today,
        ),
    )


def _changed_since_confirmed(household: Household) -> bool:
    changed, confirmed = household.children_changed_at, household.children_confirmed_at
    return changed is not None and (confirmed is None or confirmed < changed)


def authorisations_today(
    session: Session, patient_ids: Sequence[UUID], today: date
) -> dict[UUID, RepresentativeAuthorisation]:
    """The prescriber's direction, where there is one, that a representative may collect
    today's supervised dose (the latest recorded, per patient)."""
    found: dict[UUID, RepresentativeAuthorisation] = {}
    for batch in kit.chunks(patient_ids):
        for authorisation in session.scalars(_AUTHORISATIONS, {"ids": batch, "today": today}):
            found[authorisation.patient_id] = authorisation
    return found


_AUTHORISATIONS = (
    select(RepresentativeAuthorisation)
    .where(
        RepresentativeAuthorisation.patient_id.in_(_IDS),
        RepresentativeAuthorisation.dose_date == bindparam("today", type_=Date),
    )
    .order_by(RepresentativeAuthorisation.recorded_at)
)
