"""Use cases for reports: each reads the ledger in one unit of work, logs the read, and hands the
rows to the pure rules (`app.reports.rules`) or the FHIR serializer (`app.reports.fhir`).

A report never writes anything but its audit entry, so it can be produced as often as needed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import groupby
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app import kit
from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import CLINICIANS, may_see_patient, pharmacy_scope, require_role
from app.auth.roles import Role
from app.clock import local_date, local_midnight_utc
from app.db import UnitOfWork
from app.dosing import household as dosing_household
from app.dosing.models import (
    DoseState,
    HandoverRefusal,
    InstalmentDay,
    Reassessment,
    Release,
)
from app.errors import InvalidInput, NotFound, PermissionDenied
from app.households import service as households_service
from app.households.models import BoxConfirmation, Child, Household, HouseholdChange
from app.patients import service as patients_service
from app.patients.models import Patient, PatientChange
from app.pharmacies.models import Pharmacy
from app.prescriptions.models import Prescription, Status
from app.prescriptions.products import PRODUCTS
from app.reports import fhir, rules
from app.reports.rules import Event, EventKind
from app.safeguarding.concerns import LAWFUL_BASIS_WORDS
from app.safeguarding.models import Alert, AlertState, Concern
from app.safeguarding.rules import CONCERN_WORDS

CONFERENCE_ROLES = {Role.PHARMACIST, Role.SAFEGUARDING_LEAD, Role.ADMIN}
COMMISSIONER_ROLES = {Role.PHARMACIST, Role.SAFEGUARDING_LEAD, Role.ADMIN}
FINAL = (
    DoseState.SUPERVISED,
    DoseState.COLLECTED,
    DoseState.MISSED,
    DoseState.WITHHELD,
    DoseState.NOT_DISPENSED,
)
MAX_PERIOD_DAYS = 366


def check_period(start: date, end: date) -> None:
    if end < start:
        raise InvalidInput("to", "after_from", "must not be before 'from'")
    if (end - start).days > MAX_PERIOD_DAYS:
        raise InvalidInput("to", "max_range", "the period may be at most a year")


def _name(patient: Patient) -> str:
    return f"{patient.given_name} {patient.family_name}"


def _mg(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _ml(product: str, mg: Decimal) -> Decimal | None:
    known = PRODUCTS.get(product)
    return known.ml_for(mg) if known is not None else None


# --- caseload (prescriber / key worker) ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseloadRow:
    patient: Patient
    pharmacy_name: str
    product: str | None
    daily_dose_mg: Decimal | None
    summary: rules.AdherenceSummary
    open_alerts: int


@dataclass(frozen=True, slots=True)
class Caseload:
    start: date
    end: date
    rows: list[CaseloadRow]
    totals: dict[str, Any]


def caseload(
    uow: UnitOfWork,
    *,
    actor: Actor,
    start: date,
    end: date,
    now: datetime,
    timezone: str = "Europe/London",
) -> Caseload:
    """Adherence of every patient who names the caller as key worker or prescriber."""
    require_role(actor, CLINICIANS, "see a caseload report")
    if actor.contact_id is None:
        raise PermissionDenied("Your account is not linked to a prescriber or key worker contact")
    check_period(start, end)
    with uow:
        session = uow.session
        patients = list(
            session.scalars(
                select(Patient)
                .where(
                    or_(
                        Patient.key_worker_id == actor.contact_id,
                        Patient.prescriber_id == actor.contact_id,
                    )
                )
                .order_by(Patient.family_name, Patient.given_name, Patient.id)
            )
        )
        ids = [p.id for p in patients]
        days: dict[UUID, list[rules.LedgerDay]] = defaultdict(list)
        prescriptions: dict[UUID, Prescription] = {}
        open_alerts: dict[UUID, int] = {}
        pharmacies: dict[UUID, str] = {}
        if ids:
            for patient_id, dose_date, state, recorded_at, handover_id in session.execute(
                select(
                    InstalmentDay.patient_id,
                    InstalmentDay.dose_date,
                    InstalmentDay.state,
                    InstalmentDay.recorded_at,
                    InstalmentDay.handover_id,
                ).where(
                    InstalmentDay.patient_id.in_(ids),
                    InstalmentDay.dose_date >= start,
                    InstalmentDay.dose_date <= end,
                )
            ):
                days[patient_id].append(
                    rules.LedgerDay(
                        dose_date,
                        state,
                        local_date(recorded_at, timezone) if recorded_at else None,
                        str(handover_id) if handover_id else None,
                    )
                )
            for rx in session.scalars(
                select(Prescription)
                .where(
                    Prescription.patient_id.in_(ids),
                    Prescription.status == Status.ACTIVE,
                    Prescription.start_on <= end,
                )
                .order_by(Prescription.start_on)
            ):
                prescriptions[rx.patient_id] = rx  # the latest started wins
            for alert_patient, count in session.execute(
                select(Alert.patient_id, func.count())
                .where(
                    Alert.patient_id.in_(ids),
                    Alert.state.in_((AlertState.OPEN, AlertState.ESCALATED)),
                )
                .group_by(Alert.patient_id)
            ):
                if alert_patient is not None:
                    open_alerts[alert_patient] = count
            for pharmacy_id, pharmacy_name in session.execute(
                select(Pharmacy.id, Pharmacy.name).where(
                    Pharmacy.id.in_({p.pharmacy_id for p in patients})
                )
            ):
                pharmacies[pharmacy_id] = pharmacy_name
        # One read event per patient shown (DSPT access logging), appended in one go.
        audit_service.record_many(
            session,
            actor,
            [
                audit_service.Entry(
                    "report.caseload_viewed",
                    "patient",
                    patient.id,
                    now,
                    patient.pharmacy_id,
                    {"from": start, "to": end},
                )
                for patient in patients
            ],
        )
        uow.commit()
    rows = [
        CaseloadRow(
            patient=p,
            pharmacy_name=pharmacies.get(p.pharmacy_id, ""),
            product=prescriptions[p.id].product if p.id in prescriptions else None,
            daily_dose_mg=prescriptions[p.id].daily_dose_mg if p.id in prescriptions else None,
            summary=rules.summarise_adherence(days[p.id]),
            open_alerts=open_alerts.get(p.id, 0),
        )
        for p in patients
    ]
    totals = {
        key: sum(getattr(r.summary, key) for r in rows)
        for key in (
            "supervised",
            "collected",
            "take_home_collections",
            "missed",
            "withheld",
            "not_dispensed",
            "due",
        )
    }
    attended = totals["supervised"] + totals["collected"]
    totals["patients"] = len(rows)
    totals["attended_percent"] = rules.percent(
        attended, attended + totals["missed"] + totals["withheld"] + totals["not_dispensed"]
    )
    totals["patients_with_missed_streak"] = sum(
        1 for r in rows if r.summary.current_missed_streak > 0
    )
    return Caseload(start, end, rows, totals)


# --- the conference report --------------------------------------------------------------------


@dataclass
class ConferenceReport:
    household: Household
    start: date
    end: date
    generated_at: datetime
    members: list[Patient]
    members_not_shown: int
    children: list[dict[str, Any]]
    chronology: tuple[Event, ...]
    analysis: rules.HouseholdAnalysis
    names: dict[str, str] = field(default_factory=dict)  # patient ref -> name
    # Each member's regime at the end of the period: what is prescribed and how it is taken.
    regimes: list[dict[str, Any]] = field(default_factory=list)


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _regimes(session: Session, members: Sequence[Patient], day: date) -> list[dict[str, Any]]:
    """Each member's current regime: the prescription covering `day` (else the latest before
    it), and the share of supervised dose days over the 14 days to `day`."""
    if not members:
        return []
    household_id = members[0].household_id
    shares = {
        regime.patient_ref: regime
        for regime in (
            dosing_household.member_regimes(session, household_id, day) if household_id else []
        )
    }
    found = []
    for member in members:
        rx = session.scalar(
            select(Prescription)
            .where(
                Prescription.patient_id == member.id,
                Prescription.status != Status.CANCELLED,
                Prescription.start_on <= day,
            )
            .order_by(Prescription.start_on.desc(), Prescription.entered_at.desc())
            .limit(1)
        )
        regime = shares.get(str(member.id))
        found.append(
            {
                "patient_id": member.id,
                "patient_name": _name(member),
                "product": rx.product if rx else None,
                "daily_dose_mg": rx.daily_dose_mg if rx else None,
                "supervised_days": [_WEEKDAYS[d] for d in rx.supervised_days] if rx else [],
                "collection_days": [_WEEKDAYS[d] for d in rx.collection_days] if rx else [],
                "supervised_percent": rules.percent(
                    int(regime.supervised_share * regime.dose_days), regime.dose_days
                )
                if regime and regime.dose_days
                else None,
                "takes_methadone_home": bool(regime and regime.has_take_home),
                "prescription_ends": rx.end_on if rx else None,
            }
        )
    return found


def _dose_rows(
    session: Session, patient_ids: Sequence[UUID], start: date, end: date, timezone: str
) -> list[InstalmentDay]:
    """Every recorded dose day in the period, and every day of a take-home handed over in the
    period (the whole collection, even days after the period ends: that is what went home)."""
    found: dict[UUID, InstalmentDay] = {}
    for row in session.scalars(
        select(InstalmentDay).where(
            InstalmentDay.patient_id.in_(patient_ids),
            InstalmentDay.dose_date >= start,
            InstalmentDay.dose_date <= end,
            InstalmentDay.state.in_(FINAL),
        )
    ):
        found[row.id] = row
    handed_over = select(InstalmentDay.handover_id).where(
        InstalmentDay.patient_id.in_(patient_ids),
        InstalmentDay.state == DoseState.COLLECTED,
        InstalmentDay.recorded_at >= local_midnight_utc(start, timezone),
        InstalmentDay.recorded_at < local_midnight_utc(end + timedelta(days=1), timezone),
    )
    for row in session.scalars(
        select(InstalmentDay).where(InstalmentDay.handover_id.in_(handed_over))
    ):
        found[row.id] = row
    return sorted(found.values(), key=lambda r: (str(r.patient_id), r.dose_date))


_COLLECTORS = {
    "patient": "the patient",
    "representative": "the patient's representative",
    "hcp": "a healthcare professional",
}


def _dose_events(
    session: Session, patient_ids: Sequence[UUID], start: date, end: date, timezone: str
) -> list[Event]:
    rows = _dose_rows(session, patient_ids, start, end, timezone)
    child_ids = {UUID(c) for r in rows for c in (r.children_present or [])}
    child_names: dict[UUID, str] = {}
    if child_ids:
        for child_id, child_name in session.execute(
            select(Child.id, Child.name).where(Child.id.in_(child_ids))
        ):
            child_names[child_id] = child_name
    events: list[Event] = []
    visits: dict[str, list[InstalmentDay]] = defaultdict(list)
    collected: dict[UUID, list[InstalmentDay]] = defaultdict(list)
    for row in rows:
        at = row.recorded_at or local_midnight_utc(row.dose_date, timezone)
        ref = str(row.patient_id)
        mg = Decimal(row.dose_mg)
        if row.children_present and row.state != DoseState.MISSED:
            key = str(row.handover_id) if row.handover_id else f"{row.patient_id}:{at.isoformat()}"
            visits[key].append(row)
        if row.state == DoseState.SUPERVISED:
            events.append(
                Event(
                    row.dose_date,
                    at,
                    EventKind.SUPERVISED,
                    f"dose:{row.id}",
                    ref,
                    f"Supervised dose of {_mg(mg)} mg swallowed by the patient at the pharmacy"
                    + (" after a same-day reassessment." if row.reassessment_id else "."),
                    (row.dose_date,),
                    mg,
                )
            )
        elif row.state == DoseState.COLLECTED and row.handover_id:
            collected[row.handover_id].append(row)
        elif row.state in (DoseState.MISSED, DoseState.NOT_DISPENSED):
            missed = row.state == DoseState.MISSED
            events.append(
                Event(
                    row.dose_date,
                    at,
                    EventKind.MISSED if missed else EventKind.NOT_DISPENSED,
                    f"dose:{row.id}",
                    ref,
                    f"{'Supervised' if row.mode == 'supervised' else 'Take-home'} dose of "
                    f"{_mg(mg)} mg "
                    + (
                        "not collected (missed)."
                        if missed
                        else "not dispensed: the prescription reached the pharmacy after the day."
                    ),
                    (row.dose_date,),
                    mg,
                )
            )
        elif row.state == DoseState.WITHHELD:
            reason = row.reason or ""
            intoxicated = reason.startswith("intoxicated")
            events.append(
                Event(
                    row.dose_date,
                    at,
                    EventKind.INTOXICATED if intoxicated else EventKind.WITHHELD,
                    f"dose:{row.id}",
                    ref,
                    "The patient presented intoxicated; the dose was withheld."
                    if intoxicated
                    else f"Dose withheld by the pharmacist ({reason.removeprefix('other: ')}).",
                    (row.dose_date,),
                    mg,
                )
            )
    for handover_id, group in collected.items():
        first = group[0]
        at = first.recorded_at or local_midnight_utc(first.collect_on, timezone)
        mg = sum((Decimal(r.dose_mg) for r in group), Decimal(0))
        quantity = _ml(first.product, mg)
        dates = tuple(r.dose_date for r in group)
        who = first.collector or "patient"
        directed = any(r.authorisation_id for r in group)
        events.append(
            Event(
                local_date(at, timezone),
                at,
                EventKind.TAKE_HOME_COLLECTED,
                f"handover:{handover_id}",
                str(first.patient_id),
                f"Take-home methadone collected by {_COLLECTORS.get(who, who)}: {_mg(mg)} mg"
                + (f" ({_mg(quantity)} mL)" if quantity is not None else "")
                + f" for {len(dates)} day{'s' if len(dates) != 1 else ''} "
                f"({', '.join(d.isoformat() for d in dates)})"
                + (
                    "; a supervised day taken home on the prescriber's direction."
                    if directed
                    else "."
                ),
                dates,
                mg,
                {"collector": who, "id_checked": first.id_asked, "prescriber_directed": directed},
            )
        )
    for key, group in visits.items():
        first = group[0]
        at = first.recorded_at or local_midnight_utc(first.dose_date, timezone)
        seen = sorted({c for r in group for c in (r.children_present or [])})
        names = ", ".join(child_names.get(UUID(c), "a child") for c in seen)
        events.append(
            Event(
                local_date(at, timezone),
                at,
                EventKind.CHILD_SEEN,
                f"visit:{key}",
                str(first.patient_id),
                f"{len(seen)} child{'ren' if len(seen) != 1 else ''} seen at the counter with "
                f"the patient ({names}).",
                details={"children": len(seen)},
            )
        )
    return events


_REFUSAL_WORDS = {
    "missed_threshold_reached": "days without a dose reached the threshold (prescriber review needed)",
    "no_lockable_box": "no valid lockable-box confirmation for a take-home",
    "children_not_confirmed": "the children living there were not confirmed",
    "patient_intoxicated": "the patient appeared intoxicated",
    "supervised_needs_patient": "someone other than the patient asked for a supervised dose",
    "withheld_today": "the dose had been withheld earlier that day",
    "not_due_today": "nothing was due that day",
    "last_dose_unknown": "the last dose taken was not known",
}


def _counter_events(
    session: Session, patient_ids: Sequence[UUID], start: date, end: date, timezone: str
) -> list[Event]:
    """Refused visits, same-day reassessments and the prescriber's reviews in the period."""
    events: list[Event] = []
    for refusal in session.scalars(
        select(HandoverRefusal).where(
            HandoverRefusal.patient_id.in_(patient_ids),
            HandoverRefusal.day >= start,
            HandoverRefusal.day <= end,
        )
    ):
        why = "; ".join(_REFUSAL_WORDS.get(code, code.replace("_", " ")) for code in refusal.codes)
        events.append(
            Event(
                refusal.day,
                refusal.refused_at,
                EventKind.REFUSED,
                f"refusal:{refusal.id}",
                str(refusal.patient_id),
                f"The patient came to the counter and no dose was handed over: {why}.",
                details={"codes": ",".join(refusal.codes)},
            )
        )
    for reassessment in session.scalars(
        select(Reassessment).where(
            Reassessment.patient_id.in_(patient_ids),
            Reassessment.dose_date >= start,
            Reassessment.dose_date <= end,
        )
    ):
        withheld_at = (
            f" at {reassessment.withheld_at.astimezone(ZoneInfo(timezone)):%H:%M}"
            if reassessment.withheld_at
            else ""
        )
        events.append(
            Event(
                reassessment.dose_date,
                reassessment.reassessed_at,
                EventKind.REASSESSED,
                f"reassessment:{reassessment.id}",
                str(reassessment.patient_id),
                f"The dose withheld{withheld_at} ({reassessment.withhold_reason or 'no reason'}) "
                f"was reassessed by a pharmacist later the same day: {reassessment.note}",
            )
        )
    for release in session.scalars(
        select(Release).where(
            Release.patient_id.in_(patient_ids),
            Release.released_on >= start,
            Release.released_on <= end,
        )
    ):
        events.append(
            Event(
                release.released_on,
                release.created_at,
                EventKind.RELEASED,
                f"release:{release.id}",
                str(release.patient_id),
                f"The prescriber reviewed the patient and released supply: {release.note}",
            )
        )
    return events


