"""The patients' returns record (issue 20 §1): take-homes returned unused, recorded as a dose
exception of kind `returned` (`app.dosing.exceptions`), and their witnessed destruction. Kept
apart from the CD register (domain rules §5.5, item 34): a return never changes a balance."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from sqlalchemy import select

from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import require_role
from app.auth.roles import Role
from app.db import UnitOfWork, retrying
from app.dosing.counter import COUNTER
from app.dosing.exception_models import DoseException, ExceptionKind, ReturnDestruction
from app.errors import Conflict, InvalidInput, NotFound
from app.kit import new_id
from app.patients.models import Patient


@dataclass(frozen=True, slots=True)
class ReturnLine:
    exception: DoseException
    destruction: ReturnDestruction | None
    patient_name: str


def returns(uow: UnitOfWork, *, actor: Actor, start: date, end: date) -> list[ReturnLine]:
    """The pharmacy's patient-returns record: each take-home returned unused in the period, with
    its destruction if recorded. It is not the CD register: a return never changes a balance."""
    require_role(actor, COUNTER, "read the patient-returns record")
    if end < start or (end - start).days > 366:
        raise InvalidInput("to", "period", "is on or after the start, within a year of it")
    with uow:
        if actor.pharmacy_id is None:
            return []
        return [
            ReturnLine(exception, destruction, f"{family}, {given}")
            for exception, destruction, family, given in uow.session.execute(
                select(DoseException, ReturnDestruction, Patient.family_name, Patient.given_name)
                .join(Patient, Patient.id == DoseException.patient_id)
                .outerjoin(ReturnDestruction, ReturnDestruction.exception_id == DoseException.id)
                .where(
                    DoseException.pharmacy_id == actor.pharmacy_id,
                    DoseException.kind == ExceptionKind.RETURNED,
                    DoseException.occurred_on >= start,
                    DoseException.occurred_on <= end,
                )
                .order_by(DoseException.recorded_at, DoseException.id)
            )
        ]


@retrying
def record_destruction(
    uow: UnitOfWork,
    *,
    actor: Actor,
    exception_id: UUID,
    method: str,
    witness: str,
    today: date,
    now: datetime,
) -> ReturnDestruction:
    """The returned liquid was destroyed (denatured), witnessed: in the returns record, once."""
    require_role(actor, {Role.PHARMACIST}, "record the destruction of a patient return")
    if not method.strip():
        raise InvalidInput("method", "required", "say how it was destroyed (e.g. denaturing kit)")
    if not witness.strip():
        raise InvalidInput("witness", "required", "name who witnessed the destruction")
    with uow:
        session = uow.session
        exception = session.get(DoseException, exception_id)
        if (
            exception is None
            or exception.pharmacy_id != actor.pharmacy_id
            or exception.kind != ExceptionKind.RETURNED
        ):
            raise NotFound("patient return", exception_id)
        if session.scalar(
            select(ReturnDestruction.id).where(ReturnDestruction.exception_id == exception.id)
        ):
            raise Conflict(
                "The destruction of this return is already recorded", code="already_destroyed"
            )
        destruction = ReturnDestruction(
            id=new_id(),
            exception_id=exception.id,
            pharmacy_id=exception.pharmacy_id,
            destroyed_on=today,
            method=method.strip()[:300],
            witness=witness.strip()[:200],
            destroyed_by_id=actor.id,
            recorded_at=now,
        )
        session.add(destruction)
        session.flush()
        audit_service.record(
            session,
            actor,
            "dose.return_destroyed",
            entity="patient",
            entity_id=exception.patient_id,
            at=now,
            pharmacy_id=exception.pharmacy_id,
            facts={"exception_id": exception.id, "volume_ml": str(exception.volume_ml)},
        )
        uow.commit()
        return destruction
