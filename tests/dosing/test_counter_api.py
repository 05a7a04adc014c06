"""The counter through the API: the seed-case household, overrides, the missed-dose block,
close-day, withholding, adherence and bad input (DESIGN §3, §6)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.clock import FixedClock
from tests.builders import (
    API,
    MONDAY,
    adherence,
    alerts,
    at,
    check,
    close_day,
    codes,
    handover,
    household_at,
    prescribe,
    seven_day_branch,
    supervised_daily,
    twice_weekly_take_home,
)
from tests.factories import Branch, World

# --- helpers for these tests (the shared ones are in tests/builders.py) ---------------------


def patient_in(world: World, household_id: str | None, branch: Branch) -> dict[str, Any]:
    return world.patient(household_id, branch=branch)


def child_in(world: World, household_id: str, branch: Branch, **overrides: Any) -> dict[str, Any]:
    body = {"name": "C.S.", "date_of_birth": "2022-03-01", **overrides}
    response = world.post(f"{API}/households/{household_id}/children", body, branch=branch)
    assert response.status_code == 201, response.text
    return dict(response.json())


# --- 1. the seed-case household ---------------------------------------------------------


@pytest.mark.hazard("H-06.1", "H-06.3")
def test_the_seed_case_household_at_the_counter(world: World, clock: FixedClock) -> None:
    """Two methadone patients in one household with a child on a child protection plan: the
    take-home waits for a lockable box and re-confirmed children, then goes ahead, and the
    safeguarding lead sees the household as one."""
    seven = seven_day_branch(world)
    house = household_at(world, seven)
    child = child_in(
        world,
        house["id"],
        seven,
        protection_status="child_protection_plan",
        social_worker_id=str(world.social_worker_id),
    )
    mum = patient_in(world, house["id"], seven)
    dad = patient_in(world, house["id"], seven)

    take_home = prescribe(world, mum["id"], seven, **twice_weekly_take_home(40))
    assert take_home["status"] == "active"
    assert take_home["total_quantity_ml"] in ("560", "560.00")
    schedule = take_home["schedule"]
    assert len(schedule) == 14
    assert {d["mode"] for d in schedule} == {"take_home"}
    assert {date.fromisoformat(d["collect_on"]).weekday() for d in schedule} == {0, 3}
    assert sum(Decimal(d["dose_mg"]) for d in schedule) == Decimal(560)
    for day in schedule:  # each dose is collected on the latest Monday or Thursday before it
        dose_date, collect_on = (date.fromisoformat(day[k]) for k in ("dose_date", "collect_on"))
        assert collect_on <= dose_date < collect_on + timedelta(days=4)
    supervised = prescribe(world, dad["id"], seven, **supervised_daily(60))
    assert {d["mode"] for d in supervised["schedule"]} == {"supervised"}

    clock.set(at(MONDAY))
    refused = world.post(
        f"{API}/counter/handover", handover(mum["id"], MONDAY, "collected"), branch=seven
    )
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["code"] == "handover_refused"
    assert "no_lockable_box" in codes(problem["blocks"])
    assert "children_not_confirmed" in codes(problem["blocks"])
    assert any("lockable box" in b["message"] for b in problem["blocks"])
    blocked = alerts(world, seven, patient_id=mum["id"], kind="take_home_blocked_no_box")
    assert len(blocked) == 1
    assert blocked[0]["household_id"] == house["id"]
    assert check(world, mum["id"], seven)["dose_dates"] == [
        (MONDAY + timedelta(days=n)).isoformat() for n in range(3)
    ]

    box = world.post(
        f"{API}/patients/{mum['id']}/box-confirmations",
        {"seen_on": MONDAY.isoformat(), "method": "shown_at_pharmacy"},
        branch=seven,
    )
    assert box.status_code == 201, box.text
    assert box.json()["valid_until"] == (MONDAY + timedelta(days=90)).isoformat()
    confirmed = world.post(
        f"{API}/households/{house['id']}/confirmations",
        {"note": "Seen at the counter"},
        branch=seven,
    )
    assert confirmed.status_code == 201, confirmed.text

    decision = check(world, mum["id"], seven)
    assert decision["allowed"] is True, decision
    assert decision["mode"] == "take_home"
    # A toddler lives there: every take-home is a warning, however small; and three days at
    # 40 mg take the methadone at home past 100 mg.
    assert codes(decision["warnings"]) == ["young_child_take_home", "household_methadone_high"]
    collected = world.post(
        f"{API}/counter/handover",
        handover(
            mum["id"],
            MONDAY,
            "collected",
            acknowledged=["young_child_take_home", "household_methadone_high"],
        ),
        branch=seven,
    )
    assert collected.status_code == 201, collected.text
    body = collected.json()
    assert [d["dose_date"] for d in body["doses"]] == [
        (MONDAY + timedelta(days=n)).isoformat() for n in range(3)
    ]
    assert {d["state"] for d in body["doses"]} == {"collected"}
    assert Decimal(body["dose_mg"]) == Decimal(120)
    swallowed = world.post(f"{API}/counter/handover", handover(dad["id"], MONDAY), branch=seven)
    assert swallowed.status_code == 201, swallowed.text
    assert [d["state"] for d in swallowed.json()["doses"]] == ["supervised"]

    # What the safeguarding lead sees: the household as one, with both household alerts.
    feed = alerts(world, seven, role="safeguarding_lead", household_id=house["id"])
    kinds = {a["kind"]: a for a in feed}
    assert {
        "take_home_in_protected_household",
        "household_regime_mismatch",
        "take_home_blocked_no_box",
    } <= set(kinds)
    assert kinds["take_home_in_protected_household"]["severity"] == "urgent"
    assert kinds["household_regime_mismatch"]["severity"] == "warning"
    view = world.get(f"{API}/households/{house['id']}", role="safeguarding_lead", branch=seven)
    assert view.status_code == 200, view.text
    household = view.json()
    assert {m["id"] for m in household["members"]} == {mum["id"], dad["id"]}
    assert [(c["id"], c["protection_status"]) for c in household["children"]] == [
        (child["id"], "child_protection_plan")
    ]
    assert Decimal(household["methadone_at_home_mg"]) == Decimal(120)
    assert [(b["patient_id"], b["valid_today"]) for b in household["boxes"]] == [(mum["id"], True)]
    assert {"take_home_in_protected_household", "household_regime_mismatch"} <= {
        a["kind"] for a in household["open_alerts"]
    }
    assert household["children_confirmed_on"] == MONDAY.isoformat()

    # Thursday: the second collection of the week covers Thursday to Sunday.
    thursday = MONDAY + timedelta(days=3)
    clock.set(at(thursday))
    second = world.post(
        f"{API}/counter/handover",
        handover(
            mum["id"],
            thursday,
            "collected",
            acknowledged=["young_child_take_home", "household_methadone_high"],
        ),
        branch=seven,
    )
    assert second.status_code == 201, second.text
    assert len(second.json()["doses"]) == 4
    assert Decimal(second.json()["dose_mg"]) == Decimal(160)


@pytest.mark.hazard("H-18.2")
def test_a_take_home_prescription_in_a_protected_household_alerts_when_it_becomes_active(
    world: World,
) -> None:
    """DESIGN §3: the household rules run on prescription intake, not only at the first
    handover, so the social worker hears before any methadone goes home."""
    seven = seven_day_branch(world)
    house = household_at(world, seven)
    child_in(
        world,
        house["id"],
        seven,
        protection_status="child_protection_plan",
        social_worker_id=str(world.social_worker_id),
    )
    supervised = patient_in(world, house["id"], seven)
    prescribe(world, supervised["id"], seven, **supervised_daily(60))
    take_home = patient_in(world, house["id"], seven)
    prescribe(world, take_home["id"], seven, **twice_weekly_take_home(40))
    kinds = {
        a["kind"] for a in alerts(world, seven, role="safeguarding_lead", household_id=house["id"])
    }
    assert {"take_home_in_protected_household", "household_regime_mismatch"} <= kinds


def _household_with_young_child(world: World) -> tuple[dict[str, Any], dict[str, Any]]:
    house = world.household()
    child = world.child(house["id"])
    confirmed = world.post(f"{API}/households/{house['id']}/confirmations", {})
    assert confirmed.status_code == 201, confirmed.text
    patient = world.patient(house["id"])
    prescribe(world, patient["id"], **twice_weekly_take_home(40))
    return patient, child


@pytest.mark.hazard("H-06.4")
def test_a_pharmacist_may_override_the_missing_box_with_a_reason_and_it_alerts_urgently(
    world: World,
    clock: FixedClock,
) -> None:
    patient, _ = _household_with_young_child(world)
    clock.set(at(MONDAY))
    assert codes(check(world, patient["id"])["blocks"]) == ["no_lockable_box"]
    reason = "Box ordered by the key worker; patient counselled on storage out of reach"
    response = world.post(
        f"{API}/counter/handover",
        handover(
            patient["id"],
            MONDAY,
            "collected",
            override={"code": "no_lockable_box", "reason": reason},
            acknowledged=["young_child_take_home", "household_methadone_high"],
        ),
    )
    assert response.status_code == 201, response.text
    assert Decimal(response.json()["dose_mg"]) == Decimal(120)
    raised = alerts(world, patient_id=patient["id"], kind="box_override")
    assert len(raised) == 1
    assert raised[0]["severity"] == "urgent"
    assert raised[0]["id"] in response.json()["alerts"]
    assert reason not in raised[0]["message"]  # free text stays in the record, not the alert


@pytest.mark.parametrize(
    ("override", "refused_as"),
    [
        ({"code": "no_lockable_box"}, "invalid_input"),  # no reason at all
        ({"code": "no_lockable_box", "reason": ""}, "invalid_input"),
        # Only blanks passes the length check, and the rules still see no reason.
        ({"code": "no_lockable_box", "reason": "     "}, "handover_refused"),
    ],
)
@pytest.mark.hazard("H-06.4")
def test_an_override_without_a_reason_is_refused(
    world: World, clock: FixedClock, override: dict[str, str], refused_as: str
) -> None:
    patient, _ = _household_with_young_child(world)
    clock.set(at(MONDAY))
    response = world.post(
        f"{API}/counter/handover", handover(patient["id"], MONDAY, "collected", override=override)
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == refused_as
    if refused_as == "handover_refused":
        assert codes(response.json()["blocks"]) == ["no_lockable_box"]
    assert alerts(world, patient_id=patient["id"], kind="box_override") == []
    assert check(world, patient["id"])["allowed"] is False
    days = adherence(world, patient["id"], MONDAY, MONDAY + timedelta(days=2))["days"]
    assert {d["state"] for d in days} == {"due"}


@pytest.mark.parametrize(
    "code",
    [
        "missed_threshold_reached",
        "patient_intoxicated",
        "not_due_today",
        "already_recorded",
        "made_up",
    ],
)
def test_an_override_of_a_block_that_cannot_be_overridden_is_refused(
    world: World,
    clock: FixedClock,
    code: str,
) -> None:
    patient, _ = _household_with_young_child(world)
    clock.set(at(MONDAY))
    response = world.post(
        f"{API}/counter/handover",
        handover(
            patient["id"],
            MONDAY,
            "collected",
            overrides=[
                {"code": code, "reason": "Pharmacist's judgement"},
                {"code": "no_lockable_box", "reason": "Box ordered"},
            ],
        ),
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_input"
    assert alerts(world, patient_id=patient["id"], kind="box_override") == []


# --- 2. missed days -----------------------------------------------------------------------


@pytest.mark.hazard("H-04.1")
def test_missed_days_across_a_prescription_boundary_still_block_and_a_release_resets(
    world: World,
    clock: FixedClock,
) -> None:
    friday, saturday = date(2026, 12, 11), date(2026, 12, 12)
    monday, tuesday, wednesday = date(2026, 12, 14), date(2026, 12, 15), date(2026, 12, 16)
    patient = world.patient()
    prescribe(
        world,
        patient["id"],
        start_on=friday.isoformat(),
        end_on=(monday - timedelta(days=1)).isoformat(),
        total_quantity_ml="180",
        total_quantity_words="one hundred and eighty",
    )
    second = prescribe(
        world,
        patient["id"],
        start_on=monday.isoformat(),
        end_on=(monday + timedelta(days=13)).isoformat(),
    )

    clock.set(at(friday))
    supplied = world.post(f"{API}/counter/handover", handover(patient["id"], friday))
    assert supplied.status_code == 201, supplied.text
    clock.set(at(saturday, 19))
    assert close_day(world, saturday)["missed"] == 2  # Saturday, and Sunday's take-home
    clock.set(at(monday, 19))
    assert check(world, patient["id"])["allowed"] is True  # two missed: not yet blocked
    closed = close_day(world, monday)  # the first day of the new prescription
    assert closed["missed"] == 1
    assert closed["alerts_raised"] == 1
    assert "missed_threshold_reached" in {
        a["kind"] for a in alerts(world, patient_id=patient["id"])
    }

    clock.set(at(tuesday))
    decision = check(world, patient["id"])
    assert codes(decision["blocks"]) == ["missed_threshold_reached"]
    assert decision["prescription_id"] == second["id"]
    refused = world.post(f"{API}/counter/handover", handover(patient["id"], tuesday))
    assert refused.status_code == 422, refused.text
    assert codes(refused.json()["blocks"]) == ["missed_threshold_reached"]

    released = world.post(
        f"{API}/prescriptions/{second['id']}/release",
        {"note": "Seen in clinic; continue at 60 mg"},
        role="prescriber",
    )
    assert released.status_code == 201, released.text
    assert check(world, patient["id"])["allowed"] is True
    # The patient does not come on Tuesday either: the count starts again from the release.
    clock.set(at(tuesday, 19))
    closed = close_day(world, tuesday)
    assert closed["missed"] == 1
    assert closed["alerts_raised"] == 0  # one missed day, no children: nothing to tell
    clock.set(at(wednesday))
    decision = check(world, patient["id"])
    assert decision["allowed"] is True, decision
    supplied = world.post(f"{API}/counter/handover", handover(patient["id"], wednesday))
    assert supplied.status_code == 201, supplied.text


@pytest.mark.hazard("H-04.1")
def test_the_block_comes_back_after_three_more_missed_days_following_a_release(
    world: World,
    clock: FixedClock,
) -> None:
    patient = world.patient()
    rx = prescribe(world, patient["id"])
    for offset in range(3):
        clock.set(at(MONDAY + timedelta(days=offset), 19))
        close_day(world, MONDAY + timedelta(days=offset))
    clock.set(at(MONDAY + timedelta(days=3)))
    assert (
        world.post(
            f"{API}/prescriptions/{rx['id']}/release", {"note": "Reviewed"}, role="prescriber"
        ).status_code
        == 201
    )
    for offset in range(3, 6):
        clock.set(at(MONDAY + timedelta(days=offset), 19))
        close_day(world, MONDAY + timedelta(days=offset))
    clock.set(at(MONDAY + timedelta(days=7)))  # Monday: Saturday and Sunday were missed too
    assert codes(check(world, patient["id"])["blocks"]) == ["missed_threshold_reached"]


# --- 4. close-day is idempotent ---------------------------------------------------------


def test_closing_the_day_twice_changes_nothing_the_second_time(
    world: World,
    clock: FixedClock,
) -> None:
    house = world.household()
    world.child(
        house["id"],
        protection_status="child_protection_plan",
        social_worker_id=str(world.social_worker_id),
    )
    missing = world.patient(house["id"])
    present = world.patient()
    prescribe(world, missing["id"])
    prescribe(world, present["id"])
    clock.set(at(MONDAY))
    assert world.post(f"{API}/counter/handover", handover(present["id"], MONDAY)).status_code == 201
    clock.set(at(MONDAY, 19))
    first = close_day(world, MONDAY)
    assert (first["missed"], first["patients"], first["alerts_raised"]) == (1, 1, 1)
    clock.set(at(MONDAY, 19, 5))
    second = close_day(world, MONDAY)
    assert (second["missed"], second["patients"], second["alerts_raised"]) == (0, 0, 0)

    raised = alerts(world, patient_id=missing["id"])
    assert [a["kind"] for a in raised if a["kind"].startswith("missed")] == ["missed_dose"]
    days = adherence(world, missing["id"], MONDAY, MONDAY)["days"]
    assert [d["state"] for d in days] == ["missed"]
    assert [d["state"] for d in adherence(world, present["id"], MONDAY, MONDAY)["days"]] == [
        "supervised"
    ]
    with world.uow:
        runs = list(
            world.uow.session.scalars(
                select(AuditEvent)
                .where(
                    AuditEvent.action == "day.closed",
                    AuditEvent.entity_id == str(world.home.pharmacy_id),
                )
                .order_by(AuditEvent.seq)
            )
        )
    assert [(r.facts["missed"], r.facts["alerts"]) for r in runs] == [(1, 1), (0, 0)]
    assert [r.at for r in runs] == [at(MONDAY, 19), at(MONDAY, 19, 5)]


def test_a_day_cannot_be_closed_before_it_begins(world: World, clock: FixedClock) -> None:
    clock.set(at(MONDAY))
    response = world.post(
        f"{API}/pharmacies/{world.home.pharmacy_id}/close-day",
        {"date": (MONDAY + timedelta(days=1)).isoformat()},
    )
    assert response.status_code == 422, response.text


# --- 8. withholding ---------------------------------------------------------------------


@pytest.mark.hazard("H-05.1", "H-05.2", "H-05.3")
def test_an_intoxicated_patient_with_a_child_present_is_withheld_and_alerts(
    world: World,
    clock: FixedClock,
) -> None:
    house = world.household()
    child = world.child(
        house["id"], protection_status="child_in_need", social_worker_id=str(world.social_worker_id)
    )
    patient = world.patient(house["id"])
    prescribe(world, patient["id"])
    clock.set(at(MONDAY))
    refused = world.post(
        f"{API}/counter/handover", handover(patient["id"], MONDAY, intoxicated=True)
    )
    assert refused.status_code == 422, refused.text
    assert "patient_intoxicated" in codes(refused.json()["blocks"])

    withheld = world.post(
        f"{API}/counter/withhold",
        {
            "patient_id": patient["id"],
            "date": MONDAY.isoformat(),
            "reason": "intoxicated",
            "children_present": [child["id"]],
        },
    )
    assert withheld.status_code == 201, withheld.text
    assert withheld.json()["withheld"] == [MONDAY.isoformat()]
    raised = {a["kind"]: a for a in alerts(world, patient_id=patient["id"])}
    assert raised["intoxicated_with_child_present"]["severity"] == "urgent"
    assert "dose_withheld_intoxicated" in raised
    assert set(withheld.json()["alerts"]) == {
        raised["intoxicated_with_child_present"]["id"],
        raised["dose_withheld_intoxicated"]["id"],
    }

    # The patient comes back: without a pharmacist's reassessment the dose stays withheld.
    clock.set(at(MONDAY, 15))
    again = world.post(f"{API}/counter/handover", handover(patient["id"], MONDAY))
    assert again.status_code == 422, again.text
    assert codes(again.json()["blocks"]) == ["withheld_today"]
    assert "withheld" in again.json()["detail"]
    twice = world.post(
        f"{API}/counter/withhold",
        {
            "patient_id": patient["id"],
            "date": MONDAY.isoformat(),
            "reason": "other",
            "reason_text": "again",
        },
    )
    assert twice.status_code == 409, twice.text
    # Nor does the end of the day turn it into a missed dose.
    clock.set(at(MONDAY, 19))
    assert close_day(world, MONDAY)["missed"] == 0
    assert [d["state"] for d in adherence(world, patient["id"], MONDAY, MONDAY)["days"]] == [
        "withheld"
    ]


@pytest.mark.parametrize("reason_text", [None, "", "   "])
def test_withholding_for_another_reason_needs_the_reason(
    world: World,
    clock: FixedClock,
    reason_text: str | None,
) -> None:
    patient = world.patient()
    prescribe(world, patient["id"])
    clock.set(at(MONDAY))
    body: dict[str, Any] = {
        "patient_id": patient["id"],
        "date": MONDAY.isoformat(),
        "reason": "other",
    }
    if reason_text is not None:
        body["reason_text"] = reason_text
    response = world.post(f"{API}/counter/withhold", body)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_input"
    body["reason_text"] = "Prescriber asked us to hold today's dose pending a review"
    assert world.post(f"{API}/counter/withhold", body).status_code == 201


def test_a_withhold_without_a_child_present_raises_no_child_alert(
    world: World,
    clock: FixedClock,
) -> None:
    house = world.household()
    world.child(house["id"])
    patient = world.patient(house["id"])
    prescribe(world, patient["id"])
    clock.set(at(MONDAY))
    response = world.post(
        f"{API}/counter/withhold",
        {"patient_id": patient["id"], "date": MONDAY.isoformat(), "reason": "intoxicated"},
    )
    assert response.status_code == 201, response.text
    assert {a["kind"] for a in alerts(world, patient_id=patient["id"])} == {
        "dose_withheld_intoxicated"
    }


# --- 9. adherence -------------------------------------------------------------------------


def test_adherence_lists_every_day_and_sums_it_up(world: World, clock: FixedClock) -> None:
    patient = world.patient(world.household()["id"])
    prescribe(world, patient["id"])
    week = [MONDAY + timedelta(days=n) for n in range(7)]
    # Mon supervised, Tue and Wed missed, Thu withheld, Fri missed, Sat (with Sunday's
    # take-home) supervised and collected.
    clock.set(at(week[0]))
    assert (
        world.post(f"{API}/counter/handover", handover(patient["id"], week[0])).status_code == 201
    )
    clock.set(at(week[2], 19))
    assert close_day(world, week[2])["missed"] == 2
    clock.set(at(week[3]))
    assert (
        world.post(
            f"{API}/counter/withhold",
            {
                "patient_id": patient["id"],
                "date": week[3].isoformat(),
                "reason": "other",
                "reason_text": "Vomited the last dose; prescriber consulted",
            },
        ).status_code
        == 201
    )
    clock.set(at(week[4], 19))
    assert close_day(world, week[4])["missed"] == 1
    clock.set(at(week[5]))
    # Tuesday to Friday without a dose (the withheld Thursday counts): blocked until reviewed.
    refused = world.post(f"{API}/counter/handover", handover(patient["id"], week[5]))
    assert codes(refused.json()["blocks"]) == ["missed_threshold_reached"], refused.text
    rx = world.get(f"{API}/patients/{patient['id']}/prescriptions").json()["items"][0]
    released = world.post(
        f"{API}/prescriptions/{rx['id']}/release", {"note": "Reviewed"}, role="prescriber"
    )
    assert released.status_code == 201, released.text
    assert (
        world.post(f"{API}/counter/handover", handover(patient["id"], week[5])).status_code == 201
    )

    clock.set(at(week[6] + timedelta(days=1)))
    report = adherence(world, patient["id"], MONDAY - timedelta(days=2), MONDAY + timedelta(days=8))
    assert report["patient_id"] == patient["id"]
    states = {d["dose_date"]: d["state"] for d in report["days"]}
    assert states == {
        week[0].isoformat(): "supervised",
        week[1].isoformat(): "missed",
        week[2].isoformat(): "missed",
        week[3].isoformat(): "withheld",
        week[4].isoformat(): "missed",
        week[5].isoformat(): "supervised",
        week[6].isoformat(): "collected",
        (MONDAY + timedelta(days=7)).isoformat(): "due",
        (MONDAY + timedelta(days=8)).isoformat(): "due",
    }
    assert {d["mode"] for d in report["days"] if d["dose_date"] == week[6].isoformat()} == {
        "take_home"
    }
    assert all(Decimal(d["dose_mg"]) == Decimal(60) for d in report["days"])
    summary = report["summary"]
    assert {
        k: summary[k]
        for k in ("supervised", "collected", "missed", "withheld", "longest_missed_streak")
    } == {"supervised": 2, "collected": 1, "missed": 3, "withheld": 1, "longest_missed_streak": 4}
    assert Decimal(str(summary["attended_percent"])) == Decimal("42.9")  # 3 of 7

    # The prescriber sees the same; another pharmacy's staff see nothing.
    assert (
        adherence(world, patient["id"], MONDAY, week[6], role="prescriber")["summary"]["missed"]
        == 3
    )
    foreign = world.get(
        f"{API}/patients/{patient['id']}/adherence",
        branch=world.away,
        params={"from": MONDAY.isoformat(), "to": week[6].isoformat()},
    )
    assert foreign.status_code == 404, foreign.text


def test_adherence_with_nothing_decided_has_no_percentage(world: World) -> None:
    patient = world.patient()
    prescribe(world, patient["id"])
    report = adherence(world, patient["id"], MONDAY, MONDAY + timedelta(days=3))
    assert len(report["days"]) == 4
    assert report["summary"]["attended_percent"] is None
    assert report["summary"]["longest_missed_streak"] == 0


@pytest.mark.parametrize(
    ("start", "end"),
    [("2026-12-10", "2026-12-01"), ("2025-01-01", "2026-12-01"), ("yesterday", "2026-12-01")],
)
def test_adherence_refuses_a_bad_period(world: World, start: str, end: str) -> None:
    patient = world.patient()
    response = world.get(
        f"{API}/patients/{patient['id']}/adherence", params={"from": start, "to": end}
    )
    assert response.status_code == 422, response.text


# --- 10. bad input ------------------------------------------------------------------------


def test_wrong_types_are_refused_naming_each_field(world: World, clock: FixedClock) -> None:
    clock.set(at(MONDAY))
    response = world.post(
        f"{API}/counter/handover",
        {
            "patient_id": 12,
            "date": "yesterday",
            "outcome": "swallowed",
            "intoxicated": "maybe",
            "children_present": "none",
            "id_checked": [True],
        },
    )
    assert response.status_code == 422, response.text
    fields = {e["field"] for e in response.json()["errors"]}
    assert {
        "patient_id",
        "date",
        "outcome",
        "intoxicated",
        "children_present",
        "id_checked",
    } <= fields
    missing = world.post(f"{API}/counter/handover", {"patient_id": str(uuid4())})
    assert missing.status_code == 422, missing.text
    assert {"date", "outcome", "intoxicated"} <= {e["field"] for e in missing.json()["errors"]}
    extra = world.post(
        f"{API}/counter/withhold",
        {
            "patient_id": str(uuid4()),
            "date": MONDAY.isoformat(),
            "reason": "intoxicated",
            "dose_mg": 60,
        },
    )
    assert extra.status_code == 422, extra.text
    not_json = world.client.post(
        f"{API}/counter/check",
        content=b"{not json",
        headers={**world.home.headers(), "Content-Type": "application/json"},
    )
    assert not_json.status_code == 422, not_json.text
    both = world.post(f"{API}/counter/check", {"patient_id": str(uuid4()), "barcode": "X"})
    assert both.status_code == 422, both.text
    neither = world.post(f"{API}/counter/check", {})
    assert neither.status_code == 422, neither.text


def _counter_calls(patient_id: str, day: date) -> list[tuple[str, dict[str, Any] | None]]:
    """The counter's endpoints for one patient: a body means POST, None means GET."""
    return [
        (f"{API}/counter/check", {"patient_id": patient_id}),
        (f"{API}/counter/handover", handover(patient_id, day)),
        (
            f"{API}/counter/withhold",
            {"patient_id": patient_id, "date": day.isoformat(), "reason": "intoxicated"},
        ),
        (
            f"{API}/patients/{patient_id}/box-confirmations",
            {"seen_on": day.isoformat(), "method": "shown_at_pharmacy"},
        ),
        (f"{API}/patients/{patient_id}/adherence", None),
    ]


