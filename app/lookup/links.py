"""Look-up links: a pharmacist sends one to a contact (a ward, a custody suite), who can then
look up that pharmacy's patients until it expires or is revoked.

The token is `dkl1.<link id>.<nonce>.<signature>`: the signature is an HMAC-SHA256 under the
service's secret key over the id and the nonce, so a token this service did not make is refused
before the database is asked; only the token's SHA-256 is stored, so the database never holds a
working link, and revoking one is a column on its row. The token is shown once, to the
pharmacist who issued it, to pass on (docs/decisions.md: why it is not sent through the outbox).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import pharmacy_scope, require_role
from app.auth.roles import Role
from app.config import LookupSettings
from app.contacts import repository as contacts_repository
from app.contacts.models import Contact
from app.db import UnitOfWork
from app.errors import Conflict, InvalidInput, NotAuthenticated, NotFound
from app.kit import new_id
from app.lookup.models import LookupLink
from app.pharmacies import repository as pharmacies_repository

PREFIX = "dkl1"
# Who may send a link, or revoke one: the pharmacist of the patients it opens, or an admin.
ISSUERS = {Role.PHARMACIST, Role.ADMIN}
# Who may see the pharmacy's links and its look-up log.
READERS = {Role.PHARMACIST, Role.TECHNICIAN, Role.ADMIN}
LINK_ROLE = "lookup_link"  # the audit's name for a contact acting through a link


def _signature(secret: str, link_id: UUID, nonce: str) -> str:
    message = f"lookup-link|{link_id.hex}|{nonce}".encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_link_token(token: str) -> bool:
    return token.startswith(PREFIX + ".")


def make_token(secret: str, link_id: UUID) -> str:
    nonce = secrets.token_urlsafe(24)
    return f"{PREFIX}.{link_id.hex}.{nonce}.{_signature(secret, link_id, nonce)}"


def signed_link_id(secret: str, token: str) -> UUID | None:
    """The link id a token names, if this service signed it; None for anything else."""
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != PREFIX or not token.isascii():
        return None
    try:
        link_id = UUID(hex=parts[1])
    except ValueError:
        return None
    if not hmac.compare_digest(_signature(secret, link_id, parts[2]), parts[3]):
        return None
    return link_id


@dataclass(frozen=True, slots=True)
class LinkHolder:
    """A contact looking up through a link: the pharmacy that issued it bounds what they see."""

    link_id: UUID
    contact_id: UUID
    pharmacy_id: UUID
    name: str  # "Ward 7 (Demotown General Hospital)"

    @property
    def actor(self) -> Actor:
        return Actor(
            id=None,
            name=f"link {self.link_id.hex[:8]}: {self.name}"[:64],
            role=LINK_ROLE,
            pharmacy_id=self.pharmacy_id,
            contact_id=self.contact_id,
        )


def contact_words(contact: Contact) -> str:
    return f"{contact.name} ({contact.organisation})"[:200]


def authenticate(uow: UnitOfWork, *, token: str, secret: str, now: datetime) -> LinkHolder:
    """The holder of a link that is signed, known, not revoked and not expired; else 401."""
    link_id = signed_link_id(secret, token)
    if link_id is None:
        raise NotAuthenticated("This look-up link is not valid", code="link_not_valid")
    with uow:
        row = uow.session.execute(
            select(LookupLink, Contact)
            .join(Contact, Contact.id == LookupLink.contact_id)
            .where(LookupLink.id == link_id)
        ).one_or_none()
        if row is None or not hmac.compare_digest(row[0].token_hash, token_hash(token)):
            raise NotAuthenticated("This look-up link is not valid", code="link_not_valid")
        link, contact = row
        if link.revoked_at is not None:
            raise NotAuthenticated(
                "This look-up link was withdrawn by the pharmacy; ask it for a new one",
                code="link_revoked",
            )
        if link.expires_at <= now:
            raise NotAuthenticated(
                "This look-up link has expired; ask the pharmacy for a new one",
                code="link_expired",
            )
        return LinkHolder(link.id, contact.id, link.pharmacy_id, contact_words(contact))


@dataclass(frozen=True, slots=True)
class Issued:
    link: LookupLink
    contact: Contact
    token: str  # shown once


def _issuing_pharmacy(session: Session, actor: Actor, pharmacy_id: UUID | None) -> UUID:
    if pharmacy_id is None:
        if actor.pharmacy_id is None:
            raise InvalidInput(
                "pharmacy_id", "required", "name the pharmacy whose patients it opens"
            )
        return actor.pharmacy_id
    return pharmacies_repository.load_visible(session, actor, pharmacy_id).id


def issue(
    uow: UnitOfWork,
    *,
    actor: Actor,
    contact_id: UUID,
    pharmacy_id: UUID | None,
    secret: str,
    settings: LookupSettings,
    now: datetime,
) -> Issued:
    """Make a link for one of the pharmacy's contacts, valid for `settings.link_hours`."""
    require_role(actor, ISSUERS, "send look-up links")
    with uow:
        session = uow.session
        pharmacy = _issuing_pharmacy(session, actor, pharmacy_id)
        contact = contacts_repository.load_visible(uow, actor, contact_id)
        if contact.pharmacy_id not in (None, pharmacy):
            raise NotFound("contact", contact_id)  # another pharmacy's, as if unknown
        if not contact.email:
            raise InvalidInput(
                "contact_id",
                "has_email",
                "must have an email address: the link is for a service's own mailbox",
            )
        link_id = new_id()
        token = make_token(secret, link_id)
        link = LookupLink(
            id=link_id,
            pharmacy_id=pharmacy,
            contact_id=contact.id,
            token_hash=token_hash(token),
            issued_by_id=actor.id,
            issued_at=now,
            expires_at=now + timedelta(hours=settings.link_hours),
        )
        session.add(link)
        audit_service.record(
            session,
            actor,
            "lookup.link_issued",
            entity="lookup_link",
            entity_id=link.id,
            at=now,
            pharmacy_id=pharmacy,
            facts={"contact_id": contact.id, "expires_at": link.expires_at},
        )
        uow.commit()
        return Issued(link, contact, token)


