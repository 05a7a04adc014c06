"""Use cases for contacts: the people and teams alerts go to."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit
from uuid import UUID

from sqlalchemy import select

from app.audit import service as audit_service
from app.audit.service import SYSTEM, Actor
from app.auth.models import Role
from app.auth.policy import require_role
from app.contacts.models import Contact
from app.db import UnitOfWork
from app.errors import InvalidInput, NotFound
from app.notify.channels import Result
from app.notify.destinations import is_internal

WRITERS = {Role.ADMIN, Role.PHARMACIST, Role.SAFEGUARDING_LEAD}


@dataclass(frozen=True, slots=True)
class Secrets:
    """Shown once at creation: we keep only what we need to sign, and a hash of the feed token."""

    webhook_secret: str | None
    feed_token: str


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _literal_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host names literally, including the forms the system resolver also reads
    as IPv4 (inet_aton): `127.1`, `0x7f000001`, `2130706433`, `0177.0.0.1`, `0`."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError):
        return None


def check_webhook_url(url: str, *, allowed_hosts: frozenset[str], allow_http: bool) -> None:
    """Refuse destinations that would turn alert delivery into a probe of our own network (SSRF).

    Literal private, loopback and link-local addresses and `localhost` are refused unless the
    host is on the explicit allow-list (tests deliver to 127.0.0.1). Plain http is refused
    unless allowed: alerts travel signed, but their references should not travel in clear.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidInput("webhook_url", "url", "must be an absolute https:// URL")
    host = parts.hostname.lower().rstrip(".")  # "localhost." is localhost
    if host in allowed_hosts:
        return
    if parts.scheme == "http" and not allow_http:
        raise InvalidInput("webhook_url", "https_required", "must use https://")
    if parts.username or parts.password:
        raise InvalidInput("webhook_url", "no_credentials", "must not embed credentials")
    internal = host == "localhost" or host.endswith((".localhost", ".internal", ".local"))
    address = _literal_address(host)
    if address is not None and is_internal(address):  # the check made again at send time
        internal = True
    if internal:
        raise InvalidInput(
            "webhook_url", "internal_address", "must not point at an internal or loopback address"
        )


def create_contact(
    uow: UnitOfWork,
    *,
    actor: Actor,
    name: str,
    organisation: str,
    kind: str,
    email: str | None,
    webhook_url: str | None,
    allowed_webhook_hosts: frozenset[str],
    allow_http_webhooks: bool,
    now: datetime,
) -> tuple[Contact, Secrets]:
    """Register a contact; returns it with its webhook secret and feed token, shown only now."""
    if actor is not SYSTEM:
        require_role(actor, WRITERS, "add contacts")
    if not email and not webhook_url:
        raise InvalidInput("email", "required", "give an email address or a webhook URL")
    if webhook_url:
        check_webhook_url(
            webhook_url, allowed_hosts=allowed_webhook_hosts, allow_http=allow_http_webhooks
        )
    secret = new_webhook_secret() if webhook_url else None
    feed_token = secrets.token_urlsafe(32)
    with uow:
        contact = Contact(
            name=name,
            organisation=organisation,
            kind=kind,
            email=email,
            webhook_url=webhook_url,
            webhook_secret=secret,
            feed_token_hash=hashlib.sha256(feed_token.encode()).hexdigest(),
            pharmacy_id=actor.pharmacy_id,
            created_at=now,
        )
        uow.session.add(contact)
        uow.session.flush()
        audit_service.record(
            uow.session,
            actor,
            "contact.created",
            entity="contact",
            entity_id=contact.id,
            at=now,
            pharmacy_id=actor.pharmacy_id,
            facts={"kind": kind, "webhook": bool(webhook_url), "email": bool(email)},
        )
        uow.commit()
        return contact, Secrets(secret, feed_token)


def get_contact(uow: UnitOfWork, *, actor: Actor, contact_id: UUID) -> Contact:
    with uow:
        contact = uow.session.get(Contact, contact_id)
        if contact is None:
            raise NotFound("contact", contact_id)
        return contact


def list_contacts(uow: UnitOfWork, *, actor: Actor, kind: str | None = None) -> list[Contact]:
    """The directory is shared across branches: a social worker serves many pharmacies."""
    with uow:
        query = select(Contact).order_by(Contact.name)
        if kind:
            query = query.where(Contact.kind == kind)
        return list(uow.session.scalars(query.limit(1000)))


def test_webhook(
    uow: UnitOfWork,
    *,
    actor: Actor,
    contact_id: UUID,
    now: datetime,
    timeout: float,
    allowed_hosts: frozenset[str],
) -> Result:
    """A signed CloudEvent of type `…test.v1`, so the receiver can check its verification."""
    import json
    import uuid

    from app.notify.channels import WebhookSender

    require_role(actor, WRITERS, "test webhooks")
    with uow:
        contact = uow.session.get(Contact, contact_id)
        if contact is None:
            raise NotFound("contact", contact_id)
        if not contact.webhook_url or not contact.webhook_secret:
            raise InvalidInput("webhook_url", "required", "this contact has no webhook")
        audit_service.record(
            uow.session,
            actor,
            "contact.webhook_tested",
            entity="contact",
            entity_id=contact.id,
            at=now,
            pharmacy_id=actor.pharmacy_id,
        )
        uow.commit()
    event_id = str(uuid.uuid4())
    body = json.dumps(
        {
            "specversion": "1.0",
            "id": event_id,
            "source": "/dosekeeper",
            "type": "uk.dosekeeper.test.v1",
            "time": now.isoformat(),
            "data": {"test": True},
        },
        separators=(",", ":"),
    ).encode()
    sender = WebhookSender(timeout=timeout, allowed_hosts=allowed_hosts)
    try:
        return sender.send(
            contact.webhook_url, contact.webhook_secret, event_id=event_id, body=body
        )
    finally:
        sender.close()
