"""A patient's permanent transfer to another pharmacy (`app.intake.transfers`)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from app.auth.deps import ActorDep
from app.clock import local_date
from app.http import problems
from app.http.deps import NowDep, SettingsDep, UowDep
from app.intake import transfers
from app.intake.guest_schemas import PharmacyCard, TransferBody, TransferList, TransferRead

router = APIRouter(tags=["transfers"], responses=problems.API_ERRORS)


def read(moved: transfers.Transferred) -> TransferRead:
    record = moved.transfer
    return TransferRead(
        id=record.id,
        patient_id=record.patient_id,
        from_pharmacy=PharmacyCard.model_validate(moved.from_pharmacy, from_attributes=True),
        to_pharmacy=PharmacyCard.model_validate(moved.to_pharmacy, from_attributes=True),
        effective_on=record.effective_on,
        handover_note=record.handover_note,
        prescriptions_moved=record.prescriptions_moved,
        days_moved=record.days_moved,
        household_moved=record.household_moved,
        transferred_at=record.transferred_at,
    )


@router.post(
    "/patients/{patient_id}/transfer",
    status_code=201,
    response_model=TransferRead,
    responses={409: {"description": "guest_grant_open"}},
)
def transfer_patient(
    patient_id: UUID,
    body: TransferBody,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> object:
    """Transfer the patient to another pharmacy using Dosekeeper, from today: the patient, the
    live prescriptions and the instalments still due move there with the handover note, and
    this pharmacy sees the patient no more (its own supplies stay in its records). The
    household goes too when no other patient of this pharmacy lives there. A pharmacist."""
    moved = transfers.transfer(
        uow,
        actor=actor,
        patient_id=patient_id,
        to_ods_code=body.to_ods_code,
        handover_note=body.handover_note,
        today=local_date(now, settings.timezone),
        now=now,
    )
    return read(moved)


@router.get("/patients/{patient_id}/transfers", response_model=TransferList)
def list_transfers(patient_id: UUID, uow: UowDep, actor: ActorDep) -> object:
    """The patient's transfers with their handover notes, newest first (the pharmacy that has
    the patient now)."""
    return {
        "items": [read(t) for t in transfers.history(uow, actor=actor, patient_id=patient_id)],
        "next": None,
    }
