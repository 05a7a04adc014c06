"""The dispensing record as a FHIR R4 Bundle (type `collection`), pure: values in, JSON out.

The mapping, chosen so that a missed or withheld day can never be mistaken for missing data:

- each handover (one collection at the counter) is a `MedicationDispense` with status
  `completed`, its quantity, the dose dates it covers and who received it;
- each supervised dose is also a `MedicationAdministration` with status `completed`: the
  pharmacist saw it swallowed (peers.md §4 suggests this; no UK peer does it yet);
- each missed day is a `MedicationAdministration` with status `not-done` and a `statusReason`
  saying the patient did not attend or collect;
- each withheld day is a `MedicationDispense` with status `declined` and a
  `statusReasonCodeableConcept` saying why (intoxicated, or another stated reason).

Every decided dose day therefore appears in exactly one day-level record or in a completed
dispense's `dosageInstruction.timing.event`. Products are coded from `app.reports.coding` (data),
never here. Resource ids are name-based UUIDs of the ledger rows, so the same export twice gives
the same ids and a receiver can de-duplicate. This module does not import `fhir.resources`: that
package validates the output in the tests only.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import groupby
from typing import Any

from app.prescriptions.products import PRODUCTS
from app.reports.coding import LOCAL_PRODUCT_SYSTEM, PRODUCT_CODINGS, Coding

__all__ = ["DoseDay", "FhirPatient", "FhirPharmacy", "bundle"]

BASE = "https://dosekeeper.invalid/fhir"
OUTCOME_SYSTEM = f"{BASE}/CodeSystem/dose-outcome"
UCUM = "http://unitsofmeasure.org"
NHS_NUMBER = "https://fhir.nhs.uk/Id/nhs-number"
ODS_CODE = "https://fhir.nhs.uk/Id/ods-organization-code"
NAMESPACE = uuid.UUID("6f1b6c55-2f4e-4a53-9d0e-7c1c2b1f0d4a")  # Dosekeeper FHIR ids

OUTCOMES = {
    "missed": "Not collected: the patient did not attend for this dose",
    "withheld-intoxicated": "Withheld: the patient presented intoxicated",
    "withheld-other": "Withheld by the pharmacist for a stated reason",
}


@dataclass(frozen=True, slots=True)
class FhirPatient:
    id: str
    nhs_number: str
    given_name: str
    family_name: str
    birth_date: date


@dataclass(frozen=True, slots=True)
class FhirPharmacy:
    id: str
    ods_code: str
    name: str


@dataclass(frozen=True, slots=True)
class DoseDay:
    """One ledger row with a final state."""

    id: str
    prescription_id: str
    product: str
    dose_date: date
    mode: str  # supervised | take_home
    dose_mg: Decimal
    state: str  # supervised | collected | missed | withheld
    recorded_at: datetime | None
    handover_id: str | None
    collector: str | None
    reason: str | None  # withheld: "intoxicated: …" or "other: …"
    # A split dose (issue 20 §2): (when, mg, supervised) for each part; empty for one dose.
    parts: tuple[tuple[str, Decimal, bool], ...] = ()


def _rid(kind: str, source: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}/{source}"))


def _instant(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _quantity(value: Decimal, unit: str, code: str) -> dict[str, Any]:
    return {"value": _number(value), "unit": unit, "system": UCUM, "code": code}


def _medication(product_code: str, codings: Mapping[str, Sequence[Coding]]) -> dict[str, Any]:
    product = PRODUCTS.get(product_code)
    name = product.name if product else product_code
    coded = [
        {"system": c.system, "code": c.code, "display": c.display}
        for c in codings.get(product_code, ())
    ]
    coded.append({"system": LOCAL_PRODUCT_SYSTEM, "code": product_code, "display": name})
    return {"coding": coded, "text": name}


def _dispensed_quantity(rows: Sequence[DoseDay]) -> dict[str, Any] | None:
    """What was handed over, in the product's own unit (mL, tablets, capsules), measured as the
    label and the register measure it. None for a product the table does not know: a figure in
    mg labelled mL (as this once did) is worse than no figure."""
    product = PRODUCTS.get(rows[0].product)
    if product is None:
        return None
    value = sum((product.quantity(r.dose_mg) for r in rows), Decimal(0))
    if product.unit == "mL":
        return _quantity(value, "mL", "mL")
    return _quantity(value, product.unit, "{" + product.unit + "}")


def _outcome(code: str, text: str | None = None) -> dict[str, Any]:
    return {
        "coding": [{"system": OUTCOME_SYSTEM, "code": code, "display": OUTCOMES[code]}],
        "text": text or OUTCOMES[code],
    }


def _identifier(kind: str, value: str) -> list[dict[str, str]]:
    return [{"system": f"{BASE}/Id/{kind}", "value": value}]


def _prescription(day: DoseDay) -> dict[str, Any]:
    return {
        "identifier": {"system": f"{BASE}/Id/prescription", "value": day.prescription_id},
        "type": "MedicationRequest",
    }


def _entry(resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource}


def bundle(
    patient: FhirPatient,
    pharmacy: FhirPharmacy,
    days: Sequence[DoseDay],
    *,
    generated_at: datetime,
    codings: Mapping[str, Sequence[Coding]] = PRODUCT_CODINGS,
) -> dict[str, Any]:
    """A Bundle of the patient, the pharmacy and one record per handover and per dose outcome."""
    patient_ref = {"reference": f"urn:uuid:{_rid('Patient', patient.id)}"}
    org_ref = {"reference": f"urn:uuid:{_rid('Organization', pharmacy.id)}"}
    entries = [
        _entry(
            {
                "resourceType": "Patient",
                "id": _rid("Patient", patient.id),
                "identifier": [{"system": NHS_NUMBER, "value": patient.nhs_number}],
                "name": [{"family": patient.family_name, "given": [patient.given_name]}],
                "birthDate": patient.birth_date.isoformat(),
            }
        ),
        _entry(
            {
                "resourceType": "Organization",
                "id": _rid("Organization", pharmacy.id),
                "identifier": [{"system": ODS_CODE, "value": pharmacy.ods_code}],
                "name": pharmacy.name,
            }
        ),
    ]
    ordered = sorted(days, key=lambda d: (d.dose_date, d.id))
    handed = sorted(
        (d for d in ordered if d.state in ("supervised", "collected") and d.handover_id),
        key=lambda d: (d.handover_id or "", d.dose_date),
    )
    dispense_of: dict[str, str] = {}
    for handover_id, group in groupby(handed, key=lambda d: d.handover_id or ""):
        rows = list(group)
        dispense_of[handover_id] = _rid("MedicationDispense", handover_id)
        entries.append(_entry(_dispense(handover_id, rows, patient_ref, org_ref, codings)))
    for day in ordered:
        if day.state == "supervised":
            entries.append(
                _entry(
                    _administration(
                        day,
                        patient_ref,
                        codings,
                        status="completed",
                        dispense=dispense_of.get(day.handover_id or ""),
                    )
                )
            )
        elif day.state == "missed":
            entries.append(_entry(_administration(day, patient_ref, codings, status="not-done")))
        elif day.state == "withheld":
            entries.append(_entry(_declined(day, patient_ref, org_ref, codings)))
    return {
        "resourceType": "Bundle",
        "id": _rid("Bundle", f"{patient.id}/{_instant(generated_at)}"),
        "type": "collection",
        "timestamp": _instant(generated_at),
        "entry": entries,
    }


def _dosage_text(rows: Sequence[DoseDay]) -> str:
    modes = sorted(
        {"supervised consumption" if r.mode == "supervised" else "take-home" for r in rows}
    )
    dates = ", ".join(r.dose_date.isoformat() for r in rows)
    return f"{' and '.join(modes)}: {dates}"


def _dispense(
    handover_id: str,
    rows: Sequence[DoseDay],
    patient_ref: dict[str, str],
    org_ref: dict[str, str],
    codings: Mapping[str, Sequence[Coding]],
) -> dict[str, Any]:
    first = rows[0]
    mg = sum((r.dose_mg for r in rows), Decimal(0))
    quantity = _dispensed_quantity(rows)
    receiver = (
        [patient_ref]
        if first.collector in (None, "patient")
        else [{"display": f"collected by the patient's {first.collector}"}]
    )
    resource: dict[str, Any] = {
        "resourceType": "MedicationDispense",
        "id": _rid("MedicationDispense", handover_id),
        "identifier": _identifier("handover", handover_id),
        "status": "completed",
        "medicationCodeableConcept": _medication(first.product, codings),
        "subject": patient_ref,
        "performer": [{"actor": org_ref}],
        "authorizingPrescription": [_prescription(first)],
        **({"quantity": quantity} if quantity is not None else {}),
        "daysSupply": _quantity(Decimal(len(rows)), "day", "d"),
        "receiver": receiver,
        "dosageInstruction": _dosage_instructions(rows),
    }
    if first.recorded_at is not None:
        resource["whenHandedOver"] = _instant(first.recorded_at)
    if mg != first.dose_mg * len(rows):  # doses differ between days: say so in words
        resource["note"] = [{"text": f"{mg} mg in all over {len(rows)} days"}]
    return resource


def _dosage_instructions(rows: Sequence[DoseDay]) -> list[dict[str, Any]]:
    """One instruction for days of one dose; with a split or stepped dose, one per day and part
    in order (`sequence`), so a receiver sees what was meant for the morning and the evening,
    and which day a step changed the dose."""
    first = rows[0]
    if all(not r.parts and r.dose_mg == first.dose_mg for r in rows):
        return [
            {
                "text": _dosage_text(rows),
                "timing": {"event": [r.dose_date.isoformat() for r in rows]},
                "doseAndRate": [{"doseQuantity": _quantity(first.dose_mg, "mg", "mg")}],
            }
        ]
    instructions: list[dict[str, Any]] = []
    for row in rows:
        parts = row.parts or (("", row.dose_mg, row.mode == "supervised"),)
        for when, mg, supervised in parts:
            how = (
                "supervised consumption" if supervised and row.mode == "supervised" else "take-home"
            )
            part = f"{when} part, " if when else ""
            instructions.append(
                {
                    "sequence": len(instructions) + 1,
                    "text": f"{part}{how}: {row.dose_date.isoformat()}",
                    "timing": {"event": [row.dose_date.isoformat()]},
                    "doseAndRate": [{"doseQuantity": _quantity(mg, "mg", "mg")}],
                }
            )
    return instructions


def _swallowed(day: DoseDay) -> tuple[Decimal, str]:
    """What the pharmacist saw swallowed: the supervised part of a split dose, else the dose."""
    supervised = [(when, mg) for when, mg, here in day.parts if here]
    if not supervised:
        return day.dose_mg, f"{day.dose_mg.normalize():f} mg for {day.dose_date.isoformat()}"
    mg = sum((mg for _, mg in supervised), Decimal(0))
    when = " and ".join(when for when, _ in supervised)
    return mg, (
        f"{mg.normalize():f} mg ({when} part of {day.dose_mg.normalize():f} mg split) for "
        f"{day.dose_date.isoformat()}"
    )


def _administration(
    day: DoseDay,
    patient_ref: dict[str, str],
    codings: Mapping[str, Sequence[Coding]],
    *,
    status: str,
    dispense: str | None = None,
) -> dict[str, Any]:
    mg, text = _swallowed(day) if status == "completed" else (day.dose_mg, "")
    text = text or f"{day.dose_mg.normalize():f} mg for {day.dose_date.isoformat()}"
    resource: dict[str, Any] = {
        "resourceType": "MedicationAdministration",
        "id": _rid("MedicationAdministration", day.id),
        "identifier": _identifier("instalment-day", day.id),
        "status": status,
        "medicationCodeableConcept": _medication(day.product, codings),
        "subject": patient_ref,
        "request": _prescription(day),
        "dosage": {"text": text, "dose": _quantity(mg, "mg", "mg")},
    }
    if status == "completed" and day.recorded_at is not None:
        resource["effectiveDateTime"] = _instant(day.recorded_at)
    else:
        resource["effectiveDateTime"] = day.dose_date.isoformat()
    if status == "not-done":
        resource["statusReason"] = [_outcome("missed")]
    if dispense is not None:
        resource["supportingInformation"] = [{"reference": f"urn:uuid:{dispense}"}]
    return resource


def _declined(
    day: DoseDay,
    patient_ref: dict[str, str],
    org_ref: dict[str, str],
    codings: Mapping[str, Sequence[Coding]],
) -> dict[str, Any]:
    intoxicated = (day.reason or "").startswith("intoxicated")
    code = "withheld-intoxicated" if intoxicated else "withheld-other"
    return {
        "resourceType": "MedicationDispense",
        "id": _rid("MedicationDispense", f"withheld/{day.id}"),
        "identifier": _identifier("instalment-day", day.id),
        "status": "declined",
        "statusReasonCodeableConcept": _outcome(code),
        "medicationCodeableConcept": _medication(day.product, codings),
        "subject": patient_ref,
        "performer": [{"actor": org_ref}],
        "authorizingPrescription": [_prescription(day)],
        "dosageInstruction": [
            {
                "text": f"{day.mode.replace('_', '-')} dose for {day.dose_date.isoformat()}",
                "timing": {"event": [day.dose_date.isoformat()]},
                "doseAndRate": [{"doseQuantity": _quantity(day.dose_mg, "mg", "mg")}],
            }
        ],
    }
