"""The pack table over HTTP (issue 20 §5): read a pharmacy's GTIN-to-product mappings, and a
pharmacist's new mapping of an unknown GTIN, recorded with who, when and why (append-only)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from uuid import UUID

from fastapi import APIRouter

from app.auth.deps import ActorDep
from app.clock import local_date
from app.http import problems
from app.http.deps import NowDep, SettingsDep, UowDep
from app.prescriptions.products import PRODUCTS
from app.register import pack_table
from app.register.models import PackMapping
from app.register.packs import PACKS, seed_for
from app.register.schemas import (
    PackMappingBody,
    PackMappingRead,
    PackTableRead,
    SeedPackRead,
)

router = APIRouter(tags=["register"], responses=problems.API_ERRORS)


def mapping_read(
    mapping: PackMapping, in_force: bool, replaces: str | None = None
) -> PackMappingRead:
    product = PRODUCTS.get(mapping.product)
    was = PRODUCTS.get(replaces or "")
    return PackMappingRead(
        id=mapping.id,
        gtin=mapping.gtin,
        product=mapping.product,
        product_name=product.name if product else None,
        reason=mapping.reason,
        mapped_by=mapping.mapped_by_name,
        mapped_at=mapping.mapped_at,
        in_force=in_force,
        replaces=replaces,
        replaces_name=was.name if was else None,
        confusable_strength=bool(product and product.confusable_strength),
    )


def table_read(
    pharmacy_id: UUID, rows: Sequence[PackMapping], seed: Mapping[str, str] = PACKS
) -> PackTableRead:
    # Each mapping against the one before it of its GTIN (oldest first), else the seed.
    before: dict[UUID, str | None] = {}
    current: dict[str, str | None] = {}
    for row in reversed(rows):
        was = current.get(row.gtin, seed.get(row.gtin))
        before[row.id] = was if was != row.product else None
        current[row.gtin] = row.product
    seen: set[str] = set()
    items = []
    for row in rows:  # newest first: the first of each GTIN is in force
        items.append(mapping_read(row, row.gtin not in seen, before.get(row.id)))
        seen.add(row.gtin)
    return PackTableRead(
        pharmacy_id=pharmacy_id,
        items=items,
        seed=[SeedPackRead(gtin=gtin, product=product) for gtin, product in seed.items()],
    )


@router.get("/register/packs", response_model=PackTableRead)
def read_pack_table(
    uow: UowDep, actor: ActorDep, settings: SettingsDep, pharmacy_id: UUID | None = None
) -> PackTableRead:
    """The caller's pharmacy's pack table: its pharmacists' mappings (newest first, the latest
    of each GTIN in force, each naming the product it changed the GTIN from) and the seed
    table every pharmacy starts from."""
    pharmacy, rows = pack_table.list_mappings(uow, actor=actor, pharmacy_id=pharmacy_id)
    return table_read(pharmacy, rows, seed_for(settings.environment))


@router.post(
    "/register/packs",
    status_code=201,
    response_model=PackMappingRead,
    responses={
        409: {
            "description": "pack_change_unconfirmed: it repoints a known GTIN to another "
            "product, or maps it to a confusable strength; send again with confirm_change"
        }
    },
)
def map_pack(
    body: PackMappingBody, uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> PackMappingRead:
    """A pharmacist maps a GTIN to a product in their pharmacy's pack table, saying why; it
    wins over the seed and any earlier mapping of that GTIN here, for receipts and the
    handover's bottle check alike. Repointing a known GTIN to another product, or mapping one
    to a confusable strength, needs `confirm_change` (else 409 `pack_change_unconfirmed`)."""
    made = pack_table.add_mapping(
        uow,
        actor=actor,
        gtin=body.gtin,
        product=body.product,
        reason=body.reason,
        today=local_date(now, settings.timezone),
        now=now,
        confirm_change=body.confirm_change,
        seed=seed_for(settings.environment),
    )
    return mapping_read(made.mapping, in_force=True, replaces=made.replaces)
