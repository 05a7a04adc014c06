from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from app.auth.deps import ActorDep
from app.auth.policy import require_role
from app.auth.roles import Role
from app.clock import local_date
from app.errors import Conflict
from app.http import problems
from app.http.deps import NowDep, SettingsDep, UowDep
from app.http.schemas import IsoDate, Paged
from app.intake import changes, closures, suspensions
from app.intake import reads as intake_reads
from app.intake import transcribe as transcription
from app.intake import verify as verification
from app.intake.schemas import (
    CancelBody,
    ClosureAdded,
    ClosureCreate,
    ClosureRemoval,
    PrescriptionCreate,
    PrescriptionRead,
    ReleaseBody,
    ReleaseRead,
    ResumeBody,
    ScheduledDoseRead,
    SuspendBody,
    SuspensionRead,
    VerifyBody,
    read,
)
from app.pharmacies import schemas as pharmacies_schemas
from app.pharmacies import service as pharmacies_service

router = APIRouter(tags=["prescriptions"], responses=problems.API_ERRORS)


@router.post(
    "/prescriptions",
    status_code=201,
    response_model=PrescriptionRead,
    responses={
        422: {"description": "Refused: `blocks` lists every failing rule"},
        409: {"description": "Overlaps another prescription"},
    },
)
def transcribe(
    body: PrescriptionCreate, uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> PrescriptionRead:
    """Transcribe an instalment prescription; 201 with the generated schedule and warnings.

    It is `pending_check` until a different pharmacist verifies it.
    """
    today = local_date(now, settings.timezone)
    prescription, planned = transcription.transcribe(
        uow,
        actor=actor,
        data=transcription.PrescriptionInput(
            patient_id=body.patient_id,
            prescriber_id=body.prescriber_id,
            draft=body.draft(),
            supersedes_id=body.supersedes_id,
            last_dose=transcription.LastDoseInput(
                body.last_dose.taken_on, body.last_dose.source, body.last_dose.detail
            )
            if body.last_dose
            else None,
        ),
        policy=settings.policy,
        today=today,
        now=now,
    )
    days = [
        {
            "dose_date": d.dose_date,
            "collect_on": d.collect_on,
            "mode": d.mode,
            "dose_mg": d.dose_mg,
            "state": "planned",
        }
        for d in planned
    ]
    return read(prescription, days)


@router.get("/prescriptions/{prescription_id}", response_model=PrescriptionRead)
def get_prescription(
    prescription_id: UUID, uow: UowDep, actor: ActorDep, now: NowDep
) -> PrescriptionRead:
    prescription, days = intake_reads.get(
        uow, actor=actor, prescription_id=prescription_id, now=now
    )
    return read(prescription, days)


@router.get("/prescriptions/{prescription_id}/schedule", response_model=Paged[ScheduledDoseRead])
def get_schedule(prescription_id: UUID, uow: UowDep, actor: ActorDep, now: NowDep) -> object:
    prescription, days = intake_reads.get(
        uow, actor=actor, prescription_id=prescription_id, now=now
    )
    return {"items": read(prescription, days).schedule, "next": None}


@router.post("/prescriptions/{prescription_id}/verify", response_model=PrescriptionRead)
def verify(
    prescription_id: UUID,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
    body: VerifyBody | None = None,
) -> PrescriptionRead:
    """Second-person check by a different pharmacist: the prescription becomes active.

    A concentrate or a change of liquid must be acknowledged by its code (`acknowledged`)."""
    verification.verify(
        uow,
        actor=actor,
        prescription_id=prescription_id,
        policy=settings.policy,
        today=local_date(now, settings.timezone),
        now=now,
        acknowledged=frozenset(body.acknowledged) if body else frozenset(),
    )
    return get_prescription(prescription_id, uow, actor, now)


@router.post("/prescriptions/{prescription_id}/cancel", response_model=PrescriptionRead)
def cancel(
    prescription_id: UUID,
    body: CancelBody,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> PrescriptionRead:
    changes.cancel(
        uow,
        actor=actor,
        prescription_id=prescription_id,
        reason=body.reason,
        today=local_date(now, settings.timezone),
        now=now,
    )
    return get_prescription(prescription_id, uow, actor, now)


@router.post("/prescriptions/{prescription_id}/suspend", response_model=PrescriptionRead)
def suspend(
    prescription_id: UUID,
    body: SuspendBody,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> PrescriptionRead:
    """Suspend from a date: the days still due from then on are given up, so none is due and
    none is marked missed; the counter refuses supply until it is resumed."""
    suspensions.suspend(
        uow,
        actor=actor,
        prescription_id=prescription_id,
        from_date=body.from_date,
        reason=body.reason,
        note=body.note,
        today=local_date(now, settings.timezone),
        now=now,
    )
    return get_prescription(prescription_id, uow, actor, now)


@router.post("/prescriptions/{prescription_id}/resume", response_model=PrescriptionRead)
def resume(
    prescription_id: UUID,
    body: ResumeBody,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> PrescriptionRead:
    """Resume today: the days ahead are planned again. A last dose confirmed by the hospital,
    prison or other service is recorded; without one, days without a dose count toward the
    threshold and the prescriber is told if they reach it."""
    suspensions.resume(
        uow,
        actor=actor,
        prescription_id=prescription_id,
        last_dose_on=body.last_dose_on,
        last_dose_source=body.last_dose_source,
        note=body.note,
        today=local_date(now, settings.timezone),
        now=now,
        policy=settings.policy,
    )
    return get_prescription(prescription_id, uow, actor, now)


@router.get("/prescriptions/{prescription_id}/suspensions", response_model=Paged[SuspensionRead])
def list_suspensions(prescription_id: UUID, uow: UowDep, actor: ActorDep) -> object:
    """Every suspension and resumption, oldest first."""
    return {
        "items": intake_reads.suspensions(uow, actor=actor, prescription_id=prescription_id),
        "next": None,
    }


@router.post("/patients/{patient_id}/suspend", response_model=Paged[PrescriptionRead])
def suspend_patient(
    patient_id: UUID,
    body: SuspendBody,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> object:
    """Suspend every active prescription of the patient from a date (a hospital admission
    stops them all), in one transaction; each is suspended as `…/prescriptions/{id}/suspend`
    would, with its own record. Answers the prescriptions suspended."""
    suspended = suspensions.suspend_patient(
        uow,
        actor=actor,
        patient_id=patient_id,
        from_date=body.from_date,
        reason=body.reason,
        note=body.note,
        today=local_date(now, settings.timezone),
        now=now,
    )
    return {"items": [get_prescription(p.id, uow, actor, now) for p in suspended], "next": None}


@router.post("/patients/{patient_id}/resume", response_model=Paged[PrescriptionRead])
def resume_patient(
    patient_id: UUID,
    body: ResumeBody,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> object:
    """Resume every suspended prescription of the patient today, with the same confirmation of
    the last dose given elsewhere as `…/prescriptions/{id}/resume`. Answers the prescriptions
    resumed."""
    resumed = suspensions.resume_patient(
        uow,
        actor=actor,
        patient_id=patient_id,
        last_dose_on=body.last_dose_on,
        last_dose_source=body.last_dose_source,
        note=body.note,
        today=local_date(now, settings.timezone),
        now=now,
        policy=settings.policy,
    )
    return {"items": [get_prescription(p.id, uow, actor, now) for p in resumed], "next": None}


@router.get("/patients/{patient_id}/suspensions", response_model=Paged[SuspensionRead])
def list_patient_suspensions(patient_id: UUID, uow: UowDep, actor: ActorDep) -> object:
    """Every suspension and resumption of any of the patient's prescriptions, oldest first."""
    return {
        "items": intake_reads.patient_suspensions(uow, actor=actor, patient_id=patient_id),
        "next": None,
    }


@router.post(
    "/prescriptions/{prescription_id}/release", status_code=201, response_model=ReleaseRead
)
def release(
    prescription_id: UUID,
    body: ReleaseBody,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> object:
    """The prescriber's review after missed doses; the counter may supply again."""
    return changes.release(
        uow,
        actor=actor,
        prescription_id=prescription_id,
        note=body.note,
        today=local_date(now, settings.timezone),
        now=now,
    )


@router.get("/patients/{patient_id}/prescriptions", response_model=Paged[PrescriptionRead])
def list_for_patient(patient_id: UUID, uow: UowDep, actor: ActorDep, now: NowDep) -> object:
    rows = intake_reads.list_for_patient(uow, actor=actor, patient_id=patient_id, now=now)
    return {"items": [read(p, []) for p in rows], "next": None}


@router.post("/pharmacies/{pharmacy_id}/closures", status_code=201, response_model=ClosureAdded)
def add_closure(
    pharmacy_id: UUID,
    body: ClosureCreate,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> ClosureAdded:
    """Close the pharmacy on a date; affected schedules are re-planned and the moves audited."""
    replanned = closures.add_closure(
        uow,
        actor=actor,
        pharmacy_id=pharmacy_id,
        closed_on=body.date,
        reason=body.reason,
        today=local_date(now, settings.timezone),
        now=now,
        policy=settings.policy,
    )
    return ClosureAdded(
        date=body.date, moved_days=replanned.moved_days, alerts_raised=replanned.alerts_raised
    )


@router.post("/pharmacies/{pharmacy_id}/closures/{closed_on}/remove", response_model=ClosureAdded)
def remove_closure(
    pharmacy_id: UUID,
    closed_on: IsoDate,
    body: ClosureRemoval,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> ClosureAdded:
    """Open again on a closed day (entered by mistake, or no longer closed); the schedules it
    moved are re-planned and the removal audited with its reason."""
    replanned = closures.remove_closure(
        uow,
        actor=actor,
        pharmacy_id=pharmacy_id,
        closed_on=closed_on,
        reason=body.reason,
        today=local_date(now, settings.timezone),
        now=now,
        policy=settings.policy,
    )
    return ClosureAdded(
        date=closed_on, moved_days=replanned.moved_days, alerts_raised=replanned.alerts_raised
    )


# Opening days keep the pharmacies path and tag in the API contract; the change is composed
# here because it is refused while schedules still collect on a weekday that stops opening,
# and schedules are this capability's (pharmacies sit below prescriptions).
opening_days_router = APIRouter(tags=["pharmacies"], responses=problems.API_ERRORS)


@opening_days_router.put(
    "/pharmacies/{pharmacy_id}/opening-days", response_model=pharmacies_schemas.PharmacyRead
)
def set_opening_days(
    pharmacy_id: UUID,
    body: pharmacies_schemas.OpeningDays,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> object:
    """Set the weekdays the pharmacy usually opens (0 = Monday). A weekday that stops opening
    while schedules still collect on it is refused until confirmed, naming those schedules:
    their doses are not moved (add closures, or ask the prescribers to amend)."""
    require_role(actor, {Role.ADMIN}, "change opening days")  # before saying what it affects
    current = pharmacies_service.get_pharmacy(uow, actor=actor, pharmacy_id=pharmacy_id)
    closing = set(current.open_weekdays) - set(body.open_weekdays)
    affected = closures.schedules_on_weekdays(
        uow,
        actor=actor,
        pharmacy_id=pharmacy_id,
        weekdays=closing,
        today=local_date(now, settings.timezone),
    )
    if affected and not body.confirm_affected:
        names = "; ".join(
            f"{a.patient} ({', '.join(d.strftime('%a %d %b') for d in a.dates[:4])}"
            f"{' and more' if len(a.dates) > 4 else ''})"
            for a in affected
        )
        raise Conflict(
            f"{len(affected)} schedule(s) still collect on a day you would stop opening: {names}. "
            "Their doses will not move: add closures or ask the prescribers to amend, then "
            "confirm.",
            code="opening_days_affect_schedules",
            affected=[
                {
                    "prescription_id": str(a.prescription_id),
                    "patient": a.patient,
                    "dates": [d.isoformat() for d in a.dates],
                }
                for a in affected
            ],
        )
    return pharmacies_service.set_opening_days(
        uow, actor=actor, pharmacy_id=pharmacy_id, open_weekdays=body.open_weekdays, now=now
    )
