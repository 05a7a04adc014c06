"""Dose exceptions (issue 20 §1): what happened to a dose after it was supplied, recorded on
the day by the pharmacist or technician, with the alerts it raises. The patients' returns
record is `app.dosing.exception_returns`; the replacement, a pharmacist's safety act,
`app.dosing.exception_replacements`.

An exception names the ledger day(s) it concerns and never changes them: the day was supplied
(the methadone left the CD cupboard, the register says so) and stays supplied. What can be
recorded, and for which day:

- vomited: the supervised dose swallowed today, with the minutes after swallowing (the
  prescriber decides on any replacement);
- spilt at the counter: a dose handed over today;
- a take-home reported lost, stolen (police reference where given) or damaged;
- a take-home returned unused, with the volume: a patient return, recorded here and NOT in
  the CD register (domain rules §5.5, item 34), as is its destruction.

A split dose on a supervised day sent its other parts home (the evening part): that part is a
take-home for lost, stolen, damaged and returned, and vomited concerns only the part
swallowed; the exception's amount is that part (`app.dosing.exception_rules`).

A day not supplied (a lost take-home that was never handed over) is refused
(`day_not_supplied`): there is nothing to have lost, and a replacement for it would be a
supply with no record behind it.

A replacement itself lost, stolen, damaged, returned, vomited or spilt is an exception naming
the replacement (`replacement_id`) instead of the days, checked against it
(`app.dosing.exception_supplies`), with the same alerts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import require_role
from app.clock import local_date
from app.config import PolicySettings
from app.db import UnitOfWork, retrying
from app.dosing import exception_rules, exception_supplies, paper_lines
from app.dosing import facts as dosing_facts
from app.dosing.counter import COUNTER
from app.dosing.exception_models import (
    GONE_ASTRAY,
    TAKE_HOME_KINDS,
    DoseException,
    DoseReplacement,
    ExceptionKind,
)
from app.dosing.models import TAKEN_STATES, InstalmentDay
from app.errors import Conflict, InvalidInput, NotFound
from app.kit import new_id
from app.patients import repository as patients_repository
from app.patients.models import Patient
from app.prescriptions.products import PRODUCTS
from app.safeguarding.exception_alerts import REPEAT_WINDOW_DAYS, dose_exception_events
from app.safeguarding.models import Alert
from app.safeguarding.rules import EventKind

MAX_DAYS = 14
# How far back a dose's exception may be recorded: on the day, or when the patient reports it.
REPORT_WINDOW_DAYS = 14


@dataclass(frozen=True, slots=True)
class NewException:
    patient_id: UUID
    kind: str
    dose_dates: tuple[date, ...]
    note: str = ""
    minutes_after: int | None = None
    police_reference: str | None = None
    volume_ml: Decimal | None = None
    # A replacement itself lost (stolen, ...): named instead of the days (`dose_dates` empty).
    replacement_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class Recorded:
    exception: DoseException
    alerts: list[str]


@dataclass(frozen=True, slots=True)
class ExceptionLine:
    exception: DoseException
    replacement: DoseReplacement | None


def _check(new: NewException, today: date) -> None:
    if new.kind not in set(ExceptionKind):
        raise InvalidInput(
            "kind", "known_kind", "is vomited, spilt, lost, stolen, damaged or returned"
        )
    if new.replacement_id is not None:
        if new.dose_dates:
            raise InvalidInput(
                "dose_dates",
                "not_with_replacement",
                "name the replacement or the days of the dose, not both",
            )
    else:
        _check_days(new, today)
    if new.kind == ExceptionKind.VOMITED and (
        new.minutes_after is None or not 0 <= new.minutes_after <= 24 * 60
    ):
        raise InvalidInput(
            "minutes_after",
            "required",
            "say how many minutes after swallowing the dose was brought up (0 to 1440)",
        )
    if new.kind == ExceptionKind.RETURNED and (new.volume_ml is None or new.volume_ml <= 0):
        raise InvalidInput("volume_ml", "required", "give the volume returned, in mL")
    if new.police_reference and new.kind != ExceptionKind.STOLEN:
        raise InvalidInput(
            "police_reference", "stolen_only", "a police reference is for a theft only"
        )


def _check_days(new: NewException, today: date) -> None:
    if not new.dose_dates:
        raise InvalidInput(
            "dose_dates", "required", "name the day of the dose it concerns (or the replacement)"
        )
    if len(set(new.dose_dates)) != len(new.dose_dates) or len(new.dose_dates) > MAX_DAYS:
        raise InvalidInput(
            "dose_dates", "distinct_days", f"name each day once, at most {MAX_DAYS} days"
        )
    if min(new.dose_dates) < today - timedelta(days=REPORT_WINDOW_DAYS):
        raise InvalidInput(
            "dose_dates",
            "too_old",
            f"an exception is recorded on the day, or when reported, up to "
            f"{REPORT_WINDOW_DAYS} days after the dose",
        )
    if new.kind == ExceptionKind.VOMITED and new.dose_dates != (today,):
        raise InvalidInput("dose_dates", "today_only", "a vomited dose is today's supervised dose")


def _supplied_rows(
    session: Session, actor: Actor, patient: Patient, days: tuple[date, ...]
) -> list[InstalmentDay]:
    rows = list(
        session.scalars(
            select(InstalmentDay)
            .where(InstalmentDay.patient_id == patient.id, InstalmentDay.dose_date.in_(days))
            .order_by(InstalmentDay.dose_date, InstalmentDay.product)
        )
    )
    supplied = [r for r in rows if r.state in TAKEN_STATES and r.pharmacy_id == actor.pharmacy_id]
    missing = sorted(set(days) - {r.dose_date for r in supplied})
    if missing:
        listed = ", ".join(d.strftime("%d/%m/%Y") for d in missing)
        raise Conflict(
            f"The dose for {listed} was not supplied by this pharmacy (the record shows it not "
            "handed over): there is nothing to record an exception against. If methadone left "
            "the pharmacy without a record, that is an incident to report",
            code="day_not_supplied",
            field="dose_dates",
        )
    if len({r.product for r in supplied}) != 1 or len(supplied) != len(days):
        raise InvalidInput(
            "dose_dates", "one_product", "an exception concerns the doses of one product"
        )
    return supplied


supplied_day = exception_supplies.supplied_day


def _check_rows(new: NewException, rows: list[InstalmentDay], today: date, tz: str) -> None:
    days = [supplied_day(r) for r in rows]
    if new.kind == ExceptionKind.VOMITED and exception_rules.swallowed_mg(days[0]) <= 0:
        raise Conflict(
            "A vomited dose is recorded for a supervised dose swallowed today; today's dose was "
            "not taken under supervision",
            code="not_supervised_today",
            field="kind",
        )
    if new.kind == ExceptionKind.SPILT and any(
        r.recorded_at is None or local_date(r.recorded_at, tz) != today for r in rows
    ):
        raise Conflict(
            "A spill at the counter is recorded for a dose handed over today",
            code="not_supplied_today",
            field="dose_dates",
        )
    # A split dose on a supervised day sent its other parts home: those are take-homes.
    if new.kind in TAKE_HOME_KINDS and any(exception_rules.home_mg(d) <= 0 for d in days):
        raise Conflict(
            "Only a take-home can be lost, stolen, damaged or returned: this dose was swallowed "
            "at the counter and no part of it went home",
            code="not_a_take_home",
            field="kind",
        )


def _overlapping(
    session: Session, patient_id: UUID, kind: str, days: tuple[date, ...]
) -> DoseException | None:
    """An exception already recorded for the same part of one of these days: of a split day,
    the part swallowed (vomited) and the part sent home (lost, ...) are two doses."""
    wanted = {d.isoformat() for d in days}
    for found in session.scalars(
        select(DoseException).where(
            DoseException.patient_id == patient_id,
            DoseException.replacement_id.is_(None),  # a replacement's: keyed on the replacement
            DoseException.dose_date >= min(days) - timedelta(days=MAX_DAYS),
            DoseException.dose_date <= max(days),
        )
    ):
        if wanted & set(found.dose_dates) and exception_rules.same_part(kind, found.kind):
            return found
    return None


@retrying
def record_exception(
    uow: UnitOfWork,
    *,
    actor: Actor,
    new: NewException,
    today: date,
    now: datetime,
    timezone: str,
    policy: PolicySettings,
) -> Recorded:
    """Record an exception on the day, and raise its alerts in the same transaction."""
    require_role(actor, COUNTER, "record a dose exception")
    new = NewException(
        patient_id=new.patient_id,
        kind=new.kind,
        dose_dates=tuple(sorted(new.dose_dates)),
        note=new.note.strip(),
        minutes_after=new.minutes_after,
        police_reference=(new.police_reference or "").strip() or None,
        volume_ml=new.volume_ml,
        replacement_id=new.replacement_id,
    )
    _check(new, today)
    with uow:
        session = uow.session
        patient = patients_repository.load_visible(session, actor, new.patient_id, for_update=True)
        if actor.pharmacy_id != patient.pharmacy_id:
            raise NotFound("patient", patient.id)
        if new.replacement_id is not None:
            replacement = exception_supplies.replacement_for_exception(
                session,
                pharmacy_id=actor.pharmacy_id,
                patient_id=patient.id,
                replacement_id=new.replacement_id,
                kind=new.kind,
                today=today,
                window_days=REPORT_WINDOW_DAYS,
            )
            code, prescription_id = replacement.product, replacement.prescription_id
            days = tuple(date.fromisoformat(d) for d in replacement.dose_dates)
            supplied_mg = Decimal(replacement.dose_mg)
        else:
            rows = _supplied_rows(session, actor, patient, new.dose_dates)
            _check_rows(new, rows, today, timezone)
            already = _overlapping(session, patient.id, new.kind, new.dose_dates)
            if already is not None:
                raise _recorded_already(session, already)
            code, prescription_id, days = rows[0].product, rows[0].prescription_id, new.dose_dates
            supplied_mg = sum(
                (exception_rules.concerned_mg(new.kind, supplied_day(r)) for r in rows), Decimal(0)
            )
        product = PRODUCTS.get(code)
        supplied_ml = product.quantity(supplied_mg) if product and product.unit == "mL" else None
        dose_mg, volume_ml = supplied_mg, supplied_ml
        if new.kind == ExceptionKind.RETURNED and new.volume_ml is not None:
            if supplied_ml is not None and new.volume_ml > supplied_ml:
                raise InvalidInput(
                    "volume_ml",
                    "not_more_than_supplied",
                    f"is more than the {supplied_ml.normalize():f} mL supplied for those days",
                )
            volume_ml = new.volume_ml
            dose_mg = (
                (new.volume_ml * product.strength).quantize(Decimal("0.01"))
                if product
                else (supplied_mg)
            )
        exception = DoseException(
            id=new_id(),
            pharmacy_id=patient.pharmacy_id,
            patient_id=patient.id,
            prescription_id=prescription_id,
            household_id=patient.household_id,
            replacement_id=new.replacement_id,
            product=code,
            kind=new.kind,
            dose_date=days[0],
            dose_dates=[d.isoformat() for d in days],
            dose_mg=dose_mg,
            volume_ml=volume_ml,
            minutes_after=new.minutes_after if new.kind == ExceptionKind.VOMITED else None,
            police_reference=new.police_reference,
            note=new.note,
            occurred_on=today,
            recorded_by_id=actor.id,
            recorded_at=now,
        )
        session.add(exception)
        try:
            session.flush()
        except IntegrityError as exc:  # another exception for the replacement raced this one
            raise Conflict(
                "An exception is already recorded for this replacement",
                code="exception_recorded",
                field="replacement_id",
            ) from exc
        alerts = _raise(session, actor, patient, exception, today, now, policy)
        audit_service.record(
            session,
            actor,
            "dose.exception_recorded",
            entity="patient",
            entity_id=patient.id,
            at=now,
            pharmacy_id=patient.pharmacy_id,
            facts={
                "exception_id": exception.id,
                "replacement_id": exception.replacement_id,
                "kind": exception.kind,
                "dose_dates": list(exception.dose_dates),
                "dose_mg": str(exception.dose_mg),
                "alerts": alerts,
            },
        )
        uow.commit()
        return Recorded(exception, alerts)


def _recorded_already(session: Session, already: DoseException) -> Conflict:
    replaced = session.scalar(
        select(DoseReplacement.id).where(DoseReplacement.exception_id == already.id)
    )
    if replaced is not None:
        return Conflict(
            f"This dose was {already.kind} on {already.occurred_on.strftime('%d/%m/%Y')} and "
            "replaced: if the replacement was itself lost, stolen, damaged, returned, vomited "
            f"or spilt, record it naming the replacement ({replaced}), not the days",
            code="exception_recorded",
            field="dose_dates",
        )
    return Conflict(
        f"An exception ({already.kind}) is already recorded for this dose "
        f"({already.occurred_on.strftime('%d/%m/%Y')}): a dose is lost, spilt or returned once. "
        "Add what you learnt to the note of a new record only for another dose",
        code="exception_recorded",
        field="dose_dates",
    )


def _window_alert(session: Session, patient: Patient, now: datetime) -> str | None:
    """The record of the prescriber's repeated-exceptions alert raised for this patient in the
    last `REPEAT_WINDOW_DAYS` days, if any: the pattern is told once per window."""
    found = session.scalar(
        select(Alert)
        .where(
            Alert.patient_id == patient.id,
            Alert.kind == EventKind.REPEATED_DOSE_EXCEPTIONS,
            Alert.created_at > now - timedelta(days=REPEAT_WINDOW_DAYS),
        )
        .order_by(Alert.created_at.desc())
        .limit(1)
    )
    record = found.facts.get("record") if found is not None else None
    return str(record) if record else None


def _raise(
    session: Session,
    actor: Actor,
    patient: Patient,
    exception: DoseException,
    today: date,
    now: datetime,
    policy: PolicySettings,
) -> list[str]:
    children = 0
    if exception.kind in GONE_ASTRAY and patient.household_id is not None:
        # The children living there today: the counter's own household facts.
        children = len(
            dosing_facts.children_by_household(session, [patient.household_id], today).get(
                patient.household_id, []
            )
        )
    in_window = session.scalar(
        select(func.count())
        .select_from(DoseException)
        .where(
            DoseException.patient_id == patient.id,
            DoseException.occurred_on > today - timedelta(days=REPEAT_WINDOW_DAYS),
        )
    )
    events = dose_exception_events(
        kind=exception.kind,
        dose_dates=[date.fromisoformat(d) for d in exception.dose_dates],
        dose_mg=Decimal(exception.dose_mg),
        volume_ml=Decimal(exception.volume_ml) if exception.volume_ml is not None else None,
        recorded_on=today,
        children=children,
        exceptions_in_window=int(in_window or 0),
        record=str(exception.id),
        window_record=_window_alert(session, patient, now),
    )
    return paper_lines.raise_events(session, events, actor, patient, today, now, policy)


def for_patient(uow: UnitOfWork, *, actor: Actor, patient_id: UUID) -> list[ExceptionLine]:
    """The patient's exceptions, newest first, each with its replacement if one was supplied."""
    with uow:
        session = uow.session
        patient = patients_repository.load_visible(session, actor, patient_id)
        return [
            ExceptionLine(exception, replacement)
            for exception, replacement in session.execute(
                select(DoseException, DoseReplacement)
                .outerjoin(DoseReplacement, DoseReplacement.exception_id == DoseException.id)
                .where(DoseException.patient_id == patient.id)
                .order_by(DoseException.recorded_at.desc(), DoseException.id)
            )
        ]
