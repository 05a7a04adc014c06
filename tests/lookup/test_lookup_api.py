"""The last-dose look-up, replayed day by day with the fixed clock (issue 19 §4).

A ward nurse at 02:00 on Thursday, with the pharmacy closed, asks about a patient supervised
on Monday who took two days home on Tuesday: she is told the last dose was Wednesday's, a
take-home, two days going home on Tuesday; nothing about the household; and the pharmacy sees
the look-up on its counter page next morning. A suspended and a blocked patient say so.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError

from app.clock import FixedClock
from app.lookup.models import LookupEvent
from tests.builders import (
    API,
    MONDAY,
    WARNINGS,
    at,
    audit_actions,
    close_day,
    handover,
    prescribe,
)
from tests.databases import Database
from tests.factories import World
from tests.lookup.helpers import (
    ANSWER_KEYS,
    LAST_DOSE_KEYS,
    PATIENT_KEYS,
    PHARMACY_KEYS,
    TREATMENT_KEYS,
    clinician_token,
    link_token,
    look_up,
)

TUESDAY = MONDAY + timedelta(days=1)
WEDNESDAY = MONDAY + timedelta(days=2)
THURSDAY = MONDAY + timedelta(days=3)
# Supervised Monday; Tuesday's collection takes Tuesday's and Wednesday's doses home.
TAKE_HOME_TUESDAY = {
    "supervised_days": ["mon", "thu", "fri", "sat"],
    "collection_days": ["mon", "tue", "thu", "fri", "sat"],
    "wording": {"closed_day_prior": True},
    "direction_text": "60mg (60ml) daily. Supervised Mon, Thu, Fri, Sat. Tuesday: collect "
    "Tuesday's and Wednesday's doses. Sunday's dose collected on Saturday.",
}


def household_with_child(world: World) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A household with a child (re-confirmed Monday) and a patient in it."""
    household = world.household(address="17 Secret Gardens, Hometown", postcode="HT9 9ZZ")
    child = world.child(household["id"], name="Kitty Hiddenchild", date_of_birth="2019-04-01")
    confirmed = world.post(f"{API}/households/{household['id']}/confirmations", {"note": ""})
    assert confirmed.status_code == 201, confirmed.text
    return household, child, world.patient(household["id"])


def take_home_week(world: World, clock: FixedClock) -> dict[str, Any]:
    """Monday supervised, Tuesday's collection of two days, close of day to Wednesday."""
    clock.set(at(MONDAY, 8))
    household, _, patient = household_with_child(world)
    box = world.post(
        f"{API}/patients/{patient['id']}/box-confirmations",
        {"seen_on": MONDAY.isoformat(), "method": "shown_at_pharmacy", "note": ""},
    )
    assert box.status_code == 201, box.text
    prescribe(world, patient["id"], **TAKE_HOME_TUESDAY)
    clock.set(at(MONDAY))
    taken = world.post(f"{API}/counter/handover", handover(patient["id"], MONDAY))
    assert taken.status_code == 201, taken.text
    clock.set(at(MONDAY, 19))
    close_day(world, MONDAY)
    clock.set(at(TUESDAY))
    home = world.post(
        f"{API}/counter/handover",
        handover(patient["id"], TUESDAY, "collected", acknowledged=WARNINGS),
    )
    assert home.status_code == 201, home.text
    for day in (TUESDAY, WEDNESDAY):
        clock.set(at(day, 19))
        close_day(world, day)
    return {**patient, "household": household}


@pytest.mark.hazard("H-27.1")
def test_the_ward_at_two_in_the_morning_is_told_wednesdays_take_home_and_nothing_more(
    world: World, clock: FixedClock
) -> None:
    patient = take_home_week(world, clock)
    clock.set(at(WEDNESDAY, 20))
    token = link_token(world)  # the pharmacist sends the ward a link before closing

    clock.set(at(THURSDAY, 2, 0))
    response = look_up(world, token, patient["nhs_number"])

    assert response.status_code == 200, response.text
    answer = response.json()
    assert set(answer) == ANSWER_KEYS
    assert set(answer["patient"]) == PATIENT_KEYS
    assert set(answer["treatment"]) == TREATMENT_KEYS
    assert set(answer["last_dose"]) == LAST_DOSE_KEYS
    assert set(answer["pharmacy"]) == PHARMACY_KEYS
    assert answer["patient"]["date_of_birth"] == "1980-05-17"
    assert answer["treatment"]["daily_dose_mg"] == "60"
    assert answer["treatment"]["daily_dose_ml"] == "60"
    last = answer["last_dose"]
    assert (last["taken_on"], last["mode"]) == (WEDNESDAY.isoformat(), "take_home")
    assert last["went_home"] == {
        "collected_on": TUESDAY.isoformat(),
        "days": 2,
        "first_dose_on": TUESDAY.isoformat(),
        "last_dose_on": WEDNESDAY.isoformat(),
    }
    assert last["text"] == (
        "last dose taken: Wed 2 Dec 2026 (yesterday), take-home — 2 days went home on "
        "Tue 1 Dec 2026"
    )
    assert answer["blocked_today"] is False
    assert answer["suspension"] is None
    # The leak test: nothing of the household, the child, the patient's address or the alerts.
    for secret in (
        "17 Secret Gardens",
        "HT9 9ZZ",
        "Kitty Hiddenchild",
        patient["household"]["id"],
        "household",
        "child",
        "alert",
        "concern",
        "key_worker",
        "prescriber",
        "box",
    ):
        assert secret not in response.text, f"the look-up leaked {secret!r}"


