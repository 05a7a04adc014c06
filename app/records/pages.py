"""The patients pages: find a patient, register one, see and correct their details, print
their card; and the list of households to register one. Pages render on the server; every
change is made by the page's script through the JSON API, so a page refuses exactly what the
API refuses."""

from __future__ import annotations

import unicodedata
from uuid import UUID

import barcode
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import SYSTEM, Actor
from app.audit import service as audit_service
from app.auth import service as auth_service
from app.auth.deps import ActorDep
from app.auth.policy import may_see_pharmacy, require_role
from app.auth.roles import Role
from app.contacts import service as contacts_service
from app.contacts.models import Contact, ContactKind
from app.errors import InvalidInput
from app.households import service as households_service
from app.households.models import Household
from app.http.deps import NowDep, UowDep
from app.http.templates import page
from app.patients import service as patients_service
from app.patients.models import Patient, PatientChange
from app.pharmacies.models import Pharmacy
from app.prescriptions.models import Prescription

router = APIRouter(include_in_schema=False)

# Who may open these pages, and who may change what they show (the API checks again).
READERS = {Role.PHARMACIST, Role.TECHNICIAN, Role.ADMIN, Role.SAFEGUARDING_LEAD}
EDITORS = {Role.PHARMACIST, Role.TECHNICIAN, Role.ADMIN}
HOUSEHOLD_EDITORS = EDITORS | {Role.SAFEGUARDING_LEAD}
MAX_QUERY = 100
FIELD_WORDS = {
    "given_name": "Given name",
    "family_name": "Family name",
    "household_id": "Household",
    "key_worker_id": "Key worker",
    "prescriber_id": "Prescriber",
    "pregnant": "Pregnant",
    "expected_delivery_on": "Expected date of delivery",
    "card": "Patient card",
}


def history_labels(session: Session, actor: Actor, values: set[str | None]) -> dict[str, str]:
    """Names for the records a change history links to by id (households, key workers,
    prescribers), so the history reads "1 Test Street" rather than a UUID. A household the
    caller may not see is named only as that."""
    ids: set[UUID] = set()
    for value in values - {None}:
        try:
            ids.add(UUID(str(value)))
        except ValueError:
            continue
    if not ids:
        return {}
    labels: dict[str, str] = {}
    for household in session.scalars(select(Household).where(Household.id.in_(ids))):
        labels[str(household.id)] = (
            f"{household.address}, {household.postcode}"
            if actor is SYSTEM or may_see_pharmacy(actor, household.pharmacy_id)
            else "a household registered at another pharmacy"
        )
    for contact in session.scalars(select(Contact).where(Contact.id.in_(ids))):
        labels[str(contact.id)] = f"{contact.name} ({contact.organisation})"
    return labels


def nhs_spaced(number: str) -> str:
    """An NHS number as it is printed: 943 476 5919."""
    return f"{number[:3]} {number[3:6]} {number[6:]}" if len(number) == 10 else number


def _query_problem(q: str) -> str | None:
    """What is wrong with a search as typed, in words (the field is named by the page)."""
    if len(q) > MAX_QUERY:
        return f"must be at most {MAX_QUERY} characters"
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in q):
        return "must not contain control characters"
    return None


@router.get("/patients", response_class=HTMLResponse)
def patients(
    request: Request, uow: UowDep, actor: ActorDep, now: NowDep, q: str | None = None
) -> Response:
    """Find a patient by "Family, Given", date of birth (dd/mm/yyyy) or NHS number; a single
    match opens the patient at once. Staff who may register patients find the form here."""
    require_role(actor, READERS, "look up patients")
    q = (q or "").strip()
    problem = _query_problem(q) if q else None
    results: list[Patient] = []
    searched = False
    if q and problem is None:
        try:
            results, _ = patients_service.search_patients(
                uow, actor=actor, q=q, offset=0, limit=50, now=now
            )
            searched = True
        except InvalidInput as refused:
            problem = str(refused.extensions["errors"][0]["message"])
        if searched and len(results) == 1:
            return RedirectResponse(f"/patients/{results[0].id}", status_code=303)
    context: dict[str, object] = {
        "q": q,
        "problem": problem,
        "results": results,
        "searched": searched,
        "may_edit": actor.role in EDITORS,
        "nhs_spaced": nhs_spaced,
    }
    if actor.role in EDITORS:
        context.update(_choices(uow, actor))
    return page(request, "patients/index.html", context, status=422 if problem else 200)


def _choices(uow: UowDep, actor: ActorDep) -> dict[str, object]:
    """The households, key workers, prescribers and pharmacies a form may name."""
    households = households_service.list_households(uow, actor=actor)
    key_workers = contacts_service.list_contacts(uow, actor=actor, kind=ContactKind.KEY_WORKER)
    prescribers = contacts_service.list_contacts(uow, actor=actor, kind=ContactKind.PRESCRIBER)
    pharmacies: list[Pharmacy] = []
    if actor.pharmacy_id is None:
        with uow:
            pharmacies = list(uow.session.scalars(select(Pharmacy).order_by(Pharmacy.name)))
    return {
        "households": households,
        "key_workers": key_workers,
        "prescribers": prescribers,
        "pharmacies": pharmacies,
        "pharmacy_id": str(actor.pharmacy_id or ""),
    }


