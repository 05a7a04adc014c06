"""The look-up's routes: the look-up (a clinician's bearer token or session, or a look-up
link's token as the bearer), the links a pharmacy sends, and its look-up log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request

from app.auth.deps import ActorDep, authenticate_request, oauth2
from app.db import UnitOfWork
from app.http import problems
from app.http.deps import NowDep, SettingsDep, UowDep, clock_for, settings_for
from app.http.schemas import IsoDateTime, Paged
from app.lookup import links, service
from app.lookup import log as lookup_log
from app.lookup.schemas import (
    LinkCreate,
    LinkIssued,
    LinkRead,
    LookupCreate,
    LookupLogRead,
    LookupRead,
    link_issued,
    link_read,
    log_read,
    lookup_read,
)

router = APIRouter(tags=["lookup"], responses=problems.API_ERRORS)


def lookup_caller(
    request: Request, token: Annotated[str | None, Depends(oauth2)]
) -> service.Caller:
    """A look-up link's holder (its token, `dkl1.…`, sent as the bearer token), or a signed-in
    clinician; anybody else is refused."""
    if token and links.is_link_token(token):
        reader = UnitOfWork(request.app.state.session_factory, read_only=True)
        holder = links.authenticate(
            reader,
            token=token,
            secret=settings_for(request).secret_key.get_secret_value(),
            now=clock_for(request).now(),
        )
        return service.link_holder(holder)
    actor = authenticate_request(request, token)
    return service.clinician(actor, request.state.auth.display_name)


CallerDep = Annotated[service.Caller, Depends(lookup_caller)]


@router.post(
    "/lookup",
    response_model=LookupRead,
    responses=problems.problem_responses(429),
)
def look_up(
    body: LookupCreate, caller: CallerDep, uow: UowDep, now: NowDep, settings: SettingsDep
) -> LookupRead:
    """The last-dose look-up for a hospital, custody or out-of-hours clinician: by NHS number,
    who the record is, the current product and daily dose, the last dose taken, whether the
    counter is blocked today or the prescription suspended, and the dispensing pharmacy's
    contact details; nothing else. Every look-up is logged and audited; rate-limited (429)."""
    answer = service.look_up(
        uow, caller=caller, nhs_number=body.nhs_number, settings=settings, now=now
    )
    return lookup_read(answer)


@router.post("/lookup/links", status_code=201, response_model=LinkIssued)
def issue_link(
    body: LinkCreate, uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> LinkIssued:
    """Send one of the pharmacy's contacts (a ward, a custody suite) a look-up link, valid for
    `DOSEKEEPER_LOOKUP__LINK_HOURS`. The token and link are returned once, to pass on."""
    issued = links.issue(
        uow,
        actor=actor,
        contact_id=body.contact_id,
        pharmacy_id=body.pharmacy_id,
        secret=settings.secret_key.get_secret_value(),
        settings=settings.lookup,
        now=now,
    )
    return link_issued(issued, settings.notify.public_base_url, now)


@router.get("/lookup/links", response_model=Paged[LinkRead])
def list_links(uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep) -> object:
    """The pharmacy's look-up links, newest first (never their tokens)."""
    rows = links.list_links(uow, actor=actor, limit=settings.max_page_size)
    return {"items": [link_read(row, now) for row in rows], "next": None}


@router.post("/lookup/links/{link_id}/revoke", response_model=LinkRead)
def revoke_link(link_id: UUID, uow: UowDep, actor: ActorDep, now: NowDep) -> LinkRead:
    """Withdraw a link at once: its next look-up is refused (401 `link_revoked`)."""
    return link_read(links.revoke(uow, actor=actor, link_id=link_id, now=now), now)


@router.get("/lookups", response_model=Paged[LookupLogRead])
def list_lookups(
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
    since: Annotated[IsoDateTime | None, Query()] = None,
) -> object:
    """Look-ups of the pharmacy's patients and through its links since `since` (default: the
    start of yesterday at the pharmacy), newest first."""
    start: datetime = since or lookup_log.since_yesterday(now, settings.timezone)
    rows = lookup_log.recent(uow, actor=actor, since=start, limit=settings.max_page_size)
    return {"items": [log_read(row) for row in rows], "next": None}
