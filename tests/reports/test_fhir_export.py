"""The FHIR R4 export: every resource validates with `fhir.resources` (its R4B models, the R4
line the package ships), round-trips, and a missed or withheld day is an explicit not-done
record, never a gap."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import fhir.resources.R4B as resources  # a dev dependency: missing is an error, not a skip

from app.clock import FixedClock
from app.reports import fhir
from app.reports.coding import DMD_SYSTEM, LOCAL_PRODUCT_SYSTEM, Coding
from tests.factories import World
from tests.register.support import API
from tests.reports.scenario import WEEK, period_params, seed_case

MEDICATION_DISPENSE_STATUS = {
    "preparation",
    "in-progress",
    "cancelled",
    "on-hold",
    "completed",
    "entered-in-error",
    "stopped",
    "declined",
    "unknown",
}
MEDICATION_ADMINISTRATION_STATUS = {
    "in-progress",
    "not-done",
    "on-hold",
    "completed",
    "entered-in-error",
    "stopped",
    "unknown",
}


def validate_round_trip(resource: dict[str, Any]) -> Any:
    """Parse with the model of the resource's type, serialise, parse again: equal."""
    model = resources.get_fhir_model_class(resource["resourceType"])
    parsed = model.model_validate(resource)
    again = model.model_validate_json(parsed.model_dump_json())
    assert again == parsed
    return parsed


def export(world: World, patient_id: str, **kw: Any) -> Any:
    return world.get(f"{API}/patients/{patient_id}/fhir", params=period_params(), **kw)


