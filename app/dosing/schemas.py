"""The counter API's request and response bodies (`app.dosing.api`'s routes).

Kept apart from the routes so `api.py` reads as the list of endpoints. The names are the
OpenAPI schema names (docs/openapi.json): renaming one changes the published API document.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field, StringConstraints, model_validator

from app.households.models import BoxMethod
from app.http.schemas import BARCODE, Controls, In, IsoDate, Note, Out


class ReasonRead(BaseModel):
    code: str
    message: str
    source: str | None = None


class LastDoseRead(BaseModel):
    taken_on: date | None = Field(description="None: not known, or new to treatment")
    source: str | None = Field(
        description="here | another_pharmacy | previous_pharmacy | prescriber | hospital | "
        "custody | patient | induction; None when nothing is on record"
    )
    mode: str | None
    days_without_dose: int = Field(
        description="Consecutive days before today without a dose taken (any reason)"
    )
    text: str = Field(description="What the counter shows, e.g. 'last dose taken: …'")


class DosePartRead(BaseModel):
    dose_date: date
    when: str = Field(description="The prescriber's time of day for the part, e.g. 'evening'")
    dose_mg: str
    dose_ml: str | None = None
    supervised: bool = Field(description="Swallowed at the counter now")
    text: str = Field(description="What the counter shows for the part")


class DecisionRead(BaseModel):
    patient_id: UUID
    prescription_id: UUID | None
    product: str | None
    allowed: bool
    mode: str | None
    dose_mg: str
    dose_ml: str | None = None
    dose_dates: list[date]
    blocks: list[ReasonRead]
    warnings: list[ReasonRead]
    last_dose: LastDoseRead
    needs_measuring_device: bool = Field(
        description="A multi-day container of liquid goes home: record measuring_device"
    )
    daily_dose_mg: str | None = Field(
        default=None, description="The prescribed dose for one day (show this first)"
    )
    daily_dose_ml: str | None = None
    parts: list[DosePartRead] = Field(
        default=[],
        description="A split dose: each part of each day handed over, what is swallowed here "
        "and what goes home in its own container",
    )
    dose_varies: bool = Field(
        default=False,
        description="The days handed over do not all have the same dose (a stepped prescription)",
    )


class DueRead(DecisionRead):
    given_name: str
    family_name: str
    state: str


class CheckBody(In):
    patient_id: UUID | None = None
    barcode: Annotated[str, Field(max_length=200)] | None = None
    date: IsoDate | None = None
    product: Annotated[str, Field(max_length=64)] | None = None

    @model_validator(mode="after")
    def _one_subject(self) -> CheckBody:
        if (self.patient_id is None) == (self.barcode is None):
            raise ValueError("give exactly one of patient_id or barcode")
        return self


class OverrideIn(In):
    code: Literal["no_lockable_box", "children_not_confirmed"]
    reason: Annotated[str, Field(min_length=3, max_length=1000)]


# Which container a pump measure filled (app.dosing.containers): the supervised cup, or a
# take-home container by its label's number ("Container 2 of 3" is 2).
PumpContainer = Annotated[
    Literal["supervised"] | Annotated[int, Field(ge=1, le=99)],
    Field(description='"supervised" (the cup swallowed here) or a take-home container\'s number'),
]


class PumpMeasureIn(In):
    container: PumpContainer
    dispensed_ml: Annotated[Decimal, Field(ge=0, le=10_000, decimal_places=2)]


class HandoverBody(In):
    patient_id: UUID
    date: IsoDate
    outcome: Literal["supervised", "collected"]
    collector: Literal["patient", "representative", "hcp"] = "patient"
    collector_details: Annotated[str, Field(max_length=500)] | None = Field(
        default=None, description="Name and address of a representative or healthcare professional"
    )
    id_checked: bool = False
    id_shown: bool | None = None
    children_present: Annotated[list[UUID], Field(max_length=20)] = []
    intoxicated: bool = Field(description="The pharmacist's attestation; true refuses the supply")
    acknowledged: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=20)] = []
    override: OverrideIn | None = None
    overrides: Annotated[list[OverrideIn], Field(max_length=2)] = []
    measuring_device: bool = Field(
        default=False,
        description="A measuring device (oral syringe or measure) went with a multi-day "
        "container of liquid; without it such a take-home is refused",
    )
    bottle: Annotated[str, BARCODE, Field(max_length=200)] | None = Field(
        default=None,
        description="The stock bottle's GS1 pack code, scanned before measuring: a pack of "
        "another product or strength (wrong_product_measured) or past its expiry "
        "(bottle_expired) is refused, an unmapped GTIN is the warning bottle_not_mapped; "
        "its GTIN, batch and expiry go on the supply's register line",
    )
    pump_dispensed_ml: Annotated[Decimal, Field(ge=0, le=10_000, decimal_places=2)] | None = Field(
        default=None,
        description="The volume a dose-measuring pump reported for the supervised cup (or for "
        "the handover's only container): unequal to that container's volume it is refused "
        "(pump_volume_mismatch). One pump measure is one container: see pump_measures",
    )
    pump_measures: Annotated[list[PumpMeasureIn], Field(max_length=30)] = Field(
        default=[],
        description="What the pump reported for each container it filled (container as in "
        "POST /counter/pump/dispense); each unequal to its container's volume is refused "
        "(pump_volume_mismatch). Whatever is given here, today's last pump result on record "
        "for a container must match it",
    )

    @model_validator(mode="after")
    def _collector_details(self) -> HandoverBody:
        if self.collector in ("representative", "hcp") and not self.collector_details:
            raise ValueError(
                "collector_details (name and address) is required when someone "
                "other than the patient collects"
            )
        return self


class HandoverDose(BaseModel):
    id: UUID
    dose_date: IsoDate
    mode: str
    dose_mg: str
    state: str
    recorded_at: str | None


class HandoverRead(BaseModel):
    handover_id: UUID
    patient_id: UUID
    mode: str | None
    dose_mg: str
    doses: list[HandoverDose]
    warnings_acknowledged: list[str]
    alerts: list[str]
    label: dict[str, Any] | None


class WithholdBody(In):
    patient_id: UUID
    date: IsoDate
    reason: Literal["intoxicated", "other"]
    # 480: the record keeps "<reason>: <text>" in 500 characters.
    reason_text: Annotated[str, Field(max_length=480)] = ""
    children_present: Annotated[list[UUID], Field(max_length=20)] = []

    @model_validator(mode="after")
    def _explain_other(self) -> WithholdBody:
        if self.reason == "other" and not self.reason_text.strip():
            raise ValueError("reason_text is required when the reason is 'other'")
        return self


class WithheldRead(BaseModel):
    patient_id: UUID
    withheld: list[date]
    alerts: list[str]


class ReassessBody(In):
    patient_id: UUID
    not_intoxicated: bool = Field(
        description="The pharmacist's attestation that the patient is fit to take the dose now"
    )
    note: Annotated[str, Field(max_length=2000)]


class LateDoseBody(In):
    patient_id: UUID
    date: IsoDate = Field(description="The day marked missed (today or yesterday)")
    given_at: time = Field(description="When the patient swallowed the dose (UK time)")
    reason: Annotated[str, Field(max_length=2000)] = Field(
        description="Why the day was marked missed although the dose was taken"
    )
    not_intoxicated: bool = Field(
        description="The pharmacist's attestation that the patient was fit to take the dose"
    )


class WrongPatientBody(In):
    recorded_patient_id: UUID = Field(
        description="The patient the supervised dose was recorded against, who did not take it"
    )
    taken_by_patient_id: UUID = Field(description="The patient who swallowed the dose")
    date: IsoDate = Field(description="Today: the correction is made on the day")
    reason: Annotated[str, Field(max_length=2000)] = Field(
        description="How the dose came to be recorded against the wrong patient"
    )
    own_dose_given: bool = Field(
        description="The pharmacist's attestation that the dose given was the second "
        "patient's own prescribed dose (a dose measured for the first patient is a dispensing "
        "incident, not a record to correct)"
    )
    not_intoxicated: bool = Field(
        description="The pharmacist's attestation that the second patient was fit to take it"
    )


class DoseCorrectionRead(Out):
    id: UUID
    kind: str
    patient_id: UUID
    dose_date: IsoDate
    from_state: str
    to_state: str
    given_at: datetime
    reason: str
    corrected_at: datetime
    alerts_resolved: int = Field(
        default=0, description="Alerts the corrected day's close had raised, now resolved"
    )


class WrongPatientRead(BaseModel):
    removed: DoseCorrectionRead = Field(
        description="The day of the patient it was recorded against, due again"
    )
    added: DoseCorrectionRead = Field(description="The day of the patient who took it")
    unchecked_blocks: list[ReasonRead] = Field(
        description="What the counter's checks for the patient who took the dose would have "
        "refused; the prescriber and key worker are alerted when there is any"
    )
    alerts: list[str]


class ReassessmentRead(Out):
    id: UUID
    patient_id: UUID
    dose_date: IsoDate
    withheld_at: datetime | None
    withhold_reason: str | None
    reassessed_at: datetime
    note: str


class LastDoseBody(In):
    drug: Annotated[str, Field(max_length=32)] = "methadone"
    taken_on: IsoDate | None = None
    source: Literal[
        "previous_pharmacy", "prescriber", "hospital", "custody", "patient", "induction"
    ]
    detail: Annotated[str, Field(max_length=500)] = ""


class LastDoseRecordRead(Out):
    id: UUID
    patient_id: UUID
    drug: str
    taken_on: IsoDate | None
    source: str
    detail: str
    recorded_at: datetime


class AuthorisationBody(In):
    dose_date: IsoDate
    representative: Annotated[str, Field(min_length=1, max_length=200)]
    directed_by: Annotated[str, Field(max_length=300)] = Field(
        default="",
        description="The prescriber and how the direction was given (a pharmacist must say; "
        "a prescriber signed in may leave it empty)",
    )
    note: Note = ""


class AuthorisationRead(Out):
    id: UUID
    prescription_id: UUID
    patient_id: UUID
    dose_date: IsoDate
    representative: str
    directed_by: str
    note: str
    recorded_at: datetime


class CloseDayBody(In):
    date: IsoDate | None = None


class DayClosedRead(BaseModel):
    date: IsoDate
    missed: int
    patients: int
    alerts_raised: int
    anchored: bool = Field(
        default=False,
        description="The audit chain's heads were signed and written off the database",
    )


class BoxBody(In):
    seen_on: IsoDate
    method: BoxMethod
    note: Note = ""


class BoxRead(Out):
    id: UUID
    patient_id: UUID
    seen_on: IsoDate
    valid_until: IsoDate
    method: str
    note: str


class PaperLineBody(In):
    patient_id: UUID
    date: IsoDate = Field(
        description="The day on the sheet (today or up to the setting's days back)"
    )
    outcome: Literal["supervised", "collected", "withheld"] = Field(
        description="What the sheet says: swallowed in front of the pharmacist, a take-home "
        "handed over, or withheld (intoxicated)"
    )
    given_at: time = Field(description="The time written on the sheet (UK time)")
    given_by: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=80),
        Controls(min_visible=1),
    ] = Field(description="The initials written on the sheet")
    note: Note = ""


class PaperSheetBody(In):
    sheet_reference: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=3, max_length=80),
        Controls(min_visible=3),
    ] = Field(description="The reference printed on the outage sheet (or how to find the sheet)")
    entries: list[PaperLineBody] = Field(min_length=1, max_length=500)


class PaperDoseRead(Out):
    id: UUID
    patient_id: UUID
    prescription_id: UUID | None
    dose_date: IsoDate
    outcome: str
    dose_mg: Decimal | None
    given_at: datetime
    given_by: str
    sheet_reference: str
    note: str
    findings: list[str] = Field(
        description="entered (the ledger took it) | double_supply (the day was already "
        "supplied) | block_ignored (the counter would have refused it that day) | not_due "
        "(no dose of the prescription was due)"
    )
    blocks: list[str] = Field(description="The counter's block codes that day, if any")
    dose_dates: list[str]
    entered_at: datetime
    alerts: list[str] = Field(default_factory=list)


class PaperSheetRead(BaseModel):
    items: list[PaperDoseRead]
