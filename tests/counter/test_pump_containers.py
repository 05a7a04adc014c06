"""One pump measure is one container (issue 20 §5, hazard H-30): the supervised cup and each
take-home container are measured apart, never the handover's total; the handover compares each
measure with its own container and reads the pump's last result for each from the record, so a
short measure stops it whatever the page sends; and each pharmacy drives its own pump only.
End to end with a simulated pump on a real pty, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.config import Settings
from app.dosing.models import HandoverBottle
from app.main import create_app
from devices.pump_simulator import PumpBehaviour, PumpSimulator
from tests.builders import API, MONDAY, at, audit_facts, codes, handover, prescribe
from tests.counter.test_pump import forty_mg_supervised, ods_code, pharmacy_name, serial
from tests.factories import World

DISPENSE = f"{API}/counter/pump/dispense"
HANDOVER = f"{API}/counter/handover"
SATURDAY = MONDAY + timedelta(days=5)
SPLIT = [
    {"when": "morning", "dose_mg": "40", "supervised": True},
    {"when": "evening", "dose_mg": "20", "supervised": False},
]
SPLIT_WEEK = {
    "end_on": (MONDAY + timedelta(days=5)).isoformat(),
    "total_quantity_ml": "360",
    "total_quantity_words": "three hundred and sixty",
    "direction_text": "60mg daily in two parts: 40mg morning supervised, 20mg evening home. "
    "Mon-Sat.",
}


@pytest.fixture
def pump(world: World, client: TestClient) -> Iterator[PumpSimulator]:
    with PumpSimulator() as simulator:
        client.app.state.pumps = {ods_code(world, world.home): serial(simulator)}  # type: ignore[attr-defined]
        yield simulator


def dispense(world: World, patient_id: str, container: Any = None, **kw: Any) -> Any:
    body: dict[str, Any] = {"patient_id": patient_id}
    if container is not None:
        body["container"] = container
    return world.post(DISPENSE, body, **kw)


def housed_patient(world: World) -> str:
    """A patient in a household whose children (none) were confirmed: take-homes may go."""
    house = world.household()
    patient = world.patient(house["id"])
    world.post(f"{API}/households/{house['id']}/confirmations", {"note": "Seen"})
    return str(patient["id"])


def kept(world: World, patient_id: str) -> list[HandoverBottle]:
    with world.uow:
        return list(
            world.uow.session.scalars(
                select(HandoverBottle).where(HandoverBottle.patient_id == UUID(patient_id))
            )
        )


def volumes(pump: PumpSimulator) -> list[str]:
    return [line.split()[1] for line in pump.received]


@pytest.mark.hazard("H-30.5")
def test_saturdays_supervised_cup_and_sundays_take_home_are_measured_apart(
    world: World, clock: FixedClock, pump: PumpSimulator
) -> None:
    patient = housed_patient(world)
    # 60 mg supervised Mon-Sat, Sunday's collected on Saturday: starting on a Saturday.
    prescribe(
        world,
        patient,
        start_on=SATURDAY.isoformat(),
        end_on=(SATURDAY + timedelta(days=13)).isoformat(),
    )
    clock.set(at(SATURDAY))

    unnamed = dispense(world, patient)
    assert unnamed.status_code == 409, unnamed.text
    assert unnamed.json()["code"] == "container_required"
    assert [(c["container"], c["ml"]) for c in unnamed.json()["containers"]] == [
        ("supervised", "60.00"),
        ("1", "60.00"),
    ]
    assert pump.received == []  # nothing measured until the pharmacist says which

    cup = dispense(world, patient, "supervised")
    home = dispense(world, patient, 1)
    assert (cup.status_code, home.status_code) == (200, 200), (cup.text, home.text)
    assert (cup.json()["container"], cup.json()["dose_dates"]) == ("supervised", ["2026-12-05"])
    assert (home.json()["container"], home.json()["dose_dates"]) == ("1", ["2026-12-06"])
    assert volumes(pump) == ["60.00", "60.00"]  # never DISPENSE 120.00 into one cup
    assert dispense(world, patient, 2).status_code == 422

    done = world.post(
        HANDOVER,
        handover(
            patient,
            SATURDAY,
            pump_measures=[
                {"container": "supervised", "dispensed_ml": "60.00"},
                {"container": 1, "dispensed_ml": "60.00"},
            ],
        ),
    )
    assert done.status_code == 201, done.text
    (bottle,) = kept(world, patient)
    assert (bottle.pump_dispensed_ml, bottle.measured_ml) == (Decimal(60), Decimal(60))
    [facts] = audit_facts(world, patient, "dose.handed_over")
    assert set(facts["pump_ml"]) == {
        "the supervised dose (Sat 5 Dec 2026)",
        "take-home container 1 of 1 (Sun 6 Dec 2026)",
    }


@pytest.mark.hazard("H-30.5")
def test_a_split_dose_pumps_only_the_part_swallowed_here(
    world: World, clock: FixedClock, pump: PumpSimulator
) -> None:
    patient = housed_patient(world)
    prescribe(world, patient, dose_parts=SPLIT, **SPLIT_WEEK)
    clock.set(at(MONDAY))

    listed = dispense(world, patient).json()
    assert [(c["container"], c["ml"]) for c in listed["containers"]] == [
        ("supervised", "40.00"),
        ("1", "20.00"),
    ]
    measured = dispense(world, patient, "supervised")
    assert measured.status_code == 200, measured.text
    assert volumes(pump) == ["40.00"]

    # The whole day's 60 mL is not what the cup holds: refused.
    whole = world.post(HANDOVER, handover(patient, MONDAY, pump_dispensed_ml="60.00"))
    assert whole.status_code == 422, whole.text
    assert codes(whole.json()["blocks"]) == ["pump_volume_mismatch"]
    assert "the supervised dose (Mon 30 Nov 2026) is 40 mL" in whole.json()["blocks"][0]["message"]
    # `pump_dispensed_ml` (older clients) is the supervised cup's measure.
    done = world.post(HANDOVER, handover(patient, MONDAY, pump_dispensed_ml="40.00"))
    assert done.status_code == 201, done.text
    assert kept(world, patient)[0].pump_dispensed_ml == Decimal(40)


@pytest.mark.hazard("H-30.5")
def test_a_short_measure_on_record_stops_the_handover_whatever_the_page_sends(
    world: World, clock: FixedClock, pump: PumpSimulator
) -> None:
    patient = str(world.patient()["id"])
    prescribe(world, patient, **forty_mg_supervised())
    clock.set(at(MONDAY))
    pump.behaviour = PumpBehaviour.SHORT
    assert dispense(world, patient).json()["matches"] is False

    # The page drawn again (no figure), or sending the figure asked for: both refused.
    for body in (handover(patient, MONDAY), handover(patient, MONDAY, pump_dispensed_ml="40")):
        refused = world.post(HANDOVER, body)
        assert refused.status_code == 422, refused.text
        assert codes(refused.json()["blocks"]) == ["pump_volume_mismatch"]
        assert (
            "last measure today for the supervised dose" in refused.json()["blocks"][0]["message"]
        )
    # Measured right since: the short one no longer stands.
    pump.behaviour = PumpBehaviour.EXACT
    assert dispense(world, patient).json()["matches"] is True
    done = world.post(HANDOVER, handover(patient, MONDAY))
    assert done.status_code == 201, done.text


def test_a_pump_that_fails_after_a_short_measure_leaves_it_to_a_hand_measure(
    world: World, clock: FixedClock, pump: PumpSimulator
) -> None:
    """The pump's fault says to discard and measure by hand: the fault is its last word."""
    patient = str(world.patient()["id"])
    prescribe(world, patient, **forty_mg_supervised())
    clock.set(at(MONDAY))
    pump.behaviour = PumpBehaviour.SHORT
    dispense(world, patient)
    pump.behaviour = PumpBehaviour.ERROR
    assert dispense(world, patient).status_code == 502

    done = world.post(HANDOVER, handover(patient, MONDAY))

    assert done.status_code == 201, done.text


