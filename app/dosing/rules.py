"""Counter decisions for a methadone handover: facts in, a decision listing every reason out.

Pure by design (DESIGN §3, STYLE B3): no database, no clock, no I/O, standard library only.
The service gathers the facts (today's instalment days, the household, the missed streak) and
the local thresholds, asks `decide()`, and turns a refusal into an error itself, so the counter
can show every reason together rather than the first one found.

Blocks come from the law and the prescriber's instalment direction and stand until the facts
change, except the two household-storage blocks in `OVERRIDABLE`, which a pharmacist may
override with a written reason (the override is itself an urgent safeguarding alert, see
`app.safeguarding.rules.override_events`). Warnings come from guidance: the handover may go ahead
once the pharmacist has acknowledged each one.

Choices made where the rules are silent (each is pinned by a test):

- No prescription, or one that ended before today, is `no_prescription`; `not_due_today` is only
  raised within the prescription's dates, because outside them `before_start` or
  `no_prescription` is the real reason and a second message would only repeat it.
- A collection scheduled before the start date is allowed: the schedule moves a dose earlier only
  under the Home Office closed-day wording (domain-rules §6, Numark 2023), so `before_start`
  blocks when nothing is scheduled today or a dose in the handover is dated before the start.
- Any dose leaving the pharmacy unswallowed is a take-home for the household checks, whatever its
  mode: a "supervised" dose dated tomorrow would still go home.
- A patient with no household on record has unknown children, so a take-home raises
  `children_not_confirmed` (domain-rules §4.2: children unknown counts as "not no").
- `household_methadone_high` is only raised when today's handover adds take-home methadone; a
  supervised dose does not change what is at home (the household rule alerts on that).
- `allowed` means "no block": warnings still need acknowledging, which `Decision.refusal()`
  checks at handover time.
- Loss of tolerance is counted in days on which no dose was taken (`days_without_dose`), from
  the last dose taken (here, or elsewhere as recorded) or the prescriber's last review,
  whichever is later: missed, withheld, not dispensed, a gap between prescriptions, all count.
  A patient with no dose on record anywhere is `last_dose_unknown` until somebody records when
  they last took it (or that they are new to treatment).
- A supervised dose is swallowed by the patient at the counter, so it can never go to a
  representative or a healthcare professional (`supervised_needs_patient`). Only the
  prescriber's recorded direction lets a representative collect that day's dose, and then it
  is a take-home for every check and every record.
- A multi-day container of a liquid needs a measuring device at home; a take-home handed over
  without one recorded is refused (`measuring_device_not_recorded`). Daily containers (the
  "separate containers" wording) are drunk whole and need none.
- Any take-home into a household where a child under 5 (setting) lives is a warning however
  small (`young_child_take_home`); `household_methadone_high` is about accumulation, and only
  where a child under the age setting lives.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Literal

from app.households.rules import ChildFacts, StorageBlock

__all__ = [
    "OVERRIDABLE",
    "ChildFacts",
    "Code",
    "CounterFacts",
    "CounterPolicy",
    "Decision",
    "HouseholdFacts",
    "InstalmentDay",
    "PrescriptionFacts",
    "Reason",
    "LastDose",
    "decide",
    "days_without_dose",
    "describe_last_dose",
    "household_methadone_at_home",
    "threshold_for",
]

Mode = Literal["supervised", "take_home"]
DoseState = Literal["due", "supervised", "collected", "missed", "withheld"]
PrescriptionStatus = Literal["pending_check", "active", "suspended", "cancelled", "completed"]

FINAL_STATES: frozenset[str] = frozenset({"supervised", "collected", "missed", "withheld"})


class Code(StrEnum):
    """Stable API codes: blocks first, then warnings. Never rename one; add a new code instead."""

    # Blocks
    PRESCRIPTION_NOT_ACTIVE = "prescription_not_active"
    BEFORE_START = "before_start"
    NOT_DUE_TODAY = "not_due_today"
    ALREADY_RECORDED = "already_recorded"
    WRONG_PHARMACY = "wrong_pharmacy"
    MISSED_THRESHOLD_REACHED = "missed_threshold_reached"
    PATIENT_INTOXICATED = "patient_intoxicated"
    NO_LOCKABLE_BOX = StorageBlock.NO_LOCKABLE_BOX.value
    CHILDREN_NOT_CONFIRMED = StorageBlock.CHILDREN_NOT_CONFIRMED.value
    NO_PRESCRIPTION = "no_prescription"
    SUPERVISED_NEEDS_PATIENT = "supervised_needs_patient"
    WITHHELD_TODAY = "withheld_today"
    LAST_DOSE_UNKNOWN = "last_dose_unknown"
    MEASURING_DEVICE_NOT_RECORDED = "measuring_device_not_recorded"
    # Warnings
    YOUNG_CHILD_TAKE_HOME = "young_child_take_home"
    HOUSEHOLD_METHADONE_HIGH = "household_methadone_high"
    DOSE_CHANGED = "dose_changed"
    PRESCRIPTION_ENDING = "prescription_ending"
    HIGH_DOSE = "high_dose"


BLOCKS: frozenset[Code] = frozenset(
    {
        Code.PRESCRIPTION_NOT_ACTIVE,
        Code.BEFORE_START,
        Code.NOT_DUE_TODAY,
        Code.ALREADY_RECORDED,
        Code.WRONG_PHARMACY,
        Code.MISSED_THRESHOLD_REACHED,
        Code.PATIENT_INTOXICATED,
        Code.NO_LOCKABLE_BOX,
        Code.CHILDREN_NOT_CONFIRMED,
        Code.NO_PRESCRIPTION,
        Code.SUPERVISED_NEEDS_PATIENT,
        Code.WITHHELD_TODAY,
        Code.LAST_DOSE_UNKNOWN,
        Code.MEASURING_DEVICE_NOT_RECORDED,
    }
)
WARNINGS: frozenset[Code] = frozenset(Code) - BLOCKS

# Household-storage blocks come from local policy and guidance, not the law or the
# prescriber's direction, so a pharmacist may override them, with a written reason.
OVERRIDABLE: frozenset[Code] = frozenset(Code(block.value) for block in StorageBlock)

_ORDER = {code: index for index, code in enumerate(Code)}
_NO_OVERRIDES: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a handover is blocked or needs acknowledging: code, counter text, rule source."""

    code: Code
    message: str  # plain English for the counter, ending with what to do next
    source: str  # short name of the rule's authority, e.g. "MDR 2001 reg 16"


