"""The CD register page: one product's register in its legal layout with the running balance,
and the forms to record a receipt (with a GS1 pack scan), a witnessed balance check and a
correction of an earlier entry. Reading is done here; every entry is made through the JSON API
from the page's script."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import StringConstraints
from sqlalchemy import func, select

from app.auth.deps import ActorDep
from app.auth.policy import require_role
from app.auth.roles import Role
from app.clock import local_date
from app.http.deps import NowDep, SettingsDep, UowDep
from app.http.schemas import SINGLE_LINE
from app.http.templates import page
from app.prescriptions.products import PRODUCTS
from app.register import export, pack_api, pack_table
from app.register import reading as register_reading
from app.register import rules as register_rules
from app.register.models import RegisterEntry
from app.register.packs import seed_for

router = APIRouter(include_in_schema=False)

# The people who keep the register at the counter: both record receipts and counts; only a
# pharmacist corrects an entry (register.access: WRITERS, CORRECTORS). The safeguarding lead
# and an admin read it (a register alert links here) but are offered no form.
KEEPERS = {Role.PHARMACIST, Role.TECHNICIAN}
READERS = KEEPERS | {Role.SAFEGUARDING_LEAD, Role.ADMIN}
ProductQuery = Annotated[str, StringConstraints(max_length=64), SINGLE_LINE]
# The latest lines shown by default; the whole register is one link away (and in print, CSV).
SHOWN_LINES = 200


@router.get("/register", response_class=HTMLResponse)
def register(
    request: Request,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
    product: Annotated[ProductQuery | None, Query()] = None,
    corrects: Annotated[UUID | None, Query()] = None,
    pharmacy: Annotated[UUID | None, Query()] = None,
    whole: Annotated[bool, Query(alias="all")] = False,
) -> HTMLResponse:
    """One product's register, newest line last, with the forms its keepers may use.

    `pharmacy` names the register for a reader who sees several pharmacies (admin, area lead).
    """
    require_role(actor, READERS, "read the CD register")
    products = [p for p in PRODUCTS.values() if register_rules.is_register_product(p.code)]
    chosen = product or products[0].code
    after = 0
    if not whole:
        with uow:
            last = uow.session.scalar(
                select(func.max(RegisterEntry.line)).where(
                    RegisterEntry.pharmacy_id == (pharmacy or actor.pharmacy_id),
                    RegisterEntry.product == chosen,
                )
            )
        after = max(0, (last or 0) - SHOWN_LINES)
    view = register_reading.read_register(
        uow,
        actor=actor,
        product=chosen,
        start=None,
        end=None,
        now=now,
        pharmacy_id=pharmacy,
        after_line=after,
    )
    rows = [(e, export.row(e, view.lines)) for e in view.entries]
    packs = []
    if actor.role == Role.PHARMACIST:
        pharmacy_id, mappings = pack_table.list_mappings(uow, actor=actor, pharmacy_id=pharmacy)
        packs = pack_api.table_read(pharmacy_id, mappings, seed_for(settings.environment)).items
    return page(
        request,
        "register/index.html",
        {
            "products": products,
            "view": view,
            "rows": rows,
            "corrections": view.corrections,
            "today": local_date(now, settings.timezone),
            "corrects": str(corrects) if corrects else "",
            "is_pharmacist": actor.role == Role.PHARMACIST,
            "is_keeper": actor.role in KEEPERS,
            "pharmacy": str(pharmacy) if pharmacy else "",
            "earlier": after,
            "packs": packs,
            "all_products": list(PRODUCTS.values()),
        },
    )
