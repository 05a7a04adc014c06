from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from app.auth.deps import ActorDep
from app.http import problems
from app.http.deps import NowDep, UowDep
from app.http.schemas import Paged
from app.pharmacies import service as pharmacies_service
from app.pharmacies.schemas import PharmacyCreate, PharmacyRead

router = APIRouter(tags=["pharmacies"], responses=problems.API_ERRORS)


@router.post("/pharmacies", status_code=201, response_model=PharmacyRead)
def create_pharmacy(body: PharmacyCreate, uow: UowDep, actor: ActorDep, now: NowDep) -> object:
    """Register a branch with its opening days (0 = Monday) and known closures (administrators)."""
    return pharmacies_service.create_pharmacy(
        uow,
        actor=actor,
        name=body.name,
        ods_code=body.ods_code,
        address=body.address,
        phone=body.phone,
        open_weekdays=body.open_weekdays,
        closures=[(c.date, c.reason) for c in body.closures],
        now=now,
    )


@router.get("/pharmacies", response_model=Paged[PharmacyRead])
def list_pharmacies(uow: UowDep, actor: ActorDep) -> object:
    return {"items": pharmacies_service.list_pharmacies(uow, actor=actor), "next": None}


@router.get("/pharmacies/{pharmacy_id}", response_model=PharmacyRead)
def get_pharmacy(pharmacy_id: UUID, uow: UowDep, actor: ActorDep) -> object:
    return pharmacies_service.get_pharmacy(uow, actor=actor, pharmacy_id=pharmacy_id)
