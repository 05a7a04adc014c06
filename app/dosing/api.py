"""The counter's HTTP routes: the due list, the check, the handover, withholds, corrections,
last-dose records, representative authorisations, close of day and box checks. Their bodies
are in `app.dosing.schemas`; the order of the routes here is the order in docs/openapi.json.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from app import metrics
from app.audit import anchors
from app.auth.deps import ActorDep
from app.clock import local_date
from app.config import Settings
from app.db import UnitOfWork
from app.dosing import close_day as dosing_close_day
from app.dosing import corrections as dosing_corrections
from app.dosing import counter as dosing_counter
from app.dosing import handover as dosing_handover
from app.dosing import reads as dosing_reads
from app.dosing import records as dosing_records
from app.dosing import service as dosing_service
from app.dosing import wrong_patient as dosing_wrong_patient
from app.dosing.schemas import (
    AuthorisationBody,
    AuthorisationRead,
    BoxBody,
    BoxRead,
    CheckBody,
    CloseDayBody,
    DayClosedRead,
    DecisionRead,
    DoseCorrectionRead,
    DueRead,
    HandoverBody,
    HandoverRead,
    LastDoseBody,
    LastDoseRecordRead,
    LateDoseBody,
    ReasonRead,
    ReassessBody,
    ReassessmentRead,
    WithheldRead,
    WithholdBody,
    WrongPatientBody,
    WrongPatientRead,
)
from app.households import boxes
from app.http import problems
from app.http.deps import ClockDep, NowDep, SettingsDep, UowDep
from app.http.schemas import IsoDate, Paged
from app.labelling import service as labelling_service
from app.register import packs

logger = logging.getLogger(__name__)
router = APIRouter(tags=["counter"], responses=problems.API_ERRORS)


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
    view = dosing_counter.check(
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
    return dosing_counter.decision_body(view)


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
    stored = dosing_handover.hand_over(
        uow,
        actor=actor,
        handover=dosing_handover.Handover(
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
            measuring_device=body.measuring_device,
            bottle=body.bottle,
            pump_dispensed_ml=body.pump_dispensed_ml,
            pump_measures=tuple((str(m.container), m.dispensed_ml) for m in body.pump_measures),
        ),
        today=local_date(now, settings.timezone),
        policy=settings.policy,
        now=now,
        idempotency_key=idempotency_key,
        digest=dosing_handover.request_hash(body.model_dump(mode="json")),
        pack_seed=packs.seed_for(settings.environment),
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


@router.post(
    "/counter/reassess",
    status_code=201,
    response_model=ReassessmentRead,
    responses={409: {"description": "nothing_withheld_today"}},
)
def reassess(
    body: ReassessBody, uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> object:
    """A pharmacist reassessed a patient whose dose was withheld earlier today and found them
    fit: today's dose may then be handed over. The withhold stays in the record."""
    return dosing_records.reassess(
        uow,
        actor=actor,
        patient_id=body.patient_id,
        not_intoxicated=body.not_intoxicated,
        note=body.note,
        today=local_date(now, settings.timezone),
        now=now,
    )


