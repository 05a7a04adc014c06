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

from app.auth.deps import ActorDep
from app.auth.policy import require_role
from app.auth.roles import Role
from app.errors import InvalidInput
from app.households import service as households_service
from app.http.deps import NowDep, UowDep
from app.http.templates import page
from app.intake import reads as intake_reads
from app.intake import suspensions, transfers
from app.intake.schemas import CONFIRMING_SOURCE_WORDS, SUSPEND_REASON_WORDS
from app.patients import search as patient_search
from app.patients import service as patients_service
from app.records import views

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
    found = None
    if q and problem is None:
        try:
            found, _ = patient_search.search_patients(
                uow, actor=actor, q=q, offset=0, limit=50, now=now
            )
        except InvalidInput as refused:
            problem = str(refused.extensions["errors"][0]["message"])
        if found is not None and len(found) == 1:
            return RedirectResponse(f"/patients/{found[0].id}", status_code=303)
    results = found or []
    searched = found is not None
    context: dict[str, object] = {
        "q": q,
        "problem": problem,
        "results": results,
        "searched": searched,
        "may_edit": actor.role in EDITORS,
        "nhs_spaced": nhs_spaced,
    }
    if actor.role in EDITORS:
        context.update(views.choices(uow, actor))
    return page(request, "patients/index.html", context, status=422 if problem else 200)


@router.get("/patients/{patient_id}", response_class=HTMLResponse)
def patient_page(
    patient_id: UUID, request: Request, uow: UowDep, actor: ActorDep, now: NowDep
) -> Response:
    """One patient: identity, household, key worker and prescriber, prescriptions, the change
    history (who, when, why) and, for staff who may, the form that corrects the details."""
    require_role(actor, READERS, "look up patients")
    patient = patients_service.get_patient(uow, actor=actor, patient_id=patient_id, now=now)
    record = views.patient_record(uow, actor, patient)
    suspended = intake_reads.suspension_history(uow, actor=actor, patient=patient)
    context: dict[str, object] = {
        "patient": patient,
        "household": record.household,
        "key_worker": record.key_worker,
        "prescriber": record.prescriber,
        "prescriptions": record.prescriptions,
        "history": record.history,
        "who": record.who,
        "labels": record.labels,
        "field_words": FIELD_WORDS,
        "pharmacy": record.pharmacy,
        "may_edit": actor.role in EDITORS,
        "nhs_spaced": nhs_spaced,
        # Suspend or resume every prescription at once (a hospital admission stops them all).
        "may_suspend": actor.role in suspensions.SUSPENDERS,
        "suspensions": suspended.events,
        "suspended_prescriptions": suspended.prescriptions,
        "suspension_people": suspended.people,
        "suspend_reasons": SUSPEND_REASON_WORDS,
        "confirming_sources": CONFIRMING_SOURCE_WORDS,
        # A transfer's handover note is the first thing the new pharmacy reads.
        "transfers": transfers.history(uow, actor=actor, patient_id=patient.id),
        "may_transfer": actor.role in transfers.TRANSFERRERS,
    }
    if actor.role in EDITORS:
        choices = views.choices(uow, actor)
        # The patient's own links are always choices, so the form shows them as they are (a
        # household registered at another pharmacy, a contact from another directory).
        _include(choices, "households", record.household)
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
    patient, pharmacy = views.patient_card(uow, actor, patient_id, now)
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
    pharmacies = views.all_pharmacies(uow) if actor.pharmacy_id is None else []
    return page(
        request,
        "patients/households.html",
        {
            "households": rows,
            "may_edit": actor.role in HOUSEHOLD_EDITORS,
            "pharmacies": pharmacies,
        },
    )
