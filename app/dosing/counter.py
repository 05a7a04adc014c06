"""The counter's view of a patient today: the decision with every reason, the due doses, the
last dose taken; what the counter page and `GET /counter/...` show before anything is handed
over (read only)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import require_role
from app.auth.roles import Role
from app.config import PolicySettings
from app.db import UnitOfWork
from app.dosing import counter_wording, rules
from app.dosing import gather as dosing_gather
from app.dosing.decision_inputs import CounterFacts
from app.dosing.models import (
    InstalmentDay,
)
from app.errors import InvalidInput, NotFound
from app.patients import repository as patients_repository
from app.patients import service as patients_service
from app.patients.models import Patient
from app.prescriptions.models import Prescription
from app.prescriptions.products import PRODUCTS

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
    facts: CounterFacts
    rows: list[InstalmentDay] = field(default_factory=list)
    # Held so the session's (weak) identity map keeps it for the register line and labels.
    prescription: Prescription | None = None


def _ml(product: str | None, mg: Decimal) -> str | None:
    """The same dose in mL, so the counter never has to work out mg/mL by hand."""
    found = PRODUCTS.get(product or "")
    quantity = found.ml_for(mg) if found is not None else None
    return plain(quantity) if quantity is not None else None


def plain(value: Decimal) -> str:
    """`150` not `150.00` or `1.5E+2`: how a pharmacist writes a dose."""
    return f"{value.normalize():f}"


def last_dose_body(facts: CounterFacts) -> dict[str, Any]:
    """What the counter always shows: the last dose taken and how many days since."""
    last = facts.last_dose
    return {
        "taken_on": last.taken_on.isoformat() if last and last.taken_on else None,
        "source": last.source if last else None,
        "mode": last.mode if last else None,
        "days_without_dose": facts.days_without_dose,
        "text": counter_wording.describe_last_dose(last, facts.today),
    }


def decision_body(view: CounterView) -> dict[str, Any]:
    d = view.decision
    rx = view.facts.prescription
    # The dose of the day being handed over (a stepped prescription's changes by date), else
    # the prescription's own daily dose.
    doses = [day.dose_mg for day in view.facts.instalments]
    daily = doses[0] if doses else (rx.daily_dose_mg if rx is not None else None)
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
        "parts": parts_body(view),
        "dose_varies": len(set(doses)) > 1,
    }


def parts_body(view: CounterView) -> list[dict[str, Any]]:
    """A split dose's parts for each day handed over (issue 20 §2): what is swallowed here and
    what goes home in its own container, in mg and mL, with the sentence the counter shows."""
    body = []
    for day in view.facts.instalments:
        for part in day.parts:
            swallowed = (
                view.decision.mode == "supervised"
                and day.mode == "supervised"
                and part.supervised
                and day.dose_date == view.facts.today
            )
            ml = _ml(view.product, part.dose_mg)
            amount = f"{plain(part.dose_mg)} mg" + (f" ({ml} mL)" if ml else "")
            where = "swallowed here" if swallowed else "to take home in its own container"
            body.append(
                {
                    "dose_date": day.dose_date.isoformat(),
                    "when": part.when,
                    "dose_mg": plain(part.dose_mg),
                    "dose_ml": ml,
                    "supervised": swallowed,
                    "text": f"{day.dose_date:%a} {part.when}: {amount}, {where}",
                }
            )
    return body


def _patient_for_counter(
    session: Session,
    actor: Actor,
    *,
    patient_id: UUID | None,
    barcode: str | None,
    today: date,
) -> Patient:
    """The patient at this counter: the pharmacy's own, or a guest it doses today."""
    if patient_id is not None:
        return patients_repository.load_for_counter(session, actor, patient_id, today)
    if barcode:
        try:
            return patients_service.find_by_card(session, actor, barcode, today=today)
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
    gathered = dosing_gather.gather_many(
        session,
        patients,
        product=product,
        today=today,
        counter_pharmacy_id=actor.pharmacy_id,
        intoxicated=intoxicated,
        collector=collector,
        measuring_device=measuring_device,
    )
    counter_policy = dosing_gather.counter_policy(policy)
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
        patient = _patient_for_counter(
            uow.session, actor, patient_id=patient_id, barcode=barcode, today=today
        )
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
