"""End-to-end proofs of hazard-log controls that no other test proved through the real path
(docs/safety/hazard-log.md): HTTP through the test client, the use case, the database, and
the outcome the control promises (who is told, what is refused with which code).

Each test here was checked by breaking its control on purpose (see the hazard log's header):
with the control removed, the test fails.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

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
    supervised_daily,
    twice_weekly_take_home,
)
from tests.factories import World


def detail(world: World, alert_id: str) -> dict[str, Any]:
    response = world.get(f"{API}/alerts/{alert_id}", role="safeguarding_lead")
    assert response.status_code == 200, response.text
    return dict(response.json())


def told(world: World, alert: dict[str, Any]) -> set[str]:
    """The contacts the alert's deliveries go to."""
    return {str(d["contact_id"]) for d in detail(world, alert["id"])["deliveries"]}


def supervised(mg: int, days: int = 14) -> dict[str, Any]:
    """Daily supervision with the closed-day wording (the home branch shuts on Sundays)."""
    return {
        **supervised_daily(mg, days=days),
        "wording": {"supervise_on_collection": True, "closed_day_prior": True},
    }


def parent_in_household(world: World, protection_status: str) -> tuple[dict[str, Any], str]:
    house = world.household()
    world.child(
        house["id"],
        protection_status=protection_status,
        social_worker_id=str(world.social_worker_id),
    )
    patient = world.patient(house["id"])
    prescribe(world, patient["id"], **supervised(60))
    return patient, house["id"]


@pytest.mark.hazard("H-17.1")
def test_one_missed_day_with_a_child_on_a_protection_plan_tells_the_social_worker(
    world: World, clock: FixedClock
) -> None:
    patient, _ = parent_in_household(world, "child_protection_plan")
    clock.set(at(MONDAY, 19))

    closed = close_day(world, MONDAY)

    assert closed["missed"] == 1
    missed = [a for a in alerts(world, patient_id=patient["id"]) if a["kind"] == "missed_dose"]
    assert len(missed) == 1, missed
    assert str(world.social_worker_id) in told(world, missed[0])
    assert str(world.key_worker_id) in told(world, missed[0])


@pytest.mark.hazard("H-17.1")
def test_one_missed_day_with_a_child_on_no_plan_tells_the_key_worker_only(
    world: World, clock: FixedClock
) -> None:
    """The other side of the rung: a child on no plan (their social worker on file), so a
    single missed day tells the key worker and not the social worker."""
    patient, _ = parent_in_household(world, "none")
    clock.set(at(MONDAY, 19))

    assert close_day(world, MONDAY)["missed"] == 1

    missed = [a for a in alerts(world, patient_id=patient["id"]) if a["kind"] == "missed_dose"]
    assert len(missed) == 1, missed
    assert str(world.key_worker_id) in told(world, missed[0])
    assert str(world.social_worker_id) not in told(world, missed[0])


@pytest.mark.hazard("H-04.5", "H-17.2")
def test_every_further_missed_day_with_a_child_on_a_plan_tells_the_social_worker(
    world: World, clock: FixedClock
) -> None:
    patient, _ = parent_in_household(world, "child_protection_plan")
    for offset in range(3):
        day = MONDAY + timedelta(days=offset)
        clock.set(at(day, 19))
        close_day(world, day)

    raised = alerts(world, patient_id=patient["id"])
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for alert in raised:
        by_kind.setdefault(alert["kind"], []).append(alert)
    assert len(by_kind["missed_dose"]) == 2, raised  # day 1 and day 2
    assert len(by_kind["missed_threshold_reached"]) == 1, raised  # day 3
    for alert in raised:
        assert str(world.social_worker_id) in told(world, alert), alert["kind"]
    threshold = by_kind["missed_threshold_reached"][0]
    assert threshold["severity"] == "urgent"
    assert {str(world.prescriber_id), str(world.key_worker_id)} <= told(world, threshold)


@pytest.mark.hazard("H-02.3")
def test_a_handover_with_an_unacknowledged_warning_is_refused_naming_it(
    world: World, clock: FixedClock
) -> None:
    patient = world.patient()
    prescribe(world, patient["id"], **supervised(120, days=5))
    day: date = MONDAY
    clock.set(at(day))
    warnings = codes(check(world, patient["id"])["warnings"])
    assert "high_dose" in warnings, warnings

    refused = world.post(f"{API}/counter/handover", handover(patient["id"], day))

    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["code"] == "handover_refused"
    assert sorted(problem["unacknowledged"]) == sorted(warnings)
    days = world.get(
        f"{API}/patients/{patient['id']}/adherence",
        params={"from": day.isoformat(), "to": day.isoformat()},
    ).json()["days"]
    assert [d["state"] for d in days] == ["due"], "a dose was recorded"

    supplied = world.post(
        f"{API}/counter/handover", handover(patient["id"], day, acknowledged=warnings)
    )
    assert supplied.status_code == 201, supplied.text
    body = supplied.json()
    assert (body["patient_id"], body["mode"]) == (patient["id"], "supervised")
    assert body["warnings_acknowledged"] == warnings
    assert body["label"] is None  # a supervised dose is swallowed at the counter: no label
    (recorded,) = body["doses"]
    assert str(UUID(body["handover_id"])) == body["handover_id"]
    assert str(UUID(recorded["id"])) == recorded["id"]
    assert (recorded["dose_date"], recorded["state"]) == (day.isoformat(), "supervised")
    assert Decimal(recorded["dose_mg"]) == Decimal(120)
    assert recorded["recorded_at"] is not None