@dataclass(frozen=True, slots=True)
class CounterPolicy:
    """Local thresholds (settings, not code: domain-rules §9)."""

    missed_threshold: int = 3
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
        if self.missed_threshold < 1:
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


@dataclass(frozen=True, slots=True)
class Decision:
    """What may be handed over today, with every reason that stands in the way."""

    allowed: bool  # no block; warnings may still need acknowledging (see refusal)
    mode: Mode | None  # None when there is nothing to hand over
    dose_mg: Decimal  # total mg handed over today
    dose_dates: tuple[date, ...]
    blocks: tuple[Reason, ...]
    warnings: tuple[Reason, ...]
    # A multi-day container of a liquid goes home: record the measuring device supplied.
    needs_measuring_device: bool = False

    def refusal(
        self,
        acknowledged: frozenset[str] = frozenset(),
        overrides: Mapping[str, str] = _NO_OVERRIDES,
    ) -> tuple[Reason, ...]:
        """Return the reasons still standing after acknowledgements and overrides.

        A block stands unless it is in OVERRIDABLE and `overrides` gives it a reason that is
        not blank. A warning stands unless its code is in `acknowledged`. Acknowledging a block
        does nothing, and an override of a code that cannot be overridden is ignored. An empty
        result means the handover may go ahead.
        """
        standing = [
            block
            for block in self.blocks
            if not (block.code in OVERRIDABLE and overrides.get(block.code, "").strip())
        ]
        standing += [warning for warning in self.warnings if warning.code not in acknowledged]
        return tuple(standing)

    def permits(
        self,
        acknowledged: frozenset[str] = frozenset(),
        overrides: Mapping[str, str] = _NO_OVERRIDES,
    ) -> bool:
        """Say whether the handover may go ahead with these acknowledgements and overrides."""
        return not self.refusal(acknowledged, overrides)

    def overridden(self, overrides: Mapping[str, str]) -> tuple[Code, ...]:
        """Return the blocks these overrides actually lift: each one must raise an alert."""
        return tuple(
            block.code
            for block in self.blocks
            if block.code in OVERRIDABLE and overrides.get(block.code, "").strip()
        )