@pytest.mark.hazard("H-27.1")
def test_a_dose_given_this_morning_is_the_last_dose_so_the_ward_does_not_double_it(
    world: World, clock: FixedClock
) -> None:
    patient = take_home_week(world, clock)
    clock.set(at(THURSDAY))
    taken = world.post(f"{API}/counter/handover", handover(patient["id"], THURSDAY))
    assert taken.status_code == 201, taken.text

    clock.set(at(THURSDAY, 14))
    answer = look_up(world, clinician_token(world), patient["nhs_number"]).json()

    assert (answer["last_dose"]["taken_on"], answer["last_dose"]["mode"]) == (
        THURSDAY.isoformat(),
        "supervised",
    )
    assert answer["last_dose"]["text"].startswith(
        "last dose taken: Thu 3 Dec 2026 (today), supervised at the pharmacy"
    )


@pytest.mark.hazard("H-27.1")
def test_a_suspended_patient_shows_suspended_with_the_reason_and_date(
    world: World, clock: FixedClock
) -> None:
    clock.set(at(MONDAY, 8))
    patient = world.patient()
    rx = prescribe(world, patient["id"])
    clock.set(at(MONDAY))
    assert world.post(f"{API}/counter/handover", handover(patient["id"], MONDAY)).status_code == 201
    clock.set(at(TUESDAY, 8))
    suspended = world.post(
        f"{API}/prescriptions/{rx['id']}/suspend",
        {"from_date": TUESDAY.isoformat(), "reason": "hospital", "note": "Ward 7, bed 12"},
    )
    assert suspended.status_code == 200, suspended.text

    clock.set(at(TUESDAY, 23))
    response = look_up(world, clinician_token(world), patient["nhs_number"])

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["suspension"] == {
        "reason": "hospital",
        "reason_text": "admitted to hospital",
        "from_date": TUESDAY.isoformat(),
    }
    assert answer["treatment"]["prescription_status"] == "suspended"
    assert answer["blocked_today"] is True
    assert [b["code"] for b in answer["block_reasons"]] == ["suspended"]
    assert answer["last_dose"]["taken_on"] == MONDAY.isoformat()
    assert "bed 12" not in response.text  # the pharmacist's note stays at the pharmacy


@pytest.mark.hazard("H-27.1")
def test_a_patient_blocked_after_missed_days_shows_blocked_in_plain_words(
    world: World, clock: FixedClock
) -> None:
    clock.set(at(MONDAY, 8))
    patient = world.patient()
    prescribe(world, patient["id"])
    for day in (MONDAY, TUESDAY, WEDNESDAY):  # never came
        clock.set(at(day, 19))
        close_day(world, day)

    clock.set(at(THURSDAY, 3))
    answer = look_up(world, clinician_token(world), patient["nhs_number"]).json()

    assert answer["blocked_today"] is True
    assert [b["code"] for b in answer["block_reasons"]] == ["missed_doses"]
    assert "tolerance may be reduced" in answer["block_reasons"][0]["message"]
    assert answer["last_dose"]["text"] == "last dose taken: none — new to treatment"


@pytest.mark.hazard("H-27.2")
def test_every_look_up_is_in_the_patients_audit_and_on_the_counter_page_next_morning(
    world: World, clock: FixedClock, database: Database
) -> None:
    patient = take_home_week(world, clock)
    clock.set(at(WEDNESDAY, 20))
    token = link_token(world)
    clock.set(at(THURSDAY, 2))
    assert look_up(world, token, patient["nhs_number"]).status_code == 200

    assert "lookup.last_dose" in audit_actions(world, patient["id"])
    clock.set(at(THURSDAY, 8, 45))
    page = world.get("/counter")
    assert page.status_code == 200, page.text
    assert "Look-ups since yesterday" in page.text
    assert f"{patient['given_name']} {patient['family_name']}" in page.text
    assert "Demotown General Hospital" in page.text
    listed = world.get(f"{API}/lookups")
    assert listed.status_code == 200, listed.text
    (item,) = [i for i in listed.json()["items"] if i["patient_id"] == patient["id"]]
    assert (item["via"], item["result"], item["outside_scope"]) == ("link", "found", False)
    # Another pharmacy sees none of it.
    away = world.get(f"{API}/lookups", branch=world.away)
    assert patient["id"] not in away.text
    # The log is the database's to keep.
    events = LookupEvent.__table__
    mine = events.c.patient_id == uuid.UUID(patient["id"])
    with database.engine.connect() as conn:
        for statement in (
            update(events).where(mine).values(caller="x"),
            delete(events).where(mine),
        ):
            with pytest.raises(DBAPIError, match="append-only"):
                conn.execute(statement)
            conn.rollback()


@pytest.mark.hazard("H-27.2")
def test_look_ups_are_rate_limited_per_caller_with_retry_after(
    world: World, clock: FixedClock
) -> None:
    world.settings.lookup.per_hour = 3
    patient = world.patient()
    clock.set(at(THURSDAY, 1))
    token = link_token(world)
    for minute in range(3):
        clock.set(at(THURSDAY, 2, minute))
        assert look_up(world, token, patient["nhs_number"]).status_code == 200

    clock.set(at(THURSDAY, 2, 30))
    refused = look_up(world, token, patient["nhs_number"])

    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "too_many_lookups"
    assert refused.headers["Retry-After"] == str(30 * 60)
    # Another caller has a limit of their own; an hour after the first, this one may ask again.
    assert look_up(world, clinician_token(world), patient["nhs_number"]).status_code == 200
    clock.set(
        at(
            THURSDAY,
            3,
            0,
        )
    )
    assert look_up(world, token, patient["nhs_number"]).status_code == 200


def test_a_number_that_fails_modulus_11_is_refused_next_to_the_field(world: World) -> None:
    response = look_up(world, clinician_token(world), "943 476 5918")

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "nhs_number"
