from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import Field

from app.contacts import service as contacts_service
from app.contacts.models import ContactKind
from app.http import problems
from app.http.deps import ActorDep, NowDep, SettingsDep, UowDep
from app.http.schemas import In, Out, Paged, Text200

router = APIRouter(tags=["contacts"], responses=problems.API_ERRORS)

# `\x85` (NEL) is spelled out: the server's regex counts it as whitespace, JSON Schema's
# (ECMA-262) does not, and the schema must not accept what the server refuses.
Email = Annotated[str, Field(max_length=320, pattern=r"^[^@\s\x85]+@[^@\s\x85]+\.[^@\s\x85]+$")]


class ContactCreate(In):
    name: Text200
    organisation: Text200
    kind: ContactKind
    email: Email | None = None
    webhook_url: Annotated[str, Field(max_length=2000)] | None = None


class ContactRead(Out):
    id: UUID
    name: str
    organisation: str
    kind: str
    email: str | None
    webhook_url: str | None


class ContactCreated(ContactRead):
    webhook_secret: str | None = Field(
        default=None, description="Shown once: store it to verify our webhook signatures."
    )
    feed_url: str = Field(description="Shown once: this contact's Atom feed of alerts.")


@router.post("/contacts", status_code=201, response_model=ContactCreated)
def create_contact(
    body: ContactCreate, uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> ContactCreated:
    """Add a contact who receives alerts; the webhook secret is returned this once only."""
    contact, secrets = contacts_service.create_contact(
        uow,
        actor=actor,
        name=body.name,
        organisation=body.organisation,
        kind=body.kind,
        email=body.email,
        webhook_url=body.webhook_url,
        allowed_webhook_hosts=settings.webhook_allowed_hosts,
        allow_http_webhooks=settings.allow_http_webhooks,
        now=now,
    )
    base = settings.notify.public_base_url.rstrip("/")
    return ContactCreated(
        **ContactRead.model_validate(contact).model_dump(),
        webhook_secret=secrets.webhook_secret,
        feed_url=f"{base}/feeds/alerts.atom?token={secrets.feed_token}",
    )


@router.get("/contacts", response_model=Paged[ContactRead])
def list_contacts(
    uow: UowDep, actor: ActorDep, kind: Annotated[ContactKind | None, Query()] = None
) -> object:
    return {"items": contacts_service.list_contacts(uow, actor=actor, kind=kind), "next": None}


@router.get("/contacts/{contact_id}", response_model=ContactRead)
def get_contact(contact_id: UUID, uow: UowDep, actor: ActorDep) -> object:
    return contacts_service.get_contact(uow, actor=actor, contact_id=contact_id)


@router.post("/contacts/{contact_id}/test")
def test_send(
    contact_id: UUID, uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> dict[str, object]:
    """Send a signed test event to the contact's webhook now and report what came back."""
    result = contacts_service.test_webhook(
        uow,
        actor=actor,
        contact_id=contact_id,
        now=now,
        timeout=settings.notify.webhook_timeout_seconds,
        allowed_hosts=settings.webhook_allowed_hosts,
    )
    return {"outcome": result.outcome, "status_code": result.status_code, "detail": result.detail}