def decide(facts: CounterFacts, policy: CounterPolicy) -> Decision:
    """Decide whether today's instalment may be handed over, listing every reason that applies."""
    today = facts.today
    rx = facts.prescription
    days = tuple(sorted(facts.instalments, key=lambda day: day.dose_date))
    pending = [day for day in days if _pending(day)]
    # Every reason that applies is listed, so the household checks look at everything dated to
    # go home today, recorded or not; the measuring device is about what is still to go.
    going_home = [day for day in days if _goes_home(day, facts)]
    take_home_mg = sum((day.dose_mg for day in going_home), Decimal(0))
    reasons: list[Reason] = []

    if rx is None:
        reasons.append(
            Reason(
                Code.NO_PRESCRIPTION,
                "No active prescription covers today — do not supply; "
                "contact the prescriber for a prescription.",
                "MDR 2001 reg 16: supply only against a valid prescription",
            )
        )
    else:
        reasons += _prescription_reasons(facts, rx, days)

    withheld = [day for day in days if day.state == "withheld" and not day.reassessed]
    if withheld:
        reasons.append(_withheld_today(withheld, today))
    recorded = [day for day in days if day.state in FINAL_STATES and day.state != "withheld"]
    if recorded:
        reasons.append(
            Reason(
                Code.ALREADY_RECORDED,
                "Already recorded: "
                + "; ".join(_describe_record(day, today) for day in recorded)
                + ". Do not supply again; if the record is wrong, add a correction.",
                "One dose per patient per medicine per day (DESIGN §1.3)",
            )
        )
    threshold = _threshold(rx, policy)
    if facts.days_without_dose >= threshold:
        reasons.append(
            Reason(
                Code.MISSED_THRESHOLD_REACHED,
                f"{facts.days_without_dose} consecutive days without a dose taken "
                f"({describe_last_dose(facts.last_dose, today)}) — no supply until the "
                "prescriber reviews (tolerance may be lost); contact the prescriber, who records "
                "the review to release.",
                "Home Office wording 3; NI Formulary 4.10.1; local service specs",
            )
        )
    if rx is not None and facts.last_dose is None and pending:
        reasons.append(
            Reason(
                Code.LAST_DOSE_UNKNOWN,
                "No dose is on record for this patient here and nobody has recorded when they "
                "last took one elsewhere — ask (the patient, the prescriber or the previous "
                "pharmacy) and record the last dose taken, or that the patient is new to "
                "treatment, before supplying.",
                "Loss of tolerance (DESIGN §3); domain-rules §2.3, §2.5",
            )
        )
    if (
        _supervised_today(pending, today)
        and facts.collector != "patient"
        and not facts.representative_authorised
    ):
        reasons.append(
            Reason(
                Code.SUPERVISED_NEEDS_PATIENT,
                "Today's dose is to be supervised: the patient must swallow it here, so it "
                f"cannot be given to {_COLLECTORS.get(facts.collector, 'someone else')}. "
                "Only the prescriber can direct that a representative collects it (it then "
                "goes home as a take-home).",
                "Instalment direction (supervised consumption); domain-rules §2.2",
            )
        )
    if facts.intoxicated:
        reasons.append(
            Reason(
                Code.PATIENT_INTOXICATED,
                "Patient appears intoxicated — withhold today's dose (never supply it later); "
                "record it as withheld and tell the key worker and prescriber.",
                "Local service specs (Derbyshire, St Helens): no dose when intoxicated",
            )
        )
    needs_device = _needs_measuring_device(rx, [day for day in pending if _goes_home(day, facts)])
    if going_home:
        reasons += _household_reasons(facts.household, today, policy)
        reasons += _methadone_at_home_reasons(facts.household, take_home_mg, policy)
        if needs_device and facts.measuring_device is False:
            reasons.append(
                Reason(
                    Code.MEASURING_DEVICE_NOT_RECORDED,
                    f"{len(going_home)} days go home in one bottle: the patient must measure each "
                    "day's dose, so supply a measuring device (oral syringe or measure) and "
                    "record it.",
                    "Safe measurement of take-home liquids (MHRA; local SOPs)",
                )
            )

    if rx is not None:
        reasons += _prescription_warnings(rx, pending, today, policy)

    reasons.sort(key=lambda reason: _ORDER[reason.code])
    blocks = tuple(reason for reason in reasons if reason.code in BLOCKS)
    warnings = tuple(reason for reason in reasons if reason.code in WARNINGS)
    return Decision(
        allowed=not blocks,
        mode=_mode(pending or list(days), facts),
        dose_mg=sum((day.dose_mg for day in days), Decimal(0)),
        dose_dates=tuple(day.dose_date for day in days),
        blocks=blocks,
        warnings=warnings,
        needs_measuring_device=needs_device,
    )


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


