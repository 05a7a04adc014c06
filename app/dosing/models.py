from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime
from app.kit import new_id, one_of


class DoseState(StrEnum):
    DUE = "due"
    SUPERVISED = "supervised"
    COLLECTED = "collected"
    MISSED = "missed"
    WITHHELD = "withheld"
    # A dose day the pharmacy could not supply because the prescription reached it (or was
    # checked) only after the day had passed: no dose was taken, and the day counts toward the
    # loss-of-tolerance threshold like a missed one.
    NOT_DISPENSED = "not_dispensed"


FINAL_STATES = frozenset(
    {
        DoseState.SUPERVISED,
        DoseState.COLLECTED,
        DoseState.MISSED,
        DoseState.WITHHELD,
        DoseState.NOT_DISPENSED,
    }
)
# A dose was taken on the day: swallowed at the counter, or handed over to go home.
TAKEN_STATES = frozenset({DoseState.SUPERVISED, DoseState.COLLECTED})
# No dose was taken on the day, whatever the reason (DESIGN §3: tolerance is lost by days
# without methadone, not by days marked "missed").
NOT_TAKEN_STATES = frozenset({DoseState.MISSED, DoseState.WITHHELD, DoseState.NOT_DISPENSED})


class Mode(StrEnum):
    SUPERVISED = "supervised"
    TAKE_HOME = "take_home"


