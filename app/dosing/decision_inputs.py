"""The facts and the local policy the counter decision reads (`app.dosing.rules.decide`).

Pure like the rules (standard library only: no database, no clock): these are the decision's
inputs, gathered from the database by `app.dosing.gather` and `app.dosing.facts`, and built by
hand in the pure rule tests. They live apart from `rules.py` so that module holds the decision
itself; the two counts that turn the ledger into facts (`days_without_dose`,
`household_methadone_at_home`) live here with the facts they fill in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal

from app.households.rules import ChildFacts
from app.prescriptions.intake_terms import DosePart

Mode = Literal["supervised", "take_home"]
DoseState = Literal["due", "supervised", "collected", "missed", "withheld"]
PrescriptionStatus = Literal["pending_check", "active", "suspended", "cancelled", "completed"]

FINAL_STATES: frozenset[str] = frozenset({"supervised", "collected", "missed", "withheld"})


@dataclass(frozen=True, slots=True)
class CounterPolicy:
    """Local thresholds (settings, not code: domain-rules §9)."""

    missed_threshold: int = 3
    # Per drug ("buprenorphine": n): a drug not named here uses missed_threshold.
    missed_threshold_by_drug: Mapping[str, int] = field(default_factory=dict)
    child_age_years: int = 16
    # Informational here: the caller computes HouseholdFacts.box_valid_until from it.
    box_validity_days: int = 90
    children_confirmation_days: int = 28
    # Accumulated take-home methadone at home (see docs/decisions.md for the default).
    household_methadone_mg: Decimal = Decimal(100)
    high_dose_mg: Decimal = Decimal(100)
    prescription_ending_days: int = 2
    # Any take-home into a household with a child younger than this is a warning.
    young_child_age_years: int = 5

    def __post_init__(self) -> None:
        # A threshold of 0 would block every patient, so a bad setting fails loudly instead.
        if min((self.missed_threshold, *self.missed_threshold_by_drug.values())) < 1:
            raise ValueError("missed_threshold must be at least 1")
        if (
            min(
                self.child_age_years,
                self.box_validity_days,
                self.children_confirmation_days,
                self.young_child_age_years,
            )
            < 1
        ):
            raise ValueError("ages and validity periods must be at least 1")
        if self.prescription_ending_days < 0:
            raise ValueError("prescription_ending_days must not be negative")


@dataclass(frozen=True, slots=True)
class InstalmentDay:
    """One row of the dose ledger: a dose date, the day it is collected, and what became of it."""

    dose_date: date
    collect_on: date
    mode: Mode
    dose_mg: Decimal
    state: DoseState
    recorded_by: str | None = None  # display name or username, shown in already_recorded
    recorded_at: datetime | None = None  # shown as given: pass local time for the counter
    # Withheld earlier today, then a pharmacist recorded a reassessment: it may be supplied.
    reassessed: bool = False
    reason: str | None = None  # why it was withheld, shown in withheld_today
    # The day's dose split as the prescription directs (issue 20 §2); empty for one dose.
    parts: tuple[DosePart, ...] = ()

    @property
    def home_part_mg(self) -> Decimal:
        """Of a split dose on a supervised day, the mg of the parts that go home in their own
        containers (the evening part); 0 for one dose, or a day that goes home whole."""
        if self.mode != "supervised":
            return Decimal(0)
        return sum((part.dose_mg for part in self.parts if not part.supervised), Decimal(0))


@dataclass(frozen=True, slots=True)
class Suspension:
    """The suspension in force: the day it took effect and why (hospital, custody, holiday,
    prescriber), as recorded by the pharmacist or the prescriber."""

    since: date
    reason: str


@dataclass(frozen=True, slots=True)
class DoseStep:
    """A stepped prescription's dose changes on `starts_on` from `from_mg` to `to_mg`."""

    starts_on: date
    from_mg: Decimal
    to_mg: Decimal


@dataclass(frozen=True, slots=True)
class PrescriptionFacts:
    status: PrescriptionStatus
    start_on: date
    end_on: date
    daily_dose_mg: Decimal
    previous_daily_dose_mg: Decimal | None  # the dose of the patient's last supplied dose
    pharmacy_id: str  # the patient's nominated pharmacy
    has_successor: bool  # a later prescription has been received
    # Home Office wording 3 ("Consult the prescriber if 3 or more consecutive days..."): the
    # threshold is the prescriber's direction and no local setting may raise it above 3.
    consult_after_3_missed: bool = False
    separate_containers: bool = False  # "Dispense daily doses in separate containers."
    # A liquid measured out by the patient at home from a multi-day container.
    measured_liquid: bool = False
    # While `status` is "suspended": since when and why (None if none is recorded).
    suspension: Suspension | None = None
    # The active ingredient: its missed-dose threshold, and what a missed streak means.
    drug: str = "methadone"
    # The dates a stepped reduction or titration changes the daily dose (issue 20 §2).
    steps: tuple[DoseStep, ...] = ()


@dataclass(frozen=True, slots=True)
class HouseholdFacts:
    children: tuple[ChildFacts, ...]  # children living in the household now
    children_confirmed_on: date | None
    box_valid_until: date | None  # the latest box confirmation's expiry for THIS patient
    # Take-home mg already at home across the household, not yet due to be taken
    # (see household_methadone_at_home).
    methadone_at_home_mg: Decimal
    # A child was added, born or moved since the children were last confirmed.
    children_changed_since_confirmed: bool = False