def threshold_for(consult_after_3_missed: bool, policy_threshold: int) -> int:
    """The number of days without a dose that stops supply: the local setting, but never more
    than 3 when the prescription carries Home Office wording 3 (the prescriber's direction)."""
    return min(policy_threshold, 3) if consult_after_3_missed else policy_threshold


_LAST_DOSE_WHERE: Mapping[str, str] = MappingProxyType(
    {
        "here": "here",
        "another_pharmacy": "at another pharmacy",
        "previous_pharmacy": "at the previous pharmacy (recorded)",
        "prescriber": "as confirmed by the prescriber",
        "hospital": "in hospital (recorded)",
        "custody": "in custody (recorded)",
        "patient": "as the patient says (not confirmed)",
    }
)


def describe_last_dose(last: LastDose | None, today: date) -> str:
    """ "last dose taken: Mon 30 Nov 2026 (3 days ago), supervised here" — what the counter
    always shows, so nobody has to work out a lapse from the calendar."""
    if last is None:
        return "last dose taken: not known"
    if last.taken_on is None:
        return "last dose taken: none — new to treatment"
    ago = (today - last.taken_on).days
    when = {0: "today", 1: "yesterday"}.get(ago, f"{ago} days ago")
    how = ""
    if last.mode is not None:
        how = "supervised " if last.mode == "supervised" else "take-home "
    return f"last dose taken: {_day(last.taken_on)} ({when}), {how}{_LAST_DOSE_WHERE[last.source]}"


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


def _prescription_reasons(
    facts: CounterFacts, rx: PrescriptionFacts, days: tuple[InstalmentDay, ...]
) -> list[Reason]:
    today = facts.today
    reasons: list[Reason] = []
    if rx.status != "active":
        reasons.append(_not_active(rx))
    # A collection the schedule put before the start day (closed-day wording) is lawful;
    # anything else before the start, or a dose dated before it, is not.
    if today < rx.start_on and (not days or any(day.dose_date < rx.start_on for day in days)):
        reasons.append(
            Reason(
                Code.BEFORE_START,
                f"The prescription starts on {_day(rx.start_on)} — no supply before the start "
                "date; ask the patient to come back then.",
                "MDR 2001 reg 16(1)(d): not before the appropriate date",
            )
        )
    if today > rx.end_on:
        reasons.append(
            Reason(
                Code.NO_PRESCRIPTION,
                f"The last prescription ended on {_day(rx.end_on)} and no active prescription "
                "covers today — do not supply; contact the prescriber for a new prescription.",
                "MDR 2001 reg 16: supply only against a valid prescription",
            )
        )
    if not days and rx.start_on <= today <= rx.end_on:
        reasons.append(_not_due(facts))
    if rx.pharmacy_id != facts.counter_pharmacy_id:
        reasons.append(
            Reason(
                Code.WRONG_PHARMACY,
                "This prescription is for another pharmacy — do not supply; direct the patient "
                "to their nominated pharmacy or ask the prescriber to transfer it.",
                "Instalment direction names the dispensing pharmacy",
            )
        )
    return reasons


_NOT_ACTIVE_TEXT: Mapping[str, str] = MappingProxyType(
    {
        "pending_check": "has not had its second-person transcription check — "
        "have it checked before the first supply",
        "suspended": "is suspended — do not supply; contact the prescriber",
        "cancelled": "has been cancelled — do not supply; contact the prescriber",
        "completed": "is completed — do not supply; contact the prescriber for a new one",
    }
)


def _not_active(rx: PrescriptionFacts) -> Reason:
    return Reason(
        Code.PRESCRIPTION_NOT_ACTIVE,
        f"The prescription {_NOT_ACTIVE_TEXT[rx.status]}.",
        "MDR 2001 reg 16; transcription check (DESIGN §2)",
    )


def _not_due(facts: CounterFacts) -> Reason:
    sentences = ["Nothing is due for collection today."]
    if facts.days_without_dose > 0 and facts.last_missed_collect_on is not None:
        sentences.append(
            f"The collection on {_day(facts.last_missed_collect_on)} was missed and cannot be "
            "supplied later."
        )
    if facts.next_collect_on is not None:
        sentences.append(f"Next collection: {_day(facts.next_collect_on)}.")
    else:
        sentences.append(
            "No further collection is scheduled; contact the prescriber if one is needed."
        )
    sentences.append("No early or late supply.")
    return Reason(
        Code.NOT_DUE_TODAY,
        " ".join(sentences),
        "MDR 2001 reg 16; instalment direction (PDA advisory: not before or after the day)",
    )


