"""The pharmacies table's own queries and who may see a pharmacy: decided here once."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.actor import SYSTEM, Actor
from app.auth.policy import may_see_pharmacy
from app.errors import NotFound
from app.pharmacies.models import Pharmacy


def load_visible(session: Session, actor: Actor, pharmacy_id: UUID) -> Pharmacy:
    """The pharmacy if the caller may see it; otherwise NotFound (never a hint it exists)."""
    pharmacy = session.scalar(
        select(Pharmacy).where(Pharmacy.id == pharmacy_id).options(selectinload(Pharmacy.closures))
    )
    if pharmacy is None or not (actor is SYSTEM or may_see_pharmacy(actor, pharmacy.id)):
        raise NotFound("pharmacy", pharmacy_id)
    return pharmacy


def by_ods_code(session: Session, ods_code: str) -> Pharmacy | None:
    """A pharmacy by its ODS code, with no visibility check: the code, name, address and phone
    of a pharmacy are public (the NHS directory lists them), and guest dosing and transfers
    name the other pharmacy this way."""
    return session.scalar(select(Pharmacy).where(Pharmacy.ods_code == ods_code.strip().upper()))


def by_id(session: Session, pharmacy_id: UUID) -> Pharmacy | None:
    """A pharmacy's public identity (name, address, phone) by id, with no visibility check."""
    return session.get(Pharmacy, pharmacy_id)
