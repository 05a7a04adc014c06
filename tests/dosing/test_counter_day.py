"""A whole counter day through the API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.clock import FixedClock
from tests.builders import MONDAY
from tests.builders import prescribe as active
from tests.factories import World


@pytest.mark.hazard("H-03.1")
def test_supervised_dose_then_double_scan_is_refused(world: World, clock: FixedClock) -> None:
    patient = world.patient()
    active(world, patient["id"])
    clock.set(datetime(2026, 11, 30, 9, 30, tzinfo=UTC))
    check = world.post("/api/v1/counter/check", {"patient_id": patient["id"]})
    assert check.status_code == 200, check.text
    assert check.json()["allowed"] is True, check.json()
    assert check.json()["mode"] == "supervised"
    body = {
        "patient_id": patient["id"],
        "date": "2026-11-30",
        "outcome": "supervised",
        "intoxicated": False,
        "children_present": [],
    }
    first = world.post("/api/v1/counter/handover", body)
    assert first.status_code == 201, first.text
    second = world.post("/api/v1/counter/handover", body)
    assert second.status_code == 409, second.text
    assert second.json()["code"] == "already_recorded"


@pytest.mark.hazard("H-04.1")
def test_three_missed_days_block_until_release(world: World, clock: FixedClock) -> None:
    patient = world.patient()
    rx = active(world, patient["id"])
    for offset in range(3):
        day = MONDAY + timedelta(days=offset)
        clock.set(datetime(day.year, day.month, day.day, 19, 0, tzinfo=UTC))
        closed = world.post(
            f"/api/v1/pharmacies/{world.home.pharmacy_id}/close-day", {"date": day.isoformat()}
        )
        assert closed.status_code == 200, closed.text
        assert closed.json()["missed"] == 1
    clock.set(datetime(2026, 12, 3, 9, 0, tzinfo=UTC))
    check = world.post("/api/v1/counter/check", {"patient_id": patient["id"]}).json()
    assert [b["code"] for b in check["blocks"]] == ["missed_threshold_reached"]
    released = world.post(
        f"/api/v1/prescriptions/{rx['id']}/release",
        {"note": "Reviewed by phone; continue at 60 mg"},
        role="prescriber",
    )
    assert released.status_code == 201, released.text
    check = world.post("/api/v1/counter/check", {"patient_id": patient["id"]}).json()
    assert check["allowed"] is True, check
    alerts = world.get("/api/v1/alerts", params={"patient_id": patient["id"]}).json()["items"]
    assert "missed_threshold_reached" in {a["kind"] for a in alerts}
