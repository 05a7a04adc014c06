"""The dose pump at the counter, end to end: the app configured with a simulated pump on a real
pty (devices/pump_simulator.py) measures today's dose and answers what the pump reported."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from app.clock import FixedClock
from app.pharmacies.models import Pharmacy
from devices import SerialPump
from devices.pump_simulator import PumpBehaviour, PumpSimulator
from tests.builders import API, MONDAY, at, audit_facts, prescribe, supervised_daily
from tests.factories import Branch, World

DISPENSE = f"{API}/counter/pump/dispense"


def ods_code(world: World, branch: Branch) -> str:
    with world.uow:
        pharmacy = world.uow.session.get(Pharmacy, branch.pharmacy_id)
        assert pharmacy is not None
        return pharmacy.ods_code


def serial(simulator: PumpSimulator) -> SerialPump:
    return SerialPump(simulator.path, ack_timeout=2.0, dispense_timeout=2.0)


@pytest.fixture
def pump(world: World, client: TestClient) -> Iterator[PumpSimulator]:
    """A simulated pump on a real pty, the home pharmacy's own (DOSEKEEPER_PUMP_URLS)."""
    with PumpSimulator() as simulator:
        client.app.state.pumps = {ods_code(world, world.home): serial(simulator)}  # type: ignore[attr-defined]
        yield simulator


def on_forty_mg(world: World, clock: FixedClock) -> str:
    """A patient with 40 mg (40 mL of 1 mg/mL) supervised Monday to Saturday, due today."""
    person = world.patient()
    prescribe(world, person["id"], **forty_mg_supervised())
    clock.set(at(MONDAY))
    return str(person["id"])


def forty_mg_supervised() -> dict[str, Any]:
    return supervised_daily(30, days=6) | {
        "daily_dose_mg": "40",
        "total_quantity_ml": "240",
        "total_quantity_words": "two hundred and forty",
        "direction_text": "40mg (40ml) daily, supervised consumption every day.",
    }


def dispense(world: World, patient_id: str, role: str = "pharmacist") -> Response:
    return world.post(DISPENSE, {"patient_id": patient_id}, role=role)


def test_the_pump_measures_todays_dose(
    world: World, clock: FixedClock, pump: PumpSimulator
) -> None:
    patient_id = on_forty_mg(world, clock)
    response = dispense(world, patient_id)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["requested_ml"], body["dispensed_ml"], body["matches"]) == ("40.00", "40.00", True)
    assert body["date"] == MONDAY.isoformat()
    assert (body["container"], body["dose_dates"]) == ("supervised", [MONDAY.isoformat()])
    assert pump.received == [f"DISPENSE 40.00 {body['request_id']}"]
    [facts] = audit_facts(world, patient_id, "counter.pump_dispensed")
    assert facts["dispensed_ml"] == "40.00"
    assert facts["matches"] is True
    assert (facts["container"], facts["date"]) == ("supervised", MONDAY.isoformat())


def test_a_short_pump_says_what_it_dispensed(
    world: World, clock: FixedClock, pump: PumpSimulator
) -> None:
    patient_id = on_forty_mg(world, clock)
    pump.behaviour = PumpBehaviour.SHORT
    response = dispense(world, patient_id, role="technician")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["requested_ml"], body["dispensed_ml"], body["matches"]) == (
        "40.00",
        "38.50",
        False,
    )
    assert "not the 40.00 mL asked for" in body["message"]
    [facts] = audit_facts(world, patient_id, "counter.pump_dispensed")
    assert (facts["dispensed_ml"], facts["matches"]) == ("38.50", False)


def test_a_silent_pump_is_a_problem_in_bounded_time(
    world: World, clock: FixedClock, pump: PumpSimulator
) -> None:
    patient_id = on_forty_mg(world, clock)
    pump.behaviour = PumpBehaviour.SILENT
    started = time.monotonic()
    response = dispense(world, patient_id)
    assert time.monotonic() - started < 5
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "pump_unavailable"
    assert "discard anything it dispensed" in body["detail"]
    assert audit_facts(world, patient_id, "counter.pump_failed")[0]["error"] == "unavailable"


@pytest.mark.parametrize(
    ("behaviour", "pump_code", "unknown"),
    [
        (PumpBehaviour.GARBAGE, "protocol", False),
        (PumpBehaviour.WRONG_ID, "protocol", False),
        (PumpBehaviour.ERROR, "EMPTY", False),
        (PumpBehaviour.STALL, "timeout", True),
    ],
)
def test_a_misbehaving_pump_is_a_pump_error(
    world: World,
    clock: FixedClock,
    pump: PumpSimulator,
    behaviour: PumpBehaviour,
    pump_code: str,
    unknown: bool,
) -> None:
    patient_id = on_forty_mg(world, clock)
    pump.behaviour = behaviour
    response = dispense(world, patient_id)
    assert response.status_code == 502, response.text
    body = response.json()
    assert (body["code"], body["pump_code"], body["volume_unknown"]) == (
        "pump_error",
        pump_code,
        unknown,
    )
    assert body["requested_ml"] == "40.00"


def test_nothing_is_sent_for_a_dose_the_counter_refuses(
    world: World, clock: FixedClock, pump: PumpSimulator
) -> None:
    person = world.patient()  # no prescription: nothing is due
    clock.set(at(MONDAY))
    response = dispense(world, str(person["id"]))
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "dose_blocked"
    assert response.json()["blocks"]
    assert pump.received == []


def test_only_the_pharmacys_counter_staff_use_the_pump(
    world: World, clock: FixedClock, pump: PumpSimulator
) -> None:
    patient_id = on_forty_mg(world, clock)
    for role in ("prescriber", "key_worker", "safeguarding_lead", "admin"):
        assert dispense(world, patient_id, role=role).status_code == 403, role
    away = world.patient(branch=world.away)
    prescribe(world, away["id"], world.away, **forty_mg_supervised())
    response = dispense(world, str(away["id"]))
    assert response.status_code == 404, response.text
    assert pump.received == []


def test_without_a_pump_the_counter_says_so(
    world: World, clock: FixedClock, client: TestClient
) -> None:
    patient_id = on_forty_mg(world, clock)
    response = dispense(world, patient_id)
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "pump_not_configured"
    assert response.json()["detail"].startswith(
        f"No dose pump is set up for {pharmacy_name(world, world.home)}"
    )


def pharmacy_name(world: World, branch: Branch) -> str:
    with world.uow:
        pharmacy = world.uow.session.get(Pharmacy, branch.pharmacy_id)
        assert pharmacy is not None
        return pharmacy.name