LastDoseSource = Literal[
    "here",
    "another_pharmacy",
    "previous_pharmacy",
    "prescriber",
    "hospital",
    "custody",
    "patient",
    "induction",
]


@dataclass(frozen=True, slots=True)
class LastDose:
    """The last dose the patient is known to have taken before today, and who says so."""

    taken_on: date | None  # None only for "induction": new to treatment, never taken
    source: LastDoseSource
    mode: Mode | None = None  # how it was taken, when it was taken here


@dataclass(frozen=True, slots=True)
class GuestDosing:
    """Today's instalment is at a guest pharmacy's counter: the home pharmacy let another
    pharmacy dose the patient on these days (a holiday, a stay elsewhere)."""

    here: bool  # this counter is the guest's
    guest_pharmacy: str  # the guest pharmacy's name
    until: date  # the last day of the guest dosing


@dataclass(frozen=True, slots=True)
class PumpCheck:
    """One pump measure against the one container it filled (issue 20 §5): the supervised cup
    or a take-home container, never the handover as a whole."""

    container: str  # in words: "the supervised dose (Mon 7 Dec 2026)"
    dispensed_ml: Decimal  # what the pump reported measuring out
    measured_ml: Decimal | None  # what the container holds (mL as labelled); None: no liquid
    # The pump's last result today on record (the audit log), not a figure the handover gave.
    on_record: bool = False


@dataclass(frozen=True, slots=True)
class BottleFacts:
    """The stock bottle the dose was measured from, as scanned at the handover (issue 20 §5),
    and the volume a dose-measuring pump reported dispensing.

    Only a handover has one (the counter's check has not seen the bottle yet). `gtin` None: no
    bottle was scanned. `product` None: this pharmacy's pack table does not know the GTIN.
    """

    prescribed_product: str  # the prescription's product code
    prescribed_name: str  # its name, as the label prints it
    liquid: bool  # the prescribed product is measured out of a bottle
    # This pharmacy hands a liquid over only after its bottle was scanned (a setting).
    scan_required: bool = False
    gtin: str | None = None
    product: str | None = None  # the product the GTIN maps to here
    product_name: str | None = None
    expiry: date | None = None  # from the pack code; None when the barcode carries none
    pump_ml: Decimal | None = None  # what the pump reported dispensing; None: no pump
    measured_ml: Decimal | None = None  # what this handover measures out (mL, as labelled)
    # Each pump measure against its container (`pump_ml`/`measured_ml` above: one figure for
    # the handover as a whole, for callers that have no containers).
    pump_checks: tuple[PumpCheck, ...] = ()


@dataclass(frozen=True, slots=True)
class CounterFacts:
    today: date  # pharmacy-local calendar date
    counter_pharmacy_id: str
    prescription: PrescriptionFacts | None  # the prescription covering today, else the latest
    # The patient's instalment days for this product with collect_on == today: what would be
    # handed over today (may be empty).
    instalments: tuple[InstalmentDay, ...]
    next_collect_on: date | None  # the next collection date after today
    last_missed_collect_on: date | None
    # Consecutive days immediately before today on which no dose was taken, whatever the
    # reason, across prescription boundaries: counted from the later of the last dose taken
    # and the prescriber's last review.
    days_without_dose: int
    household: HouseholdFacts | None  # None: no household on record
    intoxicated: bool  # the pharmacist's attestation
    # None: no dose is on record here and nobody has recorded one taken elsewhere.
    last_dose: LastDose | None = None
    collector: str = "patient"  # patient | representative | hcp (a check assumes the patient)
    # The prescriber directed that a representative may collect today's supervised dose.
    representative_authorised: bool = False
    # Whether a measuring device goes with the take-home; None at a check (not asked yet).
    measuring_device: bool | None = None
    # Today's instalment is granted to a guest pharmacy (this one or another): None when not.
    guest: GuestDosing | None = None
    # The stock bottle scanned at the handover (and a pump's report): None at a check.
    bottle: BottleFacts | None = None


def days_without_dose(
    *, last_taken_on: date | None, released_on: date | None, first_day: date | None, through: date
) -> int:
    """Count the consecutive days up to and including `through` on which no dose was taken.

    The run starts the day after the last dose taken (`last_taken_on`), or, for a patient who
    has never taken one (new to treatment), on the first day of their treatment here
    (`first_day`). A prescriber's review on `released_on` restarts the count that day. Every
    day in the run counts, whatever the reason no dose was taken: missed, withheld, not
    dispensed, or no prescription at all.
    """
    starts = []
    if last_taken_on is not None:
        starts.append(last_taken_on + timedelta(days=1))
    elif first_day is not None:
        starts.append(first_day)
    else:
        return 0
    if released_on is not None:
        starts.append(released_on)
    return max(0, (through - max(starts)).days + 1)


def household_methadone_at_home(
    take_homes: Iterable[tuple[date, Decimal]], *, today: date
) -> Decimal:
    """Return the take-home mg at home across a household on `today`.

    `take_homes` are (dose_date, mg) of doses already handed over as take-home to any member.
    A dose dated today counts as still at home: nobody sees a take-home dose swallowed, so it is
    only assumed gone once its day has passed. This over-counts on the afternoon of the dose day,
    which is the safe side for a child-safety threshold.
    """
    return sum((mg for dose_date, mg in take_homes if dose_date >= today), Decimal(0))
