"""Use cases for contacts: the people and teams alerts go to."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.actor import SYSTEM, Actor
from app.addresses import is_internal
from app.audit import service as audit_service
from app.audit.models import AuditEvent
from app.auth.policy import require_role
from app.auth.roles import Role
from app.contacts.models import Contact
from app.contacts.repository import load_visible, visible_contacts
from app.db import UnitOfWork
from app.errors import Conflict, InvalidInput, TooManyAttempts

WRITERS = {Role.ADMIN, Role.PHARMACIST, Role.SAFEGUARDING_LEAD}
# Test sends: at most this many per contact (whoever asks) and per caller in the window, so the
# button cannot turn Dosekeeper into a flood aimed at somebody's endpoint.
TEST_SEND_WINDOW_SECONDS = 600
TEST_SENDS_PER_CONTACT = 5
TEST_SENDS_PER_CALLER = 20


def redacted_url(url: str | None) -> str | None:
    """A stored webhook URL as it may be shown again: scheme, host, port and path only. Its
    query, fragment and any user information (API keys live there) never leave again."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "(unreadable URL)"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{port}" if port is not None else "")
    hidden = "?…" if parts.query or parts.fragment or parts.username or parts.password else ""
    return f"{parts.scheme}://{netloc}{parts.path}{hidden}"


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
    try:
        parts = urlsplit(url)
        port = parts.port  # parsed on access: out of range or not a number raises
    except ValueError as exc:  # "https://[::1:9443/h", port 99999 or -1
        raise InvalidInput(
            "webhook_url", "url", f"must be an absolute https:// URL ({exc})"
        ) from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise InvalidInput("webhook_url", "url", "must be an absolute https:// URL")
    if port is not None and not 1 <= port <= 65535:
        raise InvalidInput("webhook_url", "port", "the port must be from 1 to 65535")
    host = parts.hostname.lower()
    # The allow-list matches one spelling only: "127.0.0.1." is not "127.0.0.1" (it was
    # accepted here and then failed at every send).
    if host in allowed_hosts:
        return
    if parts.scheme == "http" and not allow_http:
        raise InvalidInput("webhook_url", "https_required", "must use https://")
    if parts.username or parts.password:
        raise InvalidInput("webhook_url", "no_credentials", "must not embed credentials")
    bare = host.rstrip(".")  # "localhost." is localhost
    internal = bare == "localhost" or bare.endswith((".localhost", ".internal", ".local"))
    address = _literal_address(bare)
    if address is not None and is_internal(address):  # the check made again at send time
        internal = True
    if internal:
        raise InvalidInput(
            "webhook_url", "internal_address", "must not point at an internal or loopback address"
        )
    if host.endswith(".") or ".." in host:
        raise InvalidInput(
            "webhook_url", "host", "the host name must not end with a dot or hold an empty label"
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
    address: str | None = None,
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
        if actor is not SYSTEM:  # seeds and tests build their own worlds
            _refuse_duplicate(uow.session, actor, kind=kind, email=email)
        contact = Contact(
            name=name,
            organisation=organisation,
            address=address,
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


def _refuse_duplicate(session: Session, actor: Actor, *, kind: str, email: str | None) -> None:
    """One contact per person and role: a second "key worker" with the same email address would
    split the alerts' deliveries and their acknowledgements between two records. (A webhook
    URL may be shared: an organisation's one system receives for all its staff.)"""
    if not email:
        return
    existing = session.scalar(
        select(Contact.name)
        .where(
            Contact.kind == kind,
            func.lower(Contact.email) == email.lower(),
            visible_contacts(actor),
        )
        .limit(1)
    )
    if existing is not None:
        raise Conflict(
            f"{existing} is already a contact of this kind with that email address",
            code="duplicate_contact",
        )


def get_contact(uow: UnitOfWork, *, actor: Actor, contact_id: UUID) -> Contact:
    with uow:
        return load_visible(uow, actor, contact_id)


def list_contacts(uow: UnitOfWork, *, actor: Actor, kind: str | None = None) -> list[Contact]:
    """The contacts the caller may see: the area directory (a social worker serves many
    pharmacies) and their own pharmacy's; another pharmacy's are not listed."""
    with uow:
        query = select(Contact).where(visible_contacts(actor)).order_by(Contact.name)
        if kind:
            query = query.where(Contact.kind == kind)
        return list(uow.session.scalars(query.limit(1000)))


def feed_contact_id(uow: UnitOfWork, token: str) -> UUID | None:
    """The contact whose Atom feed URL carries this token (only its hash is stored), or None."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    with uow:
        contact = uow.session.scalar(select(Contact).where(Contact.feed_token_hash == digest))
    return contact.id if contact is not None else None


def _limit_test_sends(uow: UnitOfWork, actor: Actor, contact_id: UUID, now: datetime) -> None:
    since = now - timedelta(seconds=TEST_SEND_WINDOW_SECONDS)
    tested = (AuditEvent.action == "contact.webhook_tested", AuditEvent.at >= since)
    for where, limit in (
        (AuditEvent.entity_id == str(contact_id), TEST_SENDS_PER_CONTACT),
        (AuditEvent.actor_id == actor.id, TEST_SENDS_PER_CALLER),
    ):
        count, first = uow.session.execute(
            select(func.count(), func.min(AuditEvent.at)).where(*tested, where)
        ).one()
        if count >= limit:
            wait = TEST_SEND_WINDOW_SECONDS
            if first is not None:
                wait = max(1, int((first - since).total_seconds()) + 1)
            raise TooManyAttempts(
                f"Too many test sends; at most {limit} in {TEST_SEND_WINDOW_SECONDS // 60} "
                f"minutes. Try again in {wait} seconds",
                retry_after=wait,
            )


@dataclass(frozen=True, slots=True)
class TestTarget:
    """Where a test event goes: the contact's webhook as it is now."""

    contact_id: UUID
    url: str
    secret: str


def record_test_send(
    uow: UnitOfWork, *, actor: Actor, contact_id: UUID, now: datetime
) -> TestTarget:
    """Authorise, rate-limit and audit a test send to a contact's webhook, and say where it
    goes. The sending itself is notify's (`app.notify.test_send`): contacts sit below the
    delivery machinery that reads them."""
    require_role(actor, WRITERS, "test webhooks")
    with uow:
        contact = load_visible(uow, actor, contact_id)
        if not contact.webhook_url or not contact.webhook_secret:
            raise InvalidInput("webhook_url", "required", "this contact has no webhook")
        _limit_test_sends(uow, actor, contact.id, now)
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
        return TestTarget(contact.id, contact.webhook_url, contact.webhook_secret)
