from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from app.auth.deps import ActorDep
from app.contacts import service as contacts_service
from app.contacts.models import ContactKind
from app.contacts.schemas import ContactCreate, ContactCreated, ContactRead
from app.http import problems
from app.http.deps import NowDep, SettingsDep, UowDep
from app.http.schemas import Paged

router = APIRouter(tags=["contacts"], responses=problems.API_ERRORS)


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
