"""Split and stepped doses (issue 20 §2), replayed day by day.

A pregnant patient on 60 mg split as 40 mg swallowed at the counter in the morning and 20 mg
taken home for the evening, living with a toddler: the counter shows both parts, the evening
part goes home with its own label and needs the box and the children confirmed like any
take-home, the register has one line for the day's 60 mg, and days without any part taken count
toward the threshold as days, never as parts. A reduction of 60 mg to 55 mg from a Sunday: the
intake checks the stepped total in figures and words, the schedule carries each day's dose, and
Saturday's handover (60 mg swallowed, Sunday's 55 mg to take home) warns of the step and labels
Sunday's bottle with its own dose.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from app.clock import FixedClock
from tests.builders import (
    API,
    MONDAY,
    alerts,
    at,
    check,
    close_day,
    codes,
    fp10mda,
    handover,
    prescribe,
    twice_weekly_take_home,
)
from tests.factories import World
from tests.register.support import withhold

SPLIT = [
    {"when": "morning", "dose_mg": "40", "supervised": True},
    {"when": "evening", "dose_mg": "20", "supervised": False},
]
SATURDAY = MONDAY + timedelta(days=5)
SUNDAY = MONDAY + timedelta(days=6)
NEXT_MONDAY = MONDAY + timedelta(days=7)


def family_with_a_toddler(world: World) -> dict[str, Any]:
    """A patient in a household with a two-year-old, the box seen and the children confirmed."""
    house = world.household()
    world.child(house["id"], date_of_birth="2024-06-01")
    patient = world.patient(house["id"])
    box = world.post(
        f"{API}/patients/{patient['id']}/box-confirmations",
        {"seen_on": (MONDAY - timedelta(days=3)).isoformat(), "method": "shown_at_pharmacy"},
    )
    assert box.status_code == 201, box.text
    confirmed = world.post(f"{API}/households/{house['id']}/confirmations", {"note": "Seen"})
    assert confirmed.status_code == 201, confirmed.text
    return patient


def label_lines(world: World, label: dict[str, Any]) -> list[str]:
    response = world.get(f"{API}/labels/{label['label_id']}")
    assert response.status_code == 200, response.text
    return list(response.json()["lines"])


def supply_lines(world: World, patient_id: str) -> list[dict[str, Any]]:
    response = world.get(f"{API}/register", params={"product": "methadone-1mg-ml", "limit": 200})
    assert response.status_code == 200, response.text
    return [
        entry
        for entry in response.json()["items"]
        if entry["patient_id"] == patient_id and entry["kind"] == "supply"
    ]


@pytest.mark.hazard("H-32.1")
def test_a_split_dose_sends_the_evening_part_home_and_counts_missed_days_not_parts(
    world: World, clock: FixedClock
) -> None:
    patient = family_with_a_toddler(world)
    rx = prescribe(
        world,
        patient["id"],
        dose_parts=SPLIT,
        direction_text="60mg (60ml) daily in two parts: 40mg in the morning, supervised; 20mg "
        "in the evening to take home. Supervised consumption Mon-Sat.",
    )
    assert [(p["when"], p["dose_mg"], p["supervised"]) for p in rx["dose_parts"]] == [
        ("morning", "40", True),
        ("evening", "20", False),
    ]

    clock.set(at(MONDAY))
    decision = check(world, patient["id"])
    assert decision["mode"] == "supervised"
    assert [p["text"] for p in decision["parts"]] == [
        "Mon morning: 40 mg (40 mL), swallowed here",
        "Mon evening: 20 mg (20 mL), to take home in its own container",
    ]
    # The evening part goes home to a toddler: the same warning as any take-home.
    assert codes(decision["warnings"]) == ["young_child_take_home"], decision
    taken = world.post(
        f"{API}/counter/handover",
        handover(patient["id"], MONDAY, acknowledged=["young_child_take_home"]),
    )
    assert taken.status_code == 201, taken.text
    (label,) = taken.json()["label"]["jobs"]
    lines = label_lines(world, label)
    assert "Take 20 mL (20 mg) in the EVENING (part of the day's split dose)." in lines
    assert "Quantity: 20 mL = 20 mg" in lines
    # One supply, one register line: the day's whole 60 mg left the cupboard at once.
    (line,) = supply_lines(world, patient["id"])
    assert Decimal(line["quantity_ml"]) == Decimal(60)
    clock.set(at(MONDAY, 19))
    close_day(world, MONDAY)

    # Tuesday to Thursday: no part of any day is taken.
    for offset in (1, 2, 3):
        day = MONDAY + timedelta(days=offset)
        clock.set(at(day, 10))
        assert check(world, patient["id"])["last_dose"]["days_without_dose"] == offset - 1
        clock.set(at(day, 19))
        assert close_day(world, day)["missed"] == 1  # one day missed, not two parts

    clock.set(at(MONDAY + timedelta(days=4)))
    friday = check(world, patient["id"])
    assert friday["last_dose"]["days_without_dose"] == 3
    assert "missed_threshold_reached" in codes(friday["blocks"]), friday


@pytest.mark.hazard("H-32.1")
def test_a_split_dose_with_no_box_refuses_the_evening_part_until_the_box_is_seen(
    world: World, clock: FixedClock
) -> None:
    house = world.household()
    world.child(house["id"], date_of_birth="2024-06-01")
    patient = world.patient(house["id"])
    world.post(f"{API}/households/{house['id']}/confirmations", {"note": "Seen"})
    prescribe(world, patient["id"], dose_parts=SPLIT)

    clock.set(at(MONDAY))
    decision = check(world, patient["id"])
    assert decision["mode"] == "supervised"
    assert codes(decision["blocks"]) == ["no_lockable_box"], decision
    refused = world.post(
        f"{API}/counter/handover",
        handover(patient["id"], MONDAY, acknowledged=["young_child_take_home"]),
    )
    assert refused.status_code == 422, refused.text


def test_a_split_that_cannot_be_right_is_refused_at_intake(world: World) -> None:
    patient = world.patient()
    twice_supervised = [dict(part, supervised=True) for part in SPLIT]
    refused = world.post(
        f"{API}/prescriptions", fp10mda(world, patient["id"], dose_parts=twice_supervised)
    )
    assert refused.status_code == 422, refused.text
    (block,) = refused.json()["blocks"]
    assert block["code"] == "dose_parts_invalid"
    assert "second visit the same day" in block["message"]

    short = [SPLIT[0], dict(SPLIT[1], dose_mg="10")]
    refused = world.post(f"{API}/prescriptions", fp10mda(world, patient["id"], dose_parts=short))
    assert refused.status_code == 422, refused.text
    assert "the parts (40 mg + 10 mg) do not add up to 60 mg" in refused.json()["detail"]


# New to treatment and starting on a Saturday: 60 mg that day, 55 mg from Sunday for 13 days.
STEP_DOWN_ON_SUNDAY = {
    "start_on": SATURDAY.isoformat(),
    "end_on": (SATURDAY + timedelta(days=13)).isoformat(),
    "steps": [{"starts_on": SUNDAY.isoformat(), "daily_dose_mg": "55"}],
    "total_quantity_ml": "775",
    "total_quantity_words": "seven hundred and seventy-five",
    "direction_text": "60mg (60ml) on Sat 5 Dec, then 55mg (55ml) daily from Sun 6 Dec. "
    "Supervised consumption Mon-Sat. Sunday dose to be collected on Saturday.",
}


@pytest.mark.hazard("H-32.2")
def test_a_stepped_reduction_is_checked_in_words_and_figures_and_measured_by_the_day(
    world: World, clock: FixedClock
) -> None:
    patient = world.patient()
    # The total as if the dose never stepped: the figures and the steps disagree.
    wrong = world.post(
        f"{API}/prescriptions",
        fp10mda(
            world,
            patient["id"],
            **{
                **STEP_DOWN_ON_SUNDAY,
                "total_quantity_ml": "840",
                "total_quantity_words": "eight hundred and forty",
                "written_on": "2026-11-26",
            },
        ),
    )
    assert wrong.status_code == 422, wrong.text
    (block,) = wrong.json()["blocks"]
    assert block["code"] == "schedule_inconsistent"
    assert (
        "the stepped doses (60 mg (60 mL) a day for 1 day, then 55 mg (55 mL) a day for 13 "
        "days) add up to 775 mL" in block["message"]
    )

    rx = prescribe(world, patient["id"], **STEP_DOWN_ON_SUNDAY)
    schedule = world.get(f"{API}/prescriptions/{rx['id']}/schedule").json()["items"]
    doses = {item["dose_date"]: Decimal(item["dose_mg"]) for item in schedule}
    assert doses[SATURDAY.isoformat()] == Decimal(60)
    assert doses[SUNDAY.isoformat()] == Decimal(55)
    assert sum(doses.values()) == Decimal(775)

    clock.set(at(SATURDAY))
    saturday = check(world, patient["id"])
    assert saturday["dose_dates"] == [SATURDAY.isoformat(), SUNDAY.isoformat()]
    assert saturday["daily_dose_mg"] == "60"  # today's, swallowed here
    assert saturday["dose_varies"] is True
    assert codes(saturday["warnings"]) == ["dose_steps_today"], saturday
    (warning,) = saturday["warnings"]
    assert "steps the dose down on Sun 6 Dec 2026, from 60 mg to 55 mg" in warning["message"]
    refused = world.post(
        f"{API}/counter/handover",
        handover(
            patient["id"],
            SATURDAY,
            override={"code": "children_not_confirmed", "reason": "Lives alone, confirmed"},
        ),
    )
    assert refused.status_code == 422, refused.text  # the step must be acknowledged
    supplied = world.post(
        f"{API}/counter/handover",
        handover(
            patient["id"],
            SATURDAY,
            acknowledged=["dose_steps_today"],
            override={"code": "children_not_confirmed", "reason": "Lives alone, confirmed"},
        ),
    )
    assert supplied.status_code == 201, supplied.text
    (label,) = supplied.json()["label"]["jobs"]
    lines = label_lines(world, label)
    assert "Take 55 mL (55 mg) ONCE a day." in lines
    assert "Quantity: 55 mL = 55 mg" in lines
    (line,) = supply_lines(world, patient["id"])
    assert Decimal(line["quantity_ml"]) == Decimal(115)

    clock.set(at(NEXT_MONDAY))
    monday = check(world, patient["id"])
    assert monday["daily_dose_mg"] == "55"
    assert monday["warnings"] == []


@pytest.mark.hazard("H-32.1")
def test_the_evening_part_counts_as_methadone_at_home_for_the_whole_household(
    world: World, clock: FixedClock
) -> None:
    """Review finding: the evening part of one parent's split dose was invisible to the other
    parent's take-home check, the protected-household alert and the naloxone prompt."""
    house = world.household()
    world.child(house["id"], date_of_birth="2024-06-01", protection_status="child_protection_plan")
    split_parent = world.patient(house["id"])
    other_parent = world.patient(house["id"])
    for parent in (split_parent, other_parent):
        box = world.post(
            f"{API}/patients/{parent['id']}/box-confirmations",
            {"seen_on": (MONDAY - timedelta(days=3)).isoformat(), "method": "shown_at_pharmacy"},
        )
        assert box.status_code == 201, box.text
    world.post(f"{API}/households/{house['id']}/confirmations", {"note": "Seen"})
    split = [dict(SPLIT[0], dose_mg="10"), dict(SPLIT[1], dose_mg="50")]
    prescribe(world, split_parent["id"], dose_parts=split)
    prescribe(
        world,
        other_parent["id"],
        **twice_weekly_take_home(mg=20),
        last_dose={"source": "induction"},
    )

    clock.set(at(MONDAY))
    prompts = world.get(f"{API}/counter/prompts/{split_parent['id']}").json()["prompts"]
    assert prompts, "the evening part going home to a child needs the naloxone and storage prompts"
    taken = world.post(
        f"{API}/counter/handover",
        handover(split_parent["id"], MONDAY, acknowledged=["young_child_take_home"]),
    )
    assert taken.status_code == 201, taken.text
    raised = {alert["kind"] for alert in alerts(world, patient_id=split_parent["id"])}
    assert "take_home_in_protected_household" in raised, raised

    # 50 mg at home from the evening part + 3 days of 20 mg = 110 mg, over the 100 mg line.
    other = check(world, other_parent["id"])
    assert "household_methadone_high" in codes(other["warnings"]), other


