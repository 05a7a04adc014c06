"""The dose-exception routes (issue 20 §1): record an exception, supply its authorised
replacement, and read the patient-returns record (`app.dosing.exceptions`,
`app.dosing.exception_replacements`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from app.auth.deps import ActorDep
from app.clock import local_date
from app.dosing import exception_replacements, exception_returns, exceptions
from app.dosing.exception_models import DoseException, DoseReplacement
from app.dosing.exceptions_schemas import (
    DestructionBody,
    DoseExceptionBody,
    DoseExceptionList,
    DoseExceptionRead,
    DoseReplacementRead,
    ReplacementBody,
    ReturnList,
    ReturnRead,
)
from app.http import problems
from app.http.deps import NowDep, SettingsDep, UowDep
from app.http.schemas import IsoDate

router = APIRouter(tags=["counter"], responses=problems.API_ERRORS)


def exception_read(
    exception: DoseException,
    replacement: DoseReplacement | None = None,
    alerts: list[str] | None = None,
) -> DoseExceptionRead:
    return DoseExceptionRead.model_validate(exception).model_copy(
        update={
            "alerts": alerts or [],
            "replacement": DoseReplacementRead.model_validate(replacement) if replacement else None,
        }
    )


@router.post(
    "/patients/{patient_id}/dose-exceptions",
    status_code=201,
    response_model=DoseExceptionRead,
    responses={
        409: {
            "description": "day_not_supplied, not_a_take_home, not_supervised_today, "
            "not_supplied_today, exception_recorded"
        }
    },
)
def record_dose_exception(
    patient_id: UUID,
    body: DoseExceptionBody,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> object:
    """Record, on the day, what happened to a dose after it was supplied: vomited, spilt at the
    counter, a take-home lost, stolen or damaged, or returned unused (a patient return, kept in
    the returns record, not the CD register). The ledger day is not changed. Lost or stolen
    methadone where children live alerts the social worker and key worker urgently; a second
    exception within 28 days alerts the prescriber. A replacement that was itself lost,
    stolen, damaged, returned, vomited or spilt is named by `replacement_id` instead of the
    days, and may in turn be replaced. A pharmacist or technician."""
    recorded = exceptions.record_exception(
        uow,
        actor=actor,
        new=exceptions.NewException(
            patient_id=patient_id,
            kind=body.kind,
            dose_dates=tuple(body.dose_dates),
            note=body.note,
            minutes_after=body.minutes_after,
            police_reference=body.police_reference,
            volume_ml=body.volume_ml,
            replacement_id=body.replacement_id,
        ),
        today=local_date(now, settings.timezone),
        now=now,
        timezone=settings.timezone,
        policy=settings.policy,
    )
    return exception_read(recorded.exception, alerts=recorded.alerts)


@router.get("/patients/{patient_id}/dose-exceptions", response_model=DoseExceptionList)
def list_dose_exceptions(patient_id: UUID, uow: UowDep, actor: ActorDep) -> object:
    """The patient's dose exceptions, newest first, each with its replacement if supplied."""
    return {
        "items": [
            exception_read(line.exception, line.replacement)
            for line in exceptions.for_patient(uow, actor=actor, patient_id=patient_id)
        ]
    }


@router.post(
    "/dose-exceptions/{exception_id}/replacement",
    status_code=201,
    response_model=DoseReplacementRead,
    responses={
        409: {"description": "already_replaced, not_replaceable"},
        422: {
            "description": "replacement_not_authorised, supervised_more_than_a_day, or the "
            "counter's refusal: prescription_not_active, no_prescription, "
            "missed_threshold_reached, patient_intoxicated, withheld_today, no_lockable_box, "
            "children_not_confirmed, young_child_take_home / household_methadone_high (to "
            "acknowledge), with blocks and warnings"
        },
    },
)
def supply_replacement(
    exception_id: UUID,
    body: ReplacementBody,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> object:
    """Supply a replacement for an exception's dose, on the prescriber's authorisation (who,
    when, how; refused without it: `replacement_not_authorised`). Its own record, its own CD
    register line and, for a take-home, a label saying it is a replacement; the day's ledger
    row is not touched. At most the exception's dose (supervised: at most one day's dose); one
    per exception. The counter's checks apply as to any supply: the prescription active, the
    missed-dose threshold, the not-intoxicated attestation (required for a supervised one),
    and for a take-home the household checks and warnings to acknowledge. A pharmacist."""
    replaced = exception_replacements.supply_replacement(
        uow,
        actor=actor,
        new=exception_replacements.NewReplacement(
            exception_id=exception_id,
            authorised_by=body.authorised_by,
            authorised_at=body.authorised_at,
            authorised_how=body.authorised_how,
            dose_mg=body.dose_mg,
            mode=body.mode,
            note=body.note,
            not_intoxicated=body.not_intoxicated,
            acknowledged=frozenset(body.acknowledged),
        ),
        today=local_date(now, settings.timezone),
        now=now,
        policy=settings.policy,
    )
    return DoseReplacementRead.model_validate(replaced.replacement).model_copy(
        update={
            "register_entry_id": replaced.register_entry_id,
            "label_job_id": replaced.label_job.id if replaced.label_job else None,
        }
    )


def return_read(line: exception_returns.ReturnLine) -> ReturnRead:
    exception, destruction = line.exception, line.destruction
    return ReturnRead(
        exception_id=exception.id,
        patient_id=exception.patient_id,
        patient_name=line.patient_name,
        dose_dates=list(exception.dose_dates),
        volume_ml=exception.volume_ml,
        dose_mg=exception.dose_mg,
        product=exception.product,
        returned_on=exception.occurred_on,
        recorded_at=exception.recorded_at,
        note=exception.note,
        destroyed_on=destruction.destroyed_on if destruction else None,
        destroyed_method=destruction.method if destruction else None,
        destroyed_witness=destruction.witness if destruction else None,
    )


@router.get("/dose-returns", response_model=ReturnList)
def list_dose_returns(
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
    start: Annotated[IsoDate | None, Query(alias="from")] = None,
    end: Annotated[IsoDate | None, Query(alias="to")] = None,
) -> object:
    """Your pharmacy's patient-returns record: take-homes returned unused, with the volume and
    any destruction. Kept apart from the CD register (a return never changes its balance).
    The last 28 days unless a period is given."""
    today = local_date(now, settings.timezone)
    last = end or today
    first = start or last - timedelta(days=27)
    return {
        "items": [
            return_read(line)
            for line in exception_returns.returns(uow, actor=actor, start=first, end=last)
        ]
    }


@router.post(
    "/dose-returns/{exception_id}/destruction",
    status_code=201,
    response_model=ReturnRead,
    responses={409: {"description": "already_destroyed"}},
)
def record_return_destruction(
    exception_id: UUID,
    body: DestructionBody,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> object:
    """Record that a patient return was destroyed (denatured), with the witness: in the
    returns record, not the CD register. A pharmacist; once per return."""
    today = local_date(now, settings.timezone)
    exception_returns.record_destruction(
        uow,
        actor=actor,
        exception_id=exception_id,
        method=body.method,
        witness=body.witness,
        today=today,
        now=now,
    )
    found = [
        line
        for line in exception_returns.returns(
            uow, actor=actor, start=today - timedelta(days=366), end=today
        )
        if line.exception.id == exception_id
    ]
    return return_read(found[0])
