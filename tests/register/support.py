"""Scenario helpers shared by the register and report tests: everything goes through the API,
the way a counter terminal would drive it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from app.clock import FixedClock
from tests.builders import MONDAY
from tests.factories import PASSWORD, Branch, World

API = "/api/v1"
PRODUCT = "methadone-1mg-ml"


def at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    """`hour:minute` UTC on `day` (London is on GMT from November to March)."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def second_fortnight(**overrides: Any) -> dict[str, Any]:
    """The same regime as `fp10mda` for the 14 days after it (a new form every fortnight)."""
    start = MONDAY + timedelta(days=14)
    return {
        "start_on": start.isoformat(),
        "end_on": (start + timedelta(days=13)).isoformat(),
        **overrides,
    }


def handover(patient_id: str, day: date, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "patient_id": patient_id,
        "date": day.isoformat(),
        "outcome": "supervised",
        "collector": "patient",
        "id_checked": True,
        "id_shown": True,
        "intoxicated": False,
        "children_present": [],
        # Guidance prompts the counter may show on some days; acknowledging one that is not
        # shown changes nothing.
        "acknowledged": [
            "household_methadone_high",
            "dose_changed",
            "prescription_ending",
            "young_child_take_home",
        ],
        **overrides,
    }
    # A multi-day bottle goes home with a measure; the counter refuses it without one.
    body.setdefault("measuring_device", body["outcome"] == "collected")
    return body


def hand_over(
    world: World, clock: FixedClock, patient_id: str, day: date, **overrides: Any
) -> dict[str, Any]:
    clock.set(at(day))
    response = world.post(f"{API}/counter/handover", handover(patient_id, day, **overrides))
    assert response.status_code == 201, response.text
    return dict(response.json())


def withhold(
    world: World, clock: FixedClock, patient_id: str, day: date, **overrides: Any
) -> dict[str, Any]:
    clock.set(at(day, 11))
    body = {"patient_id": patient_id, "date": day.isoformat(), "reason": "intoxicated"}
    response = world.post(f"{API}/counter/withhold", {**body, **overrides})
    assert response.status_code == 201, response.text
    return dict(response.json())


def close_day(
    world: World, clock: FixedClock, day: date, branch: Branch | None = None
) -> dict[str, Any]:
    branch = branch or world.home
    clock.set(at(day, 19))
    response = world.post(
        f"{API}/pharmacies/{branch.pharmacy_id}/close-day", {"date": day.isoformat()}, branch=branch
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def receipt(
    world: World,
    day: date,
    quantity: str = "1000",
    branch: Branch | None = None,
    **overrides: Any,
) -> Any:
    body = {
        "product": PRODUCT,
        "received_on": day.isoformat(),
        "supplier_name": "Alliance Healthcare (test)",
        "supplier_address": "1 Wholesale Way, Testtown TT9 9ZZ",
        "quantity_ml": quantity,
        "invoice_ref": "INV-0001",
        **overrides,
    }
    return world.post(f"{API}/register/receipts", body, branch=branch)


def balance_check(
    world: World, counted: str, branch: Branch | None = None, **overrides: Any
) -> Any:
    branch = branch or world.home
    body = {
        "product": PRODUCT,
        "counted_ml": counted,
        "witness_username": branch.usernames["technician"],
        "witness_password": PASSWORD,
        **overrides,
    }
    return world.post(f"{API}/register/balance-checks", body, branch=branch)


def register(world: World, role: str = "pharmacist", **params: Any) -> dict[str, Any]:
    response = world.get(f"{API}/register", role=role, params={"product": PRODUCT, **params})
    assert response.status_code == 200, response.text
    return dict(response.json())
