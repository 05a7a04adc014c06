"""Schedule generation: the prescriber's instalment direction turned into one dose per date,
on the pharmacy's calendar, naming every dose that cannot be scheduled (closed days, doses
before the first collection day). Pure; used at intake and again whenever a closure changes.
How the direction becomes a schedule, and the choices made where the rules are silent, are
set out in app/prescriptions/rules.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

from app.prescriptions.dose_plan import dose_on
from app.prescriptions.intake_blocks import missing_fields, schedule_input_problems
from app.prescriptions.intake_terms import (
    CLOSED_DAY_WORDING,
    SOURCE_DIRECTION,
    SOURCE_HO_CLOSED_DAY,
    Calendar,
    Code,
    Finding,
    Mode,
    PrescriptionDraft,
    ScheduledDose,
    Wording,
    dates_between,
    list_dates,
    weekday_names,
)


def generate_schedule(
    draft: PrescriptionDraft, calendar: Calendar
) -> tuple[tuple[ScheduledDose, ...], tuple[Finding, ...]]:
    """Turn the instalment direction into one dose per date, and name what cannot be scheduled.

    Returns the schedule in date order and the problems: `closed_day_needs_amended_prescription`
    and `dose_before_first_collection` name the doses left out (in `Finding.dates`). If the
    inputs themselves are missing or invalid, returns no schedule and those findings instead.
    Used by intake and again whenever a closure is added.
    """
    inputs = [f for f in missing_fields(draft) if f.field in SCHEDULE_FIELDS]
    inputs += schedule_input_problems(draft, max_dose_mg=None)
    if inputs:
        return (), tuple(inputs)
    schedule, problems = build_schedule(draft, calendar)
    return schedule, tuple(problems)


# --- schedule -------------------------------------------------------------------------------

SCHEDULE_FIELDS = frozenset(
    {"daily_dose_mg", "start_on", "end_on", "collection_days", "supervised_days"}
)


def build_schedule(
    draft: PrescriptionDraft, calendar: Calendar
) -> tuple[tuple[ScheduledDose, ...], list[Finding]]:
    """Build the schedule from a draft whose schedule inputs have been checked."""
    start, end, dose_mg, wording = draft.start_on, draft.end_on, draft.daily_dose_mg, draft.wording
    if start is None or end is None or dose_mg is None:  # the callers check first
        raise ValueError("the schedule needs a start date, an end date and a daily dose")
    supervised = draft.supervised_days
    if wording.supervise_on_collection:
        supervised = supervised | draft.collection_days

    # Group dose dates into instalments, keyed by the day the direction makes them due.
    before_first: list[date] = []
    instalments: dict[date, list[date]] = {}
    due: date | None = None
    for day in dates_between(start, end):
        if day.weekday() in draft.collection_days:
            due = day
        if due is None:
            before_first.append(day)
        else:
            instalments.setdefault(due, []).append(day)

    schedule: list[ScheduledDose] = []
    stranded: dict[date, list[date]] = {}
    for due_on, dose_dates in instalments.items():
        collect_on: date | None = due_on
        if not calendar.is_open(due_on):
            collect_on = (
                _prior_open_day(due_on, start, draft.written_on, calendar)
                if wording.closed_day_prior
                else None
            )
        if collect_on is None:
            stranded[due_on] = dose_dates
            continue
        for dose_date in dose_dates:
            # Supervised only when consumed at the counter on its own date; a dose collected
            # earlier goes home, whatever the supervised days say.
            on_the_day = dose_date == collect_on and dose_date.weekday() in supervised
            mode: Mode = "supervised" if on_the_day else "take_home"
            # A stepped direction changes the dose by date; a split one divides it in parts.
            day_mg, parts = (
                dose_on(draft, dose_date) if draft.steps else (dose_mg, draft.dose_parts)
            )
            schedule.append(ScheduledDose(dose_date, collect_on, mode, day_mg, parts))

    problems: list[Finding] = []
    if before_first:
        problems.append(_before_first_collection(before_first, draft.collection_days))
    if stranded:
        problems.append(_closed_day(stranded, wording))
    return tuple(schedule), problems


def _prior_open_day(
    due_on: date, start: date, written_on: date | None, calendar: Calendar
) -> date | None:
    """The latest open day before `due_on` on which the instalment may lawfully be supplied.

    Not before the start date, except that when the start date itself is closed a prescription
    written earlier may be supplied on an open day from its written date (Numark 2023): the
    search reaching back past the start means every day from the start to `due_on` is closed.
    """
    earliest = start if written_on is None else min(start, written_on)
    day = due_on
    for _ in range(366):  # a pharmacy shut for a year has no "prior suitable day"
        if day <= earliest:
            return None
        day -= timedelta(days=1)
        if calendar.is_open(day):
            return day
    return None


def _closed_day(stranded: Mapping[date, list[date]], wording: Wording) -> Finding:
    closed = list_dates(stranded)
    doses = [dose for dose_dates in stranded.values() for dose in dose_dates]
    covering = "" if list(stranded) == doses else f" (doses for {list_dates(doses)})"
    if wording.closed_day_prior:
        reason = (
            "the pharmacy is closed every day from the start of the prescription (or the date it "
            "was written) until then, so there is no earlier day on which it may lawfully be "
            "supplied"
        )
    else:
        reason = (
            "the prescription does not carry the Home Office wording that allows supply on a "
            f'prior day ("{CLOSED_DAY_WORDING}")'
        )
    return Finding(
        code=Code.CLOSED_DAY_NEEDS_AMENDED_PRESCRIPTION,
        message=(
            f"The pharmacy is closed on {closed}, when "
            f"{'instalments are' if len(stranded) > 1 else 'an instalment is'} due{covering}, and "
            f"{reason}. An instalment can never be supplied late. Ask the prescriber to amend "
            "the prescription before then."
        ),
        field="wording",
        source=SOURCE_HO_CLOSED_DAY,
        dates=tuple(doses),
    )


def _before_first_collection(doses: list[date], collection_days: frozenset[int]) -> Finding:
    return Finding(
        code=Code.DOSE_BEFORE_FIRST_COLLECTION,
        message=(
            f"{'The doses for' if len(doses) > 1 else 'The dose for'} {list_dates(doses)} "
            f"{'fall' if len(doses) > 1 else 'falls'} before the first collection day "
            f"({weekday_names(collection_days)}), so {'they' if len(doses) > 1 else 'it'} "
            "would have to be supplied before the start date, which the law does not allow. "
            "Ask the prescriber to start the "
            "prescription on a collection day or to amend the collection days."
        ),
        field="start_on",
        source=SOURCE_DIRECTION,
        dates=tuple(doses),
    )
