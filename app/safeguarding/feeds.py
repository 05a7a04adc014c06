"""Ways in for people who are not signed in: the signed acknowledgement link and the per-contact
Atom feed. Neither shows personal details; both lead to the authenticated service for those."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from html import escape
from typing import Annotated, Any
from uuid import UUID
from xml.sax.saxutils import escape as xml_escape

from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from app.contacts.models import Contact
from app.errors import Conflict, NotAuthenticated
from app.http import problems
from app.http.deps import NowDep, SettingsDep, UowDep
from app.notify import links
from app.safeguarding import service as safeguarding_service

router = APIRouter(include_in_schema=True, tags=["alerts"], responses=problems.API_ERRORS)

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Dosekeeper</title></head>
<body><main><h1>{title}</h1>{body}</main></body></html>"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.format(title=escape(title), body=body), status_code=status)


def _check_link(
    settings_secret: str, alert_id: UUID, contact: UUID, expires: int, sig: str, now: datetime
) -> None:
    if not links.verify(
        settings_secret, alert_id=alert_id, contact_id=contact, expires=expires, sig=sig, now=now
    ):
        raise NotAuthenticated("This acknowledgement link is not valid or has expired")


# The link pages answer a person, so their own refusals are HTML pages, not problem documents.
_HTML_REFUSALS: dict[int | str, dict[str, Any]] = {
    403: {"description": "Link not valid or expired", "content": {"text/html": {}}},
}


@router.get("/alerts/{alert_id}/ack", response_class=HTMLResponse, responses=_HTML_REFUSALS)
def confirm_page(
    alert_id: UUID,
    contact: UUID,
    expires: int,
    sig: Annotated[str, Query(max_length=128)],
    now: NowDep,
    settings: SettingsDep,
) -> HTMLResponse:
    """The link in an email or webhook: a page with a button (a GET never acknowledges)."""
    try:
        _check_link(settings.secret_key.get_secret_value(), alert_id, contact, expires, sig, now)
    except NotAuthenticated as exc:
        return _page("Link not valid", f"<p>{escape(exc.detail)}.</p>", 403)
    form = (
        f'<form method="post" action="/alerts/{alert_id}/ack">'
        f'<input type="hidden" name="contact" value="{contact}">'
        f'<input type="hidden" name="expires" value="{expires}">'
        f'<input type="hidden" name="sig" value="{escape(sig)}">'
        '<p><label for="note">Note (optional)</label><br>'
        '<textarea id="note" name="note" rows="3" cols="60" maxlength="2000"></textarea></p>'
        '<p><button type="submit">I have seen this alert and I own what happens next</button></p>'
        "</form>"
    )
    return _page("Acknowledge safeguarding alert", form)


@router.post(
    "/alerts/{alert_id}/ack",
    response_class=HTMLResponse,
    responses={
        **_HTML_REFUSALS,
        409: {"description": "Already acknowledged", "content": {"text/html": {}}},
    },
)
def acknowledge_by_link(
    alert_id: UUID,
    contact: Annotated[UUID, Form()],
    expires: Annotated[int, Form()],
    sig: Annotated[str, Form(min_length=1, max_length=128)],  # an empty form field reads as missing
    uow: UowDep,
    now: NowDep,
    settings: SettingsDep,
    note: Annotated[str, Form(max_length=2000)] = "",
) -> HTMLResponse:
    try:
        _check_link(settings.secret_key.get_secret_value(), alert_id, contact, expires, sig, now)
    except NotAuthenticated as exc:
        return _page("Link not valid", f"<p>{escape(exc.detail)}.</p>", 403)
    try:
        safeguarding_service.acknowledge_by_contact(
            uow, alert_id=alert_id, contact_id=contact, note=note, now=now
        )
    except Conflict as exc:
        return _page("Already acknowledged", f"<p>{escape(exc.detail)}.</p>", 409)
    return _page(
        "Acknowledged",
        "<p>Thank you. The alert is recorded as acknowledged by you; escalation has stopped.</p>",
    )


@router.get(
    "/feeds/alerts.atom",
    response_class=Response,
    responses={200: {"content": {"application/atom+xml": {}}}},
)
def atom_feed(
    token: Annotated[str, Query(min_length=20, max_length=200)], uow: UowDep, settings: SettingsDep
) -> Response:
    """The alerts sent to one contact, as Atom (the token is in the contact's feed URL)."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    with uow:
        contact = uow.session.scalar(select(Contact).where(Contact.feed_token_hash == digest))
    if contact is None:
        raise NotAuthenticated("Unknown feed token")
    alerts = safeguarding_service.alerts_for_contact(uow, contact_id=contact.id)
    base = settings.notify.public_base_url.rstrip("/")
    updated = max((a.created_at for a in alerts), default=datetime(2026, 1, 1, tzinfo=UTC))
    entries = "".join(
        "<entry>"
        f"<id>urn:uuid:{a.id}</id>"
        f"<title>{xml_escape(a.severity.upper())}: {xml_escape(a.kind.replace('_', ' '))}</title>"
        f"<updated>{a.created_at.isoformat().replace('+00:00', 'Z')}</updated>"
        f'<link href="{xml_escape(base)}/alerts/{a.id}"/>'
        f'<category term="{xml_escape(a.state)}"/>'
        f"<summary>{xml_escape(a.severity)} alert, state {xml_escape(a.state)}</summary>"
        "</entry>"
        for a in alerts
    )
    feed = (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<id>urn:uuid:{contact.id}</id><title>Dosekeeper safeguarding alerts</title>"
        f"<updated>{updated.isoformat().replace('+00:00', 'Z')}</updated>"
        f"{entries}</feed>"
    )
    return Response(feed, media_type="application/atom+xml")
