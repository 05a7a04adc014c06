"""Prescription pages: intake of an FP10MDA in the order the paper form reads, the list of
prescriptions waiting for a second pharmacist, and the check screen (the form's fields beside
the schedule built from them). The pages read on the server; every change goes through the
JSON API from the page's script, so the rules behave exactly as the API does."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import or_, select

from app.audit import service as audit_service
from app.auth.deps import ActorDep
from app.auth.models import User
from app.auth.policy import require_role
from app.auth.roles import Role
from app.clock import local_date
from app.contacts.models import Contact, ContactKind
from app.errors import NotFound
from app.http.deps import NowDep, SettingsDep, UowDep
from app.http.templates import page
from app.patients import service as patients_service
from app.patients.models import Patient
from app.prescriptions import rules
from app.prescriptions import service as prescriptions_service
from app.prescriptions.api import DAY_NAMES
from app.prescriptions.models import Prescription, Status

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


def _name(patient: Patient) -> str:
    return f"{patient.given_name} {patient.family_name}"


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
    with uow:
        session = uow.session
        patient = patients_service.load_visible(session, actor, patient_id)
        prescribers = list(
            session.scalars(
                select(Contact)
                .where(
                    Contact.kind == ContactKind.PRESCRIBER,
                    or_(Contact.pharmacy_id.is_(None), Contact.pharmacy_id == patient.pharmacy_id),
                )
                .order_by(Contact.name)
            )
        )
        replaced = None
        if supersedes is not None:
            replaced = prescriptions_service.load_visible(session, actor, supersedes)
            if replaced.patient_id != patient.id:
                raise NotFound("prescription", supersedes)
        # The form shows the patient: one read event (who saw which record, when).
        audit_service.record_patient_reads(
            session,
            actor,
            "patient.listed",
            [(patient.id, patient.pharmacy_id)],
            at=now,
            facts={"by": "prescription_intake"},
        )
        uow.commit()
    return page(
        request,
        "prescriptions/new.html",
        {
            "patient": patient,
            "patient_name": _name(patient),
            "prescribers": prescribers,
            "products": [p for p in rules.PRODUCTS.values() if p.instalment_eligible],
            "form_types": FORM_TYPES,
            "wordings": WORDINGS,
            "days": list(zip(DAY_NAMES, DAY_WORDS, strict=True)),
            "replaced": replaced,
            "today": local_date(now, settings.timezone),
            "is_pharmacist": actor.role == Role.PHARMACIST,
        },
    )


@router.get("/prescriptions", response_class=HTMLResponse)
def pending(request: Request, uow: UowDep, actor: ActorDep, now: NowDep) -> HTMLResponse:
    """The pharmacy's prescriptions waiting for a second pharmacist's check, oldest first."""
    require_role(actor, STAFF, "see the prescriptions waiting for a check")
    with uow:
        session = uow.session
        rows = list(
            session.execute(
                select(Prescription, Patient, User.display_name)
                .join(Patient, Patient.id == Prescription.patient_id)
                .outerjoin(User, User.id == Prescription.entered_by_id)
                .where(
                    Prescription.pharmacy_id == actor.pharmacy_id,
                    Prescription.status == Status.PENDING_CHECK,
                )
                .order_by(Prescription.entered_at)
            ).all()
        )
        audit_service.record_patient_reads(
            session,
            actor,
            "patient.listed",
            [(patient.id, patient.pharmacy_id) for _, patient, _ in rows],
            at=now,
            facts={"by": "prescriptions_pending"},
        )
        uow.commit()
    return page(
        request,
        "prescriptions/pending.html",
        {
            "rows": [
                {
                    "prescription": p,
                    "patient_name": _name(patient),
                    "entered_by": who or "unknown",
                    "mine": p.entered_by_id == actor.id,
                    "product": rules.PRODUCTS[p.product].name
                    if p.product in rules.PRODUCTS
                    else p.product,
                }
                for p, patient, who in rows
            ],
            "is_pharmacist": actor.role == Role.PHARMACIST,
        },
    )


@router.get("/prescriptions/{prescription_id}", response_class=HTMLResponse)
def check(
    prescription_id: UUID, request: Request, uow: UowDep, actor: ActorDep, now: NowDep
) -> HTMLResponse:
    """The second pharmacist's check: the form as transcribed beside the schedule built from it."""
    require_role(actor, STAFF | {Role.ADMIN}, "see prescriptions")
    prescription, days = prescriptions_service.get(
        uow, actor=actor, prescription_id=prescription_id, now=now
    )
    with uow:
        session = uow.session
        patient = session.get(Patient, prescription.patient_id)
        assert patient is not None
        prescriber = session.get(Contact, prescription.prescriber_id)
        ids = {
            i
            for i in (
                prescription.entered_by_id,
                prescription.verified_by_id,
                prescription.cancelled_by_id,
            )
            if i
        }
        people = dict(
            session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).all()
        )
        audit_service.record_patient_reads(
            session,
            actor,
            "patient.listed",
            [(patient.id, patient.pharmacy_id)],
            at=now,
            facts={"by": "prescription_check"},
        )
        uow.commit()
    product = rules.PRODUCTS.get(prescription.product)
    unit = product.unit if product else "mL"
    return page(
        request,
        "prescriptions/check.html",
        {
            "p": prescription,
            "patient": patient,
            "patient_name": _name(patient),
            "prescriber": prescriber,
            "product": product,
            "unit": unit,
            "days": days,
            "people": people,
            "supervised": [DAY_WORDS[d] for d in sorted(prescription.supervised_days)],
            "collection": [DAY_WORDS[d] for d in sorted(prescription.collection_days)],
            "wordings": [(text, prescription.wording[key]) for key, text in WORDINGS],
            "form_types": dict(FORM_TYPES),
            "is_pharmacist": actor.role == Role.PHARMACIST,
            "entered_by_me": prescription.entered_by_id == actor.id,
            "may_cancel": actor.role in (Role.PHARMACIST, Role.ADMIN)
            and prescription.status not in (Status.CANCELLED, Status.COMPLETED),
            "may_supersede": actor.role in STAFF
            and prescription.status in (Status.PENDING_CHECK, Status.ACTIVE, Status.SUSPENDED),
        },
    )
