"""Use cases at the counter: check, hand over, withhold, record a box, close the day.

Double supply is impossible by construction: each dose date is one ledger row
(`uq_instalment_days_patient_id_product_dose_date`), a row moves out of `due` only through a
conditional UPDATE that names `state = 'due'`, and a database trigger refuses any change to a
row in a final state. A second terminal, a double click or a retried request finds the row
already recorded and is told who recorded it and when.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import kit
from app.actor import SYSTEM, Actor
from app.audit import service as audit_service
from app.auth.policy import require_role, require_safety_act
from app.auth.roles import Role
from app.clock import local_midnight_utc
from app.config import PolicySettings
from app.db import UnitOfWork, retrying
from app.dosing import facts as dosing_facts
from app.dosing import rules
from app.dosing.household import household_events
from app.dosing.models import (
    NOT_TAKEN_STATES,
    DoseState,
    HandoverRefusal,
    IdempotentRequest,
    InstalmentDay,
    Mode,
    Reassessment,
)
from app.errors import Conflict, DomainError, InvalidInput, NotFound, Refused
from app.households.models import BoxConfirmation, Child
from app.households.service import current_children
from app.labelling import service as labelling_service
from app.labelling.content import LabelRefused
from app.patients import service as patients_service
from app.patients.models import Patient
from app.pharmacies import service as pharmacies_service
from app.pharmacies.models import Pharmacy
from app.prescriptions import rules as prescription_rules
from app.prescriptions.models import Prescription, Status
from app.register import service as register_service
from app.safeguarding import rules as safeguarding_rules
from app.safeguarding import service as safeguarding_service

COUNTER = {Role.PHARMACIST, Role.TECHNICIAN}


def reasons(items: Sequence[rules.Reason]) -> list[dict[str, str]]:
    return [{"code": str(r.code), "message": r.message, "source": r.source} for r in items]


@dataclass
class CounterView:
    """A decision with what the counter shows beside it."""

    patient: Patient
    decision: rules.Decision
    product: str | None
    prescription_id: UUID | None
    facts: rules.CounterFacts
    rows: list[InstalmentDay] = field(default_factory=list)
    # Held so the session's (weak) identity map keeps it for the register line and labels.
    prescription: Prescription | None = None


def _ml(product: str | None, mg: Decimal) -> str | None:
    """The same dose in mL, so the counter never has to work out mg/mL by hand."""
    found = prescription_rules.PRODUCTS.get(product or "")
    quantity = found.ml_for(mg) if found is not None else None
    return plain(quantity) if quantity is not None else None


def plain(value: Decimal) -> str:
    """`150` not `150.00` or `1.5E+2`: how a pharmacist writes a dose."""
    return f"{value.normalize():f}"


def last_dose_body(facts: rules.CounterFacts) -> dict[str, Any]:
    """What the counter always shows: the last dose taken and how many days since."""
    last = facts.last_dose
    return {
        "taken_on": last.taken_on.isoformat() if last and last.taken_on else None,
        "source": last.source if last else None,
        "mode": last.mode if last else None,
        "days_without_dose": facts.days_without_dose,
        "text": rules.describe_last_dose(last, facts.today),
    }


def decision_body(view: CounterView) -> dict[str, Any]:
    d = view.decision
    rx = view.facts.prescription
    daily = rx.daily_dose_mg if rx is not None else None
    return {
        "patient_id": str(view.patient.id),
        "prescription_id": str(view.prescription_id) if view.prescription_id else None,
        "product": view.product,
        "allowed": d.allowed,
        "mode": d.mode,
        "dose_mg": plain(d.dose_mg),
        "dose_ml": _ml(view.product, d.dose_mg),
        "dose_dates": [x.isoformat() for x in d.dose_dates],
        "blocks": reasons(d.blocks),
        "warnings": reasons(d.warnings),
        "last_dose": last_dose_body(view.facts),
        "needs_measuring_device": d.needs_measuring_device,
        # The daily dose is what a pharmacist measures and checks: shown first, the
        # instalment's total only as "days x daily dose".
        "daily_dose_mg": plain(daily) if daily is not None else None,
        "daily_dose_ml": _ml(view.product, daily) if daily is not None else None,
    }


def _patient_for_counter(
    session: Session, actor: Actor, *, patient_id: UUID | None, barcode: str | None
) -> Patient:
    if patient_id is not None:
        return patients_service.load_visible(session, actor, patient_id)
    if barcode:
        try:
            return patients_service.find_by_card(session, actor, barcode)
        except NotFound:
            # Another pharmacy's card must answer exactly as an unknown one (no id leaks).
            raise NotFound("patient card", "(scanned)") from None
    raise InvalidInput("patient_id", "required", "give a patient_id or a scanned barcode")


def _view(
    session: Session,
    actor: Actor,
    patient: Patient,
    *,
    product: str | None,
    today: date,
    intoxicated: bool,
    policy: PolicySettings,
    collector: str = "patient",
    measuring_device: bool | None = None,
) -> CounterView:
    return views(
        session,
        actor,
        [patient],
        product=product,
        today=today,
        intoxicated=intoxicated,
        policy=policy,
        collector=collector,
        measuring_device=measuring_device,
    )[0]


def views(
    session: Session,
    actor: Actor,
    patients: Sequence[Patient],
    *,
    product: str | None,
    today: date,
    intoxicated: bool,
    policy: PolicySettings,
    collector: str = "patient",
    measuring_device: bool | None = None,
) -> list[CounterView]:
    """The counter's decision for each patient, from facts gathered for all of them at once."""
    gathered = dosing_facts.gather_many(
        session,
        patients,
        product=product,
        today=today,
        counter_pharmacy_id=actor.pharmacy_id,
        intoxicated=intoxicated,
        collector=collector,
        measuring_device=measuring_device,
    )
    counter_policy = dosing_facts.counter_policy(policy)
    result = []
    for patient in patients:
        facts, prescription, rows = gathered[patient.id]
        result.append(
            CounterView(
                patient,
                rules.decide(facts, counter_policy),
                prescription.product if prescription else product,
                prescription.id if prescription else None,
                facts,
                rows,
                prescription,
            )
        )
    return result


