"""Doses given on paper during an outage, entered once the system is back (issue 19 §5),
replayed over a week as the pharmacist lives it.

Three patients on daily supervised methadone. Monday all three take their dose; from Tuesday
the third stops coming, and close of day each evening counts the days. Thursday evening the
pharmacist prints Friday's sheet: the third patient is "Do not supply" (three days without a
dose). Friday at 09:00 the second patient takes the dose at the counter; at 10:00 the network
goes. On paper: the first patient at 10:15, the second again at 11:00 (a locum who did not
know), the third at 12:00 although the sheet said not to. At 16:00 the system is back and the
pharmacist enters the sheet: the first is simply recorded; the second is a double supply, the
third a block ignored, and both alert the prescriber and key worker urgently. Every supply
reaches the CD register, dated Friday and entered Friday; entering the sheet again is refused.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError

from app.clock import FixedClock
from app.dosing.models import PaperDose
from tests.builders import (
    API,
    MONDAY,
    alerts,
    check,
    codes,
    prescribe,
    signed_in,
    twice_weekly_take_home,
)
from tests.databases import Database
from tests.factories import World, make_branch
from tests.lookup.helpers import clinician_token, look_up
from tests.register.support import at, close_day, hand_over, register

TUE, WED, THU, FRI, SAT = (MONDAY + timedelta(days=n) for n in range(1, 6))
SHEET = "DS-20261204 printed Thu 19:00"


def line(patient_id: str, day: date, outcome: str, given_at: str, given_by: str) -> dict[str, Any]:
    return {
        "patient_id": patient_id,
        "date": day.isoformat(),
        "outcome": outcome,
        "given_at": given_at,
        "given_by": given_by,
    }


def enter(world: World, entries: list[dict[str, Any]], role: str = "pharmacist") -> Any:
    return world.post(
        f"{API}/counter/paper-doses", {"sheet_reference": SHEET, "entries": entries}, role=role
    )


def supply_lines(world: World, patient_id: str, day: date) -> list[dict[str, Any]]:
    entries = register(world)["items"]
    return [
        e
        for e in entries
        if e["kind"] == "supply"
        and e.get("patient_id") == patient_id
        and e["transaction_date"] == day.isoformat()
    ]


def alone_at_home(world: World) -> dict[str, Any]:
    """A household with no children, confirmed: a take-home needs no override."""
    alone = world.household()
    confirmed = world.post(f"{API}/households/{alone['id']}/confirmations", {"note": "Lives alone"})
    assert confirmed.status_code == 201, confirmed.text
    return alone


def outage_friday(world: World, clock: FixedClock) -> tuple[str, str, str]:
    """The week to Friday's outage: returns the three patients' ids."""
    ada, ben, cal = (
        world.patient(family_name=name)["id"] for name in ("Papera", "Paperb", "Paperc")
    )
    clock.set(at(MONDAY, 8))
    for patient in (ada, ben, cal):
        prescribe(world, patient)
        hand_over(world, clock, patient, MONDAY)
    close_day(world, clock, MONDAY)
    for day in (TUE, WED, THU):
        for patient in (ada, ben):
            hand_over(world, clock, patient, day)
        close_day(world, clock, day)  # the third patient stays away: three days without
    clock.set(at(THU, 19, 30))
    sheet = signed_in(world, "pharmacist").page(f"/counter/sheet?date={FRI.isoformat()}")
    assert sheet.status_code == 200, sheet.text
    assert "Do not supply:" in sheet.text  # the third patient, on paper as at the counter
    assert "Sheet reference" in sheet.text
    hand_over(world, clock, ben, FRI)  # 09:00 at the counter, before the network went
    return ada, ben, cal


@pytest.mark.hazard("H-25.2")
def test_a_sheet_entered_after_the_outage_finds_the_double_supply_and_the_ignored_block(
    world: World, clock: FixedClock
) -> None:
    ada, ben, cal = outage_friday(world, clock)
    assert "missed_threshold_reached" in codes(check(world, cal)["blocks"])
    clock.set(at(FRI, 16))  # the system is back
    entered = enter(
        world,
        [
            line(cal, FRI, "supervised", "12:00", "JS"),
            line(ben, FRI, "supervised", "11:00", "KT"),
            line(ada, FRI, "supervised", "10:15", "JS"),
        ],
    )
    assert entered.status_code == 201, entered.text
    items = entered.json()["items"]
    # Entered in the order given on the day, whatever the order typed.
    assert [i["patient_id"] for i in items] == [ada, ben, cal]
    first, second, third = items
    assert (first["findings"], first["blocks"], first["alerts"]) == (["entered"], [], [])
    assert first["dose_mg"] == "60.00" or first["dose_mg"] == "60"
    assert second["findings"] == ["double_supply"]
    assert third["findings"] == ["entered", "block_ignored"]
    assert third["blocks"] == ["missed_threshold_reached"]
    assert all(i["sheet_reference"] == SHEET for i in items)

    raised = alerts(world)
    double = [a for a in raised if a["kind"] == "outage_double_supply"]
    ignored = [a for a in raised if a["kind"] == "outage_block_ignored"]
    assert [a["patient_id"] for a in double] == [ben]
    assert [a["patient_id"] for a in ignored] == [cal]
    assert {a["severity"] for a in double + ignored} == {"urgent"}
    assert not [a for a in raised if a["patient_id"] == ada and a["kind"].startswith("outage")]

    # The ledger: the first and third patients' Friday is supervised at the time on the sheet;
    # the second's keeps its one dose (09:00 at the counter).
    schedule = world.get(f"{API}/counter/paper-doses", params={"date": FRI.isoformat()})
    assert schedule.status_code == 200, schedule.text
    assert len(schedule.json()["items"]) == 3
    decision = check(world, ada)
    assert "already_recorded" in codes(decision["blocks"])

    # The CD register: every supply that left the cupboard, dated Friday; two for the second.
    assert len(supply_lines(world, ada, FRI)) == 1
    assert len(supply_lines(world, ben, FRI)) == 2
    assert len(supply_lines(world, cal, FRI)) == 1

    # Close of day finds nothing missed; entering the same sheet again changes nothing.
    assert close_day(world, clock, FRI)["missed"] == 0
    clock.set(at(FRI, 19, 30))
    again = world.post(  # the same sheet, its reference typed in lower case
        f"{API}/counter/paper-doses",
        {
            "sheet_reference": SHEET.lower(),
            "entries": [line(ada, FRI, "supervised", "10:15", "JS")],
        },
    )
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "already_entered"
    # Saturday: the paper dose is the last dose taken, as if given at the counter.
    clock.set(at(SAT, 9))
    assert check(world, ada)["last_dose"]["taken_on"] == FRI.isoformat()
    assert (
        len(
            world.get(f"{API}/counter/paper-doses", params={"date": FRI.isoformat()}).json()[
                "items"
            ]
        )
        == 3
    )


@pytest.mark.hazard("H-25.2")
def test_a_day_closed_before_the_sheet_was_entered_is_corrected_not_double_counted(
    world: World, clock: FixedClock
) -> None:
    """The system came back late on Tuesday and the day was closed before anyone entered the
    sheet: the supervised day and the take-home collected on paper were marked missed. Entered
    on Wednesday morning, both become what really happened, each with its correction, and the
    missed-day count the counter blocks on does not include them."""
    sup = world.patient(family_name="Closedfirst")["id"]
    clock.set(at(MONDAY, 8))
    home = world.patient(alone_at_home(world)["id"], family_name="Takehomer")["id"]
    prescribe(world, sup)
    prescribe(world, home, **twice_weekly_take_home(40))
    hand_over(world, clock, sup, MONDAY)
    hand_over(
        world,
        clock,
        home,
        MONDAY,
        outcome="collected",
        measuring_device=True,
        acknowledged=["young_child_take_home", "household_methadone_high"],
    )
    close_day(world, clock, MONDAY)
    close_day(world, clock, TUE)
    close_day(world, clock, WED)
    closed = close_day(world, clock, THU)  # Thursday's take-home collection: given on paper
    assert closed["missed"] >= 2
    clock.set(at(FRI, 8, 30))
    entered = enter(
        world,
        [
            line(home, THU, "collected", "15:20", "AB"),
            line(sup, THU, "supervised", "15:30", "AB"),
        ],
    )
    assert entered.status_code == 201, entered.text
    by_patient = {i["patient_id"]: i for i in entered.json()["items"]}
    assert by_patient[home]["findings"] == ["entered"]
    assert by_patient[home]["dose_dates"] == [
        (THU + timedelta(days=n)).isoformat() for n in range(4)
    ]
    # Tuesday and Wednesday without a dose are still two days without: the threshold is three.
    assert "entered" in by_patient[sup]["findings"]
    decision = check(world, sup)
    assert decision["last_dose"]["taken_on"] == THU.isoformat()
    assert decision["blocks"] == [], decision
    assert len(supply_lines(world, home, THU)) == 1


@pytest.mark.hazard("H-25.2")
def test_paper_entries_refuse_what_cannot_be_right_and_stay_append_only(
    world: World, clock: FixedClock, database: Database
) -> None:
    patient = world.patient(family_name="Refusals")["id"]
    clock.set(at(MONDAY, 8))
    prescribe(world, patient)
    hand_over(world, clock, patient, MONDAY)
    clock.set(at(TUE, 16))
    # A technician may dose from the sheet, but entering it is a pharmacist's correction.
    assert (
        enter(world, [line(patient, TUE, "supervised", "10:00", "JS")], "technician").status_code
        == 403
    )
    future = enter(world, [line(patient, TUE, "supervised", "17:30", "JS")])
    assert future.status_code == 422, future.text
    assert future.json()["errors"][0]["field"] == "entries.0.given_at"
    wrong_mode = enter(world, [line(patient, TUE, "collected", "10:00", "JS")])
    assert wrong_mode.status_code == 422, wrong_mode.text
    assert wrong_mode.json()["errors"][0]["rule"] == "matches_prescription"
    too_old = enter(world, [line(patient, TUE - timedelta(days=9), "supervised", "10:00", "JS")])
    assert too_old.status_code == 422, too_old.text
    other = make_branch(
        world.uow,
        world.settings,
        contacts={"key_worker": world.key_worker_id, "prescriber": world.prescriber_id},
    )
    theirs = world.patient(branch=other, family_name="Elsewhere")["id"]
    assert enter(world, [line(theirs, TUE, "supervised", "10:00", "JS")]).status_code == 404
    # A sheet with one bad line enters nothing.
    half = enter(
        world,
        [
            line(patient, TUE, "supervised", "10:00", "JS"),
            line(theirs, TUE, "supervised", "10:00", "JS"),
        ],
    )
    assert half.status_code == 404
    assert (
        world.get(f"{API}/counter/paper-doses", params={"date": TUE.isoformat()}).json()["items"]
        == []
    )

    # A withhold written on the sheet: the day is withheld, with the intoxication alert.
    withheld = enter(world, [line(patient, TUE, "withheld", "10:00", "JS")])
    assert withheld.status_code == 201, withheld.text
    assert withheld.json()["items"][0]["findings"] == ["entered"]
    kinds = [a["kind"] for a in alerts(world, patient_id=patient)]
    assert "dose_withheld_intoxicated" in kinds

    rows = PaperDose.__table__
    mine = rows.c.patient_id == uuid.UUID(patient)
    with database.engine.connect() as conn:
        for statement in (update(rows).where(mine).values(given_by="XX"), delete(rows).where(mine)):
            with pytest.raises(DBAPIError, match="append-only"):
                conn.execute(statement)
            conn.rollback()


@pytest.mark.hazard("H-25.2")
def test_saturdays_paper_dose_takes_sundays_bottle_with_it_as_the_counter_would(
    world: World, clock: FixedClock
) -> None:
    """Supervised Monday to Saturday, Sunday's dose going home on Saturday: one line on
    Saturday's sheet is both, as one handover at the counter would have been."""
    clock.set(at(MONDAY, 8))
    patient = world.patient(alone_at_home(world)["id"], family_name="Weekender")["id"]
    prescribe(world, patient)
    for day in (MONDAY, TUE, WED, THU, FRI):
        hand_over(world, clock, patient, day)
    clock.set(at(SAT, 15))
    entered = enter(world, [line(patient, SAT, "supervised", "10:05", "MK")])
    assert entered.status_code == 201, entered.text
    (item,) = entered.json()["items"]
    assert item["findings"] == ["entered"], item
    assert item["dose_dates"] == [SAT.isoformat(), (SAT + timedelta(days=1)).isoformat()]
    (supply,) = supply_lines(world, patient, SAT)
    assert supply["dose_dates"] == item["dose_dates"]
    # The same line again on another sheet is a second supply of Saturday, said as such.
    other = world.post(
        f"{API}/counter/paper-doses",
        {
            "sheet_reference": "DS-second-sheet",
            "entries": [line(patient, SAT, "supervised", "11:00", "MK")],
        },
    )
    assert other.status_code == 201, other.text
    assert other.json()["items"][0]["findings"] == ["double_supply"]


