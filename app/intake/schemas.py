"""The prescription API's request and response bodies and the serializer of a prescription
(`app.intake.api`'s routes).

Kept apart from the routes so `api.py` reads as the list of endpoints and never touches the
prescriptions model itself. The names are the OpenAPI schema names (docs/openapi.json):
renaming one changes the published API document.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from app.http.schemas import In, IsoDate, Line, Note, Out
from app.prescriptions import intake_terms
from app.prescriptions.models import FormType, Prescription
from app.prescriptions.products import PRODUCTS

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


class DosePartIn(In):
    """One part of a split daily dose, as the prescription directs it."""

    when: Annotated[Line, Field(min_length=1, max_length=40, examples=["morning", "evening"])]
    dose_mg: Dose
    supervised: bool = Field(
        description="Swallowed at the counter on a supervised day; otherwise the part goes home "
        "in its own container"
    )

    def part(self) -> intake_terms.DosePart:
        return intake_terms.DosePart(self.when.strip(), self.dose_mg, self.supervised)


class DoseStepIn(In):
    """From `starts_on` the daily dose is `daily_dose_mg` (a reduction or a titration)."""

    starts_on: IsoDate
    daily_dose_mg: Dose
    dose_parts: Annotated[list[DosePartIn], Field(max_length=4)] = []


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
    dose_parts: Annotated[list[DosePartIn], Field(max_length=4)] = Field(
        default=[],
        description="A split daily dose (e.g. morning supervised, evening to take home); the "
        "parts add up to the daily dose. Empty: one dose a day",
    )
    steps: Annotated[list[DoseStepIn], Field(max_length=28)] = Field(
        default=[],
        description="A stepped reduction or titration: from each step's date the daily dose "
        "changes to the step's; the total quantity is the sum of every day's dose",
    )

    def draft(self) -> intake_terms.PrescriptionDraft:
        return intake_terms.PrescriptionDraft(
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
            wording=intake_terms.Wording(**self.wording.model_dump()),
            direction_text=self.direction_text,
            prescriber_address=self.prescriber_address,
            dose_parts=tuple(part.part() for part in self.dose_parts),
            steps=tuple(
                intake_terms.DoseStep(
                    step.starts_on,
                    step.daily_dose_mg,
                    tuple(part.part() for part in step.dose_parts),
                )
                for step in self.steps
            ),
        )


class DosePartRead(BaseModel):
    when: str
    dose_mg: Decimal
    supervised: bool


class DoseStepRead(BaseModel):
    starts_on: IsoDate
    daily_dose_mg: Decimal
    dose_parts: list[DosePartRead] = []


class ScheduledDoseRead(BaseModel):
    dose_date: IsoDate
    collect_on: IsoDate
    mode: str
    dose_mg: Decimal
    dose_ml: Decimal | None = None
    parts: list[DosePartRead] = []
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
    dose_parts: list[DosePartRead] = []
    steps: list[DoseStepRead] = []
    status: str
    warnings: list[FindingRead]
    supersedes_id: UUID | None
    entered_by_id: UUID | None
    entered_at: datetime
    verified_by_id: UUID | None
    verified_at: datetime | None
    schedule: list[ScheduledDoseRead] = []


class VerifyBody(In):
    # The warnings the checking pharmacist has read and accepts (`non_standard_strength`,
    # `product_changed` must be listed when raised: docs/api.md).
    acknowledged: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=32)] = []


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
    found = PRODUCTS.get(product)
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
        dose_parts=[DosePartRead(**part) for part in p.dose_parts or []],
        steps=[
            DoseStepRead(
                starts_on=step["starts_on"],
                daily_dose_mg=step["daily_dose_mg"],
                dose_parts=[DosePartRead(**part) for part in step.get("parts") or []],
            )
            for step in p.dose_steps or []
        ],
        status=p.status,
        warnings=[FindingRead(**w) for w in p.warnings],
        supersedes_id=p.supersedes_id,
        entered_by_id=p.entered_by_id,
        entered_at=p.entered_at,
        verified_by_id=p.verified_by_id,
        verified_at=p.verified_at,
        schedule=[ScheduledDoseRead(**d, dose_ml=_ml(p.product, d["dose_mg"])) for d in days],
    )


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


SuspendReason = Literal["hospital", "custody", "holiday", "prescriber"]
ConfirmingSource = Literal["hospital", "custody", "previous_pharmacy", "prescriber"]
# What the suspend and resume forms offer, in the pharmacist's words (the prescription page and
# the patient page).
SUSPEND_REASON_WORDS = (
    ("hospital", "Admitted to hospital"),
    ("custody", "In police custody or prison"),
    ("holiday", "Away, with doses from another service"),
    ("prescriber", "The prescriber's instruction"),
)
CONFIRMING_SOURCE_WORDS = (
    ("hospital", "The hospital (ward or discharge letter)"),
    ("custody", "Custody or the prison healthcare team"),
    ("previous_pharmacy", "Another pharmacy"),
    ("prescriber", "The prescriber"),
)


class SuspendBody(In):
    """Suspend from a date (today, or a day already past): hospital admission, custody or
    prison, a holiday with doses from another service, or the prescriber's instruction."""

    from_date: IsoDate
    reason: SuspendReason
    note: Note = ""


class ResumeBody(In):
    """Resume today. If the hospital, prison or other service confirms the last dose it gave,
    give its date and who confirmed it: dosing continues. Without it, the days since the last
    dose taken count toward the loss-of-tolerance threshold."""

    last_dose_on: IsoDate | None = None
    last_dose_source: ConfirmingSource | None = None
    note: Note = ""


class SuspensionRead(Out):
    id: UUID
    prescription_id: UUID
    change: Literal["suspended", "resumed"]
    effective_on: IsoDate
    reason: SuspendReason
    note: str
    last_dose_on: IsoDate | None
    last_dose_source: str | None
    days_removed: int
    days_planned: int
    recorded_by_id: UUID | None
    recorded_at: datetime