def _household_reasons(
    household: HouseholdFacts | None, today: date, policy: CounterPolicy
) -> list[Reason]:
    if household is None:
        return [
            Reason(
                Code.CHILDREN_NOT_CONFIRMED,
                "No household is recorded for this patient, so nobody knows whether children "
                "live there — record the household and who lives in it before a take-home, or "
                "override with a reason.",
                "domain-rules §4.2: children unknown is not 'no children'",
            )
        ]
    reasons: list[Reason] = []
    young = [child for child in household.children if child.age_years < policy.child_age_years]
    box_valid = household.box_valid_until is not None and household.box_valid_until >= today
    if young and not box_valid:
        expired = (
            f"the last box confirmation expired on {_day(household.box_valid_until)}"
            if household.box_valid_until is not None
            else "no lockable box has been confirmed"
        )
        reasons.append(
            Reason(
                Code.NO_LOCKABLE_BOX,
                f"A child under {policy.child_age_years} lives in the household and {expired} — "
                "see the box (or a key worker's home check) before a take-home, or override "
                "with a reason (this raises an urgent alert).",
                "NICE NG46 safe storage; BASW/Adfam OST and risks to children; local policy",
            )
        )
    confirmed = household.children_confirmed_on
    stale = confirmed is None or (today - confirmed).days > policy.children_confirmation_days
    changed = household.children_changed_since_confirmed
    if (household.children and stale) or changed:
        when = (
            "changed (a child added, born or moved) since they were last confirmed"
            if changed and not stale
            else f"were last confirmed on {_day(confirmed)}, more than "
            f"{policy.children_confirmation_days} days ago"
            if confirmed is not None
            else "have never been confirmed"
        )
        reasons.append(
            Reason(
                Code.CHILDREN_NOT_CONFIRMED,
                f"The children in the household {when} — re-confirm who lives there before a "
                "take-home, or override with a reason.",
                "Local policy: household re-confirmation before take-homes",
            )
        )
    return reasons


def _methadone_at_home_reasons(
    household: HouseholdFacts | None, take_home_mg: Decimal, policy: CounterPolicy
) -> list[Reason]:
    if household is None:
        return []  # unknown household: children_not_confirmed blocks already
    reasons: list[Reason] = []
    if any(child.age_years < policy.young_child_age_years for child in household.children):
        reasons.append(
            Reason(
                Code.YOUNG_CHILD_TAKE_HOME,
                f"A child under {policy.young_child_age_years} lives in the household: less than "
                "10 mL of methadone can kill a small child. Remind the patient to lock every "
                "dose away out of sight, in the lockable box, and never to decant it.",
                "TIAFT 1998; BMJ 1994;308:1335; serious case reviews (Adfam 2014)",
            )
        )
    at_home = household.methadone_at_home_mg
    total = at_home + take_home_mg
    young = [child for child in household.children if child.age_years < policy.child_age_years]
    if total <= policy.household_methadone_mg or not young:
        return reasons
    return reasons + [
        Reason(
            Code.HOUSEHOLD_METHADONE_HIGH,
            f"This take-home brings the methadone at home across the household to "
            f"{_mg(total)} mg ({_mg(at_home)} mg already there), above "
            f"{_mg(policy.household_methadone_mg)} mg — check safe storage with the patient and "
            "consider telling the key worker.",
            "Local policy; serious case reviews (Adfam 2014)",
        )
    ]


