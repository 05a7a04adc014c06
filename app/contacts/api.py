from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import Field, field_validator

from app.auth.deps import ActorDep
from app.contacts import service as contacts_service
from app.contacts.models import ContactKind
from app.http import problems
from app.http.deps import NowDep, SettingsDep, UowDep
from app.http.schemas import In, Out, Paged, Text200, Text500

router = APIRouter(tags=["contacts"], responses=problems.API_ERRORS)

# Control characters and bidirectional overrides are spelled out (NEL `\x85` among them: the
# server's regex counts it as whitespace, JSON Schema's, ECMA-262, does not), so the schema
# refuses exactly what the server refuses.
_NOT = r"[^@\s\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]"
Email = Annotated[str, Field(max_length=320, pattern=rf"^{_NOT}+@{_NOT}+\.{_NOT}+$")]


class ContactCreate(In):
    name: Text200
    organisation: Text200
    kind: ContactKind
    address: Text500 | None = Field(
        default=None,
        description="Postal address; a prescriber's goes on every register supply line (reg 19)",
    )
    email: Email | None = None
    webhook_url: Annotated[str, Field(max_length=2000)] | None = None


class ContactRead(Out):
    id: UUID
    name: str
    organisation: str
    kind: str
    address: str | None = None
    email: str | None
    webhook_url: str | None = Field(
        description="Scheme, host, port and path only: a query, fragment or credentials given "
        "at creation are never shown again (`?…` marks that there were some)"
    )

    @field_validator("webhook_url")
    @classmethod
    def _redact(cls, value: str | None) -> str | None:
        return contacts_service.redacted_url(value)


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
        address=body.address,
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
