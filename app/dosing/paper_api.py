"""The outage reconciliation's HTTP routes: doses given on paper, entered once the system is
back (`app.dosing.paper_doses`; docs/downtime.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.auth.deps import ActorDep
from app.clock import local_date
from app.dosing import paper_doses
from app.dosing.schemas import PaperDoseRead, PaperSheetBody, PaperSheetRead
from app.http import problems
from app.http.deps import NowDep, SettingsDep, UowDep
from app.http.schemas import IsoDate

router = APIRouter(tags=["counter"], responses=problems.API_ERRORS)


def read(entered: paper_doses.Entered) -> PaperDoseRead:
    return PaperDoseRead.model_validate(entered.entry).model_copy(update={"alerts": entered.alerts})


@router.post(
    "/counter/paper-doses",
    status_code=201,
    response_model=PaperSheetRead,
    responses={409: {"description": "already_entered, already_recorded, no_prescription"}},
)
def enter_paper_doses(
    body: PaperSheetBody, uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> object:
    """Enter the doses given on paper during an outage, a whole sheet at once (one
    transaction). Each line is checked as the counter would have decided that day: a day
    already supplied is a double supply, a supply the counter would have refused is a block
    ignored; both are recorded as given (with the CD register line) and alert the prescriber
    and key worker urgently. A pharmacist."""
    entered = paper_doses.enter_sheet(
        uow,
        actor=actor,
        sheet_reference=body.sheet_reference,
        entries=[
            paper_doses.PaperEntry(
                patient_id=line.patient_id,
                day=line.date,
                outcome=line.outcome,
                given_at=line.given_at,
                given_by=line.given_by,
                note=line.note,
            )
            for line in body.entries
        ],
        today=local_date(now, settings.timezone),
        now=now,
        timezone=settings.timezone,
        policy=settings.policy,
    )
    return {"items": [read(e) for e in entered]}


@router.get("/counter/paper-doses", response_model=PaperSheetRead)
def list_paper_doses(
    uow: UowDep,
    actor: ActorDep,
    day: Annotated[IsoDate, Query(alias="date", description="The day the doses were given")],
) -> object:
    """The doses entered from paper for a day at your pharmacy."""
    return {
        "items": [
            PaperDoseRead.model_validate(line.dose)
            for line in paper_doses.entered_on(uow, actor=actor, day=day)
        ]
    }