def check(
    uow: UnitOfWork,
    *,
    actor: Actor,
    patient_id: UUID | None = None,
    barcode: str | None = None,
    product: str | None = None,
    today: date,
    policy: PolicySettings,
    now: datetime,
) -> CounterView:
    """Today's decision for a patient at the counter (the read is logged)."""
    require_role(actor, COUNTER | {Role.ADMIN}, "use the counter")
    with uow:
        patient = _patient_for_counter(uow.session, actor, patient_id=patient_id, barcode=barcode)
        view = _view(
            uow.session,
            actor,
            patient,
            product=product,
            today=today,
            intoxicated=False,
            policy=policy,
        )
        audit_service.record(
            uow.session,
            actor,
            "counter.checked",
            entity="patient",
            entity_id=patient.id,
            at=now,
            pharmacy_id=patient.pharmacy_id,
            facts={"blocks": [str(b.code) for b in view.decision.blocks]},
        )
        uow.commit()
        return view


@dataclass(frozen=True, slots=True)
class Handover:
    patient_id: UUID
    date: date
    outcome: str  # supervised | collected
    collector: str  # patient | representative | hcp
    collector_details: str | None
    id_checked: bool
    id_shown: bool | None
    children_present: tuple[UUID, ...]
    intoxicated: bool
    acknowledged: frozenset[str]
    overrides: Mapping[str, str]
    # A measuring device went with a multi-day container of liquid.
    measuring_device: bool = False


