"""The stock bottle checked before a dose is measured (issue 20 §5, hazard H-30), through the
API on both databases: the right bottle's batch on the supply and its register line; a wrong
product or strength, or an expired bottle, refused with nothing written; an unmapped GTIN a
warning until a pharmacist maps it; the required-scan setting; the pump's report.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select

from app.clock import FixedClock
from app.config import Settings
from app.dosing.models import HandoverBottle
from app.register.models import RegisterEntry
from tests.builders import API, MONDAY, at, codes, handover, ledger, prescribe
from tests.factories import World

DEMO_GTIN = "05012345678900"  # the seed table's: standard methadone 1 mg/mL


def gtin(body: str) -> str:
    """A 14-digit GTIN with its GS1 check digit, from 13 digits."""
    total = sum(int(digit) * (3 if index % 2 == 0 else 1) for index, digit in enumerate(body))
    return body + str((10 - total % 10) % 10)


CONCENTRATE_GTIN = gtin("0501234567891")
SUGAR_FREE_GTIN = gtin("0501234567892")
UNKNOWN_GTIN = gtin("0501234567893")


def pack(code: str, *, expiry: date = date(2027, 12, 31), batch: str = "B4471") -> str:
    """The GS1 pack code a bottle's DataMatrix carries, as a scanner reads it (HRI form)."""
    return f"(01){code}(17){expiry:%y%m%d}(10){batch}(21)S{batch}"


def map_pack(world: World, code: str, product: str, **kw: Any) -> dict[str, Any]:
    # Confirmed: these tests map concentrates and repoint GTINs on purpose.
    body = {
        "gtin": code,
        "product": product,
        "reason": "Label read: " + product,
        "confirm_change": True,
    }
    response = world.post(f"{API}/register/packs", body, **kw)
    assert response.status_code == 201, response.text
    return dict(response.json())


def patient_on(world: World, clock: FixedClock, product: str = "methadone-1mg-ml") -> str:
    clock.set(at(MONDAY))
    patient = world.patient()
    prescribe(world, patient["id"], product=product)
    return str(patient["id"])


def supply_lines(world: World, patient_id: str) -> list[RegisterEntry]:
    with world.uow:
        return list(
            world.uow.session.scalars(
                select(RegisterEntry).where(RegisterEntry.patient_id == UUID(patient_id))
            )
        )


def bottles_of(world: World, patient_id: str) -> list[HandoverBottle]:
    with world.uow:
        return list(
            world.uow.session.scalars(
                select(HandoverBottle).where(HandoverBottle.patient_id == UUID(patient_id))
            )
        )


def refused_with_nothing_written(world: World, patient_id: str, response: Any) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    problem = dict(response.json())
    assert problem["code"] == "handover_refused"
    assert ledger(world, patient_id)[0][3] == "due"
    assert supply_lines(world, patient_id) == []
    assert bottles_of(world, patient_id) == []
    return problem


@pytest.mark.hazard("H-30.6")
def test_the_right_bottle_puts_its_batch_on_the_supply_and_the_register_line(
    world: World, clock: FixedClock
) -> None:
    patient = patient_on(world, clock)

    done = world.post(
        f"{API}/counter/handover", handover(patient, MONDAY, bottle=pack(DEMO_GTIN, batch="B77"))
    )

    assert done.status_code == 201, done.text
    (kept,) = bottles_of(world, patient)
    assert (kept.gtin, kept.batch, kept.expiry) == (DEMO_GTIN, "B77", date(2027, 12, 31))
    assert kept.mapped_product == "methadone-1mg-ml"
    assert str(kept.handover_id) == done.json()["handover_id"]
    (line,) = supply_lines(world, patient)
    assert (line.gtin, line.batch, line.expiry) == (DEMO_GTIN, "B77", date(2027, 12, 31))
    register = world.get(f"{API}/register", params={"product": "methadone-1mg-ml"}).json()
    assert register["items"][-1]["batch"] == "B77"
    # The batch is part of the hashed line: the chain still verifies.
    verified = world.get(f"{API}/register/verify", params={"product": "methadone-1mg-ml"})
    assert verified.json()["ok"] is True


