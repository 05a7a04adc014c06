"""When a long-acting buprenorphine injection is next due, whether it is overdue, and whether a
dose may be recorded: pure (STYLE B3), facts in, a status with its words out.

- The first dose is due on the day the course starts; each next one an interval after the last
  dose given (wherever it was given).
- A dose may be given from `window_days` before its due date (the licence's window); one given
  here earlier than that is refused (`too_early`): two doses too close together. A dose given
  elsewhere is a fact to record whenever it was given.
- It is overdue from the day after `due + tolerance`, the tolerance being the setting for the
  presentation, never more than the licence's window (`tolerance_days`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from app.injections.products import InjectionProduct, Presentation

__all__ = [
    "CourseFacts",
    "State",
    "Status",
    "check_administration",
    "day_words",
    "overdue_key",
    "status",
    "tolerance_days",
]


class State(StrEnum):
    STOPPED = "stopped"
    SCHEDULED = "scheduled"  # not yet in its window
    DUE = "due"  # within its window, not yet past due + tolerance
    OVERDUE = "overdue"


@dataclass(frozen=True, slots=True)
class CourseFacts:
    course_id: str
    product: InjectionProduct
    dose_mg: int
    interval_days: int
    started_on: date
    stopped_on: date | None
    last_given_on: date | None


@dataclass(frozen=True, slots=True)
class Status:
    state: State
    next_due: date | None  # None once stopped
    window_opens: date | None  # the earliest day the next dose may be given
    overdue_from: date | None  # the first day the next dose counts as overdue
    days_overdue: int
    first_dose: bool  # the next dose is the course's first
    words: str


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def day_words(value: date) -> str:
    """ "Mon 7 Dec 2026", whatever the locale."""
    return f"{_WEEKDAYS[value.weekday()]} {value.day} {_MONTHS[value.month - 1]} {value.year}"


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


def tolerance_days(product: InjectionProduct, *, weekly: int, monthly: int) -> int:
    """Days past the due date before the dose is overdue: the setting for the presentation,
    never beyond the licence's window."""
    setting = weekly if product.presentation == Presentation.WEEKLY else monthly
    return max(0, min(setting, product.window_days))


def next_due(course: CourseFacts) -> date:
    if course.last_given_on is None:
        return course.started_on
    return course.last_given_on + timedelta(days=course.interval_days)


def overdue_key(course_id: str, due: date) -> str:
    """The one overdue dose a close of day may alert about (its alert's dedupe record)."""
    return f"injection:{course_id}:{due.isoformat()}"


def status(course: CourseFacts, *, today: date, tolerance: int) -> Status:
    """The course on `today`: stopped, scheduled, due (in its window) or overdue, in words."""
    if course.stopped_on is not None and course.stopped_on <= today:
        return Status(
            State.STOPPED,
            None,
            None,
            None,
            0,
            False,
            f"Stopped on {day_words(course.stopped_on)}: no further dose is due.",
        )
    due = next_due(course)
    first = course.last_given_on is None
    opens = due if first else due - timedelta(days=course.product.window_days)
    last_day = due + timedelta(days=tolerance)
    overdue_from = last_day + timedelta(days=1)
    what = "The first dose" if first else "The next dose"
    if today >= overdue_from:
        late = (today - due).days
        return Status(
            State.OVERDUE,
            due,
            opens,
            overdue_from,
            late,
            first,
            f"Overdue: {what.lower()} was due {day_words(due)} and was not given by the end "
            f"of its window ({day_words(last_day)}); {_days(late)} past due. Contact the "
            "patient today (the prescriber and key worker are alerted at close of day).",
        )
    if today >= opens:
        if today < due:
            when = "tomorrow" if due - today == timedelta(days=1) else f"on {day_words(due)}"
            words = f"{what} is due {when}; it may be given from today."
        elif today == due:
            words = f"{what} is due today."
        else:
            words = (
                f"{what} was due {day_words(due)}; it may still be given until "
                f"{day_words(last_day)}, when it becomes overdue."
            )
        return Status(State.DUE, due, opens, overdue_from, 0, first, words)
    when = "tomorrow" if due - today == timedelta(days=1) else day_words(due)
    return Status(
        State.SCHEDULED,
        due,
        opens,
        overdue_from,
        0,
        first,
        f"{what} is due {when}"
        + ("" if opens == due else f" (it may be given from {day_words(opens)})")
        + ".",
    )


@dataclass(frozen=True, slots=True)
class Finding:
    field: str
    rule: str
    message: str


def check_administration(
    course: CourseFacts, *, given_on: date, dose_mg: int, here: bool, today: date
) -> Finding | None:
    """Why this dose cannot be recorded against the course, or None.

    Refused: a date in the future or before the course began, after it stopped, a dose that is
    not the course's (a new dose is a new course), and a dose given here before its window
    opens (two doses too close together)."""
    if given_on > today:
        return Finding("given_at", "not_in_future", "must not be in the future")
    if given_on < course.started_on:
        return Finding(
            "given_at",
            "within_course",
            f"must be on or after the day the course started ({day_words(course.started_on)})",
        )
    if course.stopped_on is not None and given_on >= course.stopped_on:
        return Finding(
            "given_at",
            "within_course",
            f"must be before the course was stopped ({day_words(course.stopped_on)}); "
            "start a new course for a new dose",
        )
    if dose_mg != course.dose_mg:
        return Finding(
            "dose_mg",
            "matches_course",
            f"must be the course's dose ({course.dose_mg} mg); for a new dose the prescriber "
            "starts a new course",
        )
    if here and course.last_given_on is not None:
        opens = next_due(course) - timedelta(days=course.product.window_days)
        if given_on < opens and given_on >= course.last_given_on:
            return Finding(
                "given_at",
                "too_early",
                f"is too soon after the last dose ({day_words(course.last_given_on)}): the "
                f"next may be given from {day_words(opens)}",
            )
    return None