def _prescription_events(
    session: Session, patient_ids: Sequence[UUID], start: date, end: date
) -> list[Event]:
    """Each prescription starting in the period at a different daily dose from the one before."""
    events: list[Event] = []
    by_patient: dict[UUID, list[Prescription]] = defaultdict(list)
    for rx in session.scalars(
        select(Prescription)
        .where(
            Prescription.patient_id.in_(patient_ids),
            Prescription.status != Status.CANCELLED,
            Prescription.start_on <= end,
        )
        .order_by(Prescription.start_on, Prescription.entered_at)
    ):
        by_patient[rx.patient_id].append(rx)
    for patient_id, prescriptions in by_patient.items():
        for before, after in zip(prescriptions, prescriptions[1:], strict=False):
            if after.start_on < start or after.daily_dose_mg == before.daily_dose_mg:
                continue
            events.append(
                Event(
                    after.start_on,
                    after.entered_at,
                    EventKind.DOSE_CHANGED,
                    f"prescription:{after.id}",
                    str(patient_id),
                    f"The daily dose changed from {_mg(Decimal(before.daily_dose_mg))} mg to "
                    f"{_mg(Decimal(after.daily_dose_mg))} mg (new prescription from "
                    f"{after.start_on.isoformat()}).",
                )
            )
    return events


