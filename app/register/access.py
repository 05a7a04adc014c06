"""Who may keep or read which CD register: the role sets, the pharmacy whose register the
caller keeps (`own_pharmacy`) or reads (`readable_pharmacy`), and the products that have a
register at all (`register_product`).

Every register use case starts with these checks, so they live here rather than in any one of
them.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy.orm import Session

from app.actor import Actor
from app.auth.policy import may_see_pharmacy, pharmacy_scope, require_role
from app.auth.roles import Role
from app.errors import InvalidInput, NotFound
from app.pharmacies.models import Pharmacy
from app.prescriptions.products import PRODUCTS, Product
from app.register import rules

WRITERS = {Role.PHARMACIST, Role.TECHNICIAN}
CORRECTORS = {Role.PHARMACIST}
READERS = {Role.PHARMACIST, Role.TECHNICIAN, Role.SAFEGUARDING_LEAD, Role.ADMIN}


def register_product(code: str, field_name: str = "product") -> Product:
    product = PRODUCTS.get(code)
    if product is None or not rules.is_register_product(code):
        raise InvalidInput(
            field_name,
            str(rules.Code.NOT_IN_REGISTER),
            f"{code} is not a Schedule 2 product: it has no CD register",
        )
    return product


def own_pharmacy(session: Session, actor: Actor) -> Pharmacy:
    if actor.pharmacy_id is None:
        raise InvalidInput(
            "pharmacy", "required", "the register is per pharmacy: sign in as its staff"
        )
    pharmacy = session.get(Pharmacy, actor.pharmacy_id)
    if pharmacy is None:
        raise NotFound("pharmacy", actor.pharmacy_id)
    return pharmacy


def readable_pharmacy(session: Session, actor: Actor, pharmacy_id: UUID | None) -> Pharmacy:
    """The caller's own pharmacy, or (admin, area lead) the one they name."""
    require_role(actor, READERS, "read the CD register")
    wanted = pharmacy_id or pharmacy_scope(actor)
    if wanted is None:
        raise InvalidInput("pharmacy_id", "required", "name the pharmacy whose register to read")
    pharmacy = session.get(Pharmacy, wanted)
    if pharmacy is None or not may_see_pharmacy(actor, pharmacy.id):
        raise NotFound("pharmacy", wanted)
    return pharmacy
