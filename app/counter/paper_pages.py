"""The reconciliation page: the doses given on paper during an outage, entered from the sheet
once the system is back (docs/downtime.md). The page lists who was due that day, as the sheet
did; its script posts the whole sheet to `POST /api/v1/counter/paper-doses` and shows each
finding beside its line. Below, what has been entered for the day and what the record made of
it: a double supply or a block ignored is named, with the alert it raised."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from app.auth.deps import ActorDep
from app.auth.roles import Role
from app.clock import local_date
from app.dosing import paper_doses
from app.dosing import reads as dosing_reads
from app.dosing.rules import Code
from app.http.deps import NowDep, SettingsDep, UowDep
from app.http.schemas import IsoDate
from app.http.templates import page

router = APIRouter(include_in_schema=False)

FINDING_WORDS = {
    "entered": "Entered",
    "double_supply": "Double supply: the day was already supplied; the prescriber and key "
    "worker were alerted",
    "block_ignored": "Given although the counter would have refused it; the prescriber and key "
    "worker were alerted",
    "not_due": "No dose of the prescription was due that day",
}
OUTCOME_WORDS = {
    "supervised": "Supervised",
    "collected": "Take-home collected",
    "withheld": "Withheld (intoxicated)",
}
BLOCK_WORDS = {
    Code.MISSED_THRESHOLD_REACHED: "days without a dose reached the threshold",
    Code.WITHHELD_TODAY: "the dose had been withheld that day",
    Code.PRESCRIPTION_NOT_ACTIVE: "the prescription was not active (suspended, cancelled or "
    "not yet checked)",
    Code.NO_LOCKABLE_BOX: "no lockable box seen",
    Code.CHILDREN_NOT_CONFIRMED: "the children at home were not confirmed",
    Code.LAST_DOSE_UNKNOWN: "the last dose taken was not known",
    Code.PATIENT_INTOXICATED: "the patient was intoxicated",
    Code.BEFORE_START: "the prescription had not started",
    Code.WRONG_PHARMACY: "the prescription is for another pharmacy",
    Code.NO_PRESCRIPTION: "there was no prescription",
}


@router.get("/counter/paper-doses", response_class=HTMLResponse)
def paper_doses_page(
    request: Request,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
    day: Annotated[IsoDate | None, Query(alias="date")] = None,
) -> HTMLResponse:
    today = local_date(now, settings.timezone)
    chosen = day or today
    due = dosing_reads.due_list(uow, actor=actor, day=chosen, policy=settings.policy, now=now)
    entered = paper_doses.entered_on(uow, actor=actor, day=chosen)
    return page(
        request,
        "counter/paper_doses.html",
        {
            "day": chosen,
            "previous": chosen - timedelta(days=1),
            "next": chosen + timedelta(days=1) if chosen < today else None,
            "due": due,
            "entered": entered,
            "may_enter": actor.role == Role.PHARMACIST,
            "finding_words": FINDING_WORDS,
            "outcome_words": OUTCOME_WORDS,
            "block_words": {str(code): words for code, words in BLOCK_WORDS.items()},
        },
    )