def _change_events(
    session: Session,
    household_id: UUID,
    patient_ids: Sequence[UUID],
    start: date,
    end: date,
    timezone: str,
) -> list[Event]:
    """Changes to the household, its children and its members' details in the period."""
    since = local_midnight_utc(start, timezone)
    until = local_midnight_utc(end + timedelta(days=1), timezone)
    events: list[Event] = []
    for change in session.scalars(
        select(HouseholdChange).where(
            HouseholdChange.household_id == household_id,
            HouseholdChange.changed_at >= since,
            HouseholdChange.changed_at < until,
        )
    ):
        what = "a child" if change.child_id else "the household"
        events.append(
            Event(
                local_date(change.changed_at, timezone),
                change.changed_at,
                EventKind.CHANGED,
                f"household_change:{change.id}",
                None,
                f"Record of {what} changed ({change.field.replace('_', ' ')}: "
                f"{change.old_value or '-'} → {change.new_value or '-'}): {change.reason}.",
            )
        )
    for patient_change in session.scalars(
        select(PatientChange).where(
            PatientChange.patient_id.in_(patient_ids),
            PatientChange.changed_at >= since,
            PatientChange.changed_at < until,
        )
    ):
        events.append(
            Event(
                local_date(patient_change.changed_at, timezone),
                patient_change.changed_at,
                EventKind.CHANGED,
                f"patient_change:{patient_change.id}",
                str(patient_change.patient_id),
                f"Patient record changed ({patient_change.field.replace('_', ' ')}): "
                f"{patient_change.reason}.",
            )
        )
    return events


