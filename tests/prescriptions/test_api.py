"""Transcribing, checking and scheduling instalment prescriptions through the API."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.builders import MONDAY, fp10mda
from tests.factories import World


def test_a_real_looking_fp10mda_gets_the_schedule_a_pharmacist_would_write(world: World) -> None:
    patient = world.patient(pregnant=False)
    response = world.post("/api/v1/prescriptions", fp10mda(world, patient["id"]))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "pending_check"
    schedule = body["schedule"]
    assert len(schedule) == 14
    for day in schedule:
        dose_date = date.fromisoformat(day["dose_date"])
        if dose_date.weekday() == 6:
            assert day["mode"] == "take_home"
            assert day["collect_on"] == (dose_date - timedelta(days=1)).isoformat()
        else:
            assert day["mode"] == "supervised"
            assert day["collect_on"] == day["dose_date"]
        assert day["dose_mg"] in ("60", "60.00")


@pytest.mark.hazard("H-13.2")
def test_a_second_pharmacist_must_check_before_the_schedule_becomes_the_ledger(
    world: World,
) -> None:
    patient = world.patient()
    created = world.post("/api/v1/prescriptions", fp10mda(world, patient["id"])).json()
    same = world.post(f"/api/v1/prescriptions/{created['id']}/verify", {})
    assert same.status_code == 403, same.text
    assert same.json()["code"] == "second_person_required"
    checked = world.post(f"/api/v1/prescriptions/{created['id']}/verify", {}, role="pharmacist2")
    assert checked.status_code == 200, checked.text
    assert checked.json()["status"] == "active"
    assert {d["state"] for d in checked.json()["schedule"]} == {"due"}


def test_an_invalid_form_is_refused_with_every_reason(world: World) -> None:
    patient = world.patient()
    body = fp10mda(
        world,
        patient["id"],
        end_on=(MONDAY + timedelta(days=20)).isoformat(),
        total_quantity_ml="500",
        direction_text=None,
    )
    response = world.post("/api/v1/prescriptions", body)
    assert response.status_code == 422, response.text
    codes = {b["code"] for b in response.json()["blocks"]}
    assert {"too_many_days", "schedule_inconsistent", "missing_field"} <= codes
