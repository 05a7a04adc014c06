"""Request and response bodies of the contacts API (a contact, and its one-time secrets)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import Field, field_validator

from app.contacts import service as contacts_service
from app.contacts.models import ContactKind
from app.http.schemas import In, Out, Text200, Text500

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
