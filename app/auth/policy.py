"""Who may do what, and which records they may see. Checked in the service layer so every entry
point (API, pages, CLI) is covered.

Scopes:
- pharmacist, technician: their own pharmacy's records.
- safeguarding_lead: their pharmacy's records, or every pharmacy when they have none (area lead).
- prescriber, key_worker: the patients who name them (through their linked contact).
- admin: everything.
An object outside the caller's scope is reported as not found, never as forbidden.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from app.audit.service import Actor
from app.auth.models import Role
from app.errors import PermissionDenied

STAFF = frozenset({Role.PHARMACIST, Role.TECHNICIAN})
CLINICIANS = frozenset({Role.PRESCRIBER, Role.KEY_WORKER})


def require_role(actor: Actor, allowed: Iterable[str], action: str) -> None:
    if actor.role not in set(allowed):
        raise PermissionDenied(f"A {actor.role} may not {action}")


def sees_all_pharmacies(actor: Actor) -> bool:
    return actor.role == Role.ADMIN or (
        actor.role == Role.SAFEGUARDING_LEAD and actor.pharmacy_id is None
    )


def pharmacy_scope(actor: Actor) -> UUID | None:
    """The one pharmacy the caller is limited to, or None when they may see every pharmacy."""
    if sees_all_pharmacies(actor):
        return None
    return actor.pharmacy_id


def may_see_pharmacy(actor: Actor, pharmacy_id: UUID) -> bool:
    if sees_all_pharmacies(actor):
        return True
    return actor.pharmacy_id == pharmacy_id and actor.role not in CLINICIANS


def may_see_patient(
    actor: Actor, *, pharmacy_id: UUID, key_worker_id: UUID | None, prescriber_id: UUID | None
) -> bool:
    if actor.role in CLINICIANS:
        return actor.contact_id is not None and actor.contact_id in (key_worker_id, prescriber_id)
    return may_see_pharmacy(actor, pharmacy_id)
