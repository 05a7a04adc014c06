from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from app.auth.deps import ActorDep
from app.clock import local_date
from app.households import children as household_children
from app.households import service as households_service
from app.households.schemas import (
    ChildChangeBody,
    ChildCreate,
    ChildRead,
    ConfirmationCreate,
    ConfirmationRead,
    HouseholdChangeBody,
    HouseholdCreate,
    HouseholdRead,
)
from app.http import problems
from app.http.deps import NowDep, SettingsDep, UowDep

router = APIRouter(tags=["households"], responses=problems.API_ERRORS)


@router.post("/households", status_code=201, response_model=HouseholdRead)
def create_household(body: HouseholdCreate, uow: UowDep, actor: ActorDep, now: NowDep) -> object:
    return households_service.create_household(
        uow,
        actor=actor,
        address=body.address,
        postcode=body.postcode,
        notes=body.notes,
        pharmacy_id=body.pharmacy_id,
        now=now,
    )


# The household's own path comes before its children's: the order of operations in the API
# document integrators read (and the stateful fuzz walks) is the order the routes appear.
@router.patch("/households/{household_id}", response_model=HouseholdRead)
def update_household(
    household_id: UUID, body: HouseholdChangeBody, uow: UowDep, actor: ActorDep, now: NowDep
) -> object:
    """Change the address, postcode or notes; each change is kept in the history."""
    changes = {
        name: value
        for name, value in body.model_dump(exclude={"reason"}).items()
        if value is not None
    }
    return households_service.update_household(
        uow, actor=actor, household_id=household_id, changes=changes, reason=body.reason, now=now
    )


@router.post("/households/{household_id}/children", status_code=201, response_model=ChildRead)
def add_child(
    household_id: UUID,
    body: ChildCreate,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> object:
    return household_children.add_child(
        uow,
        actor=actor,
        household_id=household_id,
        name=body.name,
        date_of_birth=body.date_of_birth,
        protection_status=body.protection_status,
        social_worker_id=body.social_worker_id,
        lives_from=body.lives_from,
        today=local_date(now, settings.timezone),
        now=now,
        policy=settings.policy,
        unborn=body.unborn,
    )


@router.patch("/households/{household_id}/children/{child_id}", response_model=ChildRead)
def update_child(
    household_id: UUID,
    child_id: UUID,
    body: ChildChangeBody,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> object:
    """Change a child's protection status, social worker or name; record a move out or the
    birth of an unborn child. The children must then be re-confirmed before the next
    take-home, and the household rules run again."""
    return household_children.update_child(
        uow,
        actor=actor,
        household_id=household_id,
        child_id=child_id,
        update=household_children.ChildUpdate(
            name=body.name,
            protection_status=body.protection_status,
            social_worker_id=body.social_worker_id,
            lives_to=body.lives_to,
            born_on=body.born_on,
        ),
        reason=body.reason,
        today=local_date(now, settings.timezone),
        now=now,
        policy=settings.policy,
    )


@router.post(
    "/households/{household_id}/confirmations", status_code=201, response_model=ConfirmationRead
)
def confirm_children(
    household_id: UUID,
    body: ConfirmationCreate,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> object:
    """Re-confirm who lives in the household (feeds the counter's children_not_confirmed rule)."""
    today = local_date(now, settings.timezone)
    return household_children.confirm_children(
        uow,
        actor=actor,
        household_id=household_id,
        confirmed_on=body.confirmed_on or today,
        note=body.note,
        today=today,
        now=now,
    )
