from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.auth.deps import ActorDep
from app.auth.policy import require_role
from app.auth.roles import Role
from app.clock import local_date
from app.errors import Conflict
from app.http import problems
from app.http.deps import NowDep, SettingsDep, UowDep
from app.http.schemas import In, IsoDate, Note, Out, Paged
from app.pharmacies import api as pharmacies_api
from app.pharmacies import service as pharmacies_service
from app.prescriptions import rules
from app.prescriptions import service as prescriptions_service
from app.prescriptions.models import FormType, Prescription

router = APIRouter(tags=["prescriptions"], responses=problems.API_ERRORS)

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DayName = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class WordingIn(In):
    closed_day_prior: bool = False
    missed_remaining: bool = False
    consult_after_3_missed: bool = False
    supervise_on_collection: bool = False
    separate_containers: bool = False


Dose = Annotated[Decimal, Field(max_digits=10, decimal_places=2)]


class LastDoseIn(In):
    """When the patient last took this medicine before this pharmacy's record (a new patient,
    a transfer), or that they are new to treatment. Recorded by a pharmacist at intake."""

    taken_on: IsoDate | None = None
    source: Literal[
        "previous_pharmacy", "prescriber", "hospital", "custody", "patient", "induction"
    ]
    detail: Annotated[str, Field(max_length=500)] = ""


class PrescriptionCreate(In):
    """As written on the form. Leave out what the form lacks: intake names every missing element."""

    patient_id: UUID
    prescriber_id: UUID
    product: Annotated[str, Field(max_length=64, examples=["methadone-1mg-ml"])] = ""
    daily_dose_mg: Dose | None = None
    form_type: FormType | None = None
    written_on: IsoDate | None = None
    start_on: IsoDate | None = None
    end_on: IsoDate | None = None
    total_quantity_ml: Dose | None = Field(
        default=None, description="Total quantity in figures: mL for liquids, tablets for tablets"
    )
    total_quantity_words: Annotated[str, Field(max_length=300)] | None = None
    supervised_days: Annotated[list[DayName], Field(max_length=7)] = []
    collection_days: Annotated[list[DayName], Field(max_length=7)] = []
    wording: WordingIn = WordingIn()
    direction_text: Annotated[str, Field(max_length=4000)] | None = None
    supersedes_id: UUID | None = None
    last_dose: LastDoseIn | None = None
    prescriber_address: Annotated[str, Field(max_length=500)] | None = Field(
        default=None,
        description="The prescriber's address as on the form; by default the prescriber "
        "contact's address",
    )

    def draft(self) -> rules.PrescriptionDraft:
        return rules.PrescriptionDraft(
            product_code=self.product,
            daily_dose_mg=self.daily_dose_mg,
            form_type=self.form_type.value if self.form_type else None,
            written_on=self.written_on,
            start_on=self.start_on,
            end_on=self.end_on,
            total_quantity=self.total_quantity_ml,
            total_quantity_words=self.total_quantity_words,
            supervised_days=frozenset(DAY_NAMES.index(d) for d in self.supervised_days),
            collection_days=frozenset(DAY_NAMES.index(d) for d in self.collection_days),
            wording=rules.Wording(**self.wording.model_dump()),
            direction_text=self.direction_text,
            prescriber_address=self.prescriber_address,
        )


class ScheduledDoseRead(BaseModel):
    dose_date: IsoDate
    collect_on: IsoDate
    mode: str
    dose_mg: Decimal
    dose_ml: Decimal | None = None
    state: str


class FindingRead(BaseModel):
    code: str
    message: str
    field: str | None = None
    source: str | None = None
    dates: list[date] = []


class PrescriptionRead(Out):
    id: UUID
    patient_id: UUID
    prescriber_id: UUID
    prescriber_address: str | None = None
    pharmacy_id: UUID
    product: str
    daily_dose_mg: Decimal
    daily_dose_ml: Decimal | None = None
    form_type: str
    written_on: IsoDate
    start_on: IsoDate
    end_on: IsoDate
    total_quantity_ml: Decimal
    total_quantity_words: str
    supervised_days: list[str]
    collection_days: list[str]
    wording: dict[str, bool]
    direction_text: str
    status: str
    warnings: list[FindingRead]
    supersedes_id: UUID | None
    entered_by_id: UUID | None
    entered_at: datetime
    verified_by_id: UUID | None
    verified_at: datetime | None
    schedule: list[ScheduledDoseRead] = []


class CancelBody(In):
    reason: Annotated[str, Field(min_length=1, max_length=500)]


class ReleaseBody(In):
    note: Note = Field(min_length=1, description="What the prescriber reviewed and decided")


class ReleaseRead(Out):
    id: UUID
    prescription_id: UUID
    patient_id: UUID
    released_on: IsoDate
    released_by_id: UUID | None
    note: str