def test_unknown_and_foreign_patients_are_not_found_and_leak_nothing(
    world: World,
    clock: FixedClock,
) -> None:
    foreign = world.patient(branch=world.away, given_name="Elsewhere")
    prescribe(world, foreign["id"], branch=world.away)
    clock.set(at(MONDAY))
    for patient_id in (foreign["id"], str(uuid4())):
        for path, body in _counter_calls(patient_id, MONDAY):
            response = world.post(path, body) if body is not None else world.get(path)
            assert response.status_code == 404, (path, response.text)
            problem = response.json()
            assert problem["code"] == "not_found"
            text = response.text
            for secret in (
                foreign["family_name"],
                foreign["nhs_number"],
                "Elsewhere",
                foreign["card_code"],
            ):
                assert secret not in text, (path, text)
    # Nothing was recorded against the other pharmacy's patient.
    clock.set(at(MONDAY, 10))
    days = world.get(
        f"{API}/patients/{foreign['id']}/adherence",
        branch=world.away,
        params={"from": MONDAY.isoformat(), "to": MONDAY.isoformat()},
    ).json()
    assert [d["state"] for d in days["days"]] == ["due"]


@pytest.mark.hazard("H-10.1")
def test_a_scanned_card_from_another_pharmacy_looks_exactly_like_an_unknown_card(
    world: World,
    clock: FixedClock,
) -> None:
    mine = world.patient()
    foreign = world.patient(branch=world.away)
    clock.set(at(MONDAY))
    found = world.post(f"{API}/counter/check", {"barcode": mine["card_code"]})
    assert found.status_code == 200, found.text
    assert found.json()["patient_id"] == mine["id"]
    unknown = world.post(f"{API}/counter/check", {"barcode": "DKNOSUCHCARD"})
    assert unknown.status_code == 404, unknown.text
    elsewhere = world.post(f"{API}/counter/check", {"barcode": foreign["card_code"]})
    assert elsewhere.status_code == 404, elsewhere.text
    assert foreign["id"] not in elsewhere.text
    assert {k: v for k, v in elsewhere.json().items() if k != "instance"} == {
        k: v for k, v in unknown.json().items() if k != "instance"
    }


