"""Each pharmacy's pack table: which product a stock pack's GTIN holds (issue 20 §5).

The seed (`app.register.packs.seed_for`: the products' confirmed GTINs, and outside production
the GS1 example the demo and tests scan) answers for every pharmacy; a pharmacist's mapping,
recorded with who, when and why in `pack_mappings` (append-only), answers for that pharmacy
only and wins over the seed; the latest mapping of a GTIN wins over earlier ones. Per pharmacy so that one pharmacy's mistake cannot spread to
another's counter (docs/decisions.md, "The stock bottle checked"). Repointing a known GTIN to
another product, or mapping one to a confusable strength, needs the pharmacist to confirm it
(`confirm_change`) and is audited as `register.pack_repointed`.

Receipts (`receipts.py`) and the handover's bottle check (`app.dosing.bottles`) both ask
`product_for`, so a pack is the same product wherever it is scanned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

import devices
from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import require_role, require_safety_act
from app.db import UnitOfWork
from app.errors import Conflict, InvalidInput
from app.prescriptions.products import PRODUCTS
from app.register.access import READERS, own_pharmacy, readable_pharmacy
from app.register.models import PackMapping
from app.register.packs import PACKS


@dataclass(frozen=True, slots=True)
class KnownPack:
    """What a GTIN is here: the product, and whether a pharmacist's mapping says so (else the
    seed table)."""

    gtin: str
    product: str
    mapping: PackMapping | None = None


def product_for(
    session: Session, pharmacy_id: UUID, gtin: str, seed: Mapping[str, str] = PACKS
) -> KnownPack | None:
    """The product this pharmacy's pack table gives `gtin`; None when nobody has mapped it."""
    mapping = session.scalar(
        select(PackMapping)
        .where(PackMapping.pharmacy_id == pharmacy_id, PackMapping.gtin == gtin)
        .order_by(PackMapping.seq.desc())
        .limit(1)
    )
    if mapping is not None:
        return KnownPack(gtin, mapping.product, mapping)
    seeded = seed.get(gtin)
    return KnownPack(gtin, seeded) if seeded else None


def canonical_gtin(code: str, today: date) -> str:
    """The 14-digit GTIN of a typed GTIN or a scanned pack code; refuses anything else."""
    scan = devices.interpret(code.strip(), today=today)
    if scan.kind != devices.ScanKind.STOCK_PACK or scan.pack is None:
        reason = scan.message if scan.kind == devices.ScanKind.STOCK_PACK else ""
        raise InvalidInput(
            "gtin",
            "gtin",
            f"is not a medicine pack's GTIN (8 to 14 digits with a valid check digit) {reason}",
        )
    return scan.pack.gtin


@dataclass(frozen=True, slots=True)
class MappingMade:
    """A mapping just recorded, and the product it repointed the GTIN from (None: new, or
    the same product again)."""

    mapping: PackMapping
    replaces: str | None


# A reason is at least a short sentence: "Label read" is the least that says anything.
MIN_REASON = 10


def _unconfirmed(code: str, earlier: KnownPack | None, product: str) -> Conflict | None:
    """Why this mapping needs `confirm_change`: it repoints a GTIN the table already gives
    another product, or it maps to a strength easily confused with the usual one."""
    chosen = PRODUCTS[product]
    said = []
    if earlier is not None and earlier.product != product:
        was = PRODUCTS[earlier.product].name if earlier.product in PRODUCTS else earlier.product
        where = "this pharmacy's earlier mapping" if earlier.mapping else "the seed table"
        said.append(
            f"GTIN {code} is {was} according to {where}; mapping it to {chosen.name} changes "
            "what every "
            "bottle with this barcode is taken to be at the counter and at receipt"
        )
    if chosen.confusable_strength:
        said.append(f"{chosen.name} is a strength easily confused with the usual one")
    if not said:
        return None
    return Conflict(
        "; ".join(said) + ". Read the bottle's label again and confirm the change.",
        code="pack_change_unconfirmed",
        gtin=code,
        current_product=earlier.product if earlier else None,
        product=product,
        confusable_strength=chosen.confusable_strength,
    )


def add_mapping(
    uow: UnitOfWork,
    *,
    actor: Actor,
    gtin: str,
    product: str,
    reason: str,
    today: date,
    now: datetime,
    confirm_change: bool = False,
    seed: Mapping[str, str] = PACKS,
) -> MappingMade:
    """A pharmacist maps a GTIN to a product in their pharmacy's pack table, saying why.

    Repointing a GTIN the table already gives another product (by the seed or an earlier
    mapping), or mapping one to a confusable strength (a concentrate), is refused
    (`pack_change_unconfirmed`, 409) unless `confirm_change`; when made, it is audited as
    `register.pack_repointed` with both products and shown on the register page."""
    require_safety_act(actor, "map_pack")
    code = canonical_gtin(gtin, today)
    if product not in PRODUCTS:
        raise InvalidInput(
            "product", "known_product", f"{product} is not a product Dosekeeper knows"
        )
    if len(reason.strip()) < MIN_REASON:
        raise InvalidInput(
            "reason",
            "min_length",
            f"say why in a sentence (at least {MIN_REASON} characters), e.g. what the bottle's "
            "label reads",
        )
    with uow:
        session = uow.session
        pharmacy = own_pharmacy(session, actor)
        earlier = product_for(session, pharmacy.id, code, seed)
        refused = _unconfirmed(code, earlier, product)
        if refused is not None and not confirm_change:
            raise refused
        repointed = earlier is not None and earlier.product != product
        mapping = PackMapping(
            pharmacy_id=pharmacy.id,
            gtin=code,
            product=product,
            reason=reason.strip(),
            mapped_by_id=actor.id,
            mapped_by_name=actor.name,
            mapped_at=now,
        )
        session.add(mapping)
        session.flush()
        audit_service.record(
            session,
            actor,
            "register.pack_repointed" if repointed else "register.pack_mapped",
            entity="pack_mapping",
            entity_id=mapping.id,
            at=now,
            pharmacy_id=pharmacy.id,
            facts={
                "gtin": code,
                "product": product,
                "replaces": earlier.product if earlier else None,
                "replaces_seed": bool(earlier and earlier.mapping is None),
                "confusable_strength": PRODUCTS[product].confusable_strength,
                "confirmed": refused is not None,
                "reason": mapping.reason,
            },
        )
        uow.commit()
        return MappingMade(mapping, earlier.product if repointed and earlier else None)


def list_mappings(
    uow: UnitOfWork, *, actor: Actor, pharmacy_id: UUID | None = None
) -> tuple[UUID, Sequence[PackMapping]]:
    """Every mapping of one pharmacy's pack table, newest first (superseded ones included)."""
    require_role(actor, READERS, "read the pack table")
    with uow:
        pharmacy = readable_pharmacy(uow.session, actor, pharmacy_id)
        rows = uow.session.scalars(
            select(PackMapping)
            .where(PackMapping.pharmacy_id == pharmacy.id)
            .order_by(PackMapping.seq.desc())
        ).all()
        return pharmacy.id, rows