def _ml(product: str, mg: Decimal) -> Decimal | None:
    found = rules.PRODUCTS.get(product)
    return found.ml_for(mg) if found is not None else None


def read(p: Prescription, days: list[dict[str, Any]]) -> PrescriptionRead:
    return PrescriptionRead(
        id=p.id,
        patient_id=p.patient_id,
        prescriber_id=p.prescriber_id,
        pharmacy_id=p.pharmacy_id,
        product=p.product,
        daily_dose_mg=p.daily_dose_mg,
        daily_dose_ml=_ml(p.product, p.daily_dose_mg),
        form_type=p.form_type,
        written_on=p.written_on,
        start_on=p.start_on,
        end_on=p.end_on,
        total_quantity_ml=p.total_quantity,
        total_quantity_words=p.total_quantity_words,
        supervised_days=[DAY_NAMES[d] for d in p.supervised_days],
        collection_days=[DAY_NAMES[d] for d in p.collection_days],
        wording=p.wording,
        direction_text=p.direction_text,
        status=p.status,
        warnings=[FindingRead(**w) for w in p.warnings],
        supersedes_id=p.supersedes_id,
        entered_by_id=p.entered_by_id,
        entered_at=p.entered_at,
        verified_by_id=p.verified_by_id,
        verified_at=p.verified_at,
        schedule=[ScheduledDoseRead(**d, dose_ml=_ml(p.product, d["dose_mg"])) for d in days],
    )