@pytest.mark.hazard("H-01.3")
def test_a_representative_must_be_named(world: World, clock: FixedClock) -> None:
    house = world.household()
    patient = world.patient(house["id"])
    prescribe(world, patient["id"], **twice_weekly_take_home(40))
    clock.set(at(MONDAY))
    for collector in ("representative", "hcp"):
        for details in (None, ""):
            body = handover(patient["id"], MONDAY, "collected", collector=collector)
            if details is not None:
                body["collector_details"] = details
            response = world.post(f"{API}/counter/handover", body)
            assert response.status_code == 422, response.text
            assert "collector_details" in response.text
    body = handover(
        patient["id"],
        MONDAY,
        "collected",
        collector="representative",
        collector_details="A. Friend, 3 Test Street, Testtown",
    )
    response = world.post(f"{API}/counter/handover", body)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("offset", [-1, 1, 7])
def test_a_handover_is_only_for_today(world: World, clock: FixedClock, offset: int) -> None:
    patient = world.patient()
    prescribe(world, patient["id"])
    clock.set(at(MONDAY + timedelta(days=1)))
    day = MONDAY + timedelta(days=1 + offset)
    response = world.post(f"{API}/counter/handover", handover(patient["id"], day))
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["rule"] == "today_only"
    withheld = world.post(
        f"{API}/counter/withhold",
        {"patient_id": patient["id"], "date": day.isoformat(), "reason": "intoxicated"},
    )
    assert withheld.status_code == 422, withheld.text
    assert check(world, patient["id"])["allowed"] is True


