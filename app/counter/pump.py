"""The dose-measuring pump at the counter (issue 20 §5): send one container's volume, report
what the pump measured out.

One pump measure is one container (`app.dosing.containers`): the supervised cup, or one
take-home container as its label groups the days, never the handover's total. The volume is
the counter's own decision for the patient today, never one the caller types, and nothing is
sent for a patient the counter blocks. What the pump reports is answered as it is, short or
not. Every request is audited with the container, what was asked and what came back (or the
pump's fault); the handover reads the last result of each container from that record and
refuses a short one not measured right since, whatever the page sends.

Each pharmacy drives its own pump (`DOSEKEEPER_PUMP_URLS`, by ODS code; `DOSEKEEPER_PUMP_URL`
only on a server of one pharmacy), chosen by the counter's pharmacy (a guest's own).

The pump's port is used outside any database transaction: a dose takes seconds to measure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import require_role
from app.config import PolicySettings
from app.db import UnitOfWork
from app.dosing import containers
from app.dosing import counter as dosing_counter
from app.errors import Conflict, DomainError, InvalidInput, Refused
from app.pharmacies.models import Pharmacy
from devices import DispenseResult, PumpFault, PumpUnavailable, SerialPump

DISCARD = (
    "Check the pump and the container: discard anything it dispensed and measure the dose again "
    "(by hand if need be)."
)


class PumpNotAnswering(DomainError):
    status = 503
    code = "pump_unavailable"
    title = "The dose pump did not answer"


class PumpFailed(DomainError):
    status = 502
    code = "pump_error"
    title = "The dose pump reported a fault"


@dataclass(frozen=True, slots=True)
class PumpDispense:
    patient_id: UUID
    dose_date: date
    product: str | None
    container: containers.Container
    result: DispenseResult


@dataclass(frozen=True, slots=True)
class Pumps:
    """The pumps this server drives: each pharmacy's own by ODS code (`pump_urls`), and the
    one of a server that serves a single pharmacy (`pump_url`)."""

    by_ods: Mapping[str, SerialPump]
    single: SerialPump | None = None

    @classmethod
    def of(cls, state: Any) -> Pumps:
        """From the app's state (`app.main`: `state.pumps`, `state.pump`)."""
        return cls(getattr(state, "pumps", None) or {}, getattr(state, "pump", None))


def pump_for(session: Session, pharmacy_id: UUID | None, pumps: Pumps) -> SerialPump:
    """This pharmacy's pump; `pump_not_configured` (409), saying why, when it has none. The
    single pump (`pump_url`) serves only a server of one pharmacy, so one pharmacy's request
    never drives another's pump."""
    pharmacy = session.get(Pharmacy, pharmacy_id) if pharmacy_id else None
    if pharmacy is None:
        raise Conflict(
            "Only a pharmacy's counter has a dose pump: measure the dose by hand.",
            code="pump_not_configured",
        )
    found = pumps.by_ods.get(pharmacy.ods_code.upper())
    if found is not None:
        return found
    named = f"No dose pump is set up for {pharmacy.name} ({pharmacy.ods_code})"
    if pumps.single is not None:
        count = session.scalar(select(func.count()).select_from(Pharmacy)) or 0
        if count == 1:
            return pumps.single
        raise Conflict(
            f"{named}: this server serves {count} pharmacies, and its one pump setting "
            "(DOSEKEEPER_PUMP_URL) is for a server of one pharmacy only. Measure the dose by "
            "hand; the administrator can name this pharmacy's pump in DOSEKEEPER_PUMP_URLS.",
            code="pump_not_configured",
        )
    raise Conflict(f"{named}: measure the dose by hand.", code="pump_not_configured")


def has_pump(uow: UnitOfWork, actor: Actor, pumps: Pumps) -> bool:
    """Whether the caller's pharmacy has a pump (the counter page's "Dispense on pump")."""
    if not pumps.by_ods and pumps.single is None:
        return False
    with uow:
        try:
            pump_for(uow.session, actor.pharmacy_id, pumps)
        except Conflict:
            return False
        return True


def _choose(boxes: list[containers.Container], wanted: str | None) -> containers.Container:
    keys = [box.key for box in boxes]
    if wanted is None and len(boxes) == 1:
        return boxes[0]
    listed = "; ".join(f"{box.key}: {box.words}" for box in boxes)
    if wanted is None:
        raise Conflict(
            f"Today's handover fills {len(boxes)} containers, and the pump measures one at a "
            f"time: say which ({listed}).",
            code="container_required",
            containers=[_container_body(box) for box in boxes],
        )
    if wanted not in keys:
        raise InvalidInput(
            "container", "container", f"today's handover has no container {wanted} ({listed})"
        )
    return boxes[keys.index(wanted)]