@pytest.mark.hazard("H-01.1")
def test_a_scanned_card_selects_its_patient_and_is_not_the_nhs_number(
    world: World, clock: FixedClock
) -> None:
    patient = world.patient()
    other = world.patient()
    prescribe(world, patient["id"], **supervised(60))
    clock.set(at(MONDAY))
    card = patient["card_code"]
    assert patient["nhs_number"] not in card
    assert card != other["card_code"]

    scanned = world.post(f"{API}/counter/scan", {"code": card})

    assert scanned.status_code == 200, scanned.text
    body = scanned.json()
    assert (body["kind"], body["patient_id"]) == ("patient_card", patient["id"])
    assert body["decision"]["patient_id"] == patient["id"]
    assert body["decision"]["allowed"] is True, body["decision"]


@pytest.mark.hazard("H-02.5")
def test_a_non_standard_strength_warns_and_is_labelled_in_its_own_ml(
    world: World, clock: FixedClock
) -> None:
    patient = world.patient()
    form = {**fp10mda(world, patient["id"]), "product": "methadone-10mg-ml"}
    form["total_quantity_ml"] = "84"
    form["total_quantity_words"] = "eighty-four"
    created = world.post(f"{API}/prescriptions", form)
    assert created.status_code == 201, created.text
    assert "non_standard_strength" in codes(created.json()["warnings"])
    verified = world.post(
        f"{API}/prescriptions/{created.json()['id']}/verify",
        {"acknowledged": ["non_standard_strength"]},
        role="pharmacist2",
    )
    assert verified.status_code == 200, verified.text
    clock.set(at(MONDAY))

    decision = check(world, patient["id"])

    assert (decision["dose_mg"], decision["dose_ml"]) in {("60", "6"), ("60.00", "6.00")}, decision


@pytest.mark.hazard("H-06.2")
def test_a_box_confirmation_expires_and_blocks_the_take_home_again(
    world: World, clock: FixedClock
) -> None:
    house = world.household()
    world.child(house["id"], date_of_birth="2016-06-01")
    patient = world.patient(house["id"])
    prescribe(world, patient["id"], **twice_weekly_take_home(40))
    thursday = MONDAY + timedelta(days=3)
    clock.set(at(MONDAY))
    assert "no_lockable_box" in codes(check(world, patient["id"])["blocks"])
    oldest = MONDAY - timedelta(days=90)  # the oldest sighting that still counts: valid today
    box = world.post(
        f"{API}/patients/{patient['id']}/box-confirmations",
        {"seen_on": oldest.isoformat(), "method": "seen_at_home"},
    )
    assert box.status_code == 201, box.text
    assert box.json()["valid_until"] == MONDAY.isoformat()
    confirmed = world.post(f"{API}/households/{house['id']}/confirmations", {"note": "Seen"})
    assert confirmed.status_code == 201, confirmed.text
    today = check(world, patient["id"])
    assert today["allowed"] is True, today
    collected = world.post(
        f"{API}/counter/handover",
        handover(patient["id"], MONDAY, "collected", acknowledged=codes(today["warnings"])),
    )
    assert collected.status_code == 201, collected.text

    clock.set(at(thursday))
    refused = world.post(f"{API}/counter/handover", handover(patient["id"], thursday, "collected"))

    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "handover_refused"
    assert "no_lockable_box" in codes(refused.json()["blocks"])


@pytest.mark.hazard("H-06.6")
def test_methadone_accumulating_at_home_with_a_child_warns(world: World, clock: FixedClock) -> None:
    """Two parents each taking 40 mg home for Monday to Wednesday: 240 mg in a home with a child
    passes the 100 mg default (one parent's 120 mg alone does too)."""
    house = world.household()
    world.child(house["id"], date_of_birth="2016-06-01")
    clock.set(at(MONDAY))
    for _ in range(2):
        parent = world.patient(house["id"])
        prescribe(world, parent["id"], **twice_weekly_take_home(40))
        box = world.post(
            f"{API}/patients/{parent['id']}/box-confirmations",
            {"seen_on": MONDAY.isoformat(), "method": "shown_at_pharmacy"},
        )
        assert box.status_code == 201, box.text
    confirmed = world.post(f"{API}/households/{house['id']}/confirmations", {"note": "Seen"})
    assert confirmed.status_code == 201, confirmed.text

    decision = check(world, parent["id"])

    assert "household_methadone_high" in codes(decision["warnings"]), decision
    refused = world.post(f"{API}/counter/handover", handover(parent["id"], MONDAY, "collected"))
    assert refused.status_code == 422, refused.text
    assert "household_methadone_high" in refused.json()["unacknowledged"]
