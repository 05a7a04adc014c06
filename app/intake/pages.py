"""Prescription pages: intake of an FP10MDA in the order the paper form reads, the list of
prescriptions waiting for a second pharmacist, and the check screen (the form's fields beside
the schedule built from them). The pages read on the server; every change goes through the
JSON API from the page's script, so the rules behave exactly as the API does."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from app.auth.deps import ActorDep
from app.auth.policy import require_role
from app.auth.roles import Role
from app.clock import local_date
from app.http.deps import NowDep, SettingsDep, UowDep
from app.http.templates import page
from app.intake import guests, suspensions
from app.intake import reads as intake_reads
from app.intake.schemas import CONFIRMING_SOURCE_WORDS, DAY_NAMES, SUSPEND_REASON_WORDS
from app.prescriptions import dose_plan
from app.prescriptions.products import PRODUCTS

router = APIRouter(include_in_schema=False)

# Who works with prescriptions at the pharmacy: technicians transcribe, pharmacists check.
STAFF = {Role.PHARMACIST, Role.TECHNICIAN}
DAY_WORDS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# The Home Office approved instalment wordings, in the words printed on the form.
WORDINGS = (
    (
        "closed_day_prior",
        "Instalments due on days when the pharmacy is closed should be dispensed on the day "
        "prior to closure.",
    ),
    (
        "missed_remaining",
        "If an instalment's collection day has been missed, please still dispense the amount "
        "due for any remaining day(s) of that instalment.",
    ),
    (
        "consult_after_3_missed",
        "Consult the prescriber if three or more consecutive days of a prescription have been "
        "missed.",
    ),
    (
        "supervise_on_collection",
        "Supervised consumption of daily dose on collection days.",
    ),
    (
        "separate_containers",
        "Dispense daily doses in separate containers.",
    ),
)
FORM_TYPES = (
    ("FP10MDA", "FP10MDA (England, instalments)"),
    ("WP10MDA", "WP10MDA (Wales, instalments)"),
    ("paper", "Other NHS paper form"),
    ("private", "Private CD form"),
)


def _product_name(code: str) -> str:
    return PRODUCTS[code].name if code in PRODUCTS else code


@router.get("/patients/{patient_id}/prescriptions/new", response_class=HTMLResponse)
def intake(
    patient_id: UUID,
    request: Request,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
    supersedes: Annotated[UUID | None, Query()] = None,
) -> HTMLResponse:
    """The intake form for one patient; with `supersedes`, the replacement of that one."""
    require_role(actor, STAFF, "transcribe prescriptions")
    form = intake_reads.intake_form(
        uow, actor=actor, patient_id=patient_id, supersedes=supersedes, now=now
    )
    patient = form.patient
    return page(
        request,
        "prescriptions/new.html",
        {
            "patient": patient,
            "patient_name": intake_reads.patient_name(patient),
            "prescribers": form.prescribers,
            "products": [p for p in PRODUCTS.values() if p.instalment_eligible],
            "form_types": FORM_TYPES,
            "wordings": WORDINGS,
            "days": list(zip(DAY_NAMES, DAY_WORDS, strict=True)),
            "replaced": form.replaced,
            "today": local_date(now, settings.timezone),
            "is_pharmacist": actor.role == Role.PHARMACIST,
        },
    )


@router.get("/prescriptions", response_class=HTMLResponse)
def pending(request: Request, uow: UowDep, actor: ActorDep, now: NowDep) -> HTMLResponse:
    """The pharmacy's prescriptions waiting for a second pharmacist's check, oldest first."""
    require_role(actor, STAFF, "see the prescriptions waiting for a check")
    rows = intake_reads.pending_check(uow, actor=actor, now=now)
    return page(
        request,
        "prescriptions/pending.html",
        {
            "rows": [
                {
                    "prescription": row.prescription,
                    "patient_name": intake_reads.patient_name(row.patient),
                    "entered_by": row.entered_by or "unknown",
                    "mine": row.prescription.entered_by_id == actor.id,
                    "product": _product_name(row.prescription.product),
                }
                for row in rows
            ],
            "is_pharmacist": actor.role == Role.PHARMACIST,
        },
    )


@router.get("/prescriptions/{prescription_id}", response_class=HTMLResponse)
def check(
    prescription_id: UUID,
    request: Request,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> HTMLResponse:
    """The second pharmacist's check: the form as transcribed beside the schedule built from it."""
    require_role(actor, STAFF | {Role.ADMIN}, "see prescriptions")
    prescription, days = intake_reads.get(
        uow, actor=actor, prescription_id=prescription_id, now=now
    )
    view = intake_reads.check_view(uow, actor=actor, prescription=prescription, now=now)
    product = PRODUCTS.get(prescription.product)
    unit = product.unit if product else "mL"
    return page(
        request,
        "prescriptions/check.html",
        {
            "p": prescription,
            "patient": view.patient,
            "patient_name": intake_reads.patient_name(view.patient),
            "prescriber": view.prescriber,
            "product": product,
            "unit": unit,
            "days": days,
            "people": view.people,
            "parts": dose_plan.parts_of(prescription.dose_parts),
            "steps": dose_plan.steps_of(prescription.dose_steps),
            "supervised": [DAY_WORDS[d] for d in sorted(prescription.supervised_days)],
            "collection": [DAY_WORDS[d] for d in sorted(prescription.collection_days)],
            "wordings": [(text, prescription.wording[key]) for key, text in WORDINGS],
            "form_types": dict(FORM_TYPES),
            "is_pharmacist": actor.role == Role.PHARMACIST,
            "entered_by_me": prescription.entered_by_id == actor.id,
            "may_cancel": actor.role in (Role.PHARMACIST, Role.ADMIN)
            and intake_reads.cancellable(prescription),
            "may_supersede": actor.role in STAFF and intake_reads.supersedable(prescription),
            "may_suspend": actor.role in suspensions.SUSPENDERS,
            "suspensions": intake_reads.suspensions(
                uow, actor=actor, prescription_id=prescription.id
            ),
            "suspend_reasons": SUSPEND_REASON_WORDS,
            "confirming_sources": CONFIRMING_SOURCE_WORDS,
            "guest_grants": guests.for_prescription(
                uow, actor=actor, prescription_id=prescription.id
            ),
            "today": local_date(now, settings.timezone),
            "may_grant": actor.role in guests.GRANTERS,
        },
    )