def request_hash(body: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Stored:
    status: int
    body: dict[str, Any]


def _replay(session: Session, actor: Actor, key: str | None, digest: str) -> Stored | None:
    if not key:
        return None
    stored = session.scalar(
        select(IdempotentRequest).where(
            IdempotentRequest.user_id == actor.id, IdempotentRequest.key == key
        )
    )
    if stored is None:
        return None
    if stored.request_hash != digest:
        raise InvalidInput(
            "Idempotency-Key",
            "idempotency_key_reused",
            "this key was used for a different request; use a new key",
        )
    return Stored(stored.status_code, stored.response)


def _children_in_household(session: Session, patient: Patient, today: date) -> list[Child]:
    if patient.household_id is None:
        return []
    return current_children(session, patient.household_id, today)


def _check_children_present(children: Sequence[Child], present: Sequence[UUID]) -> None:
    known = {c.id for c in children}
    for child_id in present:
        if child_id not in known:
            raise InvalidInput(
                "children_present",
                "household_child",
                f"{child_id} is not a child living in the patient's household",
            )


def _raise(
    session: Session,
    events: Sequence[safeguarding_rules.SafeguardingEvent],
    *,
    actor: Actor,
    patient: Patient,
    day: date,
    now: datetime,
    policy: PolicySettings,
) -> list[str]:
    alerts = safeguarding_service.raise_alerts(
        session,
        [_about(patient, event) for event in events],
        actor=actor,
        day=day,
        now=now,
        routing=policy.alert_routing,
    )
    return [str(alert.id) for alert in alerts]


def _about(
    patient: Patient, event: safeguarding_rules.SafeguardingEvent
) -> safeguarding_service.Raise:
    return safeguarding_service.Raise(event, patient.pharmacy_id, patient.id, patient.household_id)


def _pending(row: InstalmentDay, view: CounterView) -> bool:
    """Still to hand over: due, or withheld earlier today and reassessed since."""
    if row.state == DoseState.DUE:
        return True
    return (
        row.state == DoseState.WITHHELD
        and row.reassessment_id is None
        and any(day.dose_date == row.dose_date and day.reassessed for day in view.facts.instalments)
    )


def _reassessment_today(session: Session, patient_id: UUID, today: date) -> Reassessment | None:
    return session.scalar(
        select(Reassessment)
        .where(Reassessment.patient_id == patient_id, Reassessment.dose_date == today)
        .order_by(Reassessment.reassessed_at.desc())
        .limit(1)
    )


def handover_body(
    rows: Sequence[InstalmentDay],
    *,
    handover_id: UUID,
    decision: rules.Decision,
    alerts: list[str],
    labels: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "handover_id": str(handover_id),
        "patient_id": str(rows[0].patient_id),
        "mode": decision.mode,
        "dose_mg": str(sum((Decimal(r.dose_mg) for r in rows), Decimal(0))),
        "doses": [
            {
                "id": str(r.id),
                "dose_date": r.dose_date.isoformat(),
                "mode": r.mode,
                "dose_mg": str(r.dose_mg),
                "state": r.state,
                "recorded_at": r.recorded_at.isoformat() if r.recorded_at else None,
            }
            for r in rows
        ],
        "warnings_acknowledged": [str(w.code) for w in decision.warnings],
        "alerts": alerts,
        "label": {"jobs": labels} if labels else None,
    }


@retrying
def hand_over(
    uow: UnitOfWork,
    *,
    actor: Actor,
    handover: Handover,
    today: date,
    policy: PolicySettings,
    now: datetime,
    idempotency_key: str | None = None,
    digest: str = "",
) -> Stored:
    """Record today's supervised or take-home handover, if the rules allow it.

    A refusal is itself recorded (audited, and a take-home refused for want of a box alerts
    the key worker) before it is raised.
    """
    require_role(actor, COUNTER, "hand over doses")
    # Every handover carries the not-intoxicated attestation; overrides lift a safety block.
    require_safety_act(actor, "attest_not_intoxicated")
    if any(reason.strip() for reason in handover.overrides.values()):
        require_safety_act(actor, "override_block")
    with uow:
        session = uow.session
        patient = patients_service.load_visible(
            session, actor, handover.patient_id, for_update=True
        )
        replay = _replay(session, actor, idempotency_key, digest)
        if replay is not None:
            return replay
        if handover.date != today:
            raise InvalidInput(
                "date", "today_only", f"a handover is recorded on the day it happens ({today})"
            )
        children = _children_in_household(session, patient, today)
        _check_children_present(children, handover.children_present)
        view = _view(
            session,
            actor,
            patient,
            product=None,
            today=today,
            intoxicated=handover.intoxicated,
            policy=policy,
            collector=handover.collector,
            measuring_device=handover.measuring_device,
        )
        decision = view.decision
        standing = decision.refusal(handover.acknowledged, handover.overrides)
        if not standing and decision.mode is not None:
            expected = "supervised" if decision.mode == "supervised" else "collected"
            if handover.outcome != expected:
                raise InvalidInput(
                    "outcome",
                    "matches_prescription",
                    f"today's instalment is {decision.mode.replace('_', '-')}: "
                    f"record it as {expected}",
                )
        pending = [r for r in view.rows if _pending(r, view)]
        if standing or not pending:
            codes = [str(r.code) for r in standing]
            session.add(
                HandoverRefusal(
                    patient_id=patient.id,
                    pharmacy_id=actor.pharmacy_id or patient.pharmacy_id,
                    day=today,
                    codes=codes or ["nothing_due"],
                    refused_by_id=actor.id,
                    refused_at=now,
                )
            )
            audit_service.record(
                session,
                actor,
                "dose.handover_refused",
                entity="patient",
                entity_id=patient.id,
                at=now,
                pharmacy_id=patient.pharmacy_id,
                facts={"standing": codes},
            )
            alerts = _raise(
                session,
                safeguarding_rules.refused_take_home_events(standing=codes),
                actor=actor,
                patient=patient,
                day=today,
                now=now,
                policy=policy,
            )
            uow.commit()  # the refusal is part of the record, so it is saved before raising
            already = [r for r in standing if r.code == rules.Code.ALREADY_RECORDED]
            error_cls: type[DomainError] = Conflict if already else Refused
            raise error_cls(
                " ".join(r.message for r in (already or standing)) or "Nothing to hand over",
                code="already_recorded" if already else "handover_refused",
                blocks=reasons(decision.blocks),
                warnings=reasons(decision.warnings),
                unacknowledged=[str(r.code) for r in standing if r.code in rules.WARNINGS],
                alerts=alerts,
            )
        handover_id = uuid4()
        overridden = decision.overridden(handover.overrides)
        record = {
            "acknowledged": sorted(str(w.code) for w in decision.warnings),
            "overrides": {str(code): handover.overrides[code] for code in overridden},
        }
        reassessment = (
            _reassessment_today(session, patient.id, today)
            if any(r.state == DoseState.WITHHELD for r in pending)
            else None
        )
        authorisation = (
            dosing_facts.authorisations_today(session, [patient.id], today).get(patient.id)
            if handover.collector != "patient"
            else None
        )
        for row in pending:
            supervised = (
                handover.outcome == "supervised"
                and row.dose_date == today
                and row.mode == Mode.SUPERVISED
                and handover.collector == "patient"
            )
            values: dict[str, Any] = {
                "state": DoseState.SUPERVISED if supervised else DoseState.COLLECTED,
                "handover_id": handover_id,
                "recorded_by_id": actor.id,
                "recorded_at": now,
                "collector": handover.collector,
                "collector_details": handover.collector_details,
                "id_asked": handover.id_checked,
                "id_shown": handover.id_shown,
                "children_present": [str(c) for c in handover.children_present],
                "decision": record,
            }
            if not supervised:
                values["measuring_device"] = handover.measuring_device
            if row.mode == Mode.SUPERVISED and not supervised:
                # Today's supervised dose going home on the prescriber's direction: it is a
                # take-home of that day, and the record says whose direction it was.
                values["mode"] = Mode.TAKE_HOME
                values["authorisation_id"] = authorisation.id if authorisation else None
            if row.collect_on < today:
                values["collect_on"] = today  # collected late under the "missed remaining" wording
            expected = DoseState.DUE
            if row.state == DoseState.WITHHELD:
                if reassessment is None:  # the decision would have blocked it
                    raise RuntimeError("a withheld dose without a reassessment reached handover")
                values["reassessment_id"] = reassessment.id
                expected = DoseState.WITHHELD
            changed = session.execute(
                update(InstalmentDay)
                .where(InstalmentDay.id == row.id, InstalmentDay.state == expected)
                .values(**values)
                # The rows are refreshed below; evaluating the WHERE in Python is wasted work.
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
            if changed != 1:  # another terminal got there first, between our read and write
                raise Conflict(
                    "This dose was recorded a moment ago at another terminal",
                    code="already_recorded",
                )
        session.flush()
        for row in pending:
            session.refresh(row)
        assert view.prescription_id is not None
        try:
            jobs = labelling_service.queue_for_handover(
                session,
                actor=actor,
                patient=patient,
                prescription_id=view.prescription_id,
                handover_id=handover_id,
                take_home_dates=[r.dose_date for r in pending if r.state == DoseState.COLLECTED],
                today=today,
                now=now,
            )
        except LabelRefused as exc:  # no methadone leaves without a lawful label
            raise Refused(str(exc), code="label_refused", field=exc.field) from exc
        events = list(safeguarding_rules.override_events(overridden=[str(c) for c in overridden]))
        if any(r.state == DoseState.COLLECTED for r in pending):
            events += household_events(session, patient, today, policy)
        alerts = _raise(
            session, events, actor=actor, patient=patient, day=today, now=now, policy=policy
        )
        body = handover_body(
            pending,
            handover_id=handover_id,
            decision=decision,
            alerts=alerts,
            labels=[{"job_id": str(j.id), "label_id": j.label_id, "state": j.state} for j in jobs],
        )
        if idempotency_key:
            session.add(
                IdempotentRequest(
                    user_id=actor.id,
                    key=idempotency_key,
                    request_hash=digest,
                    status_code=201,
                    response=body,
                    created_at=now,
                )
            )
            try:
                session.flush()
            except IntegrityError:
                # The key was claimed meanwhile by this user's request for another patient
                # (the same patient would have waited on the row lock and replayed).
                raise InvalidInput(
                    "Idempotency-Key",
                    "idempotency_key_reused",
                    "this key was used for a different request; use a new key",
                ) from None
        # Last, just before the commit: the register line and the audit event each take
        # their pharmacy-wide lock (one chain each), so everything above runs unlocked
        # and concurrent handovers at one pharmacy queue only for these and the commit.
        audit_service.record(
            session,
            actor,
            "dose.handed_over",
            entity="patient",
            entity_id=patient.id,
            at=now,
            pharmacy_id=patient.pharmacy_id,
            facts={
                "handover_id": handover_id,
                "outcome": handover.outcome,
                "dose_dates": [r.dose_date for r in pending],
                "dose_mg": sum((Decimal(r.dose_mg) for r in pending), Decimal(0)),
                "collector": handover.collector,
                "id_checked": handover.id_checked,
                "children_present": len(handover.children_present),
                **record,
            },
        )
        # CD register: the supply line is written from the handover, in this transaction.
        register_service.record_supply(
            session,
            actor=actor,
            patient=patient,
            prescription_id=view.prescription_id,
            rows=pending,
            today=today,
            now=now,
            routing=policy.alert_routing,
        )
        uow.commit()
        return Stored(201, body)


@retrying
def withhold(
    uow: UnitOfWork,
    *,
    actor: Actor,
    patient_id: UUID,
    day: date,
    reason: str,
    reason_text: str,
    children_present: Sequence[UUID],
    today: date,
    policy: PolicySettings,
    now: datetime,
) -> dict[str, Any]:
    """Withhold today's instalment (intoxicated, or another stated reason); never supplied later."""
    require_safety_act(actor, "withhold")
    if day != today:
        raise InvalidInput("date", "today_only", f"a dose is withheld on the day ({today})")
    with uow:
        session = uow.session
        patient = patients_service.load_visible(session, actor, patient_id, for_update=True)
        children = _children_in_household(session, patient, today)
        _check_children_present(children, children_present)
        view = _view(
            session, actor, patient, product=None, today=today, intoxicated=False, policy=policy
        )
        due = [r for r in view.rows if r.state == DoseState.DUE]
        if not due:
            already = [
                r
                for r in view.decision.blocks
                if r.code in (rules.Code.ALREADY_RECORDED, rules.Code.WITHHELD_TODAY)
            ]
            raise Conflict(
                already[0].message if already else "Nothing is due today to withhold",
                code="already_recorded" if already else "nothing_due",
                blocks=reasons(view.decision.blocks),
            )
        for row in due:
            changed = session.execute(
                update(InstalmentDay)
                .where(InstalmentDay.id == row.id, InstalmentDay.state == DoseState.DUE)
                .values(
                    state=DoseState.WITHHELD,
                    recorded_by_id=actor.id,
                    recorded_at=now,
                    reason=f"{reason}: {reason_text}".strip(": "),
                    children_present=[str(c) for c in children_present],
                )
            ).rowcount  # type: ignore[attr-defined]
            if changed != 1:
                raise Conflict(
                    "This dose was recorded a moment ago at another terminal",
                    code="already_recorded",
                )
        events: list[safeguarding_rules.SafeguardingEvent] = []
        if reason == "intoxicated":
            events += safeguarding_rules.intoxication_events(
                children_present=len(children_present),
                children_in_household=dosing_facts.children_facts(children, today),
            )
        alerts = _raise(
            session, events, actor=actor, patient=patient, day=today, now=now, policy=policy
        )
        audit_service.record(
            session,
            actor,
            "dose.withheld",
            entity="patient",
            entity_id=patient.id,
            at=now,
            pharmacy_id=patient.pharmacy_id,
            facts={
                "reason": reason,
                "dose_dates": [r.dose_date for r in due],
                "children_present": len(children_present),
            },
        )
        uow.commit()
        return {
            "patient_id": str(patient.id),
            "withheld": [r.dose_date.isoformat() for r in due],
            "alerts": alerts,
        }


@retrying
def record_box(
    uow: UnitOfWork,
    *,
    actor: Actor,
    patient_id: UUID,
    seen_on: date,
    method: str,
    note: str,
    today: date,
    policy: PolicySettings,
    now: datetime,
) -> BoxConfirmation:
    """A lockable box was seen; take-homes need one while young children live there."""
    require_role(actor, COUNTER | {Role.KEY_WORKER}, "record lockable boxes")
    if seen_on > today:
        raise InvalidInput("seen_on", "not_in_future", "cannot be in the future")
    if seen_on < today - timedelta(days=policy.box_validity_days):
        raise InvalidInput(
            "seen_on",
            "within_validity",
            f"a box seen more than {policy.box_validity_days} days ago no longer counts",
        )
    with uow:
        session = uow.session
        patient = patients_service.load_visible(session, actor, patient_id)
        box = BoxConfirmation(
            patient_id=patient.id,
            household_id=patient.household_id,
            seen_on=seen_on,
            valid_until=seen_on + timedelta(days=policy.box_validity_days),
            method=method,
            seen_by_id=actor.id,
            note=note,
            created_at=now,
        )
        session.add(box)
        session.flush()
        audit_service.record(
            session,
            actor,
            "box.confirmed",
            entity="patient",
            entity_id=patient.id,
            at=now,
            pharmacy_id=patient.pharmacy_id,
            facts={"method": method, "valid_until": box.valid_until},
        )
        uow.commit()
        return box


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
            pharmacies_service.load_visible(session, actor, pharmacy_id)
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
            thresholds = _thresholds(session, list(without), policy.missed_threshold)
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
                    policy_missed_threshold=thresholds.get(
                        (patient_id, product), policy.missed_threshold
                    ),
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
    session: Session, pairs: Sequence[tuple[UUID, str]], policy_threshold: int
) -> dict[tuple[UUID, str], int]:
    """The stopping threshold per (patient, product): 3 at most where the patient's current
    prescription carries Home Office wording 3 (the prescriber's direction)."""
    if policy_threshold <= 3:
        return {}  # the wording cannot lower it further
    found: dict[tuple[UUID, str], int] = {}
    wanted = set(pairs)
    for batch in kit.chunks(sorted({pair[0] for pair in wanted})):
        for patient_id, product in session.execute(
            select(Prescription.patient_id, Prescription.product).where(
                Prescription.patient_id.in_(batch),
                Prescription.status == Status.ACTIVE,
                Prescription.wording_consult_after_3_missed.is_(True),
            )
        ):
            if (patient_id, product) in wanted:
                found[(patient_id, product)] = rules.threshold_for(True, policy_threshold)
    return found
