"""The other act at the counter: withholding a dose (intoxication, a pharmacist's concern).
Checking and handing over are in `counter.py` and `handover.py`, closing the day in
`close_day.py`; a lockable box seen is recorded by households (`app/households/boxes.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import require_safety_act
from app.config import PolicySettings
from app.db import UnitOfWork, retrying
from app.dosing import facts as dosing_facts
from app.dosing import ledger, rules
from app.dosing.counter import _view, reasons
from app.dosing.handover import _check_children_present, _children_in_household, _raise
from app.dosing.models import (
    DoseState,
)
from app.errors import Conflict, InvalidInput
from app.patients import repository as patients_repository
from app.safeguarding import rules as safeguarding_rules


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
        patient = patients_repository.load_for_counter(
            session, actor, patient_id, today, for_update=True
        )
        children = _children_in_household(session, patient, today)
        _check_children_present(children, children_present)
        view = _view(
            session, actor, patient, product=None, today=today, intoxicated=False, policy=policy
        )
        # Only the days this counter holds: a day granted to a guest pharmacy is its to decide.
        counter_id = actor.pharmacy_id or patient.pharmacy_id
        due = [r for r in view.rows if r.state == DoseState.DUE and r.pharmacy_id == counter_id]
        if not due:
            already = [
                r
                for r in view.decision.blocks
                if r.code
                in (
                    rules.Code.ALREADY_RECORDED,
                    rules.Code.WITHHELD_TODAY,
                    rules.Code.DOSED_AT_GUEST_PHARMACY,
                )
            ]
            raise Conflict(
                already[0].message if already else "Nothing is due today to withhold",
                code=(
                    str(already[0].code)
                    if already[0].code == rules.Code.DOSED_AT_GUEST_PHARMACY
                    else "already_recorded"
                )
                if already
                else "nothing_due",
                blocks=reasons(view.decision.blocks),
            )
        for row in due:
            ledger.change_day(
                session,
                row.id,
                expected=DoseState.DUE,
                values={
                    "state": DoseState.WITHHELD,
                    "recorded_by_id": actor.id,
                    "recorded_at": now,
                    "reason": f"{reason}: {reason_text}".strip(": "),
                    "children_present": [str(c) for c in children_present],
                },
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