@router.post(
    "/counter/late-doses",
    status_code=201,
    response_model=DoseCorrectionRead,
    responses={409: {"description": "nothing_to_correct, take_home_not_correctable"}},
)
def record_late_dose(
    body: LateDoseBody, uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> object:
    """Correct a day close of day marked missed: the patient came late that evening and
    swallowed the dose under supervision. The day becomes supervised (with the correction
    kept), the CD register gets its line dated that day, and the alerts its close raised are
    resolved. A pharmacist, until the end of the next day."""
    corrected = dosing_corrections.record_late_dose(
        uow,
        actor=actor,
        late=dosing_corrections.LateDose(
            patient_id=body.patient_id,
            day=body.date,
            given_at=body.given_at,
            reason=body.reason,
            not_intoxicated=body.not_intoxicated,
        ),
        today=local_date(now, settings.timezone),
        now=now,
        timezone=settings.timezone,
        policy=settings.policy,
    )
    return DoseCorrectionRead.model_validate(corrected.correction).model_copy(
        update={"alerts_resolved": corrected.alerts_resolved}
    )


@router.post(
    "/counter/wrong-patient-doses",
    status_code=201,
    response_model=WrongPatientRead,
    responses={409: {"description": "nothing_to_correct"}},
)
def record_wrong_patient(
    body: WrongPatientBody, uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> object:
    """Correct a supervised dose recorded against the wrong patient, on the day: the first
    patient's day is due again (their register line corrected), the second's is supervised
    (with its own register line). The counter's checks run for the second patient; if they
    would have refused the dose, the prescriber and key worker are alerted. A pharmacist."""
    moved = dosing_wrong_patient.record_wrong_patient(
        uow,
        actor=actor,
        wrong=dosing_wrong_patient.WrongPatient(
            recorded_patient_id=body.recorded_patient_id,
            taken_by_patient_id=body.taken_by_patient_id,
            day=body.date,
            reason=body.reason,
            own_dose_given=body.own_dose_given,
            not_intoxicated=body.not_intoxicated,
        ),
        today=local_date(now, settings.timezone),
        now=now,
        policy=settings.policy,
    )
    return WrongPatientRead(
        removed=DoseCorrectionRead.model_validate(moved.removed),
        added=DoseCorrectionRead.model_validate(moved.added),
        unchecked_blocks=[ReasonRead(**b) for b in moved.unchecked_blocks],
        alerts=moved.alerts,
    )


@router.post(
    "/patients/{patient_id}/last-doses", status_code=201, response_model=LastDoseRecordRead
)
def record_last_dose(
    patient_id: UUID,
    body: LastDoseBody,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> object:
    """When the patient last took a dose before this pharmacy's record (or that they are new
    to treatment), and who says so: the counter counts days without a dose from it."""
    return dosing_records.record_last_dose(
        uow,
        actor=actor,
        patient_id=patient_id,
        drug=body.drug,
        taken_on=body.taken_on,
        source=body.source,
        detail=body.detail,
        today=local_date(now, settings.timezone),
        now=now,
    )


@router.post(
    "/prescriptions/{prescription_id}/representative-authorisations",
    status_code=201,
    response_model=AuthorisationRead,
    responses={409: {"description": "not_a_supervised_day"}},
)
def authorise_representative(
    prescription_id: UUID,
    body: AuthorisationBody,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> object:
    """The prescriber's direction that a representative may collect a supervised day's dose:
    that day becomes a take-home, and every record says so."""
    return dosing_records.authorise_representative(
        uow,
        actor=actor,
        prescription_id=prescription_id,
        dose_date=body.dose_date,
        representative=body.representative,
        directed_by=body.directed_by,
        note=body.note,
        today=local_date(now, settings.timezone),
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
    closed = dosing_close_day.close_day(
        uow,
        actor=actor,
        pharmacy_id=pharmacy_id,
        day=body.date or today,
        today=today,
        policy=settings.policy,
        now=now,
    )
    anchored = _anchor_the_day(uow, settings, now)
    return DayClosedRead(
        date=closed.date,
        missed=closed.missed,
        patients=closed.patients,
        alerts_raised=closed.alerts,
        anchored=anchored,
    )


def _anchor_the_day(uow: UnitOfWork, settings: Settings, now: datetime) -> bool:
    """The day's record is anchored as it closes, as `dosekeeper close-day` does: the audit
    chain's heads, signed with the audit key, appended to a file off the database. The day is
    closed all the same when the folder cannot be written; the log says why."""

    try:
        with uow:
            anchors.anchor(
                uow.session,
                settings.anchor_dir,
                key=settings.audit_key.get_secret_value(),
                now=now,
            )
    except OSError as exc:
        logger.warning("close-day: could not anchor the audit chain: %s", exc)
        return False
    return True


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
    return boxes.record_box(
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