BOX_METHODS = {
    "shown_at_pharmacy": "shown at the pharmacy",
    "seen_at_home": "seen at home by the key worker",
}


def _box_events(
    session: Session, patient_ids: Sequence[UUID], start: date, end: date
) -> list[Event]:
    return [
        Event(
            box.seen_on,
            box.created_at,
            EventKind.BOX_CONFIRMED,
            f"box:{box.id}",
            str(box.patient_id),
            f"Lockable box {BOX_METHODS.get(box.method, box.method)}; valid until "
            f"{box.valid_until.isoformat()}.",
        )
        for box in session.scalars(
            select(BoxConfirmation).where(
                BoxConfirmation.patient_id.in_(patient_ids),
                BoxConfirmation.seen_on >= start,
                BoxConfirmation.seen_on <= end,
            )
        )
    ]


def _alert_events(
    session: Session,
    household_id: UUID,
    patient_ids: Sequence[UUID],
    start: date,
    end: date,
    timezone: str,
) -> list[Event]:
    events = []
    for alert in session.scalars(
        select(Alert).where(
            or_(Alert.household_id == household_id, Alert.patient_id.in_(patient_ids)),
            Alert.created_at >= local_midnight_utc(start, timezone),
            Alert.created_at < local_midnight_utc(end + timedelta(days=1), timezone),
        )
    ):
        if alert.patient_id is not None and alert.patient_id not in patient_ids:
            continue  # a member the caller may not see
        minutes = (
            int((alert.acknowledged_at - alert.created_at).total_seconds() // 60)
            if alert.acknowledged_at
            else None
        )
        events.append(
            Event(
                local_date(alert.created_at, timezone),
                alert.created_at,
                EventKind.ALERT,
                f"alert:{alert.id}",
                str(alert.patient_id) if alert.patient_id else None,
                f"{alert.severity.capitalize()} alert ({alert.kind.replace('_', ' ')}): "
                f"{alert.message}",
                details={
                    "alert_kind": alert.kind,
                    "severity": alert.severity,
                    "state": alert.state,
                    "acknowledged_at": alert.acknowledged_at.isoformat()
                    if alert.acknowledged_at
                    else None,
                    "minutes_to_acknowledge": minutes,
                },
            )
        )
    return events


def _concern_events(
    session: Session,
    household_id: UUID,
    patient_ids: Sequence[UUID],
    start: date,
    end: date,
    timezone: str,
) -> list[Event]:
    """Each concern in the period, in the words it was recorded, with who else was told, why
    that was lawful, and the action its recipient recorded (or that nobody has yet)."""
    events = []
    rows = session.execute(
        select(Concern, Alert)
        .outerjoin(Alert, Alert.id == Concern.alert_id)
        .where(
            or_(Concern.household_id == household_id, Concern.patient_id.in_(patient_ids)),
            Concern.raised_at >= local_midnight_utc(start, timezone),
            Concern.raised_at < local_midnight_utc(end + timedelta(days=1), timezone),
        )
    ).all()
    for concern, alert in rows:
        if concern.patient_id is not None and concern.patient_id not in patient_ids:
            continue  # a member the caller may not see
        told = concern.shared_with or "nobody outside Dosekeeper"
        if alert is not None and alert.acknowledged_at is not None:
            action = f"Action recorded: {alert.acknowledgement_note or '-'}"
        else:
            action = "No action recorded yet"
        follow_up = (
            f" Follow up by {concern.follow_up_on.strftime('%d/%m/%Y')}."
            if concern.follow_up_on
            else ""
        )
        events.append(
            Event(
                local_date(concern.raised_at, timezone),
                concern.raised_at,
                EventKind.CONCERN,
                f"concern:{concern.id}",
                str(concern.patient_id) if concern.patient_id else None,
                f"Concern recorded ({CONCERN_WORDS[concern.category]}): {concern.seen} "
                f"Also told: {told} (lawful basis: "
                f"{LAWFUL_BASIS_WORDS.get(concern.lawful_basis, concern.lawful_basis)}).{follow_up} "
                f"{action}.",
                details={
                    "category": concern.category,
                    "severity": concern.severity,
                    "alert_id": str(concern.alert_id) if concern.alert_id else None,
                    "acknowledged_at": alert.acknowledged_at.isoformat()
                    if alert is not None and alert.acknowledged_at
                    else None,
                },
            )
        )
    return events


def conference_report(
    uow: UnitOfWork,
    *,
    actor: Actor,
    household_id: UUID,
    start: date,
    end: date,
    now: datetime,
    timezone: str,
) -> ConferenceReport:
    """The pharmacy's contribution to a child-protection conference: every dispensing event,
    missed and withheld dose, intoxication, child seen, box confirmation, take-home and alert
    for the household's members, once each in time order, with figures computed from them.

    Members the caller may not see (registered at another pharmacy) are left out and counted.
    """
    require_role(actor, CONFERENCE_ROLES, "prepare a conference report")
    check_period(start, end)
    with uow:
        session = uow.session
        household = households_service.load_visible(session, actor, household_id)
        everyone = list(
            session.scalars(
                select(Patient)
                .where(Patient.household_id == household.id)
                .order_by(Patient.family_name, Patient.given_name, Patient.id)
            )
        )
        members = [
            p
            for p in everyone
            if may_see_patient(
                actor,
                pharmacy_id=p.pharmacy_id,
                key_worker_id=p.key_worker_id,
                prescriber_id=p.prescriber_id,
            )
        ]
        ids = [m.id for m in members]
        events = [
            *_dose_events(session, ids, start, end, timezone),
            *_counter_events(session, ids, start, end, timezone),
            *_prescription_events(session, ids, start, end),
            *_change_events(session, household.id, ids, start, end, timezone),
            *_box_events(session, ids, start, end),
            *_alert_events(session, household.id, ids, start, end, timezone),
            *_concern_events(session, household.id, ids, start, end, timezone),
        ]
        regimes = _regimes(session, members, end)
        children = [
            {
                "id": c.id,
                "name": c.name,
                "age_years": kit.age_on(c.date_of_birth, end),
                "protection_status": c.protection_status,
            }
            for c in session.scalars(
                select(Child)
                .where(Child.household_id == household.id)
                .order_by(Child.date_of_birth)
            )
            if (c.lives_from is None or c.lives_from <= end)
            and (c.lives_to is None or c.lives_to >= start)
        ]
        audit_service.record(
            session,
            actor,
            "household.conference_report_viewed",
            entity="household",
            entity_id=household.id,
            at=now,
            pharmacy_id=household.pharmacy_id,
            facts={"from": start, "to": end, "events": len(events)},
        )
        uow.commit()
    chronology = rules.chronology(events)
    return ConferenceReport(
        household=household,
        start=start,
        end=end,
        generated_at=now,
        members=members,
        members_not_shown=len(everyone) - len(members),
        children=children,
        chronology=chronology,
        analysis=rules.analyse_household(chronology, [str(i) for i in ids]),
        names={str(m.id): _name(m) for m in members},
        regimes=regimes,
    )


# --- the commissioner's summary ----------------------------------------------------------------


def _scope(session: Session, actor: Actor, pharmacy_id: UUID | None) -> UUID | None:
    require_role(actor, COMMISSIONER_ROLES, "see the commissioner summary")
    scope = pharmacy_scope(actor)
    if scope is not None:
        if pharmacy_id is not None and pharmacy_id != scope:
            raise NotFound("pharmacy", pharmacy_id)
        return scope
    if pharmacy_id is not None and session.get(Pharmacy, pharmacy_id) is None:
        raise NotFound("pharmacy", pharmacy_id)
    return pharmacy_id


def commissioner_summary(
    uow: UnitOfWork,
    *,
    actor: Actor,
    start: date,
    end: date,
    now: datetime,
    timezone: str,
    child_age_years: int,
    pharmacy_id: UUID | None = None,
) -> dict[str, Any]:
    """Counts a commissioner asks for, with no patient identifiers: doses by month, households
    with young children receiving take-homes, how often a valid lockable box was on record at
    those take-homes, and how quickly alerts were acknowledged."""
    check_period(start, end)
    with uow:
        session = uow.session
        scope = _scope(session, actor, pharmacy_id)
        dose_query = select(
            InstalmentDay.dose_date,
            InstalmentDay.state,
            InstalmentDay.household_id,
            InstalmentDay.handover_id,
            InstalmentDay.patient_id,
        ).where(
            InstalmentDay.dose_date >= start,
            InstalmentDay.dose_date <= end,
            InstalmentDay.state.in_(FINAL),
        )
        alert_query = select(Alert).where(
            Alert.created_at >= local_midnight_utc(start, timezone),
            Alert.created_at < local_midnight_utc(end + timedelta(days=1), timezone),
        )
        if scope is not None:
            dose_query = dose_query.where(InstalmentDay.pharmacy_id == scope)
            alert_query = alert_query.where(Alert.pharmacy_id == scope)
        doses = session.execute(dose_query).all()
        take_homes = [d for d in doses if d.state == DoseState.COLLECTED]
        households = {d.household_id for d in take_homes if d.household_id}
        children = (
            list(session.scalars(select(Child).where(Child.household_id.in_(households))))
            if households
            else []
        )
        patients = {d.patient_id for d in take_homes}
        boxes = (
            list(
                session.scalars(
                    select(BoxConfirmation).where(BoxConfirmation.patient_id.in_(patients))
                )
            )
            if patients
            else []
        )
        alerts = list(session.scalars(alert_query))
        audit_service.record(
            session,
            actor,
            "report.commissioner_viewed",
            entity="pharmacy",
            entity_id=scope or "all",
            at=now,
            pharmacy_id=scope,
            facts={"from": start, "to": end},
        )
        uow.commit()

    def young_child_on(household_id: UUID | None, day: date) -> bool:
        return any(
            c.household_id == household_id
            and kit.age_on(c.date_of_birth, day) < child_age_years
            and c.date_of_birth <= day
            and (c.lives_from is None or c.lives_from <= day)
            and (c.lives_to is None or c.lives_to >= day)
            for c in children
        )

    months = {
        m: {"supervised": 0, "take_home": 0, "missed": 0, "withheld": 0}
        for m in rules.months_between(start, end)
    }
    with_children: dict[str, set[UUID]] = defaultdict(set)
    for d in doses:
        bucket = months[rules.month_key(d.dose_date)]
        bucket["take_home" if d.state == DoseState.COLLECTED else str(d.state)] += 1
        if d.state == DoseState.COLLECTED and young_child_on(d.household_id, d.dose_date):
            assert d.household_id is not None
            with_children[rules.month_key(d.dose_date)].add(d.household_id)
    # Box rate: each take-home collection (handover) to a household with a young child.
    eligible = confirmed = 0
    by_handover = sorted(
        (d for d in take_homes if d.handover_id), key=lambda d: (str(d.handover_id), d.dose_date)
    )
    for _, group in groupby(by_handover, key=lambda d: d.handover_id):
        first = next(iter(group))
        if not young_child_on(first.household_id, first.dose_date):
            continue
        eligible += 1
        if any(
            b.patient_id == first.patient_id and b.seen_on <= first.dose_date <= b.valid_until
            for b in boxes
        ):
            confirmed += 1
    acknowledgement: dict[str, dict[str, Any]] = {}
    for severity in ("urgent", "warning", "info"):
        raised = [a for a in alerts if a.severity == severity]
        waits = [
            int((a.acknowledged_at - a.created_at).total_seconds() // 60)
            for a in raised
            if a.acknowledged_at is not None
        ]
        acknowledgement[severity] = {
            "raised": len(raised),
            "acknowledged": len(waits),
            "unacknowledged": len(raised) - len(waits),
            "median_minutes": rules.percentile(waits, 50),
            "p90_minutes": rules.percentile(waits, 90),
        }
    return {
        "pharmacy_id": scope,
        "from": start,
        "to": end,
        "months": [
            {
                "month": month,
                **counts,
                "households_with_children_on_take_homes": len(with_children.get(month, set())),
            }
            for month, counts in months.items()
        ],
        "households_with_children_on_take_homes": len(set().union(*with_children.values()))
        if with_children
        else 0,
        "box_confirmation": {
            "take_home_collections_with_young_children": eligible,
            "with_valid_box": confirmed,
            "rate_percent": rules.percent(confirmed, eligible),
        },
        "alert_acknowledgement": acknowledgement,
    }


# --- FHIR export -----------------------------------------------------------------------------


def fhir_export(
    uow: UnitOfWork, *, actor: Actor, patient_id: UUID, start: date, end: date, now: datetime
) -> dict[str, Any]:
    """The patient's dispensing record in the period as a FHIR R4 Bundle (the read is logged)."""
    check_period(start, end)
    with uow:
        session = uow.session
        patient = patients_service.load_visible(session, actor, patient_id)
        pharmacy = session.get(Pharmacy, patient.pharmacy_id)
        assert pharmacy is not None
        rows = list(
            session.scalars(
                select(InstalmentDay)
                .where(
                    InstalmentDay.patient_id == patient.id,
                    InstalmentDay.dose_date >= start,
                    InstalmentDay.dose_date <= end,
                    InstalmentDay.state.in_(FINAL),
                )
                .order_by(InstalmentDay.dose_date)
            )
        )
        audit_service.record(
            session,
            actor,
            "patient.fhir_exported",
            entity="patient",
            entity_id=patient.id,
            at=now,
            pharmacy_id=patient.pharmacy_id,
            facts={"from": start, "to": end, "days": len(rows)},
        )
        uow.commit()
    return fhir.bundle(
        fhir.FhirPatient(
            id=str(patient.id),
            nhs_number=patient.nhs_number,
            given_name=patient.given_name,
            family_name=patient.family_name,
            birth_date=patient.date_of_birth,
        ),
        fhir.FhirPharmacy(id=str(pharmacy.id), ods_code=pharmacy.ods_code, name=pharmacy.name),
        [
            fhir.DoseDay(
                id=str(r.id),
                prescription_id=str(r.prescription_id),
                product=r.product,
                dose_date=r.dose_date,
                mode=r.mode,
                dose_mg=Decimal(r.dose_mg),
                state=r.state,
                recorded_at=r.recorded_at,
                handover_id=str(r.handover_id) if r.handover_id else None,
                collector=r.collector,
                reason=r.reason,
            )
            for r in rows
        ],
        generated_at=now,
    )