def _prescription_warnings(
    rx: PrescriptionFacts, days: Sequence[InstalmentDay], today: date, policy: CounterPolicy
) -> list[Reason]:
    reasons: list[Reason] = []
    previous = rx.previous_daily_dose_mg
    if previous is not None and previous != rx.daily_dose_mg:
        direction = "up" if rx.daily_dose_mg > previous else "down"
        reasons.append(
            Reason(
                Code.DOSE_CHANGED,
                f"The dose has changed {direction} from {_mg(previous)} mg to "
                f"{_mg(rx.daily_dose_mg)} mg a day — confirm the new dose with the patient and "
                "measure the new amount.",
                "RCGP titration guidance; domain-rules §8.1",
            )
        )
    days_left = (rx.end_on - today).days
    if 0 <= days_left <= policy.prescription_ending_days and not rx.has_successor:
        ends = {0: "today", 1: "tomorrow"}.get(days_left, f"on {_day(rx.end_on)}")
        reasons.append(
            Reason(
                Code.PRESCRIPTION_ENDING,
                f"The prescription ends {ends} and no new one has been received — tell the "
                "patient and contact the prescriber so treatment is not interrupted.",
                "Continuity of treatment (local policy)",
            )
        )
    highest = max((rx.daily_dose_mg, *(day.dose_mg for day in days)))
    if highest > policy.high_dose_mg:
        reasons.append(
            Reason(
                Code.HIGH_DOSE,
                f"{_mg(highest)} mg a day is above {_mg(policy.high_dose_mg)} mg — QT monitoring "
                "is advised; check the prescriber is aware.",
                "MHRA Current Problems 2006;31: monitor above 100 mg/day",
            )
        )
    return reasons


_COLLECTORS: Mapping[str, str] = MappingProxyType(
    {"representative": "a representative", "hcp": "a healthcare professional"}
)


def _pending(day: InstalmentDay) -> bool:
    """Still to be handed over: due, or withheld earlier today and since reassessed."""
    return day.state == "due" or (day.state == "withheld" and day.reassessed)


def _threshold(rx: PrescriptionFacts | None, policy: CounterPolicy) -> int:
    consult = rx.consult_after_3_missed if rx is not None else False
    return threshold_for(consult, policy.missed_threshold)


def _supervised_today(days: Sequence[InstalmentDay], today: date) -> bool:
    return any(day.dose_date == today and day.mode == "supervised" for day in days)


def _goes_home(day: InstalmentDay, facts: CounterFacts) -> bool:
    """Whatever its mode, a dose not swallowed in front of the pharmacist today goes home; so
    does today's supervised dose when the prescriber has directed a representative may take it."""
    if day.mode == "take_home" or day.dose_date != facts.today:
        return True
    return facts.collector != "patient" and facts.representative_authorised


def _mode(days: Sequence[InstalmentDay], facts: CounterFacts) -> Mode | None:
    if not days:
        return None
    supervised_today = any(
        day.dose_date == facts.today and day.mode == "supervised" and not _goes_home(day, facts)
        for day in days
    )
    return "supervised" if supervised_today else "take_home"


def _needs_measuring_device(
    rx: PrescriptionFacts | None, going_home: Sequence[InstalmentDay]
) -> bool:
    """A liquid going home as more than one day in one container must be measured at home."""
    if rx is None or not rx.measured_liquid or rx.separate_containers:
        return False
    return len(going_home) > 1


def _withheld_today(days: Sequence[InstalmentDay], today: date) -> Reason:
    day = days[0]
    who = f" by {day.recorded_by}" if day.recorded_by else ""
    when = f" at {_time(day.recorded_at, today)}" if day.recorded_at is not None else ""
    why = f" ({day.reason})" if day.reason else ""
    return Reason(
        Code.WITHHELD_TODAY,
        f"Today's dose was withheld{who}{when}{why}. It is never supplied on another day. If the "
        "patient has come back fit to take it, a pharmacist may reassess them and record the "
        "reassessment; otherwise do not supply.",
        "Local service specs: no dose when intoxicated; reassessment the same day",
    )


_STATE_TEXT: Mapping[str, str] = MappingProxyType(
    {
        "supervised": "supervised",
        "collected": "collected",
        "missed": "missed",
        "withheld": "withheld",
    }
)


def _describe_record(day: InstalmentDay, today: date) -> str:
    text = f"the dose for {_day(day.dose_date)} was {_STATE_TEXT[day.state]}"
    if day.recorded_by:
        text += f" by {day.recorded_by}"
    if day.recorded_at is not None:
        text += f" at {_time(day.recorded_at, today)}"
    return text


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _day(value: date | None) -> str:
    # Spelled out here rather than with strftime, so the text does not depend on the locale.
    if value is None:
        return "an unknown date"
    return f"{_WEEKDAYS[value.weekday()]} {value.day} {_MONTHS[value.month - 1]} {value.year}"


def _time(value: datetime, today: date) -> str:
    text = f"{value.hour:02d}:{value.minute:02d}"
    zone = value.tzname()
    if zone:
        text += f" {zone}"
    if value.date() != today:
        text += f" on {_day(value.date())}"
    return text


def _mg(value: Decimal) -> str:
    # 60 -> "60", 62.50 -> "62.5": no exponent, no trailing zeros.
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
