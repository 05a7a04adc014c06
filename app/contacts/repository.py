"""The contacts table's own queries and who may see a contact (their pharmacy's and the area
directory; everything for an administrator or an area safeguarding lead; a clinician the
directory and their own): decided here once for every read.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import ColumnElement, or_, select, true
from sqlalchemy.orm import Session

from app.actor import SYSTEM, Actor
from app.auth.policy import CLINICIANS, pharmacy_scope
from app.contacts.models import Contact, ContactKind
from app.db import UnitOfWork
from app.errors import NotFound


def visible_contacts(actor: Actor) -> ColumnElement[bool]:
    """Which contacts the caller may see: their pharmacy's and the area directory's (contacts
    registered with no pharmacy: the drug service's and children's services' people, added by
    an administrator); everything for an administrator or an area safeguarding lead; the area
    directory and their own contact for a prescriber or key worker."""
    if actor is SYSTEM:
        return true()
    if actor.role in CLINICIANS:
        own = Contact.id == actor.contact_id if actor.contact_id else Contact.id.is_(None)
        return or_(Contact.pharmacy_id.is_(None), own)
    scope = pharmacy_scope(actor)
    if scope is None:
        return true()
    return or_(Contact.pharmacy_id.is_(None), Contact.pharmacy_id == scope)


def load_visible(uow: UnitOfWork, actor: Actor, contact_id: UUID) -> Contact:
    contact = uow.session.scalar(
        select(Contact).where(Contact.id == contact_id, visible_contacts(actor))
    )
    if contact is None:  # another pharmacy's contact answers as one that does not exist
        raise NotFound("contact", contact_id)
    return contact


def prescribers_for(session: Session, pharmacy_id: UUID) -> list[Contact]:
    """The prescribers a form at this pharmacy may name: the area directory's and the
    pharmacy's own, by name."""
    return list(
        session.scalars(
            select(Contact)
            .where(
                Contact.kind == ContactKind.PRESCRIBER,
                or_(Contact.pharmacy_id.is_(None), Contact.pharmacy_id == pharmacy_id),
            )
            .order_by(Contact.name)
        )
    )


def by_id(session: Session, contact_id: UUID) -> Contact | None:
    """One contact, with no visibility check: for a record the caller may already see that
    names it (a prescription's prescriber)."""
    return session.get(Contact, contact_id)
