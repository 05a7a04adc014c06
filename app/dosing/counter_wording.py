"""What the counter reads for each reason of the counter decision, and the rule it cites.

`app.dosing.rules` says which reasons apply; this module says them in words: for each one a
`Wording`, the plain-English message (ending with what to do next) and the short name of the
rule's authority. Dates, times and amounts are spelled out here without the locale, and the
last dose is described the way the counter always shows it (`describe_last_dose`).

Pure like the rules (standard library only: no database, no clock). Kept apart from
`rules.py` so the decision reads as conditions and codes; none of the text changes whether a
reason applies, which the tests assert by code (docs/safety/mutation-testing.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType

from app.dosing.decision_inputs import (
    CounterFacts,
    DoseStep,
    InstalmentDay,
    LastDose,
    PrescriptionStatus,
    Suspension,
)

# (the message the counter shows, the short name of the rule's source): Reason(code, *wording)
Wording = tuple[str, str]

NO_PRESCRIPTION_TODAY: Wording = (
    "No active prescription covers today — do not supply; "
    "contact the prescriber for a prescription.",
    "MDR 2001 reg 16: supply only against a valid prescription",
)

LAST_DOSE_UNKNOWN: Wording = (
    "No dose is on record for this patient here and nobody has recorded when they "
    "last took one elsewhere — ask (the patient, the prescriber or the previous "
    "pharmacy) and record the last dose taken, or that the patient is new to "
    "treatment, before supplying.",
    "Loss of tolerance (DESIGN §3); domain-rules §2.3, §2.5",
)

PATIENT_INTOXICATED: Wording = (
    "Patient appears intoxicated — withhold today's dose (never supply it later); "
    "record it as withheld and tell the key worker and prescriber.",
    "Local service specs (Derbyshire, St Helens): no dose when intoxicated",
)

WRONG_PHARMACY: Wording = (
    "This prescription is for another pharmacy — do not supply; direct the patient "
    "to their nominated pharmacy or ask the prescriber to transfer it.",
    "Instalment direction names the dispensing pharmacy",
)

NO_HOUSEHOLD: Wording = (
    "No household is recorded for this patient, so nobody knows whether children "
    "live there — record the household and who lives in it before a take-home, or "
    "override with a reason.",
    "domain-rules §4.2: children unknown is not 'no children'",
)


def dosed_at_guest(guest_pharmacy: str, until: date) -> Wording:
    return (
        f"Today's dose is at {guest_pharmacy}, where the patient is staying (guest dosing "
        f"until {_day(until)}) — do not supply here. If the patient is back early, end the "
        "guest dosing on the prescription page first.",
        "One dose per day across pharmacies; guest dosing arranged by this pharmacy",
    )


def withheld_today(days: Sequence[InstalmentDay], today: date) -> Wording:
    day = days[0]
    who = f" by {day.recorded_by}" if day.recorded_by else ""
    when = f" at {_time(day.recorded_at, today)}" if day.recorded_at is not None else ""
    why = f" ({day.reason})" if day.reason else ""
    return (
        f"Today's dose was withheld{who}{when}{why}. It is never supplied on another day. If the "
        "patient has come back fit to take it, a pharmacist may reassess them and record the "
        "reassessment; otherwise do not supply.",
        "Local service specs: no dose when intoxicated; reassessment the same day",
    )


def already_recorded(recorded: Sequence[InstalmentDay], today: date) -> Wording:
    return (
        "Already recorded: "
        + "; ".join(_describe_record(day, today) for day in recorded)
        + ". Do not supply again; if the record is wrong, add a correction.",
        "One dose per patient per medicine per day (DESIGN §1.3)",
    )


# What a run of days without a dose means, per drug (docs/decisions.md, "Missed-dose thresholds
# per drug"): kept factual; the prescriber, not the counter, decides what happens next.
_STREAK_MEANS: Mapping[str | None, str] = MappingProxyType(
    {
        "methadone": "tolerance to methadone may be lost, so the usual dose could now cause "
        "an overdose",
        "buprenorphine": "tolerance may be lost; the prescriber decides whether to continue "
        "at the usual dose or to start again (re-induction)",
        None: "tolerance may be lost",  # no prescription, or another drug
    }
)


def missed_threshold_reached(
    days_without_dose: int, last: LastDose | None, today: date, drug: str | None
) -> Wording:
    means = _STREAK_MEANS.get(drug, _STREAK_MEANS[None])
    return (
        f"{days_without_dose} consecutive days without a dose taken "
        f"({describe_last_dose(last, today)}) — no supply until the "
        f"prescriber reviews ({means}); contact the prescriber, who records "
        "the review to release.",
        "Home Office wording 3; NI Formulary 4.10.1; local service specs",
    )


_COLLECTORS: Mapping[str, str] = MappingProxyType(
    {"representative": "a representative", "hcp": "a healthcare professional"}
)


def supervised_needs_patient(collector: str) -> Wording:
    return (
        "Today's dose is to be supervised: the patient must swallow it here, so it "
        f"cannot be given to {_COLLECTORS.get(collector, 'someone else')}. "
        "Only the prescriber can direct that a representative collects it (it then "
        "goes home as a take-home).",
        "Instalment direction (supervised consumption); domain-rules §2.2",
    )


def measuring_device_not_recorded(days_going_home: int) -> Wording:
    return (
        f"{days_going_home} days go home in one bottle: the patient must measure each "
        "day's dose, so supply a measuring device (oral syringe or measure) and "
        "record it.",
        "Safe measurement of take-home liquids (MHRA; local SOPs)",
    )


def before_start(start_on: date) -> Wording:
    return (
        f"The prescription starts on {_day(start_on)} — no supply before the start "
        "date; ask the patient to come back then.",
        "MDR 2001 reg 16(1)(d): not before the appropriate date",
    )


def prescription_ended(end_on: date) -> Wording:
    return (
        f"The last prescription ended on {_day(end_on)} and no active prescription "
        "covers today — do not supply; contact the prescriber for a new prescription.",
        "MDR 2001 reg 16: supply only against a valid prescription",
    )


_NOT_ACTIVE_TEXT: Mapping[str, str] = MappingProxyType(
    {
        "pending_check": "has not had its second-person transcription check — "
        "have it checked before the first supply",
        "suspended": "is suspended — do not supply; contact the prescriber",
        "cancelled": "has been cancelled — do not supply; contact the prescriber",
        "completed": "is completed — do not supply; contact the prescriber for a new one",
    }
)


# Why a prescription is suspended, as the counter names it (the reasons a suspension records).
_SUSPENDED_FOR: Mapping[str, str] = MappingProxyType(
    {
        "hospital": "hospital admission",
        "custody": "police custody or prison",
        "holiday": "away, with doses from another service",
        "prescriber": "the prescriber's instruction",
    }
)


def not_active(status: PrescriptionStatus, suspension: Suspension | None = None) -> Wording:
    if status == "suspended" and suspension is not None:
        why = _SUSPENDED_FOR.get(suspension.reason, suspension.reason)
        return (
            f"Suspended since {_day(suspension.since)} ({why}) — do not supply; the "
            "prescription resumes when the pharmacist or prescriber records the patient's "
            "return.",
            "Suspension recorded by the pharmacist or prescriber (issue 19 §1)",
        )
    return (
        f"The prescription {_NOT_ACTIVE_TEXT[status]}.",
        "MDR 2001 reg 16; transcription check (DESIGN §2)",
    )


def not_due_today(facts: CounterFacts) -> Wording:
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
    return (
        " ".join(sentences),
        "MDR 2001 reg 16; instalment direction (PDA advisory: not before or after the day)",
    )


def no_lockable_box(child_age_years: int, box_valid_until: date | None) -> Wording:
    expired = (
        f"the last box confirmation expired on {_day(box_valid_until)}"
        if box_valid_until is not None
        else "no lockable box has been confirmed"
    )
    return (
        f"A child under {child_age_years} lives in the household and {expired} — "
        "see the box (or a key worker's home check) before a take-home, or override "
        "with a reason (this raises an urgent alert).",
        "NICE NG46 safe storage; BASW/Adfam OST and risks to children; local policy",
    )


def children_not_confirmed(
    confirmed: date | None, *, stale: bool, changed: bool, confirmation_days: int
) -> Wording:
    when = (
        "changed (a child added, born or moved) since they were last confirmed"
        if changed and not stale
        else f"were last confirmed on {_day(confirmed)}, more than {confirmation_days} days ago"
        if confirmed is not None
        else "have never been confirmed"
    )
    return (
        f"The children in the household {when} — re-confirm who lives there before a "
        "take-home, or override with a reason.",
        "Local policy: household re-confirmation before take-homes",
    )


def young_child_take_home(young_child_age_years: int) -> Wording:
    return (
        f"A child under {young_child_age_years} lives in the household: less than "
        "10 mL of methadone can kill a small child. Remind the patient to lock every "
        "dose away out of sight, in the lockable box, and never to decant it.",
        "TIAFT 1998; BMJ 1994;308:1335; serious case reviews (Adfam 2014)",
    )


def household_methadone_high(total: Decimal, at_home: Decimal, limit: Decimal) -> Wording:
    return (
        f"This take-home brings the methadone at home across the household to "
        f"{_mg(total)} mg ({_mg(at_home)} mg already there), above "
        f"{_mg(limit)} mg — check safe storage with the patient and "
        "consider telling the key worker.",
        "Local policy; serious case reviews (Adfam 2014)",
    )


def dose_changed(previous: Decimal, daily_dose_mg: Decimal) -> Wording:
    direction = "up" if daily_dose_mg > previous else "down"
    return (
        f"The dose has changed {direction} from {_mg(previous)} mg to "
        f"{_mg(daily_dose_mg)} mg a day — confirm the new dose with the patient and "
        "measure the new amount.",
        "RCGP titration guidance; domain-rules §8.1",
    )


def dose_steps(step: DoseStep) -> Wording:
    direction = "up" if step.to_mg > step.from_mg else "down"
    return (
        f"The prescription steps the dose {direction} on {_day(step.starts_on)}, from "
        f"{_mg(step.from_mg)} mg to {_mg(step.to_mg)} mg a day — measure the new amount for "
        "that day and tell the patient.",
        "Stepped instalment direction (the prescription)",
    )


def prescription_ending(days_left: int, end_on: date) -> Wording:
    ends = {0: "today", 1: "tomorrow"}.get(days_left, f"on {_day(end_on)}")
    return (
        f"The prescription ends {ends} and no new one has been received — tell the "
        "patient and contact the prescriber so treatment is not interrupted.",
        "Continuity of treatment (local policy)",
    )


def high_dose(highest: Decimal, high_dose_mg: Decimal) -> Wording:
    return (
        f"{_mg(highest)} mg a day is above {_mg(high_dose_mg)} mg — QT monitoring "
        "is advised; check the prescriber is aware.",
        "MHRA Current Problems 2006;31: monitor above 100 mg/day",
    )


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