def revoke(uow: UnitOfWork, *, actor: Actor, link_id: UUID, now: datetime) -> LinkRow:
    """Withdraw a link at once: its next use is refused."""
    require_role(actor, ISSUERS, "revoke look-up links")
    with uow:
        session = uow.session
        link = session.scalar(select(LookupLink).where(LookupLink.id == link_id).with_for_update())
        scope = pharmacy_scope(actor)
        if link is None or (scope is not None and link.pharmacy_id != scope):
            raise NotFound("look-up link", link_id)
        if link.revoked_at is not None:
            raise Conflict("This link was already revoked", code="already_revoked")
        link.revoked_at = now
        link.revoked_by_id = actor.id
        audit_service.record(
            session,
            actor,
            "lookup.link_revoked",
            entity="lookup_link",
            entity_id=link.id,
            at=now,
            pharmacy_id=link.pharmacy_id,
            facts={"contact_id": link.contact_id},
        )
        contact = session.get(Contact, link.contact_id)
        uow.commit()
        return LinkRow(link, contact_words(contact) if contact else "")


@dataclass(frozen=True, slots=True)
class LinkRow:
    link: LookupLink
    contact: str

    def state(self, now: datetime) -> str:
        if self.link.revoked_at is not None:
            return "revoked"
        return "expired" if self.link.expires_at <= now else "live"


def list_links(uow: UnitOfWork, *, actor: Actor, limit: int = 200) -> list[LinkRow]:
    """The caller's pharmacy's links (every pharmacy's for an admin), newest first."""
    require_role(actor, READERS, "see look-up links")
    scope = pharmacy_scope(actor)
    query = select(LookupLink, Contact).join(Contact, Contact.id == LookupLink.contact_id)
    if scope is not None:
        query = query.where(LookupLink.pharmacy_id == scope)
    with uow:
        rows = uow.session.execute(
            query.order_by(LookupLink.issued_at.desc(), LookupLink.id).limit(limit)
        ).all()
        return [LinkRow(link, contact_words(contact)) for link, contact in rows]


def link_contacts(uow: UnitOfWork, *, actor: Actor) -> list[Contact]:
    """The contacts a link may go to: the caller's pharmacy's and the area directory's, with an
    email address, wards and custody suites first."""
    require_role(actor, ISSUERS, "send look-up links")
    scope = pharmacy_scope(actor)
    query = select(Contact).where(
        Contact.email.is_not(None), contacts_repository.visible_contacts(actor)
    )
    if scope is not None:
        query = query.where((Contact.pharmacy_id.is_(None)) | (Contact.pharmacy_id == scope))
    with uow:
        found = list(uow.session.scalars(query.order_by(Contact.name)))
    return sorted(found, key=lambda c: (c.kind != "care_service", c.name))
