"""Schedules through the HTTP API once a prescription is live: replacing one prescription with
another, closures added later, cancelling, the prescriber's release, and the shapes of direction
a pharmacy sees every week (DESIGN §3 Schedule generation; docs/decisions.md).

The suite's "now" is Saturday 28 November 2026; the home pharmacy opens Monday to Saturday.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from app.clock import FixedClock
from tests.builders import (
    API,
    BY_HAND,
    MONDAY,
    WORDS,
    active,
    at,
    audit_actions,
    audit_facts,
    codes,
    counts,
    d,
    daily,
    form,
    fp10mda,
    ledger,
    rows,
    transcribe,
    verify,
)
from tests.builders import hand_over_supervised as handover
from tests.factories import World

TUESDAY = MONDAY + timedelta(days=1)
WEDNESDAY = MONDAY + timedelta(days=2)
NEXT_MONDAY = MONDAY + timedelta(days=7)


def close(world: World, day: date, reason: str = "Refit", **kw: Any) -> Any:
    return world.post(
        f"{API}/pharmacies/{world.home.pharmacy_id}/closures",
        {"date": day.isoformat(), "reason": reason},
        **kw,
    )


def alerts_for(world: World, patient_id: str) -> list[dict[str, Any]]:
    response = world.get(f"{API}/alerts", params={"patient_id": patient_id})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def check(world: World, patient_id: str) -> dict[str, Any]:
    response = world.post(f"{API}/counter/check", {"patient_id": patient_id})
    assert response.status_code == 200, response.text
    return dict(response.json())


def one_row_per_dose_date(world: World, patient_id: str) -> None:
    dates = [row[0] for row in ledger(world, patient_id)]
    assert len(dates) == len(set(dates))


# --- 5. overlaps ----------------------------------------------------------------------------


def test_an_overlapping_prescription_must_name_the_one_it_replaces(world: World) -> None:
    patient = world.patient()
    old = active(world, daily(world, patient["id"]))
    before = counts(world)
    increase = form(world, patient["id"], NEXT_MONDAY, 14, dose_mg=80)

    unnamed = world.post(f"{API}/prescriptions", increase)
    assert unnamed.status_code == 409, unnamed.text
    assert unnamed.json()["code"] == "overlapping_prescription"
    assert unnamed.json()["overlapping"] == [old["id"]]
    assert counts(world) == before

    elsewhere = form(world, patient["id"], NEXT_MONDAY + timedelta(days=7), 14, dose_mg=80)
    wrong = world.post(f"{API}/prescriptions", elsewhere | {"supersedes_id": old["id"]})
    assert wrong.status_code == 422, wrong.text
    assert [(e["field"], e["rule"]) for e in wrong.json()["errors"]] == [
        ("supersedes_id", "overlaps")
    ]
    assert counts(world) == before


def test_a_replacement_takes_over_the_old_days_from_its_start_at_the_check(world: World) -> None:
    patient = world.patient()
    old = active(world, daily(world, patient["id"]))
    new = transcribe(
        world,
        form(world, patient["id"], NEXT_MONDAY, 14, dose_mg=80) | {"supersedes_id": old["id"]},
    )
    assert new["status"] == "pending_check"
    assert new["supersedes_id"] == old["id"]
    assert codes(new["warnings"]) == ["large_increase"]
    # Until the check, the old prescription keeps every day.
    assert [row[4] for row in ledger(world, patient["id"])] == [old["id"]] * 14

    verify(world, new["id"])
    got = ledger(world, patient["id"])
    assert [(row[0], row[4]) for row in got] == [
        (MONDAY + timedelta(days=n), old["id"] if n < 7 else new["id"]) for n in range(21)
    ]
    assert {row[3] for row in got} == {"due"}
    one_row_per_dose_date(world, patient["id"])

    shortened = world.get(f"{API}/prescriptions/{old['id']}").json()
    assert shortened["status"] == "active"
    assert rows(shortened["schedule"]) == [
        (dd, c, m, Decimal(60), "due") for dd, c, m in BY_HAND[:7]
    ]
    assert shortened["end_on"] == d(NEXT_MONDAY - timedelta(days=1))
    replacement = world.get(f"{API}/prescriptions/{new['id']}").json()
    assert {Decimal(s["dose_mg"]) for s in replacement["schedule"]} == {Decimal(80)}
    assert len(replacement["schedule"]) == 14
    [superseded] = audit_facts(world, old["id"], "prescription.superseded")
    assert superseded["by"] == new["id"]
    assert superseded["days_removed"] == 7

    # The replacement can itself be replaced: the old prescription no longer stands in the way.
    again = transcribe(
        world,
        form(
            world, patient["id"], NEXT_MONDAY + timedelta(days=3), 14, dose_mg=90, words=WORDS[1260]
        )
        | {"supersedes_id": new["id"]},
    )
    verify(world, again["id"])
    owners = [(row[0], row[4]) for row in ledger(world, patient["id"])]
    assert owners == [
        (
            MONDAY + timedelta(days=n),
            old["id"] if n < 7 else new["id"] if n < 10 else again["id"],
        )
        for n in range(24)
    ]


def test_a_replacement_from_the_same_day_cancels_the_old_prescription(world: World) -> None:
    patient = world.patient()
    old = active(world, daily(world, patient["id"]))
    new = active(
        world, form(world, patient["id"], MONDAY, 14, dose_mg=65) | {"supersedes_id": old["id"]}
    )
    assert new["status"] == "active"
    replaced = world.get(f"{API}/prescriptions/{old['id']}").json()
    assert replaced["status"] == "cancelled"
    assert replaced["schedule"] == []
    assert [(row[0], row[4]) for row in ledger(world, patient["id"])] == [
        (MONDAY + timedelta(days=n), new["id"]) for n in range(14)
    ]
    assert {Decimal(s["dose_mg"]) for s in new["schedule"]} == {Decimal(65)}


def test_a_dose_already_recorded_in_the_overlap_refuses_the_check(
    world: World, clock: FixedClock
) -> None:
    patient = world.patient()
    old = active(world, daily(world, patient["id"]))
    clock.set(at(TUESDAY))
    handover(world, patient["id"], TUESDAY)
    before = ledger(world, patient["id"])

    too_early = transcribe(
        world, form(world, patient["id"], TUESDAY, 14, dose_mg=80) | {"supersedes_id": old["id"]}
    )
    refused = world.post(f"{API}/prescriptions/{too_early['id']}/verify", {}, role="pharmacist2")
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "overlap_already_recorded"
    assert "2026-12-01" in refused.json()["detail"]
    assert ledger(world, patient["id"]) == before
    assert world.get(f"{API}/prescriptions/{too_early['id']}").json()["status"] == "pending_check"
    assert world.get(f"{API}/prescriptions/{old['id']}").json()["status"] == "active"

    # As the refusal says: start the new prescription after the recorded day.
    cancelled = world.post(
        f"{API}/prescriptions/{too_early['id']}/cancel", {"reason": "Start date after Tuesday"}
    )
    assert cancelled.status_code == 200, cancelled.text
    after = active(
        world, form(world, patient["id"], WEDNESDAY, 14, dose_mg=80) | {"supersedes_id": old["id"]}
    )
    got = ledger(world, patient["id"])
    assert [(row[0], row[3], row[4]) for row in got[:2]] == [
        (MONDAY, "due", old["id"]),
        (TUESDAY, "supervised", old["id"]),
    ]
    assert [row[4] for row in got[2:]] == [after["id"]] * 14
    one_row_per_dose_date(world, patient["id"])


# --- 6. closures --------------------------------------------------------------------------


@pytest.mark.hazard("H-12.1")
def test_a_closure_moves_the_instalment_to_the_prior_open_day(world: World) -> None:
    patient = world.patient()
    rx = active(world, daily(world, patient["id"]))

    added = close(world, WEDNESDAY, "Refit")
    assert added.status_code == 201, added.text
    assert added.json() == {"date": d(WEDNESDAY), "moved_days": 1, "alerts_raised": 0}
    expected = [(dd, c, m, Decimal(60), "due") for dd, c, m in BY_HAND]
    expected[2] = (d(WEDNESDAY), d(TUESDAY), "take_home", Decimal(60), "due")
    schedule = world.get(f"{API}/prescriptions/{rx['id']}/schedule").json()["items"]
    assert rows(schedule) == expected
    [recalculated] = audit_facts(world, rx["id"], "prescription.schedule_recalculated")
    assert recalculated["moved"] == [
        {"dose_date": d(WEDNESDAY), "from": d(WEDNESDAY), "to": d(TUESDAY)}
    ]
    pharmacy = world.get(f"{API}/pharmacies/{world.home.pharmacy_id}").json()
    assert d(WEDNESDAY) in {c["date"] for c in pharmacy["closures"]}

    # A Saturday closure: Saturday's dose and Sunday's go home from Friday.
    saturday = date(2026, 12, 5)
    added = close(world, saturday, "Staff training")
    assert added.status_code == 201, added.text
    assert added.json()["moved_days"] == 2
    expected[5] = (d(saturday), "2026-12-04", "take_home", Decimal(60), "due")
    expected[6] = ("2026-12-06", "2026-12-04", "take_home", Decimal(60), "due")
    schedule = world.get(f"{API}/prescriptions/{rx['id']}/schedule").json()["items"]
    assert rows(schedule) == expected
    one_row_per_dose_date(world, patient["id"])


def test_closures_are_refused_in_the_past_twice_or_by_the_wrong_people(world: World) -> None:
    patient = world.patient()
    active(world, daily(world, patient["id"]))
    assert close(world, WEDNESDAY).status_code == 201

    duplicate = close(world, WEDNESDAY, "Again")
    assert duplicate.status_code == 409, duplicate.text
    assert duplicate.json()["code"] == "duplicate_closure"
    past = close(world, date(2026, 11, 27))
    assert past.status_code == 422, past.text
    assert past.json()["code"] == "invalid_input"
    assert [e["field"] for e in past.json()["errors"]] == ["date"]
    technician = close(world, TUESDAY, role="technician")
    assert technician.status_code == 403, technician.text
    foreign = close(world, TUESDAY, branch=world.away)
    assert foreign.status_code == 404, foreign.text
    assert ledger(world, patient["id"])[1][1] == TUESDAY  # nothing moved by the refusals


@pytest.mark.hazard("H-12.2")
def test_without_the_wording_a_closure_asks_the_prescriber_for_an_amendment(
    world: World,
) -> None:
    """Collection Monday to Saturday needs no wording for Sundays (Saturday's instalment covers
    Sunday), but an unplanned closure does."""
    patient = world.patient()
    rx = active(world, fp10mda_mon_sat(world, patient["id"]))
    planned = rows(rx["schedule"])

    added = close(world, WEDNESDAY, "Burst pipe")
    assert added.status_code == 201, added.text
    assert added.json()["moved_days"] == 0
    assert rows(world.get(f"{API}/prescriptions/{rx['id']}/schedule").json()["items"]) == planned
    alerts = alerts_for(world, patient["id"])
    assert [a["kind"] for a in alerts] == ["closed_day_needs_amended_prescription"]
    assert alerts[0]["recipients"] == ["prescriber"]
    [recalculated] = audit_facts(world, rx["id"], "prescription.schedule_recalculated")
    assert recalculated["needs_amendment"] == 1
    assert recalculated["moved"] == []


def remove(world: World, day: date, reason: str = "Entered by mistake", **kw: Any) -> Any:
    return world.post(
        f"{API}/pharmacies/{world.home.pharmacy_id}/closures/{day.isoformat()}/remove",
        {"reason": reason},
        **kw,
    )


def test_a_closure_entered_by_mistake_is_removed_and_its_doses_go_back(world: World) -> None:
    patient = world.patient()
    rx = active(world, daily(world, patient["id"]))
    planned = rows(rx["schedule"])
    assert close(world, WEDNESDAY, "Refit").json()["moved_days"] == 1

    technician = remove(world, WEDNESDAY, role="technician")
    assert technician.status_code == 403, technician.text
    foreign = remove(world, WEDNESDAY, branch=world.away)
    assert foreign.status_code == 404, foreign.text
    removed = remove(world, WEDNESDAY, "Refit postponed to January")
    assert removed.status_code == 200, removed.text
    assert removed.json() == {"date": d(WEDNESDAY), "moved_days": 1, "alerts_raised": 0}

    assert rows(world.get(f"{API}/prescriptions/{rx['id']}/schedule").json()["items"]) == planned
    pharmacy = world.get(f"{API}/pharmacies/{world.home.pharmacy_id}").json()
    assert d(WEDNESDAY) not in {c["date"] for c in pharmacy["closures"]}
    [why] = audit_facts(world, str(world.home.pharmacy_id), "pharmacy.closure_removed")
    assert why["reason"] == "Refit"
    assert why["why_removed"] == "Refit postponed to January"
    again = remove(world, WEDNESDAY)
    assert again.status_code == 422, again.text
    assert [e["rule"] for e in again.json()["errors"]] == ["not_closed"]


def test_closing_on_a_weekday_that_schedules_collect_on_names_them_until_confirmed(
    world: World,
) -> None:
    patient = world.patient()
    rx = active(world, daily(world, patient["id"]))
    path = f"{API}/pharmacies/{world.home.pharmacy_id}/opening-days"
    mon_to_fri = {"open_weekdays": [0, 1, 2, 3, 4]}

    refused = world.put(path, mon_to_fri, role="admin")
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["code"] == "opening_days_affect_schedules"
    [affected] = problem["affected"]
    assert affected["prescription_id"] == rx["id"]
    assert affected["dates"][:2] == ["2026-12-05", "2026-12-12"]  # its Saturdays
    assert f"{patient['given_name']} {patient['family_name']}" in problem["detail"]
    assert world.get(f"{API}/pharmacies/{world.home.pharmacy_id}").json()["open_weekdays"] == [
        0,
        1,
        2,
        3,
        4,
        5,
    ]
    pharmacist = world.put(path, mon_to_fri | {"confirm_affected": True})
    assert pharmacist.status_code == 403, pharmacist.text

    saved = world.put(path, mon_to_fri | {"confirm_affected": True}, role="admin")
    assert saved.status_code == 200, saved.text
    assert saved.json()["open_weekdays"] == [0, 1, 2, 3, 4]
    reopened = world.put(path, {"open_weekdays": [0, 1, 2, 3, 4, 5]}, role="admin")
    assert reopened.status_code == 200, reopened.text  # opening more days affects nobody


def fp10mda_mon_sat(world: World, patient_id: str) -> dict[str, Any]:
    """The test_api form: collection Monday to Saturday, no closed-day wording."""
    return fp10mda(world, patient_id, wording={"supervise_on_collection": True})


@pytest.mark.hazard("H-12.3")
def test_a_recorded_dose_never_moves(world: World, clock: FixedClock) -> None:
    patient = world.patient()
    rx = active(world, daily(world, patient["id"]))
    clock.set(at(MONDAY))
    handover(world, patient["id"], MONDAY)
    clock.set(at(MONDAY, 13))

    added = close(world, MONDAY, "Closed this afternoon: power cut")
    assert added.status_code == 201, added.text
    assert added.json()["moved_days"] == 0
    first = ledger(world, patient["id"])[0]
    assert first[:4] == (MONDAY, MONDAY, "supervised", "supervised")
    assert rows(world.get(f"{API}/prescriptions/{rx['id']}").json()["schedule"])[0] == (
        d(MONDAY),
        d(MONDAY),
        "supervised",
        Decimal(60),
        "supervised",
    )


@pytest.mark.hazard("H-12.3")
def test_a_closure_today_never_moves_a_dose_into_the_past(world: World, clock: FixedClock) -> None:
    """Closed all of today before the patient came: Saturday has gone, so there is no prior
    suitable day left; the prescriber is asked instead."""
    patient = world.patient()
    active(world, daily(world, patient["id"]))
    clock.set(at(MONDAY, 7))

    added = close(world, MONDAY, "Pharmacist ill, no locum")
    assert added.status_code == 201, added.text
    assert added.json()["moved_days"] == 0
    for dose_date, collect_on, _, state, _ in ledger(world, patient["id"]):
        assert collect_on >= MONDAY or state != "due", (dose_date, collect_on)
    assert "closed_day_needs_amended_prescription" in {
        a["kind"] for a in alerts_for(world, patient["id"])
    }


# --- 7. cancel and release ------------------------------------------------------------------


def test_a_pharmacist_cancels_before_the_first_supply(world: World, clock: FixedClock) -> None:
    patient = world.patient()
    rx = active(world, daily(world, patient["id"]))
    path = f"{API}/prescriptions/{rx['id']}/cancel"
    body = {"reason": "Prescriber phoned: patient moved out of area"}

    for role, status in (("technician", 403), ("key_worker", 403)):
        refused = world.post(path, body, role=role)
        assert refused.status_code == status, (role, refused.text)
    foreign = world.post(path, body, branch=world.away)
    assert foreign.status_code == 404, foreign.text
    assert len(ledger(world, patient["id"])) == 14

    cancelled = world.post(path, body)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["schedule"] == []
    assert ledger(world, patient["id"]) == []
    assert audit_facts(world, rx["id"], "prescription.cancelled")[0]["days_removed"] == 14
    again = world.post(path, body)
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "not_cancellable"

    clock.set(at(MONDAY))
    decision = check(world, patient["id"])
    assert decision["allowed"] is False
    assert codes(decision["blocks"]) == ["no_prescription"]


def test_the_prescriber_cancels_mid_course_and_recorded_doses_stay(
    world: World, clock: FixedClock
) -> None:
    patient = world.patient()
    rx = active(world, daily(world, patient["id"]))
    clock.set(at(MONDAY))
    handover(world, patient["id"], MONDAY)
    clock.set(at(TUESDAY, 8))

    other = world.post(
        f"{API}/prescriptions/{rx['id']}/cancel",
        {"reason": "Stopping"},
        role="prescriber",
        branch=world.away,
    )
    assert other.status_code == 404, other.text
    cancelled = world.post(
        f"{API}/prescriptions/{rx['id']}/cancel",
        {"reason": "Admitted to hospital"},
        role="prescriber",
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert [(row[0], row[3]) for row in ledger(world, patient["id"])] == [(MONDAY, "supervised")]
    decision = check(world, patient["id"])
    assert decision["allowed"] is False
    assert codes(decision["blocks"]) == ["no_prescription"]
    assert audit_actions(world, rx["id"]).count("prescription.cancelled") == 1


def test_only_the_patients_prescriber_releases(world: World) -> None:
    patient = world.patient()
    rx = active(world, daily(world, patient["id"]))
    path = f"{API}/prescriptions/{rx['id']}/release"
    body = {"note": "Reviewed by phone; continue at 60 mg"}

    for role in ("technician", "pharmacist", "key_worker"):
        refused = world.post(path, body, role=role)
        assert refused.status_code == 403, (role, refused.text)
        assert refused.json()["code"] == "permission_denied"
    other = world.post(path, body, role="prescriber", branch=world.away)
    assert other.status_code == 404, other.text
    assert other.json()["code"] == "not_found"

    released = world.post(path, body, role="prescriber")
    assert released.status_code == 201, released.text
    assert released.json()["prescription_id"] == rx["id"]
    assert released.json()["released_on"] == "2026-11-28"
    assert released.json()["released_by_id"] == str(world.home.users["prescriber"])

    world.post(f"{API}/prescriptions/{rx['id']}/cancel", {"reason": "Stopped"}, role="prescriber")
    stopped = world.post(path, body, role="prescriber")
    assert stopped.status_code == 409, stopped.text
    assert stopped.json()["code"] == "not_active"


# --- 9. twice weekly, and bank holidays -----------------------------------------------------


def twice_weekly(world: World, patient_id: str, start: date, **overrides: Any) -> dict[str, Any]:
    return form(
        world,
        patient_id,
        start,
        14,
        collection_days=["mon", "thu"],
        supervised_days=[],
        direction_text="60mg (60ml) daily. Collect Monday (3 days' supply) and Thursday "
        "(4 days' supply). Not supervised.",
        **overrides,
    )


def expected(*instalments: tuple[str, list[str]], mode: str = "take_home") -> list[Any]:
    return [
        (dose, collect, mode, Decimal(60), "due")
        for collect, doses in instalments
        for dose in doses
    ]


def test_twice_weekly_take_home_collections(world: World) -> None:
    patient = world.patient()
    rx = active(world, twice_weekly(world, patient["id"], MONDAY, wording={}))
    assert rows(rx["schedule"]) == expected(
        ("2026-11-30", ["2026-11-30", "2026-12-01", "2026-12-02"]),
        ("2026-12-03", ["2026-12-03", "2026-12-04", "2026-12-05", "2026-12-06"]),
        ("2026-12-07", ["2026-12-07", "2026-12-08", "2026-12-09"]),
        ("2026-12-10", ["2026-12-10", "2026-12-11", "2026-12-12", "2026-12-13"]),
    )


@pytest.mark.hazard("H-12.1")
def test_a_bank_holiday_monday_added_later_moves_the_instalment_to_saturday(world: World) -> None:
    """Christmas 2026: Christmas Day is Friday 25 December, the Boxing Day bank holiday is
    Monday 28 December. Thursday's instalment already covers Friday to Sunday."""
    patient = world.patient()
    christmas = date(2026, 12, 21)
    body = twice_weekly(world, patient["id"], christmas, wording={"closed_day_prior": True})
    rx = active(world, body)
    assert close(world, date(2026, 12, 25), "Christmas Day").json()["moved_days"] == 0
    boxing_day = close(world, date(2026, 12, 28), "Boxing Day (substitute day)")
    assert boxing_day.status_code == 201, boxing_day.text
    assert boxing_day.json()["moved_days"] == 3
    schedule = world.get(f"{API}/prescriptions/{rx['id']}/schedule").json()["items"]
    assert rows(schedule) == expected(
        ("2026-12-21", ["2026-12-21", "2026-12-22", "2026-12-23"]),
        ("2026-12-24", ["2026-12-24", "2026-12-25", "2026-12-26", "2026-12-27"]),
        ("2026-12-26", ["2026-12-28", "2026-12-29", "2026-12-30"]),
        ("2026-12-31", ["2026-12-31", "2027-01-01", "2027-01-02", "2027-01-03"]),
    )