def test_the_export_is_valid_r4_and_says_what_happened_every_day(
    world: World, clock: FixedClock
) -> None:
    case = seed_case(world, clock)
    response = export(world, case.dad["id"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    bundle = response.json()
    validate_round_trip(bundle)
    for entry in bundle["entry"]:
        validate_round_trip(entry["resource"])
    assert len({e["fullUrl"] for e in bundle["entry"]}) == len(bundle["entry"])

    found = [e["resource"] for e in bundle["entry"]]
    kinds = Counter((r["resourceType"], r.get("status")) for r in found)
    mon, tue, wed, thu, fri, sat, sun = (d.isoformat() for d in WEEK)
    assert kinds == {
        ("Patient", None): 1,
        ("Organization", None): 1,
        ("MedicationDispense", "completed"): 3,  # Monday, Friday, Saturday's handovers
        ("MedicationAdministration", "completed"): 3,  # the three supervised doses
        ("MedicationAdministration", "not-done"): 2,  # Tuesday and Wednesday, missed
        ("MedicationDispense", "declined"): 1,  # Thursday, withheld: intoxicated
    }
    for r in found:
        if r["resourceType"] == "MedicationDispense":
            assert r["status"] in MEDICATION_DISPENSE_STATUS
        if r["resourceType"] == "MedicationAdministration":
            assert r["status"] in MEDICATION_ADMINISTRATION_STATUS

    dispensed = {
        tuple(r["dosageInstruction"][0]["timing"]["event"]): r
        for r in found
        if r["resourceType"] == "MedicationDispense" and r["status"] == "completed"
    }
    assert set(dispensed) == {(mon,), (fri,), (sat, sun)}
    saturday = dispensed[(sat, sun)]
    assert saturday["quantity"] == {
        "value": 120,
        "unit": "mL",
        "system": "http://unitsofmeasure.org",
        "code": "mL",
    }
    assert saturday["daysSupply"]["value"] == 2
    assert saturday["whenHandedOver"].startswith(sat)
    assert saturday["identifier"][0]["value"] == case.handovers[case.dad["id"]][-1]["handover_id"]
    coding = saturday["medicationCodeableConcept"]["coding"]
    assert coding[-1]["system"] == LOCAL_PRODUCT_SYSTEM
    assert coding[-1]["code"] == "methadone-1mg-ml"

    not_done = [r for r in found if r.get("status") == "not-done"]
    assert sorted(r["effectiveDateTime"] for r in not_done) == [tue, wed]
    assert all(r["statusReason"][0]["coding"][0]["code"] == "missed" for r in not_done)
    [declined] = [r for r in found if r.get("status") == "declined"]
    assert declined["statusReasonCodeableConcept"]["coding"][0]["code"] == "withheld-intoxicated"
    assert declined["dosageInstruction"][0]["timing"]["event"] == [thu]
    # Every dose day of the week is accounted for by exactly one day-level record or dispense.
    covered: list[str] = []
    for r in found:
        if r["resourceType"] == "MedicationAdministration":
            covered.append(r["effectiveDateTime"][:10])
        elif r["resourceType"] == "MedicationDispense" and r["status"] == "declined":
            covered += r["dosageInstruction"][0]["timing"]["event"]
        elif r["resourceType"] == "MedicationDispense":
            covered += [d for d in r["dosageInstruction"][0]["timing"]["event"] if d == sun]
    assert sorted(covered) == [mon, tue, wed, thu, fri, sat, sun]

    # The same export twice names the same resources (a receiver can de-duplicate).
    again = export(world, case.dad["id"]).json()
    assert [e["fullUrl"] for e in again["entry"]] == [e["fullUrl"] for e in bundle["entry"]]
    # Another pharmacy's staff get nothing.
    assert export(world, case.dad["id"], branch=world.away).status_code == 404


def test_products_are_coded_from_the_coding_table() -> None:
    """National codes come from data: the serializer adds whatever the table holds."""
    table = {"methadone-1mg-ml": (Coding(DMD_SYSTEM, "1234567", "Example VMP"),)}
    at = datetime(2026, 11, 30, 10, tzinfo=UTC)
    day = fhir.DoseDay(
        id="d1",
        prescription_id="rx1",
        product="methadone-1mg-ml",
        dose_date=date(2026, 11, 30),
        mode="supervised",
        dose_mg=Decimal("60.00"),
        state="supervised",
        recorded_at=at,
        handover_id="h1",
        collector="patient",
        reason=None,
    )
    bundle = fhir.bundle(
        fhir.FhirPatient("p1", "9990000018", "Test", "Patient", date(1980, 1, 1)),
        fhir.FhirPharmacy("ph1", "FAB12", "Test Pharmacy"),
        [day],
        generated_at=at,
        codings=table,
    )
    validate_round_trip(bundle)
    dispense = next(
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "MedicationDispense"
    )
    systems = [c["system"] for c in dispense["medicationCodeableConcept"]["coding"]]
    assert systems == [DMD_SYSTEM, LOCAL_PRODUCT_SYSTEM]


def test_a_split_and_stepped_handover_says_each_part_and_each_days_dose() -> None:
    """Saturday: 60 mg split (40 mg swallowed, 20 mg home for the evening); Sunday's dose, the
    first of the 55 mg step, goes home whole. The administration is what was swallowed."""
    at = datetime(2026, 12, 5, 10, tzinfo=UTC)
    saturday = fhir.DoseDay(
        id="d1",
        prescription_id="rx1",
        product="methadone-1mg-ml",
        dose_date=date(2026, 12, 5),
        mode="supervised",
        dose_mg=Decimal(60),
        state="supervised",
        recorded_at=at,
        handover_id="h1",
        collector="patient",
        reason=None,
        parts=(("morning", Decimal(40), True), ("evening", Decimal(20), False)),
    )
    sunday = fhir.DoseDay(
        id="d2",
        prescription_id="rx1",
        product="methadone-1mg-ml",
        dose_date=date(2026, 12, 6),
        mode="take_home",
        dose_mg=Decimal(55),
        state="collected",
        recorded_at=at,
        handover_id="h1",
        collector="patient",
        reason=None,
    )
    bundle = fhir.bundle(
        fhir.FhirPatient("p1", "9990000018", "Test", "Patient", date(1980, 1, 1)),
        fhir.FhirPharmacy("ph1", "FAB12", "Test Pharmacy"),
        [saturday, sunday],
        generated_at=at,
    )
    for entry in bundle["entry"]:
        validate_round_trip(entry["resource"])
    validate_round_trip(bundle)
    resources_by_type = {e["resource"]["resourceType"]: e["resource"] for e in bundle["entry"]}
    dispense = resources_by_type["MedicationDispense"]
    assert [
        (d["sequence"], d["text"], d["doseAndRate"][0]["doseQuantity"]["value"])
        for d in dispense["dosageInstruction"]
    ] == [
        (1, "morning part, supervised consumption: 2026-12-05", 40),
        (2, "evening part, take-home: 2026-12-05", 20),
        (3, "take-home: 2026-12-06", 55),
    ]
    assert dispense["quantity"]["value"] == 115
    administration = resources_by_type["MedicationAdministration"]
    assert administration["dosage"]["dose"]["value"] == 40
    assert administration["dosage"]["text"] == (
        "40 mg (morning part of 60 mg split) for 2026-12-05"
    )
