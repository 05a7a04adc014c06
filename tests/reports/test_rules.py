"""Report arithmetic, pure: order, exactly-once, attendance, the longest gap, the trend."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from app.reports.rules import (
    Event,
    EventKind,
    analyse_household,
    analyse_patient,
    chronology,
    months_between,
    percentile,
    summarise_adherence,
)

DAY = date(2026, 11, 30)


def event(offset: int, kind: EventKind, source: str, hour: int = 10, **kw: object) -> Event:
    day = DAY + timedelta(days=offset)
    at = datetime(day.year, day.month, day.day, hour, tzinfo=UTC)
    return Event(day, at, kind, source, kw.pop("patient", "p"), "text", **kw)  # type: ignore[arg-type]


def test_the_chronology_has_each_record_once_in_day_then_time_order() -> None:
    late_close = event(0, EventKind.MISSED, "dose:1", hour=23)
    early = event(1, EventKind.SUPERVISED, "dose:2", hour=9)
    duplicate = event(1, EventKind.SUPERVISED, "dose:2", hour=9)
    alert = event(0, EventKind.ALERT, "alert:1", hour=19)
    ordered = chronology([early, late_close, duplicate, alert])
    assert [e.source for e in ordered] == ["alert:1", "dose:1", "dose:2"]


def test_a_missed_day_closed_late_stays_on_its_own_date() -> None:
    missed = Event(
        DAY, datetime(2026, 12, 2, 8, tzinfo=UTC), EventKind.MISSED, "dose:1", "p", "late sweep"
    )
    next_day = event(1, EventKind.SUPERVISED, "dose:2")
    assert chronology([next_day, missed]) == (missed, next_day)


def test_attendance_gap_and_trend_come_from_the_events() -> None:
    events = [
        event(0, EventKind.MISSED, "d0"),
        event(1, EventKind.MISSED, "d1"),
        event(2, EventKind.INTOXICATED, "d2"),
        event(3, EventKind.SUPERVISED, "d3"),
        event(4, EventKind.SUPERVISED, "d4"),
        event(
            5,
            EventKind.TAKE_HOME_COLLECTED,
            "h5",
            dose_dates=(DAY + timedelta(days=5), DAY + timedelta(days=6)),
            dose_mg=Decimal(120),
        ),
    ]
    analysis = analyse_patient("p", events)
    assert (analysis.decided_days, analysis.attended_days) == (7, 4)
    assert (analysis.missed_days, analysis.withheld_days) == (2, 1)
    assert analysis.attendance_percent == Decimal("57.1")
    assert analysis.longest_gap_days == 3
    assert (analysis.trend, analysis.first_half_percent, analysis.second_half_percent) == (
        "improving",
        Decimal("0.0"),
        Decimal("100.0"),
    )


def test_a_gap_between_prescriptions_ends_a_run() -> None:
    events = [event(0, EventKind.MISSED, "a"), event(2, EventKind.MISSED, "b")]
    assert analyse_patient("p", events).longest_gap_days == 1


def test_too_few_days_is_not_a_trend() -> None:
    assert analyse_patient("p", [event(0, EventKind.SUPERVISED, "a")]).trend == "too few days"


def test_the_household_analysis_states_facts() -> None:
    events = [
        event(0, EventKind.SUPERVISED, "a", patient="p1"),
        event(0, EventKind.MISSED, "b", patient="p2"),
        event(0, EventKind.CHILD_SEEN, "c", patient="p1"),
        event(0, EventKind.ALERT, "x", patient=None, details={"minutes_to_acknowledge": 30}),
        event(0, EventKind.ALERT, "y", patient=None, details={"minutes_to_acknowledge": None}),
    ]
    analysis = analyse_household(chronology(events), ["p1", "p2"])
    assert analysis.attendance_percent == Decimal("50.0")
    assert (analysis.alerts_raised, analysis.alerts_acknowledged) == (2, 1)
    assert analysis.median_minutes_to_acknowledge == Decimal(30)
    assert analysis.child_seen_events == 1
    assert "Doses reached the patients on 50.0% of 2 dose days" in analysis.statements[0]


def test_adherence_summary_counts_streaks_up_to_the_last_decided_day() -> None:
    days = [
        (DAY, "supervised"),
        (DAY + timedelta(days=1), "missed"),
        (DAY + timedelta(days=2), "missed"),
        (DAY + timedelta(days=3), "collected"),
        (DAY + timedelta(days=4), "missed"),
        (DAY + timedelta(days=5), "due"),
    ]
    summary = summarise_adherence(days)
    assert (summary.supervised, summary.collected, summary.missed, summary.due) == (1, 1, 3, 1)
    assert (summary.longest_missed_streak, summary.current_missed_streak) == (2, 1)
    assert summary.last_attended == DAY + timedelta(days=3)
    assert summary.attended_percent == Decimal("40.0")


def test_months_and_percentiles() -> None:
    assert months_between(date(2026, 11, 28), date(2027, 1, 2)) == [
        "2026-11",
        "2026-12",
        "2027-01",
    ]
    assert percentile([], 50) is None
    assert percentile([5, 1, 3, 2, 4], 50) == Decimal(3)
    assert percentile([5, 1, 3, 2, 4], 90) == Decimal(5)