@pytest.mark.hazard("H-25.2")
def test_a_dose_given_on_paper_after_a_withhold_is_the_last_dose_a_ward_is_told(
    world: World, clock: FixedClock
) -> None:
    """Withheld at the counter at 09:00 (intoxicated), the network goes, and at 15:00 a locum
    gives the dose on paper. The ledger keeps the withhold; the night's look-up must still say
    that a dose was taken that day, or the ward gives another."""
    patient = world.patient(family_name="Papernight")
    clock.set(at(MONDAY, 8))
    prescribe(world, patient["id"])
    hand_over(world, clock, patient["id"], MONDAY)
    clock.set(at(TUE, 9))
    withheld = world.post(
        f"{API}/counter/withhold",
        {"patient_id": patient["id"], "date": TUE.isoformat(), "reason": "intoxicated"},
    )
    assert withheld.status_code == 201, withheld.text
    clock.set(at(TUE, 17))
    entered = enter(world, [line(patient["id"], TUE, "supervised", "15:00", "LC")])
    assert entered.status_code == 201, entered.text
    assert entered.json()["items"][0]["blocks"] == ["withheld_today"]
    clock.set(at(TUE, 23))
    answer = look_up(world, clinician_token(world), patient["nhs_number"])
    assert answer.status_code == 200, answer.text
    assert answer.json()["last_dose"]["taken_on"] == TUE.isoformat()