@pytest.mark.hazard("H-32.1")
def test_a_split_fortnight_counts_withheld_and_missed_days_not_parts(
    world: World, clock: FixedClock
) -> None:
    """A week of a split dose: Monday taken; Tuesday withheld for intoxication (nothing goes
    home, not even the evening part); Wednesday a partner asks to collect the supervised part
    and is refused; Wednesday missed. Thursday the counter counts two days without a dose, not
    four parts, and the patient is supplied with both parts again."""
    patient = family_with_a_toddler(world)
    prescribe(world, patient["id"], dose_parts=SPLIT)
    tuesday, wednesday, thursday = (MONDAY + timedelta(days=n) for n in (1, 2, 3))

    clock.set(at(MONDAY))
    taken = world.post(
        f"{API}/counter/handover",
        handover(patient["id"], MONDAY, acknowledged=["young_child_take_home"]),
    )
    assert taken.status_code == 201, taken.text
    clock.set(at(MONDAY, 19))
    close_day(world, MONDAY)

    withhold(world, clock, patient["id"], tuesday)
    # Neither part may go: the withhold blocks the whole day until a reassessment.
    assert "withheld_today" in codes(check(world, patient["id"])["blocks"])
    clock.set(at(tuesday, 19))
    assert close_day(world, tuesday)["missed"] == 0  # withheld is not missed, yet not taken

    clock.set(at(wednesday, 10))
    representative = world.post(
        f"{API}/counter/handover",
        handover(
            patient["id"],
            wednesday,
            collector="representative",
            collector_details="Partner",
            acknowledged=["young_child_take_home"],
        ),
    )
    assert representative.status_code == 422, representative.text
    assert "supervised_needs_patient" in codes(representative.json()["blocks"])
    clock.set(at(wednesday, 19))
    assert close_day(world, wednesday)["missed"] == 1

    clock.set(at(thursday))
    decision = check(world, patient["id"])
    assert decision["last_dose"]["days_without_dose"] == 2, decision
    assert "missed_threshold_reached" not in codes(decision["blocks"])
    assert [p["supervised"] for p in decision["parts"]] == [True, False]
    supplied = world.post(
        f"{API}/counter/handover",
        handover(patient["id"], thursday, acknowledged=["young_child_take_home"]),
    )
    assert supplied.status_code == 201, supplied.text