@router.get("/patients/{patient_id}", response_class=HTMLResponse)
def patient_page(
    patient_id: UUID, request: Request, uow: UowDep, actor: ActorDep, now: NowDep
) -> Response:
    """One patient: identity, household, key worker and prescriber, prescriptions, the change
    history (who, when, why) and, for staff who may, the form that corrects the details."""
    require_role(actor, READERS, "look up patients")
    patient = patients_service.get_patient(uow, actor=actor, patient_id=patient_id, now=now)
    with uow:
        session = uow.session
        household = session.get(Household, patient.household_id) if patient.household_id else None
        contacts = {
            c.id: c
            for c in session.scalars(
                select(Contact).where(
                    Contact.id.in_([i for i in (patient.key_worker_id, patient.prescriber_id) if i])
                )
            )
        }
        prescriptions = list(
            session.scalars(
                select(Prescription)
                .where(Prescription.patient_id == patient.id)
                .order_by(Prescription.start_on.desc())
                .limit(100)
            )
        )
        history: list[PatientChange] = patients_service.changes(session, [patient.id])
        who = auth_service.display_names(session, {h.changed_by_id for h in history})
        labels = history_labels(
            session, actor, {h.old_value for h in history} | {h.new_value for h in history}
        )
        pharmacy = session.get(Pharmacy, patient.pharmacy_id)
    context: dict[str, object] = {
        "patient": patient,
        "household": household,
        "key_worker": contacts.get(patient.key_worker_id) if patient.key_worker_id else None,
        "prescriber": contacts.get(patient.prescriber_id) if patient.prescriber_id else None,
        "prescriptions": prescriptions,
        "history": history,
        "who": who,
        "labels": labels,
        "field_words": FIELD_WORDS,
        "pharmacy": pharmacy,
        "may_edit": actor.role in EDITORS,
        "nhs_spaced": nhs_spaced,
    }
    if actor.role in EDITORS:
        choices = _choices(uow, actor)
        # The patient's own links are always choices, so the form shows them as they are (a
        # household registered at another pharmacy, a contact from another directory).
        _include(choices, "households", household)
        _include(choices, "key_workers", context["key_worker"])
        _include(choices, "prescribers", context["prescriber"])
        context.update(choices)
    return page(request, "patients/patient.html", context)


def _include(choices: dict[str, object], name: str, current: object) -> None:
    options = choices[name]
    assert isinstance(options, list)
    if current is not None and all(o.id != current.id for o in options):  # type: ignore[attr-defined]
        options.insert(0, current)


def card_barcode(code: str) -> tuple[list[tuple[int, int]], int]:
    """The card code as Code 128 bars: (x, width) of each dark bar, in modules, and the width
    of the whole symbol with its quiet zones (10 modules each side)."""
    modules = barcode.get("code128", code).build()[0]
    quiet = 10
    bars: list[tuple[int, int]] = []
    start = None
    for i, bit in enumerate(modules + "0"):
        if bit == "1" and start is None:
            start = i
        elif bit != "1" and start is not None:
            bars.append((quiet + start, i - start))
            start = None
    return bars, len(modules) + 2 * quiet


@router.get("/patients/{patient_id}/card", response_class=HTMLResponse)
def patient_card(
    patient_id: UUID, request: Request, uow: UowDep, actor: ActorDep, now: NowDep
) -> Response:
    """The patient's card, ready to print (or reprint): the card code as a Code 128 barcode
    drawn on the server. The card never carries the NHS number: a lost card names the
    pharmacy and the patient's first name, nothing a stranger could use."""
    require_role(actor, EDITORS, "print patient cards")
    with uow:
        session = uow.session
        patient = patients_service.load_visible(session, actor, patient_id)
        pharmacy = session.get(Pharmacy, patient.pharmacy_id)
        audit_service.record(
            session,
            actor,
            "patient.card_shown",
            entity="patient",
            entity_id=patient.id,
            at=now,
            pharmacy_id=patient.pharmacy_id,
        )
        uow.commit()
    bars, width = card_barcode(patient.card_code)
    return page(
        request,
        "patients/card.html",
        {"patient": patient, "pharmacy": pharmacy, "bars": bars, "width": width},
    )


@router.get("/households", response_class=HTMLResponse)
def households(request: Request, uow: UowDep, actor: ActorDep) -> Response:
    """The households registered here, and (for staff who may) the form that registers one."""
    require_role(actor, READERS, "look up households")
    rows = households_service.list_households(uow, actor=actor)
    pharmacies: list[Pharmacy] = []
    if actor.pharmacy_id is None:
        with uow:
            pharmacies = list(uow.session.scalars(select(Pharmacy).order_by(Pharmacy.name)))
    return page(
        request,
        "patients/households.html",
        {
            "households": rows,
            "may_edit": actor.role in HOUSEHOLD_EDITORS,
            "pharmacies": pharmacies,
        },
    )
