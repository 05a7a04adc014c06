"""`GET /counter/prompts/{patient_id}`: the naloxone and safe-storage prompts for the patient's
home (guidance to act on and record, never a block; `app.counter.home_safety`)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.auth.deps import ActorDep
from app.clock import local_date
from app.counter import home_safety
from app.http import problems
from app.http.deps import NowDep, SettingsDep, UowDep

router = APIRouter(tags=["counter"], responses=problems.API_ERRORS)


class PromptRead(BaseModel):
    code: str = Field(description="offer_naloxone or give_storage_advice")
    message: str
    topics: list[str] = Field(description="Storage-advice topics still to cover")


class PromptsRead(BaseModel):
    patient_id: UUID
    household_id: UUID | None
    prompts: list[PromptRead]


@router.get("/counter/prompts/{patient_id}", response_model=PromptsRead)
def counter_prompts(
    patient_id: UUID, uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> PromptsRead:
    """Offer naloxone (a take-home into a home with children and no naloxone in date, or after
    a dose withheld for intoxication) and give safe-storage advice (first take-home into a home
    with children, or after a box is confirmed): record them with `POST
    /households/{id}/naloxone` and `/storage-advice`, and the prompt goes."""
    found = home_safety.patient_prompts(
        uow,
        actor=actor,
        patient_id=patient_id,
        today=local_date(now, settings.timezone),
        policy=settings.policy,
    )
    return PromptsRead(
        patient_id=found.patient.id,
        household_id=found.patient.household_id,
        prompts=[
            PromptRead(code=p.code, message=p.message, topics=list(p.topics)) for p in found.prompts
        ],
    )
