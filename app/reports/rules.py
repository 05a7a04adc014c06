"""Report arithmetic, pure: the chronology's order and the figures computed from it.

No database, clock or I/O (STYLE B3); the service gathers rows and passes values in.

Choices made where the guidance is silent (each is pinned by a test):

- The chronology is ordered by the day an event concerns (a dose's date, a collection's day),
  then by the instant it was recorded. A missed day sits on its own date even when the day was
  closed late, so the conference reads the days in the order the family lived them.
- Each underlying record is one event: a dose day, a collection (all the days it covered), a
  withheld day, a box confirmation, an alert. Children seen at the counter are one event per
  visit, not per dose row.
- "Attended" means the dose reached the patient: swallowed under supervision, or a take-home day
  covered by a collection. Attendance is over the days with a recorded outcome (due days are
  not yet an outcome).
- The longest gap is the longest run of consecutive calendar days with a dose scheduled but not
  received (missed, withheld or not dispensed): the stretch in which tolerance is lost.
- A take-home collection belongs to the period when it was handed over in the period, and all
  the days it covered count in its mg, even those after the period ends: that is what went home.
- The trend compares attendance in the first and second half of the decided days: ten points or
  more either way is "improving" or "worsening", less is "stable", and fewer than four days is
  "too few days" rather than a trend.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

__all__ = [
    "ADHERENCE_DEFINITIONS",
    "AdherenceSummary",
    "LedgerDay",
    "Event",
    "EventKind",
    "HouseholdAnalysis",
    "PatientAnalysis",
    "analyse_household",
    "analyse_patient",
    "chronology",
    "month_key",
    "months_between",
    "percent",
    "percentile",
    "summarise_adherence",
]

TREND_POINTS = Decimal(10)
TREND_MIN_DAYS = 4


class EventKind(StrEnum):
    """Stable chronology kinds; the order here breaks ties between events of the same instant."""

    BOX_CONFIRMED = "box_confirmed"
    STORAGE_ADVICE = "storage_advice"  # safe-storage advice given in the household
    NALOXONE_SUPPLIED = "naloxone_supplied"  # take-home naloxone supplied to the household
    CHILD_SEEN = "child_seen"
    SUPERVISED = "supervised"
    TAKE_HOME_COLLECTED = "take_home_collected"
    INTOXICATED = "intoxicated"  # the dose was withheld because the patient was intoxicated
    WITHHELD = "withheld"  # withheld for another stated reason
    REASSESSED = "reassessed"  # a withheld patient reassessed fit the same day
    MISSED = "missed"
    NOT_DISPENSED = "not_dispensed"  # a day before the prescription reached the pharmacy
    REFUSED = "refused"  # the patient came and the handover was refused
    DOSE_EXCEPTION = "dose_exception"  # vomited, spilt, lost, stolen, damaged or returned
    REPLACEMENT = "replacement"  # a prescriber-authorised replacement of an exception's dose
    INJECTION_GIVEN = "injection_given"  # a long-acting buprenorphine injection given
    RELEASED = "released"  # the prescriber's review after days without a dose
    DOSE_CHANGED = "dose_changed"  # a new prescription at a different daily dose
    CHANGED = "changed"  # a change to the household, a child or a member's details
    CONCERN = "concern"  # what a person saw or was told, who else was told, what was done
    ALERT = "alert"


KIND_ORDER = {kind: index for index, kind in enumerate(EventKind)}
DetailValue = str | int | bool | None


@dataclass(frozen=True, slots=True)
class Event:
    day: date  # the pharmacy-local date the event concerns
    at: datetime  # when it was recorded (UTC)
    kind: EventKind
    source: str  # the record it comes from, e.g. "dose:<id>", "handover:<id>"
    patient_ref: str | None
    summary: str  # plain and factual
    dose_dates: tuple[date, ...] = ()
    dose_mg: Decimal | None = None
    details: Mapping[str, DetailValue] = field(default_factory=dict, hash=False)


def _sort_key(event: Event) -> tuple[date, datetime, int, str]:
    return (event.day, event.at, KIND_ORDER[event.kind], event.source)


def chronology(events: Iterable[Event]) -> tuple[Event, ...]:
    """Every event once (by kind and source record), in time order."""
    unique: dict[tuple[EventKind, str], Event] = {}
    for event in events:
        unique.setdefault((event.kind, event.source), event)
    return tuple(sorted(unique.values(), key=_sort_key))


def percent(part: int, whole: int) -> Decimal | None:
    if whole == 0:
        return None
    return (Decimal(100 * part) / whole).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class PatientAnalysis:
    patient_ref: str
    decided_days: int
    attended_days: int
    missed_days: int
    withheld_days: int
    attendance_percent: Decimal | None
    not_dispensed_days: int
    longest_gap_days: int
    trend: str
    first_half_percent: Decimal | None
    second_half_percent: Decimal | None


def _outcomes(events: Iterable[Event]) -> dict[date, str]:
    """Dose date -> attended | missed | withheld, from the chronology's dose events."""
    outcome: dict[date, str] = {}
    for event in events:
        if event.kind == EventKind.SUPERVISED:
            outcome[event.day] = "attended"
        elif event.kind == EventKind.TAKE_HOME_COLLECTED:
            for day in event.dose_dates:
                outcome[day] = "attended"
        elif event.kind == EventKind.MISSED:
            outcome[event.day] = "missed"
        elif event.kind == EventKind.NOT_DISPENSED:
            outcome[event.day] = "not dispensed"
        elif event.kind in (EventKind.WITHHELD, EventKind.INTOXICATED):
            outcome[event.day] = "withheld"
    return outcome


