"""Dose dates are the pharmacy's local calendar dates (Europe/London), not UTC dates
(DESIGN §2): across the clock changes, and around midnight in summer, when 23:30 UTC is
already tomorrow at the counter."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from app.clock import FixedClock, local_date
from tests.builders import (
    API,
    check,
    codes,
    handover,
    household_at,
    prescribe,
    seven_day_branch,
    sign_in_again,
    supervised_daily,
    twice_weekly_take_home,
)
from tests.factories import Branch, World


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def counter_at(world: World, clock: FixedClock, when: datetime) -> Branch:
    """A pharmacy open every day, with staff signed in at `when`."""
    clock.set(when)
    branch = seven_day_branch(world)
    sign_in_again(world, branch, when)
    return branch


def supervised_patient(world: World, branch: Branch, start: date, written: date) -> dict[str, Any]:
    patient = world.patient(branch=branch)
    prescribe(
        world,
        patient["id"],
        branch,
        written_on=written.isoformat(),
        **supervised_daily(60, start=start, days=10),
    )
    return patient


def hand_over(world: World, branch: Branch, body: dict[str, Any]) -> Any:
    return world.post(f"{API}/counter/handover", body, branch=branch)


def test_the_suite_knows_when_the_clocks_change() -> None:
    # Spring forward: 01:00 UTC on Sunday 28 March 2027; fall back: 01:00 UTC on 25 Oct 2026.
    assert local_date(utc(2027, 3, 28, 0, 59), "Europe/London") == date(2027, 3, 28)
    assert local_date(utc(2027, 3, 28, 23, 0), "Europe/London") == date(2027, 3, 29)
    assert local_date(utc(2026, 10, 24, 23, 0), "Europe/London") == date(2026, 10, 25)
    assert local_date(utc(2026, 10, 25, 23, 59), "Europe/London") == date(2026, 10, 25)


@pytest.mark.hazard("H-11.1")
def test_after_the_clocks_go_forward_half_past_midnight_is_the_new_day(
    world: World,
    clock: FixedClock,
) -> None:
    sunday, monday = date(2027, 3, 28), date(2027, 3, 29)
    branch = counter_at(world, clock, utc(2027, 3, 24, 10))
    patient = supervised_patient(world, branch, start=date(2027, 3, 26), written=date(2027, 3, 24))

    clock.set(utc(2027, 3, 28, 0, 30))  # 00:30 GMT on Sunday, before the change
    sunday_dose = hand_over(world, branch, handover(patient["id"], sunday))
    assert sunday_dose.status_code == 201, sunday_dose.text
    assert [d["dose_date"] for d in sunday_dose.json()["doses"]] == [sunday.isoformat()]

    clock.set(utc(2027, 3, 28, 22, 59))  # 23:59 BST: still Sunday at the counter
    late = check(world, patient["id"], branch)
    assert late["dose_dates"] == [sunday.isoformat()]
    assert codes(late["blocks"]) == ["already_recorded"]

    clock.set(utc(2027, 3, 28, 23, 30))  # 00:30 BST on Monday; the UTC date is still Sunday
    wrong_day = hand_over(world, branch, handover(patient["id"], sunday))
    assert wrong_day.status_code == 422, wrong_day.text
    assert wrong_day.json()["errors"][0]["rule"] == "today_only"
    decision = check(world, patient["id"], branch)
    assert decision["allowed"] is True, decision
    assert decision["dose_dates"] == [monday.isoformat()]
    monday_dose = hand_over(world, branch, handover(patient["id"], monday))
    assert monday_dose.status_code == 201, monday_dose.text
    (dose,) = monday_dose.json()["doses"]
    assert dose["dose_date"] == monday.isoformat()
    assert datetime.fromisoformat(dose["recorded_at"]) == utc(2027, 3, 28, 23, 30)
    again = hand_over(world, branch, handover(patient["id"], monday))
    assert again.status_code == 409, again.text
    # The counter tells the time as the pharmacy's clock showed it, on the local day.
    assert "00:30 BST" in again.json()["detail"], again.json()["detail"]


@pytest.mark.hazard("H-11.1")
def test_when_the_clocks_go_back_the_long_day_is_one_dose_date(
    world: World,
    clock: FixedClock,
) -> None:
    sunday, monday = date(2026, 10, 25), date(2026, 10, 26)
    branch = counter_at(world, clock, utc(2026, 10, 20, 10))
    patient = supervised_patient(
        world, branch, start=date(2026, 10, 23), written=date(2026, 10, 20)
    )

    clock.set(utc(2026, 10, 24, 23, 30))  # 00:30 BST on Sunday; the UTC date is Saturday
    decision = check(world, patient["id"], branch)
    assert decision["dose_dates"] == [sunday.isoformat()]
    first = hand_over(world, branch, handover(patient["id"], sunday))
    assert first.status_code == 201, first.text
    assert [d["dose_date"] for d in first.json()["doses"]] == [sunday.isoformat()]

    clock.set(utc(2026, 10, 25, 23, 30))  # 23:30 GMT: Sunday had 25 hours and is not over
    assert codes(check(world, patient["id"], branch)["blocks"]) == ["already_recorded"]
    early = hand_over(world, branch, handover(patient["id"], monday))
    assert early.status_code == 422, early.text
    assert early.json()["errors"][0]["rule"] == "today_only"
    closed = world.post(f"{API}/pharmacies/{branch.pharmacy_id}/close-day", {}, branch=branch)
    assert closed.status_code == 200, closed.text
    assert closed.json()["date"] == sunday.isoformat()
    assert closed.json()["missed"] == 2  # Friday and Saturday were never collected

    clock.set(utc(2026, 10, 26, 0, 30))  # 00:30 GMT on Monday, the day after the change
    second = hand_over(world, branch, handover(patient["id"], monday))
    assert second.status_code == 201, second.text
    assert [d["dose_date"] for d in second.json()["doses"]] == [monday.isoformat()]
    report = world.get(
        f"{API}/patients/{patient['id']}/adherence",
        branch=branch,
        params={"from": "2026-10-23", "to": "2026-10-28"},
    ).json()
    assert {d["dose_date"]: d["state"] for d in report["days"]} == {
        "2026-10-23": "missed",
        "2026-10-24": "missed",
        "2026-10-25": "supervised",
        "2026-10-26": "supervised",
        "2026-10-27": "due",
        "2026-10-28": "due",
    }


def due_ids(world: World, branch: Branch, **params: str) -> set[str]:
    response = world.get(f"{API}/counter/due", branch=branch, params=params)
    assert response.status_code == 200, response.text
    return {item["patient_id"] for item in response.json()["items"]}


@pytest.mark.hazard("H-11.1")
def test_in_summer_half_past_eleven_utc_is_already_tomorrow_at_the_counter(
    world: World,
    clock: FixedClock,
) -> None:
    """Collection Monday and Thursday, June 2027 (BST, UTC+1)."""
    monday, thursday = date(2027, 6, 14), date(2027, 6, 17)
    branch = counter_at(world, clock, utc(2027, 6, 10, 10))
    house = household_at(world, branch)  # no children: a take-home needs no box
    patient = world.patient(house["id"], branch=branch)
    prescribe(
        world,
        patient["id"],
        branch,
        written_on="2027-06-10",
        **twice_weekly_take_home(40, start=monday),
    )

    clock.set(utc(2027, 6, 13, 22, 30))  # 23:30 BST on Sunday: before the start
    assert "before_start" in codes(check(world, patient["id"], branch)["blocks"])
    assert patient["id"] not in due_ids(world, branch)

    clock.set(utc(2027, 6, 13, 23, 30))  # 00:30 BST on Monday: due
    decision = check(world, patient["id"], branch)
    assert decision["allowed"] is True, decision
    assert decision["dose_dates"] == [(monday + timedelta(days=n)).isoformat() for n in range(3)]
    assert patient["id"] in due_ids(world, branch)

    clock.set(utc(2027, 6, 14, 22, 59))  # 23:59 BST on Monday: still due, and collected
    assert check(world, patient["id"], branch)["allowed"] is True
    monday_dose = hand_over(world, branch, handover(patient["id"], monday, "collected"))
    assert monday_dose.status_code == 201, monday_dose.text
    assert [d["dose_date"] for d in monday_dose.json()["doses"]] == [
        (monday + timedelta(days=n)).isoformat() for n in range(3)
    ]
    clock.set(utc(2027, 6, 14, 23, 0))  # midnight BST: Tuesday, nothing to collect
    tuesday = check(world, patient["id"], branch)
    assert codes(tuesday["blocks"]) == ["not_due_today"]
    assert "Thu 17 Jun 2027" in tuesday["blocks"][0]["message"]
    assert patient["id"] not in due_ids(world, branch)
    assert patient["id"] in due_ids(world, branch, date=monday.isoformat())

    clock.set(utc(2027, 6, 16, 22, 30))  # 23:30 BST on Wednesday: not yet
    assert codes(check(world, patient["id"], branch)["blocks"]) == ["not_due_today"]
    refused = hand_over(world, branch, handover(patient["id"], date(2027, 6, 16), "collected"))
    assert refused.status_code == 422, refused.text
    assert "not_due_today" in codes(refused.json()["blocks"])

    clock.set(utc(2027, 6, 16, 23, 30))  # 00:30 BST on Thursday; the UTC date is Wednesday
    assert patient["id"] in due_ids(world, branch)
    thursday_dose = hand_over(world, branch, handover(patient["id"], thursday, "collected"))
    assert thursday_dose.status_code == 201, thursday_dose.text
    assert [d["dose_date"] for d in thursday_dose.json()["doses"]] == [
        (thursday + timedelta(days=n)).isoformat() for n in range(4)
    ]