@router.post(
    "/prescriptions",
    status_code=201,
    response_model=PrescriptionRead,
    responses={
        422: {"description": "Refused: `blocks` lists every failing rule"},
        409: {"description": "Overlaps another prescription"},
    },
)
def transcribe(
    body: PrescriptionCreate, uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> PrescriptionRead:
    """Transcribe an instalment prescription; 201 with the generated schedule and warnings.

    It is `pending_check` until a different pharmacist verifies it.
    """
    today = local_date(now, settings.timezone)
    prescription, planned = prescriptions_service.transcribe(
        uow,
        actor=actor,
        data=prescriptions_service.PrescriptionInput(
            patient_id=body.patient_id,
            prescriber_id=body.prescriber_id,
            draft=body.draft(),
            supersedes_id=body.supersedes_id,
            last_dose=prescriptions_service.LastDoseInput(
                body.last_dose.taken_on, body.last_dose.source, body.last_dose.detail
            )
            if body.last_dose
            else None,
        ),
        policy=settings.policy,
        today=today,
        now=now,
    )
    days = [
        {
            "dose_date": d.dose_date,
            "collect_on": d.collect_on,
            "mode": d.mode,
            "dose_mg": d.dose_mg,
            "state": "planned",
        }
        for d in planned
    ]
    return read(prescription, days)


@router.get("/prescriptions/{prescription_id}", response_model=PrescriptionRead)
def get_prescription(
    prescription_id: UUID, uow: UowDep, actor: ActorDep, now: NowDep
) -> PrescriptionRead:
    prescription, days = prescriptions_service.get(
        uow, actor=actor, prescription_id=prescription_id, now=now
    )
    return read(prescription, days)


@router.get("/prescriptions/{prescription_id}/schedule", response_model=Paged[ScheduledDoseRead])
def get_schedule(prescription_id: UUID, uow: UowDep, actor: ActorDep, now: NowDep) -> object:
    prescription, days = prescriptions_service.get(
        uow, actor=actor, prescription_id=prescription_id, now=now
    )
    return {"items": read(prescription, days).schedule, "next": None}


@router.post("/prescriptions/{prescription_id}/verify", response_model=PrescriptionRead)
def verify(
    prescription_id: UUID, uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> PrescriptionRead:
    """Second-person check by a different pharmacist: the prescription becomes active."""
    prescriptions_service.verify(
        uow,
        actor=actor,
        prescription_id=prescription_id,
        policy=settings.policy,
        today=local_date(now, settings.timezone),
        now=now,
    )
    return get_prescription(prescription_id, uow, actor, now)


@router.post("/prescriptions/{prescription_id}/cancel", response_model=PrescriptionRead)
def cancel(
    prescription_id: UUID,
    body: CancelBody,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> PrescriptionRead:
    prescriptions_service.cancel(
        uow,
        actor=actor,
        prescription_id=prescription_id,
        reason=body.reason,
        today=local_date(now, settings.timezone),
        now=now,
    )
    return get_prescription(prescription_id, uow, actor, now)


@router.post(
    "/prescriptions/{prescription_id}/release", status_code=201, response_model=ReleaseRead
)
def release(
    prescription_id: UUID,
    body: ReleaseBody,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> object:
    """The prescriber's review after missed doses; the counter may supply again."""
    return prescriptions_service.release(
        uow,
        actor=actor,
        prescription_id=prescription_id,
        note=body.note,
        today=local_date(now, settings.timezone),
        now=now,
    )


@router.get("/patients/{patient_id}/prescriptions", response_model=Paged[PrescriptionRead])
def list_for_patient(patient_id: UUID, uow: UowDep, actor: ActorDep, now: NowDep) -> object:
    rows = prescriptions_service.list_for_patient(uow, actor=actor, patient_id=patient_id, now=now)
    return {"items": [read(p, []) for p in rows], "next": None}


class ClosureCreate(In):
    date: IsoDate
    reason: Annotated[str, Field(min_length=1, max_length=200)]


class ClosureAdded(BaseModel):
    date: IsoDate
    moved_days: int
    alerts_raised: int = Field(
        default=0, description="Alerts asking a prescriber to amend (no closed-day wording)"
    )


class ClosureRemoval(In):
    reason: Annotated[str, Field(min_length=1, max_length=500)]


@router.post("/pharmacies/{pharmacy_id}/closures", status_code=201, response_model=ClosureAdded)
def add_closure(
    pharmacy_id: UUID,
    body: ClosureCreate,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> ClosureAdded:
    """Close the pharmacy on a date; affected schedules are re-planned and the moves audited."""
    replanned = prescriptions_service.add_closure(
        uow,
        actor=actor,
        pharmacy_id=pharmacy_id,
        closed_on=body.date,
        reason=body.reason,
        today=local_date(now, settings.timezone),
        now=now,
        policy=settings.policy,
    )
    return ClosureAdded(
        date=body.date, moved_days=replanned.moved_days, alerts_raised=replanned.alerts_raised
    )


@router.post("/pharmacies/{pharmacy_id}/closures/{closed_on}/remove", response_model=ClosureAdded)
def remove_closure(
    pharmacy_id: UUID,
    closed_on: IsoDate,
    body: ClosureRemoval,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> ClosureAdded:
    """Open again on a closed day (entered by mistake, or no longer closed); the schedules it
    moved are re-planned and the removal audited with its reason."""
    replanned = prescriptions_service.remove_closure(
        uow,
        actor=actor,
        pharmacy_id=pharmacy_id,
        closed_on=closed_on,
        reason=body.reason,
        today=local_date(now, settings.timezone),
        now=now,
        policy=settings.policy,
    )
    return ClosureAdded(
        date=closed_on, moved_days=replanned.moved_days, alerts_raised=replanned.alerts_raised
    )


# Opening days keep the pharmacies path and tag in the API contract; the change is composed
# here because it is refused while schedules still collect on a weekday that stops opening,
# and schedules are this capability's (pharmacies sit below prescriptions).
opening_days_router = APIRouter(tags=["pharmacies"], responses=problems.API_ERRORS)


@opening_days_router.put(
    "/pharmacies/{pharmacy_id}/opening-days", response_model=pharmacies_api.PharmacyRead
)
def set_opening_days(
    pharmacy_id: UUID,
    body: pharmacies_api.OpeningDays,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> object:
    """Set the weekdays the pharmacy usually opens (0 = Monday). A weekday that stops opening
    while schedules still collect on it is refused until confirmed, naming those schedules:
    their doses are not moved (add closures, or ask the prescribers to amend)."""
    require_role(actor, {Role.ADMIN}, "change opening days")  # before saying what it affects
    current = pharmacies_service.get_pharmacy(uow, actor=actor, pharmacy_id=pharmacy_id)
    closing = set(current.open_weekdays) - set(body.open_weekdays)
    affected = prescriptions_service.schedules_on_weekdays(
        uow,
        actor=actor,
        pharmacy_id=pharmacy_id,
        weekdays=closing,
        today=local_date(now, settings.timezone),
    )
    if affected and not body.confirm_affected:
        names = "; ".join(
            f"{a.patient} ({', '.join(d.strftime('%a %d %b') for d in a.dates[:4])}"
            f"{' and more' if len(a.dates) > 4 else ''})"
            for a in affected
        )
        raise Conflict(
            f"{len(affected)} schedule(s) still collect on a day you would stop opening: {names}. "
            "Their doses will not move: add closures or ask the prescribers to amend, then "
            "confirm.",
            code="opening_days_affect_schedules",
            affected=[
                {
                    "prescription_id": str(a.prescription_id),
                    "patient": a.patient,
                    "dates": [d.isoformat() for d in a.dates],
                }
                for a in affected
            ],
        )
    return pharmacies_service.set_opening_days(
        uow, actor=actor, pharmacy_id=pharmacy_id, open_weekdays=body.open_weekdays, now=now
    )