def _longest_gap(outcome: Mapping[date, str]) -> int:
    longest = run = 0
    previous: date | None = None
    for day in sorted(outcome):
        if outcome[day] == "attended":
            run = 0
        elif previous is not None and day == previous + timedelta(days=1) and run:
            run += 1
        else:
            run = 1
        longest = max(longest, run)
        previous = day
    return longest


def _trend(outcome: Mapping[date, str]) -> tuple[str, Decimal | None, Decimal | None]:
    days = sorted(outcome)
    if len(days) < TREND_MIN_DAYS:
        return "too few days", None, None
    half = len(days) // 2
    first = percent(sum(outcome[d] == "attended" for d in days[:half]), half)
    second = percent(sum(outcome[d] == "attended" for d in days[half:]), len(days) - half)
    assert first is not None
    assert second is not None
    if second - first >= TREND_POINTS:
        return "improving", first, second
    if first - second >= TREND_POINTS:
        return "worsening", first, second
    return "stable", first, second


def analyse_patient(patient_ref: str, events: Iterable[Event]) -> PatientAnalysis:
    """Attendance, the longest gap and the trend for one patient, from their events."""
    outcome = _outcomes(e for e in events if e.patient_ref == patient_ref)
    attended = sum(1 for v in outcome.values() if v == "attended")
    trend, first, second = _trend(outcome)
    return PatientAnalysis(
        patient_ref=patient_ref,
        decided_days=len(outcome),
        attended_days=attended,
        missed_days=sum(1 for v in outcome.values() if v == "missed"),
        withheld_days=sum(1 for v in outcome.values() if v == "withheld"),
        attendance_percent=percent(attended, len(outcome)),
        not_dispensed_days=sum(1 for v in outcome.values() if v == "not dispensed"),
        longest_gap_days=_longest_gap(outcome),
        trend=trend,
        first_half_percent=first,
        second_half_percent=second,
    )


@dataclass(frozen=True, slots=True)
class HouseholdAnalysis:
    patients: tuple[PatientAnalysis, ...]
    attendance_percent: Decimal | None
    longest_gap_days: int
    trend: str
    intoxicated_events: int
    child_seen_events: int
    take_home_collections: int
    take_home_mg: Decimal
    box_confirmations: int
    alerts_raised: int
    alerts_acknowledged: int
    median_minutes_to_acknowledge: Decimal | None
    statements: tuple[str, ...]


