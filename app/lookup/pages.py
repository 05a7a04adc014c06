"""The look-up pages: the look-up itself for a clinician or a link holder (the link's token
arrives in the address's fragment, which the page's script reads and never sends to the
server as part of a URL), and the pharmacist's page to send and revoke links and see who
looked up whom."""

from __future__ import annotations

import contextlib

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.auth.deps import ActorDep, authenticate_request
from app.auth.policy import require_role
from app.auth.roles import Role
from app.errors import NotAuthenticated
from app.http.deps import NowDep, SettingsDep, UowDep
from app.http.templates import page
from app.lookup import links
from app.lookup import log as lookup_log

router = APIRouter(include_in_schema=False)


@router.get("/lookup", response_class=HTMLResponse)
def lookup_page(request: Request) -> HTMLResponse:
    """The look-up form. Open to anyone: it shows nothing until the look-up answers, and the
    look-up itself asks for a clinician's sign-in or a link."""
    role = None
    with contextlib.suppress(NotAuthenticated):  # a link holder is signed in to nothing
        role = authenticate_request(request, None).role
    return page(
        request,
        "lookup/index.html",
        {"signed_in_other": role is not None and role != Role.CLINICIAN},
    )


@router.get("/lookup/links", response_class=HTMLResponse)
def links_page(
    request: Request, uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> HTMLResponse:
    """Send a ward or custody suite a look-up link, revoke one, and see the look-ups since
    yesterday."""
    require_role(actor, links.READERS, "see look-up links")
    may_issue = actor.role in links.ISSUERS
    since = lookup_log.since_yesterday(now, settings.timezone)
    return page(
        request,
        "lookup/links.html",
        {
            "contacts": links.link_contacts(uow, actor=actor) if may_issue else [],
            "may_issue": may_issue,
            "needs_pharmacy": actor.role == Role.ADMIN,
            "links": links.list_links(uow, actor=actor),
            "now": now,
            "hours": settings.lookup.link_hours,
            "lookups": lookup_log.recent(uow, actor=actor, since=since),
            "on_links_page": True,
        },
    )
