"""The injection rules alone (pure): when the next dose is due, when it is overdue, which
doses are refused."""

from __future__ import annotations

from datetime import date, timedelta

from app.injections import rules
from app.injections.products import PRODUCTS, InjectionProduct

MONDAY = date(2026, 11, 30)
WEEKLY = PRODUCTS["buvidal-weekly"]
MONTHLY = PRODUCTS["buvidal-monthly"]


def course(
    last: date | None = MONDAY, stopped: date | None = None, product: InjectionProduct = WEEKLY
) -> rules.CourseFacts:
    return rules.CourseFacts(
        "c1", product, product.strengths_mg[1], product.interval_days, MONDAY, stopped, last
    )


def test_the_tolerance_is_the_setting_never_beyond_the_licence_window() -> None:
    assert rules.tolerance_days(WEEKLY, weekly=2, monthly=7) == 2
    assert rules.tolerance_days(WEEKLY, weekly=9, monthly=7) == 2
    assert rules.tolerance_days(MONTHLY, weekly=2, monthly=3) == 3
    assert rules.tolerance_days(MONTHLY, weekly=2, monthly=30) == 7


def test_a_weekly_dose_is_due_a_week_on_and_overdue_after_its_window() -> None:
    states = {
        offset: rules.status(course(), today=MONDAY + timedelta(days=offset), tolerance=2).state
        for offset in range(0, 12)
    }
    assert [states[o] for o in range(0, 5)] == [rules.State.SCHEDULED] * 5
    assert [states[o] for o in range(5, 10)] == [rules.State.DUE] * 5
    assert [states[o] for o in range(10, 12)] == [rules.State.OVERDUE] * 2
    late = rules.status(course(), today=MONDAY + timedelta(days=10), tolerance=2)
    assert late.next_due == date(2026, 12, 7)
    assert late.days_overdue == 3
    assert late.words.startswith("Overdue: the next dose was due Mon 7 Dec 2026")
    tomorrow = rules.status(course(), today=MONDAY + timedelta(days=6), tolerance=2)
    assert tomorrow.words == "The next dose is due tomorrow; it may be given from today."


def test_a_first_dose_is_due_on_the_first_day_and_a_stopped_course_never() -> None:
    first = rules.status(course(last=None), today=MONDAY + timedelta(days=3), tolerance=2)
    assert (first.state, first.first_dose) == (rules.State.OVERDUE, True)
    stopped = rules.status(course(stopped=MONDAY), today=MONDAY + timedelta(days=30), tolerance=2)
    assert stopped.state == rules.State.STOPPED
    assert stopped.next_due is None


def test_a_dose_here_too_soon_after_the_last_is_refused() -> None:
    too_soon = rules.check_administration(
        course(),
        given_on=MONDAY + timedelta(days=4),
        dose_mg=16,
        here=True,
        today=MONDAY + timedelta(days=4),
    )
    assert too_soon is not None
    assert too_soon.rule == "too_early"
    assert (
        rules.check_administration(
            course(),
            given_on=MONDAY + timedelta(days=5),
            dose_mg=16,
            here=True,
            today=MONDAY + timedelta(days=5),
        )
        is None
    )
    told = rules.check_administration(
        course(),
        given_on=MONDAY + timedelta(days=4),
        dose_mg=16,
        here=False,
        today=MONDAY + timedelta(days=4),
    )
    assert told is None


def test_the_overdue_key_names_the_course_and_the_due_date() -> None:
    assert rules.overdue_key("c1", date(2026, 12, 7)) == "injection:c1:2026-12-07"