class InstalmentDay(Base):
    """The ledger: one row per patient, product and dose date.

    `uq_instalment_days_patient_id_product_dose_date` makes a double dose impossible whatever
    the application does; database triggers refuse any change to a row in a final state.
    """

    __tablename__ = "instalment_days"
    __table_args__ = (
        UniqueConstraint("patient_id", "product", "dose_date"),
        one_of("state", DoseState),
        one_of("mode", Mode),
        Index(
            "ix_instalment_days_pharmacy_id_collect_on_state", "pharmacy_id", "collect_on", "state"
        ),
        Index("ix_instalment_days_patient_id_dose_date", "patient_id", "dose_date"),
        Index("ix_instalment_days_prescription_id", "prescription_id"),
        Index("ix_instalment_days_pharmacy_id_dose_date", "pharmacy_id", "dose_date"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    prescription_id: Mapped[UUID] = mapped_column(ForeignKey("prescriptions.id"))
    patient_id: Mapped[UUID] = mapped_column(ForeignKey("patients.id"))
    pharmacy_id: Mapped[UUID] = mapped_column(ForeignKey("pharmacies.id"))
    household_id: Mapped[UUID | None] = mapped_column(ForeignKey("households.id"), index=True)
    product: Mapped[str] = mapped_column(String(64))
    dose_date: Mapped[date] = mapped_column(Date)
    collect_on: Mapped[date] = mapped_column(Date)
    mode: Mapped[str] = mapped_column(String(16))
    dose_mg: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    state: Mapped[str] = mapped_column(String(16), default=DoseState.DUE)
    # Set when the row reaches a final state.
    handover_id: Mapped[UUID | None] = mapped_column(index=True)
    recorded_by_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    collector: Mapped[str | None] = mapped_column(String(16))
    collector_details: Mapped[str | None] = mapped_column(String(500))
    id_asked: Mapped[bool | None] = mapped_column(Boolean)
    id_shown: Mapped[bool | None] = mapped_column(Boolean)
    children_present: Mapped[list[str] | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(String(500))
    # The decision's codes at handover: acknowledged warnings and overrides, for the record.
    decision: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    label_id: Mapped[UUID | None]
    # The prescription carries the Home Office "missed remaining" wording: when the instalment's
    # collection day is missed, this day's dose may still be collected on a later day up to and
    # including its own date (never after it).
    remaining_collectable: Mapped[bool] = mapped_column(Boolean, default=False)
    # A withheld dose supplied later the same day after a pharmacist's recorded reassessment.
    reassessment_id: Mapped[UUID | None] = mapped_column(ForeignKey("reassessments.id"))
    # Set once, when a day marked missed at close of day is corrected: the dose was taken.
    correction_id: Mapped[UUID | None] = mapped_column(ForeignKey("dose_corrections.id"))
    # The prescriber's direction that let a representative collect a supervised day's dose
    # (the day became a take-home).
    authorisation_id: Mapped[UUID | None] = mapped_column(
        ForeignKey("representative_authorisations.id")
    )
    # A measuring device (oral syringe or measure) was supplied with a multi-day container.
    measuring_device: Mapped[bool | None] = mapped_column(Boolean)
    # The day's dose split as the prescription directs: [{when, dose_mg, supervised}], all
    # handed over at one visit (the supervised part swallowed, each other part in its own
    # container). None: one dose.
    parts: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)


class Release(Base):
    """A prescriber's review after missed doses: supply may resume (append-only)."""

    __tablename__ = "releases"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    prescription_id: Mapped[UUID] = mapped_column(ForeignKey("prescriptions.id"))
    patient_id: Mapped[UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    released_on: Mapped[date] = mapped_column(Date)
    released_by_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DoseCorrection(Base):
    """A correction of the ledger, by a pharmacist, with the reason (append-only).

    `late_dose`: close of day marked the day missed, but the patient came late that evening and
    swallowed the dose under supervision. The ledger row then records the supply (its state
    goes from missed to supervised, once, through the database's own check); this row keeps
    what was corrected, by whom, when the dose was given and why.
    """

    __tablename__ = "dose_corrections"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(32))
    instalment_day_id: Mapped[UUID] = mapped_column(ForeignKey("instalment_days.id"))
    patient_id: Mapped[UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    pharmacy_id: Mapped[UUID] = mapped_column(ForeignKey("pharmacies.id"))
    dose_date: Mapped[date] = mapped_column(Date)
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    given_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(2000))
    corrected_by_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    corrected_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Reassessment(Base):
    """A pharmacist reassessed a patient whose dose was withheld earlier the same day (for
    example, they came back sober) and found them fit to receive it (append-only).

    The withhold itself is copied here because the ledger row then records the supply; the
    withhold stays in the record through this row and the audit log.
    """

    __tablename__ = "reassessments"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    pharmacy_id: Mapped[UUID] = mapped_column(ForeignKey("pharmacies.id"))
    dose_date: Mapped[date] = mapped_column(Date)
    withheld_by_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"))
    withheld_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withhold_reason: Mapped[str | None] = mapped_column(String(500))
    reassessed_by_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    reassessed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    note: Mapped[str] = mapped_column(String(2000))


class RepresentativeAuthorisation(Base):
    """The prescriber directed that a representative may collect a supervised day's dose: that
    day becomes a take-home, and every record says so (append-only)."""

    __tablename__ = "representative_authorisations"
    __table_args__ = (
        Index("ix_representative_authorisations_patient_id_dose_date", "patient_id", "dose_date"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    prescription_id: Mapped[UUID] = mapped_column(ForeignKey("prescriptions.id"))
    patient_id: Mapped[UUID] = mapped_column(ForeignKey("patients.id"))
    dose_date: Mapped[date] = mapped_column(Date)
    representative: Mapped[str] = mapped_column(String(200))
    # Who gave the direction and how, e.g. "Dr A. Prescriber, by phone" (a pharmacist records
    # a direction received; a prescriber signed in records their own).
    directed_by: Mapped[str] = mapped_column(String(300))
    note: Mapped[str] = mapped_column(String(2000), default="")
    recorded_by_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LastDoseSource(StrEnum):
    PREVIOUS_PHARMACY = "previous_pharmacy"
    PRESCRIBER = "prescriber"
    HOSPITAL = "hospital"
    CUSTODY = "custody"
    PATIENT = "patient"  # the patient's own account, when nobody else can confirm
    INDUCTION = "induction"  # new to treatment: no dose ever taken


class LastDoseRecord(Base):
    """When the patient last took a dose before this pharmacy's record begins, and who says so
    (append-only; the latest record is the current statement)."""

    __tablename__ = "last_dose_records"
    __table_args__ = (one_of("source", LastDoseSource),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    # The active ingredient ("methadone"): tolerance belongs to the drug, not the strength.
    drug: Mapped[str] = mapped_column(String(32))
    # None only for "induction": the patient has never taken it.
    taken_on: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(String(500), default="")
    recorded_by_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class HandoverRefusal(Base):
    """The patient came to the counter and the handover was refused: the codes that stood
    (append-only). A refused visit is part of what a conference needs to read."""

    __tablename__ = "handover_refusals"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    patient_id: Mapped[UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    pharmacy_id: Mapped[UUID] = mapped_column(ForeignKey("pharmacies.id"))
    day: Mapped[date] = mapped_column(Date)
    codes: Mapped[list[str]] = mapped_column(JSON)
    refused_by_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"))
    refused_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PaperOutcome(StrEnum):
    """What the outage sheet says happened to a patient's dose that day."""

    SUPERVISED = "supervised"
    COLLECTED = "collected"  # a take-home handed over
    WITHHELD = "withheld"


class PaperFinding(StrEnum):
    """What the record says about a dose entered from the outage sheet."""

    # The ledger took it: the day was still due (or marked missed, and is now corrected).
    ENTERED = "entered"
    # The day was already supplied (at the counter before the outage, or from another sheet):
    # the patient may have had two doses.
    DOUBLE_SUPPLY = "double_supply"
    # The rules would have refused the supply that day (the threshold, a withhold, no box...).
    BLOCK_IGNORED = "block_ignored"
    # No instalment of the prescription was due that day (suspended, not prescribed).
    NOT_DUE = "not_due"


class PaperDose(Base):
    """A dose given (or withheld) on paper during an outage and entered once the system was
    back, with the sheet's reference, who gave it and what the record made of it (append-only).

    The ledger row, when the day could take it, is changed the usual way and names this entry
    in its `decision`; a supply the ledger cannot take (a second supply of a day) stays here and
    in the CD register, because the methadone left the cupboard whatever the record says.
    """

    __tablename__ = "paper_doses"
    __table_args__ = (
        one_of("outcome", PaperOutcome),
        # One line of one sheet is entered once: entering a sheet again is refused, never
        # mistaken for a double supply.
        UniqueConstraint("patient_id", "dose_date", "outcome", "sheet_reference"),
        Index("ix_paper_doses_pharmacy_id_dose_date", "pharmacy_id", "dose_date"),
    )

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    pharmacy_id: Mapped[UUID] = mapped_column(ForeignKey("pharmacies.id"))
    patient_id: Mapped[UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    prescription_id: Mapped[UUID | None] = mapped_column(ForeignKey("prescriptions.id"))
    dose_date: Mapped[date] = mapped_column(Date)
    outcome: Mapped[str] = mapped_column(String(16))
    dose_mg: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    given_at: Mapped[datetime] = mapped_column(UTCDateTime)
    given_by: Mapped[str] = mapped_column(String(80))  # the initials written on the sheet
    sheet_reference: Mapped[str] = mapped_column(String(80))
    note: Mapped[str] = mapped_column(String(2000), default="")
    findings: Mapped[list[str]] = mapped_column(JSON)
    # The counter's blocks for that day that the supply went against.
    blocks: Mapped[list[str]] = mapped_column(JSON)
    dose_dates: Mapped[list[str]] = mapped_column(JSON)
    entered_by_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime)


class HandoverBottle(Base):
    """The stock bottle a handover's dose was measured from, as scanned, and what a dose pump
    reported dispensing (issue 20 §5). Written with the handover, in its transaction, only when
    a bottle was scanned or a pump reported; the CD register's supply line carries the same
    GTIN, batch and expiry. Append-only.
    """

    __tablename__ = "handover_bottles"

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    handover_id: Mapped[UUID] = mapped_column(unique=True)
    pharmacy_id: Mapped[UUID] = mapped_column(ForeignKey("pharmacies.id"))
    patient_id: Mapped[UUID] = mapped_column(ForeignKey("patients.id"), index=True)
    product: Mapped[str] = mapped_column(String(64))  # the prescription's product
    gtin: Mapped[str | None] = mapped_column(String(14))
    batch: Mapped[str | None] = mapped_column(String(40))
    serial: Mapped[str | None] = mapped_column(String(40))
    expiry: Mapped[date | None] = mapped_column(Date)
    # What this pharmacy's pack table said the GTIN is at the time; None: not mapped (the
    # pharmacist acknowledged the warning and read the label by eye).
    mapped_product: Mapped[str | None] = mapped_column(String(64))
    measured_ml: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    pump_dispensed_ml: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    recorded_by_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