@pytest.mark.hazard("H-30.1")
def test_a_concentrate_bottle_for_a_1mg_prescription_is_refused_and_nothing_written(
    world: World, clock: FixedClock
) -> None:
    patient = patient_on(world, clock)
    map_pack(world, CONCENTRATE_GTIN, "methadone-10mg-ml")

    refused = world.post(
        f"{API}/counter/handover", handover(patient, MONDAY, bottle=pack(CONCENTRATE_GTIN))
    )

    problem = refused_with_nothing_written(world, patient, refused)
    assert codes(problem["blocks"]) == ["wrong_product_measured"]
    assert problem["blocks"][0]["message"].startswith(
        "This bottle is Methadone 10mg/mL oral solution (concentrate); the prescription is for "
        "Methadone 1mg/mL oral solution"
    )
    # Acknowledging it changes nothing: it is a block.
    again = world.post(
        f"{API}/counter/handover",
        handover(
            patient, MONDAY, bottle=pack(CONCENTRATE_GTIN), acknowledged=["wrong_product_measured"]
        ),
    )
    refused_with_nothing_written(world, patient, again)


@pytest.mark.hazard("H-30.1")
def test_a_standard_bottle_for_a_sugar_free_prescription_is_refused(
    world: World, clock: FixedClock
) -> None:
    patient = patient_on(world, clock, product="methadone-1mg-ml-sf")

    refused = world.post(
        f"{API}/counter/handover", handover(patient, MONDAY, bottle=pack(DEMO_GTIN))
    )

    problem = refused_with_nothing_written(world, patient, refused)
    assert codes(problem["blocks"]) == ["wrong_product_measured"]
    assert "SUGAR FREE" in problem["blocks"][0]["message"]
    map_pack(world, SUGAR_FREE_GTIN, "methadone-1mg-ml-sf")
    right = world.post(
        f"{API}/counter/handover", handover(patient, MONDAY, bottle=pack(SUGAR_FREE_GTIN))
    )
    assert right.status_code == 201, right.text


@pytest.mark.hazard("H-30.2")
def test_an_expired_bottle_is_refused(world: World, clock: FixedClock) -> None:
    patient = patient_on(world, clock)

    refused = world.post(
        f"{API}/counter/handover",
        handover(patient, MONDAY, bottle=pack(DEMO_GTIN, expiry=MONDAY - timedelta(days=1))),
    )

    problem = refused_with_nothing_written(world, patient, refused)
    assert codes(problem["blocks"]) == ["bottle_expired"]
    on_the_day = world.post(
        f"{API}/counter/handover", handover(patient, MONDAY, bottle=pack(DEMO_GTIN, expiry=MONDAY))
    )
    assert on_the_day.status_code == 201, on_the_day.text


@pytest.mark.hazard("H-30.3")
def test_an_unmapped_gtin_warns_until_acknowledged_and_a_mapping_makes_it_known(
    world: World, clock: FixedClock
) -> None:
    first = patient_on(world, clock)
    second = patient_on(world, clock)

    warned = world.post(
        f"{API}/counter/handover", handover(first, MONDAY, bottle=pack(UNKNOWN_GTIN))
    )
    problem = refused_with_nothing_written(world, first, warned)
    assert problem["unacknowledged"] == ["bottle_not_mapped"]
    acknowledged = world.post(
        f"{API}/counter/handover",
        handover(first, MONDAY, bottle=pack(UNKNOWN_GTIN), acknowledged=["bottle_not_mapped"]),
    )
    assert acknowledged.status_code == 201, acknowledged.text
    assert acknowledged.json()["warnings_acknowledged"] == ["bottle_not_mapped"]
    (kept,) = bottles_of(world, first)
    assert (kept.gtin, kept.mapped_product) == (UNKNOWN_GTIN, None)

    mapping = map_pack(world, UNKNOWN_GTIN, "methadone-1mg-ml")
    assert mapping["mapped_by"]
    assert mapping["in_force"] is True
    known = world.post(
        f"{API}/counter/handover", handover(second, MONDAY, bottle=pack(UNKNOWN_GTIN))
    )
    assert known.status_code == 201, known.text
    assert bottles_of(world, second)[0].mapped_product == "methadone-1mg-ml"