def test_a_measure_for_a_container_the_handover_does_not_fill_is_refused_by_its_field(
    world: World, clock: FixedClock, pump: PumpSimulator
) -> None:
    patient = str(world.patient()["id"])
    prescribe(world, patient, **forty_mg_supervised())
    clock.set(at(MONDAY))

    response = world.post(
        HANDOVER,
        handover(patient, MONDAY, pump_measures=[{"container": 2, "dispensed_ml": "40.00"}]),
    )

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "pump_measures"


def test_each_pharmacy_drives_its_own_pump_only(
    world: World, clock: FixedClock, client: TestClient
) -> None:
    home_patient = str(world.patient()["id"])
    prescribe(world, home_patient, **forty_mg_supervised())
    away_patient = str(world.patient(branch=world.away)["id"])
    prescribe(world, away_patient, world.away, **forty_mg_supervised())
    clock.set(at(MONDAY))
    state = client.app.state  # type: ignore[attr-defined]
    with PumpSimulator() as home_pump, PumpSimulator() as single:
        state.pumps = {ods_code(world, world.home): serial(home_pump)}
        # One server-wide pump (DOSEKEEPER_PUMP_URL) on a server of several pharmacies.
        state.pump = serial(single)

        away = dispense(world, away_patient, branch=world.away)
        assert away.status_code == 409, away.text
        assert away.json()["code"] == "pump_not_configured"
        detail = away.json()["detail"]
        assert detail.startswith(f"No dose pump is set up for {pharmacy_name(world, world.away)}")
        assert "DOSEKEEPER_PUMP_URL)" in detail
        assert "DOSEKEEPER_PUMP_URLS" in detail
        assert dispense(world, home_patient).status_code == 200
        assert (len(home_pump.received), single.received) == (1, [])

        with PumpSimulator() as away_pump:
            state.pumps[ods_code(world, world.away)] = serial(away_pump)
            assert dispense(world, away_patient, branch=world.away).status_code == 200
            assert (len(away_pump.received), len(home_pump.received)) == (1, 1)
        assert single.received == []
    state.pump = None


def test_the_pumps_come_from_the_settings_by_ods_code(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    app = create_app(
        settings.model_copy(
            update={"pump_urls": {"fa123": "/dev/pump-a"}, "pump_url": "/dev/pump-one"}
        ),
        session_factory,
    )

    assert {ods: p.url for ods, p in app.state.pumps.items()} == {"FA123": "/dev/pump-a"}
    assert app.state.pump.url == "/dev/pump-one"
