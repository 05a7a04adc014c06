from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.clock import local_date
from app.households import picture as household_picture
from app.households import service as households_service
from app.households.models import ProtectionStatus
from app.http import problems
from app.http.deps import ActorDep, NowDep, SettingsDep, UowDep
from app.http.schemas import In, IsoDate, Name, Note, Out, Postcode, Reason, Text500

router = APIRouter(tags=["households"], responses=problems.API_ERRORS)


class HouseholdCreate(In):
    address: Text500
    postcode: Postcode
    notes: Note = ""
    pharmacy_id: UUID | None = None


class ChildCreate(In):
    name: Name
    date_of_birth: IsoDate = Field(
        description="Date of birth; for an unborn child, the expected date of delivery"
    )
    protection_status: ProtectionStatus = ProtectionStatus.NONE
    social_worker_id: UUID | None = None
    lives_from: IsoDate | None = None
    unborn: bool = Field(
        default=False,
        description="Not born yet (a pre-birth plan is recorded as its protection status): "
        "the household rules treat the child as a newborn living there",
    )


class HouseholdChangeBody(In):
    address: Text500 | None = None
    postcode: Postcode | None = None
    notes: Note | None = None
    reason: Reason = Field(description="Why it changed (kept in the history)")


class ChildChangeBody(In):
    name: Name | None = None
    protection_status: ProtectionStatus | None = None
    social_worker_id: UUID | None = None
    lives_to: IsoDate | None = Field(default=None, description="The child moved out on this date")
    born_on: IsoDate | None = Field(
        default=None, description="An unborn child was born on this date: it becomes a child"
    )
    reason: Reason = Field(description="Why it changed (kept in the history)")


class ChangeRead(Out):
    id: UUID
    child_id: UUID | None = None
    patient_id: UUID | None = None
    field: str
    old_value: str | None
    new_value: str | None
    reason: str
    changed_by_id: UUID | None
    changed_at: datetime


class ConfirmationCreate(In):
    confirmed_on: IsoDate | None = None
    note: Note = ""


class HouseholdRead(Out):
    id: UUID
    pharmacy_id: UUID
    address: str
    postcode: str
    notes: str
    children_confirmed_on: IsoDate | None


class ChildRead(Out):
    id: UUID
    household_id: UUID
    name: str
    date_of_birth: IsoDate
    protection_status: str
    social_worker_id: UUID | None
    lives_from: IsoDate | None
    lives_to: IsoDate | None
    unborn: bool = False


class ChildInView(ChildRead):
    age_years: int


class MemberRead(BaseModel):
    id: UUID
    given_name: str
    family_name: str
    pharmacy_id: UUID


class ConfirmationRead(Out):
    id: UUID
    confirmed_on: IsoDate
    confirmed_by_id: UUID | None
    children_count: int
    note: str


class HouseholdViewRead(HouseholdRead):
    members: list[MemberRead]
    children: list[ChildInView]
    confirmations: list[ConfirmationRead]
    methadone_at_home_mg: Decimal = Field(
        description="Take-home methadone handed over to any member and not yet past its date"
    )
    boxes: list[dict[str, object]]
    open_alerts: list[dict[str, object]]
    history: list[ChangeRead] = Field(
        default=[],
        description="Changes to the household, its children and its members, newest first",
    )


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


@router.get("/households/{household_id}", response_model=HouseholdViewRead)
def get_household(
    household_id: UUID, uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> HouseholdViewRead:
    """The household view: members, children with ages, methadone at home, boxes, open alerts."""
    today = local_date(now, settings.timezone)
    view = households_service.view_household(
        uow, actor=actor, household_id=household_id, today=today, now=now
    )
    with uow:
        extras = household_picture.household_extras(uow.session, view.household.id, today)
    return HouseholdViewRead(
        **HouseholdRead.model_validate(view.household).model_dump(),
        members=[
            MemberRead(
                id=m.id,
                given_name=m.given_name,
                family_name=m.family_name,
                pharmacy_id=m.pharmacy_id,
            )
            for m in view.members
        ],
        children=[
            ChildInView(
                **ChildRead.model_validate(c).model_dump(),
                age_years=households_service.age_on(c.date_of_birth, today),
            )
            for c in view.children
        ],
        confirmations=[ConfirmationRead.model_validate(c) for c in view.confirmations],
        history=[ChangeRead.model_validate(c) for c in view.history],
        **extras,
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
    return households_service.add_child(
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
    return households_service.update_child(
        uow,
        actor=actor,
        household_id=household_id,
        child_id=child_id,
        update=households_service.ChildUpdate(
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
    return households_service.confirm_children(
        uow,
        actor=actor,
        household_id=household_id,
        confirmed_on=body.confirmed_on or today,
        note=body.note,
        today=today,
        now=now,
    )