def test_daily_supervision_over_christmas_and_new_year(world: World) -> None:
    """The bank holidays are on the pharmacy's calendar before the prescription arrives."""
    for day, reason in (
        (date(2026, 12, 25), "Christmas Day"),
        (date(2026, 12, 28), "Boxing Day (substitute day)"),
        (date(2027, 1, 1), "New Year's Day"),
    ):
        assert close(world, day, reason).status_code == 201
    patient = world.patient()
    rx = active(world, form(world, patient["id"], date(2026, 12, 21), 14))
    sup, home = "supervised", "take_home"
    assert rows(rx["schedule"]) == [
        (dose, collect, mode, Decimal(60), "due")
        for dose, collect, mode in [
            ("2026-12-21", "2026-12-21", sup),
            ("2026-12-22", "2026-12-22", sup),
            ("2026-12-23", "2026-12-23", sup),
            ("2026-12-24", "2026-12-24", sup),
            ("2026-12-25", "2026-12-24", home),
            ("2026-12-26", "2026-12-26", sup),
            ("2026-12-27", "2026-12-26", home),
            ("2026-12-28", "2026-12-26", home),
            ("2026-12-29", "2026-12-29", sup),
            ("2026-12-30", "2026-12-30", sup),
            ("2026-12-31", "2026-12-31", sup),
            ("2027-01-01", "2026-12-31", home),
            ("2027-01-02", "2027-01-02", sup),
            ("2027-01-03", "2027-01-02", home),
        ]
    ]