def _count(events: Sequence[Event], kind: EventKind) -> int:
    return sum(1 for e in events if e.kind == kind)


def analyse_household(events: Sequence[Event], patient_refs: Sequence[str]) -> HouseholdAnalysis:
    """The figures a conference needs, computed from the chronology and nothing else."""
    patients = tuple(analyse_patient(ref, events) for ref in patient_refs)
    decided = sum(p.decided_days for p in patients)
    attended = sum(p.attended_days for p in patients)
    trends = {p.trend for p in patients if p.trend != "too few days"}
    trend = (
        "worsening"
        if "worsening" in trends
        else "improving"
        if trends == {"improving"}
        else "stable"
        if trends
        else "too few days"
    )
    take_homes = [e for e in events if e.kind == EventKind.TAKE_HOME_COLLECTED]
    take_home_mg = sum((e.dose_mg or Decimal(0) for e in take_homes), Decimal(0))
    alerts = [e for e in events if e.kind == EventKind.ALERT]
    waits = [
        int(e.details["minutes_to_acknowledge"])  # type: ignore[arg-type]
        for e in alerts
        if e.details.get("minutes_to_acknowledge") is not None
    ]
    analysis = HouseholdAnalysis(
        patients=patients,
        attendance_percent=percent(attended, decided),
        longest_gap_days=max((p.longest_gap_days for p in patients), default=0),
        trend=trend,
        intoxicated_events=_count(events, EventKind.INTOXICATED),
        child_seen_events=_count(events, EventKind.CHILD_SEEN),
        take_home_collections=len(take_homes),
        take_home_mg=take_home_mg,
        box_confirmations=_count(events, EventKind.BOX_CONFIRMED),
        alerts_raised=len(alerts),
        alerts_acknowledged=len(waits),
        median_minutes_to_acknowledge=percentile(waits, 50),
        statements=(),
    )
    return _with_statements(analysis, decided)


def _with_statements(a: HouseholdAnalysis, decided: int) -> HouseholdAnalysis:
    """Short factual sentences for the printed report: figures, never opinion."""
    lines = []
    if a.attendance_percent is not None:
        lines.append(
            f"Doses reached the patients on {a.attendance_percent}% of {decided} dose days "
            f"with a recorded outcome."
        )
    if a.longest_gap_days:
        lines.append(
            f"The longest run of consecutive dose days without a dose was {a.longest_gap_days} "
            f"day{'s' if a.longest_gap_days != 1 else ''}."
        )
    lines.append(f"Attendance trend over the period: {a.trend}.")
    if a.intoxicated_events:
        lines.append(f"A dose was withheld for intoxication {a.intoxicated_events} time(s).")
    if a.child_seen_events:
        lines.append(f"Children were seen at the counter on {a.child_seen_events} visit(s).")
    if a.take_home_collections:
        lines.append(
            f"{a.take_home_collections} take-home collection(s), {_mg(a.take_home_mg)} mg in all."
        )
    lines.append(f"Lockable-box confirmations recorded: {a.box_confirmations}.")
    lines.append(
        f"Alerts raised: {a.alerts_raised}; acknowledged: {a.alerts_acknowledged}"
        + (
            f" (median {a.median_minutes_to_acknowledge} minutes)."
            if a.median_minutes_to_acknowledge is not None
            else "."
        )
    )
    return replace(a, statements=tuple(lines))


