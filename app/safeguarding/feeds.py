"""Ways in for people who are not signed in: the signed acknowledgement link and the per-contact
Atom feed. Neither shows personal details; both lead to the authenticated service for those."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Annotated, Any
from uuid import UUID
from xml.sax.saxutils import escape as xml_escape

from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import StringConstraints

from app.contacts import service as contacts_service
from app.errors import Conflict, InvalidInput, NotAuthenticated
from app.http import problems
from app.http.deps import NowDep, SettingsDep, UowDep
from app.http.schemas import MULTI_LINE, SINGLE_LINE
from app.notify import links
from app.safeguarding import acknowledgement
from app.safeguarding import repository as alert_repository

router = APIRouter(include_in_schema=True, tags=["alerts"], responses=problems.API_ERRORS)

# Styled like the rest of the service (the same stylesheet), without the signed-in navigation.
PAGE = """<!doctype html><html lang="en-GB"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/app.css"><link rel="icon" href="/static/favicon.svg">
<title>{title} · Dosekeeper</title></head>
<body><header class="top"><span class="brand">Dosekeeper</span></header>
<main><section class="card narrow"><h1>{title}</h1>{body}</section></main></body></html>"""


def _what(alert_id: UUID, uow: Any) -> str:
    """What is being acknowledged, in words: the kind, the patient's initials, the household's
    postcode district, when it was raised (no name, address or clinical detail: the link may
    be forwarded)."""
    alert = alert_repository.alert_summary(uow, alert_id)
    if alert is None:
        return ""
    rows = [
        ("Alert", f"{alert['severity']} — {alert['kind']}"),
        ("Patient", alert["initials"] or "—"),
        ("Household", alert["district"] or "—"),
        ("Raised", alert["raised"]),
    ]
    return "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows) + "</dl>"


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
    sig: Annotated[Annotated[str, StringConstraints(max_length=128), SINGLE_LINE], Query()],
    now: NowDep,
    settings: SettingsDep,
    uow: UowDep,
) -> HTMLResponse:
    """The link in an email or webhook: a page with a button (a GET never acknowledges)."""
    try:
        _check_link(settings.secret_key.get_secret_value(), alert_id, contact, expires, sig, now)
    except NotAuthenticated as exc:
        return _page("Link not valid", f"<p>{escape(exc.detail)}.</p>", 403)
    form = _what(alert_id, uow) + (
        f'<form method="post" action="/alerts/{alert_id}/ack">'
        f'<input type="hidden" name="contact" value="{contact}">'
        f'<input type="hidden" name="expires" value="{expires}">'
        f'<input type="hidden" name="sig" value="{escape(sig)}">'
        '<p><label for="note">What you have done or will do (required for an urgent alert)'
        "</label><br>"
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
    sig: Annotated[
        Annotated[str, StringConstraints(min_length=1, max_length=128), SINGLE_LINE], Form()
    ],  # an empty form field reads as missing
    uow: UowDep,
    now: NowDep,
    settings: SettingsDep,
    note: Annotated[Annotated[str, StringConstraints(max_length=2000), MULTI_LINE], Form()] = "",
) -> HTMLResponse:
    try:
        _check_link(settings.secret_key.get_secret_value(), alert_id, contact, expires, sig, now)
    except NotAuthenticated as exc:
        return _page("Link not valid", f"<p>{escape(exc.detail)}.</p>", 403)
    try:
        acknowledgement.acknowledge_by_contact(
            uow, alert_id=alert_id, contact_id=contact, note=note, now=now
        )
    except Conflict as exc:
        return _page("Already acknowledged", f"<p>{escape(exc.detail)}.</p>", 409)
    except InvalidInput as exc:
        return _page(
            "A note is needed",
            f"<p>{escape(exc.detail)}. Go back, write what you have done or will do, and "
            "submit again.</p>",
            422,
        )
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
    token: Annotated[
        Annotated[str, StringConstraints(min_length=20, max_length=200), SINGLE_LINE], Query()
    ],
    uow: UowDep,
    settings: SettingsDep,
) -> Response:
    """The alerts sent to one contact, as Atom (the token is in the contact's feed URL)."""
    contact_id = contacts_service.feed_contact_id(uow, token)
    if contact_id is None:
        raise NotAuthenticated("Unknown feed token")
    alerts = alert_repository.alerts_for_contact(uow, contact_id=contact_id)
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
        f"<id>urn:uuid:{contact_id}</id><title>Dosekeeper safeguarding alerts</title>"
        f"<updated>{updated.isoformat().replace('+00:00', 'Z')}</updated>"
        f"{entries}</feed>"
    )
    return Response(feed, media_type="application/atom+xml")
