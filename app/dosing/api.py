from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, model_validator

from app import metrics
from app.clock import local_date
from app.dosing import reads as dosing_reads
from app.dosing import service as dosing_service
from app.households.models import BoxMethod
from app.http import problems
from app.http.deps import ActorDep, ClockDep, NowDep, SettingsDep, UowDep
from app.http.schemas import In, IsoDate, Note, Out, Paged
from app.labelling import service as labelling_service

router = APIRouter(tags=["counter"], responses=problems.API_ERRORS)


class ReasonRead(BaseModel):
    code: str
    message: str
    source: str | None = None


class DecisionRead(BaseModel):
    patient_id: UUID
    prescription_id: UUID | None
    product: str | None
    allowed: bool
    mode: str | None
    dose_mg: str
    dose_ml: str | None = None
    dose_dates: list[date]
    blocks: list[ReasonRead]
    warnings: list[ReasonRead]


class DueRead(DecisionRead):
    given_name: str
    family_name: str
    state: str


class CheckBody(In):
    patient_id: UUID | None = None
    barcode: Annotated[str, Field(max_length=200)] | None = None
    date: IsoDate | None = None
    product: Annotated[str, Field(max_length=64)] | None = None

    @model_validator(mode="after")
    def _one_subject(self) -> CheckBody:
        if (self.patient_id is None) == (self.barcode is None):
            raise ValueError("give exactly one of patient_id or barcode")
        return self


class OverrideIn(In):
    code: Literal["no_lockable_box", "children_not_confirmed"]
    reason: Annotated[str, Field(min_length=3, max_length=1000)]


class HandoverBody(In):
    patient_id: UUID
    date: IsoDate
    outcome: Literal["supervised", "collected"]
    collector: Literal["patient", "representative", "hcp"] = "patient"
    collector_details: Annotated[str, Field(max_length=500)] | None = Field(
        default=None, description="Name and address of a representative or healthcare professional"
    )
    id_checked: bool = False
    id_shown: bool | None = None
    children_present: Annotated[list[UUID], Field(max_length=20)] = []
    intoxicated: bool = Field(description="The pharmacist's attestation; true refuses the supply")
    acknowledged: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=20)] = []
    override: OverrideIn | None = None
    overrides: Annotated[list[OverrideIn], Field(max_length=2)] = []

    @model_validator(mode="after")
    def _collector_details(self) -> HandoverBody:
        if self.collector in ("representative", "hcp") and not self.collector_details:
            raise ValueError(
                "collector_details (name and address) is required when someone "
                "other than the patient collects"
            )
        return self


class HandoverDose(BaseModel):
    id: UUID
    dose_date: IsoDate
    mode: str
    dose_mg: str
    state: str
    recorded_at: str | None


class HandoverRead(BaseModel):
    handover_id: UUID
    patient_id: UUID
    mode: str | None
    dose_mg: str
    doses: list[HandoverDose]
    warnings_acknowledged: list[str]
    alerts: list[str]
    label: dict[str, Any] | None


class WithholdBody(In):
    patient_id: UUID
    date: IsoDate
    reason: Literal["intoxicated", "other"]
    reason_text: Annotated[str, Field(max_length=1000)] = ""
    children_present: Annotated[list[UUID], Field(max_length=20)] = []

    @model_validator(mode="after")
    def _explain_other(self) -> WithholdBody:
        if self.reason == "other" and not self.reason_text.strip():
            raise ValueError("reason_text is required when the reason is 'other'")
        return self


class WithheldRead(BaseModel):
    patient_id: UUID
    withheld: list[date]
    alerts: list[str]


class CloseDayBody(In):
    date: IsoDate | None = None


class DayClosedRead(BaseModel):
    date: IsoDate
    missed: int
    patients: int
    alerts_raised: int


class BoxBody(In):
    seen_on: IsoDate
    method: BoxMethod
    note: Note = ""


class BoxRead(Out):
    id: UUID
    patient_id: UUID
    seen_on: IsoDate
    valid_until: IsoDate
    method: str
    note: str


class AdherenceDay(BaseModel):
    dose_date: IsoDate
    collect_on: IsoDate
    product: str
    mode: str
    dose_mg: str
    state: str


class AdherenceRead(BaseModel):
    patient_id: UUID
    days: list[AdherenceDay]
    summary: dict[str, Any]


@router.get("/counter/due", response_model=Paged[DueRead])
def due(
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
    day: Annotated[IsoDate | None, Query(alias="date")] = None,
) -> object:
    """Instalments due at the caller's pharmacy on a date (today by default), each with its
    decision."""
    today = local_date(now, settings.timezone)
    items = dosing_reads.due_list(
        uow, actor=actor, day=day or today, policy=settings.policy, now=now
    )
    return {"items": items, "next": None}