def _mg(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


# --- adherence (caseload) ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LedgerDay:
    """One row of the dose ledger, as the adherence figures read it."""

    dose_date: date
    state: str  # due | supervised | collected | missed | withheld | not_dispensed
    visit_on: date | None = None  # the local day it was handed over (a visit), if it was
    handover: str | None = None  # the handover (one visit) it was part of


# What each adherence figure counts, shown beside the figures (API and pages).
ADHERENCE_DEFINITIONS: Mapping[str, str] = {
    "supervised": "dose days swallowed at the pharmacy under supervision",
    "collected": "dose days handed over to take home (a collection may cover several days)",
    "take_home_collections": "take-home handovers (visits), each covering one or more days",
    "missed": "dose days not collected (marked missed at the end of the day)",
    "withheld": "dose days withheld by the pharmacist (intoxicated or another reason)",
    "not_dispensed": "dose days that passed before the prescription reached the pharmacy",
    "due": "dose days still to come",
    "attended_percent": "dose days taken (supervised or collected) out of dose days decided",
    "longest_missed_streak": "longest run of consecutive days on which no dose was taken "
    "(missed, withheld, not dispensed, or no prescription), within the period",
    "current_missed_streak": "days without a dose taken at the end of the period",
    "last_attended": "the last day the patient came to the pharmacy and received a dose",
}

_TAKEN = frozenset({"supervised", "collected"})


@dataclass(frozen=True, slots=True)
class AdherenceSummary:
    supervised: int
    collected: int
    take_home_collections: int
    missed: int
    withheld: int
    not_dispensed: int
    due: int
    attended_percent: Decimal | None
    longest_missed_streak: int  # days without a dose taken, whatever the reason
    current_missed_streak: int
    last_attended: date | None  # a visit date, not a dose date


def summarise_adherence(days: Sequence[LedgerDay | tuple[date, str]]) -> AdherenceSummary:
    """Counts and runs from the ledger rows of a period (see ADHERENCE_DEFINITIONS).

    A run without a dose counts calendar days, not rows: from the first dose day of the period
    to the last decided one, any day with no dose taken (missed, withheld, not dispensed, or no
    dose scheduled at all) extends the run, exactly as the counter counts toward its block.
    """
    ledger = [d if isinstance(d, LedgerDay) else LedgerDay(d[0], d[1]) for d in days]
    counts = {
        "supervised": 0,
        "collected": 0,
        "missed": 0,
        "withheld": 0,
        "not_dispensed": 0,
        "due": 0,
    }
    taken_days: set[date] = set()
    decided: list[date] = []
    for row in ledger:
        counts[row.state] = counts.get(row.state, 0) + 1
        if row.state != "due":
            decided.append(row.dose_date)
        if row.state in _TAKEN:
            taken_days.add(row.dose_date)
    longest = run = 0
    if decided:
        day = min(row.dose_date for row in ledger)
        while day <= max(decided):
            run = 0 if day in taken_days else run + 1
            longest = max(longest, run)
            day += timedelta(days=1)
    visits = [d.visit_on or d.dose_date for d in ledger if d.state in _TAKEN]
    collections = {d.handover or f"{d.dose_date}" for d in ledger if d.state == "collected"}
    attended = counts["supervised"] + counts["collected"]
    decided_count = attended + counts["missed"] + counts["withheld"] + counts["not_dispensed"]
    return AdherenceSummary(
        supervised=counts["supervised"],
        collected=counts["collected"],
        take_home_collections=len(collections),
        missed=counts["missed"],
        withheld=counts["withheld"],
        not_dispensed=counts["not_dispensed"],
        due=counts["due"],
        attended_percent=percent(attended, decided_count),
        longest_missed_streak=longest,
        current_missed_streak=run,
        last_attended=max(visits) if visits else None,
    )


# --- commissioner ------------------------------------------------------------------------


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def months_between(start: date, end: date) -> list[str]:
    """Every calendar month touched by the period, in order."""
    months = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def percentile(values: Sequence[int | Decimal], p: int) -> Decimal | None:
    """Nearest-rank percentile (p in 1..100); None for no values."""
    if not values:
        return None
    ordered = sorted(Decimal(v) for v in values)
    rank = max(1, -(-p * len(ordered) // 100))  # ceil(p/100 * n)
    return ordered[rank - 1]
