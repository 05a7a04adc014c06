"""Handing a dose over at the counter: the decision checked again under the patient's lock, the
ledger rows moved out of `due` by a conditional UPDATE, the register line, the labels, the
alerts and the idempotent replay, all in one transaction.

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
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import require_role, require_safety_act
from app.config import PolicySettings
from app.db import UnitOfWork, retrying
from app.dosing import bottles, containers, ledger, rules
from app.dosing import facts as dosing_facts
from app.dosing.containers import pending as _pending
from app.dosing.counter import COUNTER, _view, reasons
from app.dosing.household import household_events
from app.dosing.models import (
    DoseState,
    HandoverRefusal,
    InstalmentDay,
    Mode,
    Reassessment,
)
from app.errors import Conflict, DomainError, InvalidInput, Refused
from app.households.models import Child
from app.households.repository import current_children
from app.http import idempotency
from app.http.idempotency import Stored
from app.labelling import service as labelling_service
from app.labelling.content import LabelRefused, Portion
from app.patients import repository as patients_repository
from app.patients.models import Patient
from app.register import supplies as register_supplies
from app.register.packs import PACKS
from app.safeguarding import rules as safeguarding_rules
from app.safeguarding import service as safeguarding_service


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
    # The stock bottle's GS1 code scanned before measuring, and what a dose pump reported
    # dispensing (issue 20 §5, app.dosing.bottles).
    bottle: str | None = None
    pump_dispensed_ml: Decimal | None = None
    # What the pump reported for each container it filled, by container ("supervised", "1", …;
    # app.dosing.containers); `pump_dispensed_ml` is the supervised cup's (or the only one's).
    pump_measures: tuple[tuple[str, Decimal], ...] = ()


def request_hash(body: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


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


def _reassessment_today(session: Session, patient_id: UUID, today: date) -> Reassessment | None:
    return session.scalar(
        select(Reassessment)
        .where(Reassessment.patient_id == patient_id, Reassessment.dose_date == today)
        .order_by(Reassessment.reassessed_at.desc())
        .limit(1)
    )


def going_home(rows: Sequence[InstalmentDay]) -> list[Portion]:
    """What leaves the pharmacy with this handover, for its labels: each collected day's dose
    (a split dose as its parts), and the parts of a supervised split dose that go home."""
    return [
        portion
        for row in rows
        if row.state in (DoseState.COLLECTED, DoseState.SUPERVISED)
        for portion in containers.home_portions(row, swallowed=row.state == DoseState.SUPERVISED)
    ]


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
    pack_seed: Mapping[str, str] = PACKS,
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
        patient = patients_repository.load_for_counter(
            session, actor, handover.patient_id, today, for_update=True
        )
        replay = idempotency.replay(session, actor.id, idempotency_key, digest)
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
        # Only the days this counter holds: a guest pharmacy hands over the days granted to it,
        # the home pharmacy the rest (one ledger row per day either way).
        counter_id = actor.pharmacy_id or patient.pharmacy_id
        pending = [r for r in view.rows if _pending(r, view) and r.pharmacy_id == counter_id]
        # The bottle scanned and the pump's measures, container by container and as on record
        # today, join the decision's facts (issue 20 §5).
        boxes = containers.of_handover(
            pending,
            product=view.product,
            today=today,
            supervised=handover.outcome == "supervised" and handover.collector == "patient",
            separate=bool(view.facts.prescription and view.facts.prescription.separate_containers),
        )
        pumped = containers.pump_report(
            boxes,
            dispensed_ml=handover.pump_dispensed_ml,
            measures=handover.pump_measures,
            on_record=containers.last_pump_results(session, patient.id, today, now),
        )
        bottle = bottles.check(
            session,
            view=view,
            pharmacy_id=counter_id,
            scan=handover.bottle,
            pump=pumped,
            today=today,
            scan_required=policy.bottle_scan_required,
            seed=pack_seed,
        )
        decision = bottles.decide_with(view, bottle, policy)
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
            # Another terminal getting there first, between our read and write, is a 409.
            ledger.change_day(session, row.id, expected=expected, values=values, row=row)
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
                portions=going_home(pending),
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
            # Claimed meanwhile by this user's request for another patient: refused (the same
            # patient would have waited on the row lock and replayed).
            idempotency.remember(
                session,
                user_id=actor.id,
                key=idempotency_key,
                digest=digest,
                response=Stored(201, body),
                now=now,
            )
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
                "pump_ml": {c.container: c.dispensed_ml for c in pumped.checks} or None,
                **record,
            },
        )
        bottles.record(
            session,
            bottle,
            actor=actor,
            handover_id=handover_id,
            pharmacy_id=counter_id,
            patient_id=patient.id,
            now=now,
        )
        # CD register: the supply line is written from the handover, in this transaction.
        register_supplies.record_supply(
            session,
            actor=actor,
            patient=patient,
            prescription_id=view.prescription_id,
            rows=pending,
            today=today,
            now=now,
            routing=policy.alert_routing,
            pack=bottles.supplied_pack(bottle),
        )
        uow.commit()
        return Stored(201, body)
