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

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app import kit
from app.audit import service as audit_service
from app.audit.service import SYSTEM, Actor
from app.auth.models import Role
from app.auth.policy import require_role
from app.config import PolicySettings
from app.db import UnitOfWork
from app.dosing import facts as dosing_facts
from app.dosing import rules
from app.dosing.models import DoseState, IdempotentRequest, InstalmentDay, Mode
from app.errors import Conflict, DomainError, InvalidInput, NotFound, Refused
from app.households.models import BoxConfirmation, Child
from app.households.service import current_children
from app.labelling import service as labelling_service
from app.labelling.content import LabelRefused
from app.patients import service as patients_service
from app.patients.models import Patient
from app.pharmacies import service as pharmacies_service
from app.prescriptions import rules as prescription_rules
from app.prescriptions.models import Prescription
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
    if found is None or not found.strength_mg_per_ml:
        return None
    return plain((mg / found.strength_mg_per_ml).quantize(Decimal("0.01")))


def plain(value: Decimal) -> str:
    """`150` not `150.00` or `1.5E+2`: how a pharmacist writes a dose."""
    return f"{value.normalize():f}"


def decision_body(view: CounterView) -> dict[str, Any]:
    d = view.decision
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
) -> CounterView:
    return views(
        session,
        actor,
        [patient],
        product=product,
        today=today,
        intoxicated=intoxicated,
        policy=policy,
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
) -> list[CounterView]:
    """The counter's decision for each patient, from facts gathered for all of them at once."""
    gathered = dosing_facts.gather_many(
        session,
        patients,
        product=product,
        today=today,
        counter_pharmacy_id=actor.pharmacy_id,
        intoxicated=intoxicated,
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


def household_events(
    session: Session, patient: Patient, today: date, policy: PolicySettings
) -> list[safeguarding_rules.SafeguardingEvent]:
    """Household rules after a take-home or a new prescription: protected children, regimes,
    methadone at home."""
    if patient.household_id is None:
        return []
    children = dosing_facts.children_facts(
        current_children(session, patient.household_id, today), today
    )
    members = session.scalars(select(Patient).where(Patient.household_id == patient.household_id))
    regimes = []
    for member in members:
        modes = set(
            session.scalars(
                select(InstalmentDay.mode)
                .where(
                    InstalmentDay.patient_id == member.id,
                    InstalmentDay.dose_date >= today,
                    InstalmentDay.state.in_((DoseState.DUE, DoseState.COLLECTED)),
                )
                .distinct()
            )
        )
        if not modes:
            continue
        regimes.append(
            safeguarding_rules.MemberRegime(
                patient_ref=str(member.id),
                has_take_home=Mode.TAKE_HOME in modes,
                supervised_because_of_children=modes == {Mode.SUPERVISED} and bool(children),
            )
        )
    return list(
        safeguarding_rules.household_events(
            members=tuple(regimes),
            children=children,
            methadone_at_home_mg=dosing_facts.methadone_at_home(
                session, patient.household_id, today
            ),
            policy_household_mg=Decimal(policy.household_methadone_mg),
            child_age_years=policy.child_age_years,
        )
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
        if standing or not view.rows:
            codes = [str(r.code) for r in standing]
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
        for row in view.rows:
            state = (
                DoseState.SUPERVISED
                if handover.outcome == "supervised"
                and row.dose_date == today
                and row.mode == Mode.SUPERVISED
                else DoseState.COLLECTED
            )
            changed = session.execute(
                update(InstalmentDay)
                .where(InstalmentDay.id == row.id, InstalmentDay.state == DoseState.DUE)
                .values(
                    state=state,
                    handover_id=handover_id,
                    recorded_by_id=actor.id,
                    recorded_at=now,
                    collector=handover.collector,
                    collector_details=handover.collector_details,
                    id_asked=handover.id_checked,
                    id_shown=handover.id_shown,
                    children_present=[str(c) for c in handover.children_present],
                    decision=record,
                )
                # The rows are refreshed below; evaluating the WHERE in Python is wasted work.
                .execution_options(synchronize_session=False)
            ).rowcount  # type: ignore[attr-defined]
            if changed != 1:  # another terminal got there first, between our read and write
                raise Conflict(
                    "This dose was recorded a moment ago at another terminal",
                    code="already_recorded",
                )
        session.flush()
        for row in view.rows:
            session.refresh(row)
        assert view.prescription_id is not None
        try:
            jobs = labelling_service.queue_for_handover(
                session,
                actor=actor,
                patient=patient,
                prescription_id=view.prescription_id,
                handover_id=handover_id,
                rows=view.rows,
                today=today,
                now=now,
            )
        except LabelRefused as exc:  # no methadone leaves without a lawful label
            raise Refused(str(exc), code="label_refused", field=exc.field) from exc
        events = list(safeguarding_rules.override_events(overridden=[str(c) for c in overridden]))
        if any(r.state == DoseState.COLLECTED for r in view.rows):
            events += household_events(session, patient, today, policy)
        alerts = _raise(
            session, events, actor=actor, patient=patient, day=today, now=now, policy=policy
        )
        body = handover_body(
            view.rows,
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
                "dose_dates": [r.dose_date for r in view.rows],
                "dose_mg": sum((Decimal(r.dose_mg) for r in view.rows), Decimal(0)),
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
            rows=view.rows,
            today=today,
            now=now,
            routing=policy.alert_routing,
        )
        uow.commit()
        return Stored(201, body)


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
    require_role(actor, {Role.PHARMACIST}, "withhold doses")
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
            already = [r for r in view.decision.blocks if r.code == rules.Code.ALREADY_RECORDED]
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
    statement, then run the missed-dose rules for the patients it touched.

    Running it twice changes nothing the second time: only rows still `due` are touched.
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
            )
            .values(state=DoseState.MISSED, recorded_at=now)
            .returning(InstalmentDay.patient_id, InstalmentDay.product)
            .execution_options(synchronize_session=False)
        )
        marked = result.all()
        touched = sorted({(row[0], row[1]) for row in marked})
        alerts = 0
        if touched:
            # Set-based: a few queries for all touched patients, not several per patient.
            # Only the columns the rules need: most touched patients raise nothing, and
            # building ten thousand full ORM objects was a fifth of the close.
            patients = {
                p.id: p
                for batch in kit.chunks({t[0] for t in touched})
                for p in session.execute(
                    select(Patient.id, Patient.pharmacy_id, Patient.household_id).where(
                        Patient.id.in_(batch)
                    )
                )
            }
            streaks = dosing_facts.missed_streaks(session, touched, through=day)
            households = {p.household_id for p in patients.values() if p.household_id}
            children_by_household = dosing_facts.children_by_household(session, households, day)
            requests = []
            for patient_id, product in touched:
                patient = patients[patient_id]
                living = (
                    children_by_household.get(patient.household_id, [])
                    if patient.household_id
                    else []
                )
                children = dosing_facts.children_facts(living, day)
                events = safeguarding_rules.missed_dose_events(
                    missed_streak=streaks[(patient_id, product)],
                    children=children,
                    policy_missed_threshold=policy.missed_threshold,
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
