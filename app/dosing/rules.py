"""Counter decisions for a methadone handover: facts in, a decision listing every reason out.

Pure by design (DESIGN §3, STYLE B3): no database, no clock, no I/O, standard library only.
The service gathers the facts (today's instalment days, the household, the missed streak) and
the local thresholds, asks `decide()`, and turns a refusal into an error itself, so the counter
can show every reason together rather than the first one found. The facts and the policy it
reads are defined in `app.dosing.decision_inputs`; what the counter reads for each reason, and
the rule it cites, in `app.dosing.counter_wording`. This module holds the decision itself: which
reasons apply, and what they allow.

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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from app.dosing import bottle_rules
from app.dosing import counter_wording as wording
from app.dosing.decision_inputs import (
    FINAL_STATES,
    CounterFacts,
    CounterPolicy,
    HouseholdFacts,
    InstalmentDay,
    Mode,
    PrescriptionFacts,
)
from app.households.rules import StorageBlock

__all__ = [
    "BLOCKS",
    "OVERRIDABLE",
    "WARNINGS",
    "Code",
    "Decision",
    "Reason",
    "decide",
    "threshold_for",
]


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
    DOSED_AT_GUEST_PHARMACY = "dosed_at_guest_pharmacy"
    # The stock bottle and the dose pump (issue 20 §5)
    WRONG_PRODUCT_MEASURED = "wrong_product_measured"
    BOTTLE_EXPIRED = "bottle_expired"
    BOTTLE_NOT_SCANNED = "bottle_not_scanned"
    PUMP_VOLUME_MISMATCH = "pump_volume_mismatch"
    # Warnings
    YOUNG_CHILD_TAKE_HOME = "young_child_take_home"
    HOUSEHOLD_METHADONE_HIGH = "household_methadone_high"
    DOSE_CHANGED = "dose_changed"
    PRESCRIPTION_ENDING = "prescription_ending"
    HIGH_DOSE = "high_dose"
    DOSE_STEPS_TODAY = "dose_steps_today"
    BOTTLE_NOT_MAPPED = "bottle_not_mapped"
    BOTTLE_EXPIRY_UNKNOWN = "bottle_expiry_unknown"


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
        Code.DOSED_AT_GUEST_PHARMACY,
        Code.WRONG_PRODUCT_MEASURED,
        Code.BOTTLE_EXPIRED,
        Code.BOTTLE_NOT_SCANNED,
        Code.PUMP_VOLUME_MISMATCH,
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
    # A split dose swallowed here today may still send a part home (the evening part): the
    # household checks apply to that part as to any take-home (issue 20 §2).
    part_home = [day for day in days if not _goes_home(day, facts) and day.home_part_mg > 0]
    take_home_mg = sum((day.dose_mg for day in going_home), Decimal(0))
    take_home_mg += sum((day.home_part_mg for day in part_home), Decimal(0))
    reasons: list[Reason] = []

    if rx is None:
        reasons.append(Reason(Code.NO_PRESCRIPTION, *wording.NO_PRESCRIPTION_TODAY))
    else:
        reasons += _prescription_reasons(facts, rx, days)

    withheld = [day for day in days if day.state == "withheld" and not day.reassessed]
    if withheld:
        reasons.append(Reason(Code.WITHHELD_TODAY, *wording.withheld_today(withheld, today)))
    recorded = [day for day in days if day.state in FINAL_STATES and day.state != "withheld"]
    if recorded:
        reasons.append(Reason(Code.ALREADY_RECORDED, *wording.already_recorded(recorded, today)))
    threshold = _threshold(rx, policy)
    if facts.days_without_dose >= threshold:
        reasons.append(
            Reason(
                Code.MISSED_THRESHOLD_REACHED,
                *wording.missed_threshold_reached(
                    facts.days_without_dose,
                    facts.last_dose,
                    today,
                    rx.drug if rx is not None else None,
                ),
            )
        )
    if rx is not None and facts.last_dose is None and pending:
        reasons.append(Reason(Code.LAST_DOSE_UNKNOWN, *wording.LAST_DOSE_UNKNOWN))
    if (
        _supervised_today(pending, today)
        and facts.collector != "patient"
        and not facts.representative_authorised
    ):
        reasons.append(
            Reason(
                Code.SUPERVISED_NEEDS_PATIENT, *wording.supervised_needs_patient(facts.collector)
            )
        )
    if facts.intoxicated:
        reasons.append(Reason(Code.PATIENT_INTOXICATED, *wording.PATIENT_INTOXICATED))
    needs_device = _needs_measuring_device(rx, [day for day in pending if _goes_home(day, facts)])
    if going_home or part_home:
        reasons += _household_reasons(facts.household, today, policy)
        reasons += _methadone_at_home_reasons(facts.household, take_home_mg, policy)
        if needs_device and facts.measuring_device is False:
            reasons.append(
                Reason(
                    Code.MEASURING_DEVICE_NOT_RECORDED,
                    *wording.measuring_device_not_recorded(len(going_home)),
                )
            )

    if rx is not None:
        reasons += _prescription_warnings(rx, pending, today, policy)
    reasons += [
        Reason(Code(code), *words)
        for code, words in bottle_rules.bottle_findings(facts.bottle, today)
    ]

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


def threshold_for(consult_after_3_missed: bool, policy_threshold: int) -> int:
    """The number of days without a dose that stops supply: the local setting, but never more
    than 3 when the prescription carries Home Office wording 3 (the prescriber's direction)."""
    return min(policy_threshold, 3) if consult_after_3_missed else policy_threshold


def _prescription_reasons(
    facts: CounterFacts, rx: PrescriptionFacts, days: tuple[InstalmentDay, ...]
) -> list[Reason]:
    today = facts.today
    reasons: list[Reason] = []
    if rx.status != "active":
        reasons.append(
            Reason(Code.PRESCRIPTION_NOT_ACTIVE, *wording.not_active(rx.status, rx.suspension))
        )
    # A collection the schedule put before the start day (closed-day wording) is lawful;
    # anything else before the start, or a dose dated before it, is not.
    if today < rx.start_on and (not days or any(day.dose_date < rx.start_on for day in days)):
        reasons.append(Reason(Code.BEFORE_START, *wording.before_start(rx.start_on)))
    if today > rx.end_on:
        reasons.append(Reason(Code.NO_PRESCRIPTION, *wording.prescription_ended(rx.end_on)))
    if not days and rx.start_on <= today <= rx.end_on:
        reasons.append(Reason(Code.NOT_DUE_TODAY, *wording.not_due_today(facts)))
    guest = facts.guest
    # A guest pharmacy doses the days granted to it; the home pharmacy none of them.
    if rx.pharmacy_id != facts.counter_pharmacy_id and not (guest is not None and guest.here):
        reasons.append(Reason(Code.WRONG_PHARMACY, *wording.WRONG_PHARMACY))
    if guest is not None and not guest.here:
        reasons.append(
            Reason(
                Code.DOSED_AT_GUEST_PHARMACY,
                *wording.dosed_at_guest(guest.guest_pharmacy, guest.until),
            )
        )
    return reasons


def _household_reasons(
    household: HouseholdFacts | None, today: date, policy: CounterPolicy
) -> list[Reason]:
    if household is None:
        return [Reason(Code.CHILDREN_NOT_CONFIRMED, *wording.NO_HOUSEHOLD)]
    reasons: list[Reason] = []
    young = [child for child in household.children if child.age_years < policy.child_age_years]
    box_valid = household.box_valid_until is not None and household.box_valid_until >= today
    if young and not box_valid:
        reasons.append(
            Reason(
                Code.NO_LOCKABLE_BOX,
                *wording.no_lockable_box(policy.child_age_years, household.box_valid_until),
            )
        )
    confirmed = household.children_confirmed_on
    stale = confirmed is None or (today - confirmed).days > policy.children_confirmation_days
    changed = household.children_changed_since_confirmed
    if (household.children and stale) or changed:
        reasons.append(
            Reason(
                Code.CHILDREN_NOT_CONFIRMED,
                *wording.children_not_confirmed(
                    confirmed,
                    stale=stale,
                    changed=changed,
                    confirmation_days=policy.children_confirmation_days,
                ),
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
                *wording.young_child_take_home(policy.young_child_age_years),
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
            *wording.household_methadone_high(total, at_home, policy.household_methadone_mg),
        )
    ]


def _prescription_warnings(
    rx: PrescriptionFacts, days: Sequence[InstalmentDay], today: date, policy: CounterPolicy
) -> list[Reason]:
    reasons: list[Reason] = []
    previous = rx.previous_daily_dose_mg
    # Today's dose is the day's own (a stepped prescription changes it by date); a change the
    # prescription's steps make is named as a step, not as a new dose.
    current = days[0].dose_mg if rx.steps and days else rx.daily_dose_mg
    stepping = [
        step
        for step in rx.steps
        if step.to_mg != step.from_mg and any(day.dose_date == step.starts_on for day in days)
    ]
    if previous is not None and previous != current and not stepping:
        reasons.append(Reason(Code.DOSE_CHANGED, *wording.dose_changed(previous, current)))
    days_left = (rx.end_on - today).days
    if 0 <= days_left <= policy.prescription_ending_days and not rx.has_successor:
        reasons.append(
            Reason(Code.PRESCRIPTION_ENDING, *wording.prescription_ending(days_left, rx.end_on))
        )
    reasons += [Reason(Code.DOSE_STEPS_TODAY, *wording.dose_steps(step)) for step in stepping]
    # A stepped prescription's own first dose is not today's: after a step down it no longer
    # warns, and a step up warns on its days.
    first = () if rx.steps and days else (rx.daily_dose_mg,)
    highest = max((*first, *(day.dose_mg for day in days)))
    if highest > policy.high_dose_mg:
        reasons.append(Reason(Code.HIGH_DOSE, *wording.high_dose(highest, policy.high_dose_mg)))
    return reasons


def _pending(day: InstalmentDay) -> bool:
    """Still to be handed over: due, or withheld earlier today and since reassessed."""
    return day.state == "due" or (day.state == "withheld" and day.reassessed)


def _threshold(rx: PrescriptionFacts | None, policy: CounterPolicy) -> int:
    if rx is None:
        return policy.missed_threshold
    local = policy.missed_threshold_by_drug.get(rx.drug, policy.missed_threshold)
    return threshold_for(rx.consult_after_3_missed, local)


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
