"""The look-up API's bodies. `LookupRead` is everything a look-up discloses: its fields are a
fixed set (the leak test, H-27.1, asserts them exactly), and a response model, so nothing a
use case happens to hold can be added to the answer by accident."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from app.http.schemas import In, Line
from app.lookup import log as lookup_log
from app.lookup import service
from app.lookup.links import Issued, LinkRow
from app.prescriptions.models import SuspensionReason

SUSPENSION_WORDS = {
    SuspensionReason.HOSPITAL: "admitted to hospital",
    SuspensionReason.CUSTODY: "in police custody or prison",
    SuspensionReason.HOLIDAY: "away, with doses from another service",
    SuspensionReason.PRESCRIBER: "the prescriber's instruction",
}


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LookupCreate(In):
    nhs_number: Annotated[Line, Field(min_length=10, max_length=14, examples=["943 476 5919"])]


class LookupPatient(Closed):
    """Enough to confirm it is the person in front of you: name, date of birth, NHS number."""

    given_name: str
    family_name: str
    date_of_birth: date
    nhs_number: str


class LookupTreatment(Closed):
    product: str
    product_name: str
    prescription_status: Literal["pending_check", "active", "suspended"]
    daily_dose_mg: str | None
    daily_dose_ml: str | None


class WentHomeRead(Closed):
    collected_on: date
    days: int
    first_dose_on: date
    last_dose_on: date


class LookupLastDose(Closed):
    taken_on: date | None
    mode: Literal["supervised", "take_home"] | None
    # here: the dispensing pharmacy; otherwise who recorded it (hospital, custody, prescriber…)
    source: str | None
    went_home: WentHomeRead | None
    text: str


class LookupBlock(Closed):
    code: str
    message: str


class LookupSuspension(Closed):
    reason: str
    reason_text: str
    from_date: date


class LookupPharmacy(Closed):
    name: str
    address: str
    phone: str


class LookupRead(Closed):
    looked_up_at: datetime
    patient: LookupPatient
    treatment: LookupTreatment | None
    last_dose: LookupLastDose
    blocked_today: bool
    block_reasons: list[LookupBlock]
    suspension: LookupSuspension | None
    pharmacy: LookupPharmacy


def lookup_read(answer: service.Answer) -> LookupRead:
    p, last, went = answer.patient, answer.last_dose, answer.went_home
    treatment = None
    if answer.product is not None and answer.prescription_status is not None:
        treatment = LookupTreatment(
            product=answer.product,
            product_name=answer.product_name or answer.product,
            prescription_status=answer.prescription_status,  # type: ignore[arg-type]
            daily_dose_mg=answer.daily_dose_mg,
            daily_dose_ml=answer.daily_dose_ml,
        )
    suspension = None
    if answer.suspension is not None:
        reason = answer.suspension.reason
        suspension = LookupSuspension(
            reason=reason,
            reason_text=SUSPENSION_WORDS.get(reason, reason),  # type: ignore[call-overload]
            from_date=answer.suspension.effective_on,
        )
    return LookupRead(
        looked_up_at=answer.looked_up_at,
        patient=LookupPatient(
            given_name=p.given_name,
            family_name=p.family_name,
            date_of_birth=p.date_of_birth,
            nhs_number=p.nhs_number,
        ),
        treatment=treatment,
        last_dose=LookupLastDose(
            taken_on=last.taken_on if last else None,
            mode=last.mode if last else None,
            source=last.source if last else None,
            went_home=WentHomeRead(
                collected_on=went.collected_on,
                days=went.days,
                first_dose_on=went.first,
                last_dose_on=went.last,
            )
            if went
            else None,
            text=answer.last_dose_text,
        ),
        blocked_today=bool(answer.blocks),
        block_reasons=[LookupBlock(code=b.code, message=b.message) for b in answer.blocks],
        suspension=suspension,
        pharmacy=LookupPharmacy(
            name=answer.pharmacy.name, address=answer.pharmacy.address, phone=answer.pharmacy.phone
        ),
    )


class LinkCreate(In):
    contact_id: UUID
    # An admin names the pharmacy whose patients the link opens; a pharmacist's is their own.
    pharmacy_id: UUID | None = None


class LinkRead(BaseModel):
    id: UUID
    contact_id: UUID
    contact: str
    pharmacy_id: UUID
    issued_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    state: Literal["live", "expired", "revoked"]


class LinkIssued(LinkRead):
    """Returned once: the token and the link that carries it are not kept and never shown
    again (only a hash is stored)."""

    token: str
    url: str


def link_read(row: LinkRow, now: datetime) -> LinkRead:
    link = row.link
    return LinkRead(
        id=link.id,
        contact_id=link.contact_id,
        contact=row.contact,
        pharmacy_id=link.pharmacy_id,
        issued_at=link.issued_at,
        expires_at=link.expires_at,
        revoked_at=link.revoked_at,
        state=row.state(now),  # type: ignore[arg-type]
    )


def link_issued(issued: Issued, base_url: str, now: datetime) -> LinkIssued:
    row = LinkRow(issued.link, f"{issued.contact.name} ({issued.contact.organisation})"[:200])
    return LinkIssued(
        **link_read(row, now).model_dump(),
        token=issued.token,
        # In the fragment: a browser never sends it to the server, so no log or proxy holds it.
        url=f"{base_url.rstrip('/')}/lookup#link={issued.token}",
    )


class LookupLogRead(BaseModel):
    id: UUID
    at: datetime
    caller: str
    via: Literal["clinician", "link"]
    link_id: UUID | None
    # The viewer's own patient only; a patient of another pharmacy is never named.
    patient_id: UUID | None
    result: Literal["found", "not_found"]
    outside_scope: bool


def log_read(row: lookup_log.LogRow) -> LookupLogRead:
    e = row.event
    return LookupLogRead(
        id=e.id,
        at=e.at,
        caller=e.caller,
        via=row.via,  # type: ignore[arg-type]
        link_id=e.link_id,
        patient_id=row.patient_id,
        result=e.result,  # type: ignore[arg-type]
        outside_scope=e.outside_scope,
    )