@pytest.mark.hazard("H-30.3")
def test_the_latest_mapping_wins_and_the_earlier_one_stays_on_record(
    world: World, clock: FixedClock
) -> None:
    patient = patient_on(world, clock)
    map_pack(world, UNKNOWN_GTIN, "methadone-1mg-ml")
    map_pack(world, UNKNOWN_GTIN, "methadone-10mg-ml")  # the label, read again: a concentrate

    table = world.get(f"{API}/register/packs").json()
    mine = [item for item in table["items"] if item["gtin"] == UNKNOWN_GTIN]
    assert [(m["product"], m["in_force"]) for m in mine] == [
        ("methadone-10mg-ml", True),
        ("methadone-1mg-ml", False),
    ]
    refused = world.post(
        f"{API}/counter/handover", handover(patient, MONDAY, bottle=pack(UNKNOWN_GTIN))
    )
    assert codes(refused.json()["blocks"]) == ["wrong_product_measured"]


@pytest.mark.hazard("H-30.4")
def test_where_the_setting_requires_it_a_liquid_needs_a_bottle_scan(
    world: World, clock: FixedClock, settings: Settings
) -> None:
    patient = patient_on(world, clock)
    required = settings.policy.model_copy(update={"bottle_scan_required": True})
    world.client.app.state.settings = settings.model_copy(update={"policy": required})  # type: ignore[attr-defined]

    refused = world.post(f"{API}/counter/handover", handover(patient, MONDAY))

    problem = refused_with_nothing_written(world, patient, refused)
    assert codes(problem["blocks"]) == ["bottle_not_scanned"]
    scanned = world.post(
        f"{API}/counter/handover", handover(patient, MONDAY, bottle=pack(DEMO_GTIN))
    )
    assert scanned.status_code == 201, scanned.text


def test_by_default_a_handover_needs_no_bottle_scan(world: World, clock: FixedClock) -> None:
    patient = patient_on(world, clock)

    done = world.post(f"{API}/counter/handover", handover(patient, MONDAY))

    assert done.status_code == 201, done.text
    assert bottles_of(world, patient) == []
    assert supply_lines(world, patient)[0].batch is None


@pytest.mark.hazard("H-30.5")
def test_a_pump_reporting_another_volume_stops_the_handover(
    world: World, clock: FixedClock
) -> None:
    patient = patient_on(world, clock)

    refused = world.post(
        f"{API}/counter/handover", handover(patient, MONDAY, pump_dispensed_ml="59.5")
    )

    problem = refused_with_nothing_written(world, patient, refused)
    assert codes(problem["blocks"]) == ["pump_volume_mismatch"]
    assert (
        "59.5 mL dispensed; the supervised dose (Mon 30 Nov 2026) is 60 mL"
        in problem["blocks"][0]["message"]
    )
    done = world.post(f"{API}/counter/handover", handover(patient, MONDAY, pump_dispensed_ml="60"))
    assert done.status_code == 201, done.text
    (kept,) = bottles_of(world, patient)
    assert (kept.pump_dispensed_ml, kept.measured_ml, kept.gtin) == (
        Decimal(60),
        Decimal(60),
        None,
    )


def test_a_scan_that_is_no_pack_is_refused_by_its_field(world: World, clock: FixedClock) -> None:
    patient = patient_on(world, clock)

    response = world.post(
        f"{API}/counter/handover", handover(patient, MONDAY, bottle="943 476 5919")
    )

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "bottle"
    assert ledger(world, patient)[0][3] == "due"


@pytest.mark.hazard("H-30.1")
def test_the_counter_scan_says_right_or_wrong_bottle_before_measuring(
    world: World, clock: FixedClock
) -> None:
    patient = patient_on(world, clock)
    map_pack(world, CONCENTRATE_GTIN, "methadone-10mg-ml")

    def scan(code: str) -> dict[str, Any]:
        response = world.post(f"{API}/counter/scan", {"code": code, "patient_id": patient})
        assert response.status_code == 200, response.text
        return dict(response.json())

    right, wrong, unknown = (scan(pack(g)) for g in (DEMO_GTIN, CONCENTRATE_GTIN, UNKNOWN_GTIN))
    assert right["bottle"]["matches"] is True
    assert right["accepted"] is True
    assert right["message"].startswith("Right bottle:")
    assert wrong["bottle"]["matches"] is False
    assert wrong["accepted"] is False
    assert wrong["message"].startswith("WRONG BOTTLE: This bottle is Methadone 10mg/mL")
    assert unknown["bottle"]["matches"] is None
    assert "not in this pharmacy's pack table" in unknown["message"]
    # Nothing was handed over by looking.
    assert ledger(world, patient)[0][3] == "due"
    assert bottles_of(world, patient) == []