def test_the_outcome_must_match_the_instalment(world: World, clock: FixedClock) -> None:
    patient = world.patient()
    prescribe(world, patient["id"])
    clock.set(at(MONDAY))
    response = world.post(f"{API}/counter/handover", handover(patient["id"], MONDAY, "collected"))
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["rule"] == "matches_prescription"


def test_a_child_present_must_live_in_the_household(world: World, clock: FixedClock) -> None:
    house = world.household()
    patient = world.patient(house["id"])
    other = world.child(world.household()["id"])
    prescribe(world, patient["id"])
    clock.set(at(MONDAY))
    response = world.post(
        f"{API}/counter/handover", handover(patient["id"], MONDAY, children_present=[other["id"]])
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "children_present"


@pytest.mark.hazard("H-05.4")
def test_a_technician_may_neither_hand_over_nor_withhold_and_a_prescriber_neither(
    world: World,
    clock: FixedClock,
) -> None:
    """Issue 16 #6: the not-intoxicated attestation made at every handover, and a withhold, are
    the pharmacist's alone (app/auth/policy.py SAFETY_ACTS)."""
    patient = world.patient()
    prescribe(world, patient["id"])
    clock.set(at(MONDAY))
    withhold = {"patient_id": patient["id"], "date": MONDAY.isoformat(), "reason": "intoxicated"}
    assert world.post(f"{API}/counter/withhold", withhold, role="technician").status_code == 403
    assert (
        world.post(
            f"{API}/counter/handover", handover(patient["id"], MONDAY), role="prescriber"
        ).status_code
        == 403
    )
    technician = world.post(
        f"{API}/counter/handover", handover(patient["id"], MONDAY), role="technician"
    )
    assert technician.status_code == 403, technician.text
    assert "a pharmacist must" in technician.json()["detail"]
    assert world.post(f"{API}/counter/handover", handover(patient["id"], MONDAY)).status_code == 201


@pytest.mark.hazard("H-18.3")
def test_a_child_on_a_plan_moving_into_a_take_home_household_alerts(world: World) -> None:
    house = world.household()
    patient = world.patient(house["id"])
    prescribe(world, patient["id"], **twice_weekly_take_home(40))
    assert alerts(world, household_id=house["id"]) == []
    world.child(
        house["id"],
        protection_status="child_protection_plan",
        social_worker_id=str(world.social_worker_id),
    )
    kinds = {a["kind"] for a in alerts(world, household_id=house["id"])}
    assert "take_home_in_protected_household" in kinds


def test_a_double_clicked_release_is_one_review(world: World, clock: FixedClock) -> None:
    """Issue 17: a double click on "Release" must not make two release records."""
    patient = world.patient()
    rx = prescribe(world, patient["id"])
    clock.set(at(MONDAY))
    path = f"{API}/prescriptions/{rx['id']}/release"
    first = world.post(path, {"note": "Reviewed by phone"}, role="prescriber")
    second = world.post(path, {"note": "Reviewed by phone"}, role="prescriber")
    assert (first.status_code, second.status_code) == (201, 201), second.text
    assert first.json()["id"] == second.json()["id"]
    third = world.post(path, {"note": "Seen again in the afternoon"}, role="prescriber")
    assert third.json()["id"] != first.json()["id"]  # a second review is its own record