@router.post("/counter/check", response_model=DecisionRead)
def check(
    body: CheckBody, uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> object:
    """Today's decision for a patient (by id or by a scanned patient card)."""
    view = dosing_service.check(
        uow,
        actor=actor,
        patient_id=body.patient_id,
        barcode=body.barcode,
        product=body.product,
        today=body.date or local_date(now, settings.timezone),
        policy=settings.policy,
        now=now,
    )
    for reason in view.decision.blocks:
        metrics.DECISIONS.labels("block", str(reason.code)).inc()
    for reason in view.decision.warnings:
        metrics.DECISIONS.labels("warning", str(reason.code)).inc()
    return dosing_service.decision_body(view)


@router.post(
    "/counter/handover",
    status_code=201,
    response_model=HandoverRead,
    responses={
        409: {"description": "already_recorded: names who and when"},
        422: {"description": "handover_refused: every block and warning"},
    },
)
def handover(
    body: HandoverBody,
    request: Request,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    clock: ClockDep,
    settings: SettingsDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    """Record a supervised dose or a take-home collection for today.

    Warnings must be listed in `acknowledged`; only `no_lockable_box` and
    `children_not_confirmed` may be overridden, with a reason. A retry with the same
    `Idempotency-Key` replays the stored response.
    """
    overrides: dict[str, str] = {
        o.code: o.reason for o in [*body.overrides, *([body.override] if body.override else [])]
    }
    stored = dosing_service.hand_over(
        uow,
        actor=actor,
        handover=dosing_service.Handover(
            patient_id=body.patient_id,
            date=body.date,
            outcome=body.outcome,
            collector=body.collector,
            collector_details=body.collector_details,
            id_checked=body.id_checked,
            id_shown=body.id_shown,
            children_present=tuple(body.children_present),
            intoxicated=body.intoxicated,
            acknowledged=frozenset(body.acknowledged),
            overrides=overrides,
        ),
        today=local_date(now, settings.timezone),
        policy=settings.policy,
        now=now,
        idempotency_key=idempotency_key,
        digest=dosing_service.request_hash(body.model_dump(mode="json")),
    )
    response = dict(stored.body)
    metrics.HANDOVERS.labels(body.outcome).inc()
    if response.get("label"):
        # The dose is committed; now print. A printer fault marks the job failed, never the dose.
        jobs = [UUID(job["job_id"]) for job in response["label"]["jobs"]]
        response["label"] = {
            "jobs": labelling_service.print_jobs(uow, request.app.state.printer, jobs, clock.now)
        }
    return JSONResponse(jsonable_encoder(response), status_code=stored.status)


@router.post("/counter/withhold", status_code=201, response_model=WithheldRead)
def withhold(
    body: WithholdBody, uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> object:
    """Withhold today's instalment; a withheld dose is never supplied later."""
    return dosing_service.withhold(
        uow,
        actor=actor,
        patient_id=body.patient_id,
        day=body.date,
        reason=body.reason,
        reason_text=body.reason_text,
        children_present=body.children_present,
        today=local_date(now, settings.timezone),
        policy=settings.policy,
        now=now,
    )


@router.post("/pharmacies/{pharmacy_id}/close-day", response_model=DayClosedRead)
def close_day(
    pharmacy_id: UUID,
    body: CloseDayBody,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> DayClosedRead:
    """End of day: uncollected instalments become missed, then the missed-dose rules run."""
    today = local_date(now, settings.timezone)
    closed = dosing_service.close_day(
        uow,
        actor=actor,
        pharmacy_id=pharmacy_id,
        day=body.date or today,
        today=today,
        policy=settings.policy,
        now=now,
    )
    return DayClosedRead(
        date=closed.date,
        missed=closed.missed,
        patients=closed.patients,
        alerts_raised=closed.alerts,
    )


@router.post("/patients/{patient_id}/box-confirmations", status_code=201, response_model=BoxRead)
def record_box(
    patient_id: UUID,
    body: BoxBody,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> object:
    """A lockable box was seen at the pharmacy or at home; valid for the configured days."""
    return dosing_service.record_box(
        uow,
        actor=actor,
        patient_id=patient_id,
        seen_on=body.seen_on,
        method=body.method,
        note=body.note,
        today=local_date(now, settings.timezone),
        policy=settings.policy,
        now=now,
    )


@router.get("/patients/{patient_id}/adherence", response_model=AdherenceRead)
def adherence(
    patient_id: UUID,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
    start: Annotated[IsoDate | None, Query(alias="from")] = None,
    end: Annotated[IsoDate | None, Query(alias="to")] = None,
) -> object:
    """Per-day states and a summary (attendance, missed, withheld, longest missed streak)."""
    today = local_date(now, settings.timezone)
    end = end or today
    start = start or date.fromordinal(end.toordinal() - 27)
    result = dosing_reads.adherence(
        uow, actor=actor, patient_id=patient_id, start=start, end=end, now=now
    )
    return {"patient_id": result.patient_id, "days": result.days, "summary": result.summary}