def _container_body(box: containers.Container) -> dict[str, Any]:
    return {
        "container": box.key,
        "words": box.words,
        "dose_dates": [d.isoformat() for d in box.dose_dates],
        "dose_mg": f"{box.dose_mg.normalize():f}",
        "ml": f"{box.ml:.2f}" if box.ml is not None else None,
    }


def dispense(
    uow: UnitOfWork,
    pumps: Pumps,
    *,
    actor: Actor,
    patient_id: UUID,
    today: date,
    policy: PolicySettings,
    now: datetime,
    container: str | None = None,
) -> PumpDispense:
    """Measure one container of today's handover for the patient on this pharmacy's pump (the
    supervised cup, or a take-home container by its label's number; None: the only one);
    what the pump reported."""
    require_role(actor, dosing_counter.COUNTER, "measure a dose on the pump")
    view = dosing_counter.check(
        uow, actor=actor, patient_id=patient_id, today=today, policy=policy, now=now
    )
    counter_id = actor.pharmacy_id or view.patient.pharmacy_id
    with uow:
        pump = pump_for(uow.session, counter_id, pumps)
    body = dosing_counter.decision_body(view)
    if view.decision.blocks:
        raise Refused(
            "The counter refuses today's dose, so nothing was sent to the pump.",
            code="dose_blocked",
            blocks=body["blocks"],
            warnings=body["warnings"],
        )
    boxes = containers.at_counter(view, counter_id, today)
    if not boxes or body["dose_ml"] is None:
        raise Conflict(
            "Today's dose is not a liquid the pump can measure: measure it by hand.",
            code="not_a_liquid",
        )
    box = _choose(boxes, container)
    if box.ml is None:
        raise Conflict(
            "Today's dose is not a liquid the pump can measure: measure it by hand.",
            code="not_a_liquid",
        )
    volume = box.ml
    facts: dict[str, Any] = {
        "requested_ml": f"{volume:.2f}",
        "pump": pump.url,
        "date": today.isoformat(),
        "container": box.key,
        "dose_dates": [d.isoformat() for d in box.dose_dates],
    }
    try:
        result = pump.dispense(volume)
    except ValueError as exc:  # a volume the protocol cannot carry (over 999.99 mL)
        _audit(uow, actor, view, now, containers.PUMP_FAILED, {**facts, "error": "volume"})
        raise Conflict(
            f"The pump cannot measure this volume: {exc}.", code="pump_volume_out_of_range"
        ) from exc
    except PumpUnavailable as exc:
        _audit(uow, actor, view, now, containers.PUMP_FAILED, {**facts, "error": "unavailable"})
        raise PumpNotAnswering(
            f"The dose pump did not answer ({exc}). {DISCARD}", requested_ml=facts["requested_ml"]
        ) from exc
    except PumpFault as exc:
        _audit(
            uow,
            actor,
            view,
            now,
            containers.PUMP_FAILED,
            {**facts, "error": exc.code, "partial": exc.partial},
        )
        raise PumpFailed(
            f"The dose pump failed ({exc}). {DISCARD}",
            requested_ml=facts["requested_ml"],
            pump_code=exc.code,
            volume_unknown=exc.partial,
        ) from exc
    _audit(
        uow,
        actor,
        view,
        now,
        containers.PUMP_DISPENSED,
        {
            **facts,
            "dispensed_ml": f"{result.dispensed_ml:.2f}",
            "request_id": result.request_id,
            "matches": result.matches,
        },
    )
    return PumpDispense(view.patient.id, today, view.product, box, result)


def _audit(
    uow: UnitOfWork,
    actor: Actor,
    view: dosing_counter.CounterView,
    now: datetime,
    action: str,
    facts: dict[str, Any],
) -> None:
    with uow:
        audit_service.record(
            uow.session,
            actor,
            action,
            entity="patient",
            entity_id=view.patient.id,
            at=now,
            pharmacy_id=view.patient.pharmacy_id,
            facts=facts,
        )
        uow.commit()


def read(found: PumpDispense) -> dict[str, Any]:
    result = found.result
    return {
        "patient_id": found.patient_id,
        "date": found.dose_date,
        "product": found.product,
        "container": found.container.key,
        "container_words": found.container.words,
        "dose_dates": list(found.container.dose_dates),
        "request_id": result.request_id,
        "requested_ml": f"{result.requested_ml:.2f}",
        "dispensed_ml": f"{result.dispensed_ml:.2f}",
        "matches": result.matches,
        "message": (
            f"The pump measured {result.dispensed_ml:.2f} mL, as asked, for "
            f"{found.container.words}."
            if result.matches
            else f"The pump measured {result.dispensed_ml:.2f} mL, not the "
            f"{result.requested_ml:.2f} mL asked for {found.container.words}: do not hand this "
            "over; discard it and measure that container again."
        ),
    }
