"""Dose exceptions and replacements in the FHIR export (issue 20 §1), pure: values in, JSON
resources out, added to the Bundle `app.reports.fhir` builds.

- each exception is an `Observation` (status `final`) saying what happened to which dose
  (vomited, spilt, lost, stolen, damaged, returned unused), with the volume, focused on the
  dispense that supplied the dose when it is in the export;
- each replacement is its own `MedicationDispense` (status `completed`): never folded into the
  day's dispense, with its `supportingInformation` naming the exception's Observation (and the
  original dispense) and a note saying who authorised it, when and how.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from app.reports.coding import PRODUCT_CODINGS, Coding
from app.reports.fhir import (
    BASE,
    _identifier,
    _instant,
    _medication,
    _quantity,
    _rid,
)

__all__ = ["ExceptionRecord", "entries"]

EXCEPTION_SYSTEM = f"{BASE}/CodeSystem/dose-exception"
EXCEPTION_DISPLAY = {
    "vomited": "Dose vomited after swallowing",
    "spilt": "Dose spilt at the counter",
    "lost": "Take-home dose reported lost",
    "stolen": "Take-home dose reported stolen",
    "damaged": "Take-home dose damaged",
    "returned": "Take-home dose returned unused",
}


@dataclass(frozen=True, slots=True)
class ReplacementRecord:
    id: str
    mode: str
    dose_mg: Decimal
    volume_ml: Decimal | None
    dose_dates: tuple[date, ...]
    authorised_by: str
    authorised_at: datetime
    authorised_how: str
    supplied_at: datetime


@dataclass(frozen=True, slots=True)
class ExceptionRecord:
    id: str
    prescription_id: str
    product: str
    kind: str
    dose_dates: tuple[date, ...]
    dose_mg: Decimal
    volume_ml: Decimal | None
    note: str
    recorded_at: datetime
    # The handover that supplied the dose, when known: its dispense is in the same export
    # (for a replacement's exception, "replacement/<id>": the replacement's dispense).
    handover_id: str | None
    replacement: ReplacementRecord | None
    of_replacement: bool = False  # the dose was a replacement itself lost, spilt, ...


def _urn(kind: str, source: str) -> dict[str, str]:
    return {"reference": f"urn:uuid:{_rid(kind, source)}"}


def _amount(mg: Decimal, ml: Decimal | None) -> str:
    mg_text = f"{mg.normalize():f} mg"
    return f"{ml.normalize():f} mL ({mg_text})" if ml is not None else mg_text


def _observation(record: ExceptionRecord, patient_ref: dict[str, str]) -> dict[str, Any]:
    dates = ", ".join(d.isoformat() for d in record.dose_dates)
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": _rid("Observation", f"dose-exception/{record.id}"),
        "identifier": _identifier("dose-exception", record.id),
        "status": "final",
        "code": {
            "coding": [
                {
                    "system": EXCEPTION_SYSTEM,
                    "code": record.kind,
                    "display": EXCEPTION_DISPLAY[record.kind],
                }
            ],
            "text": EXCEPTION_DISPLAY[record.kind],
        },
        "subject": patient_ref,
        "effectiveDateTime": _instant(record.recorded_at),
        "valueString": f"{EXCEPTION_DISPLAY[record.kind]}: "
        f"{_amount(record.dose_mg, record.volume_ml)}, the "
        f"{'replacement ' if record.of_replacement else ''}dose for {dates}",
    }
    if record.handover_id:
        resource["focus"] = [_urn("MedicationDispense", record.handover_id)]
    if record.note:
        resource["note"] = [{"text": record.note}]
    return resource


def _replacement(
    record: ExceptionRecord,
    replacement: ReplacementRecord,
    patient_ref: dict[str, str],
    org_ref: dict[str, str],
    codings: Mapping[str, Sequence[Coding]],
) -> dict[str, Any]:
    supporting = [_urn("Observation", f"dose-exception/{record.id}")]
    if record.handover_id:
        supporting.append(_urn("MedicationDispense", record.handover_id))
    how = replacement.authorised_how.replace("_", " ")
    resource: dict[str, Any] = {
        "resourceType": "MedicationDispense",
        "id": _rid("MedicationDispense", f"replacement/{replacement.id}"),
        "identifier": _identifier("dose-replacement", replacement.id),
        "status": "completed",
        "medicationCodeableConcept": _medication(record.product, codings),
        "subject": patient_ref,
        "performer": [{"actor": org_ref}],
        "authorizingPrescription": [
            {
                "identifier": {
                    "system": f"{BASE}/Id/prescription",
                    "value": record.prescription_id,
                },
                "type": "MedicationRequest",
            }
        ],
        "supportingInformation": supporting,
        "receiver": [patient_ref],
        "whenHandedOver": _instant(replacement.supplied_at),
        "dosageInstruction": [
            {
                "text": (
                    "replacement, supervised consumption"
                    if replacement.mode == "supervised"
                    else "replacement, take-home"
                )
                + ": "
                + ", ".join(d.isoformat() for d in replacement.dose_dates),
                "timing": {"event": [d.isoformat() for d in replacement.dose_dates]},
                "doseAndRate": [{"doseQuantity": _quantity(replacement.dose_mg, "mg", "mg")}],
            }
        ],
        "note": [
            {
                "text": f"Replacement of a dose {EXCEPTION_DISPLAY[record.kind].lower()}; "
                f"authorised by {replacement.authorised_by} ({how}) at "
                f"{_instant(replacement.authorised_at)}"
            }
        ],
    }
    if replacement.volume_ml is not None:
        resource["quantity"] = _quantity(replacement.volume_ml, "mL", "mL")
    return resource


def entries(
    records: Sequence[ExceptionRecord],
    *,
    patient_id: str,
    pharmacy_id: str,
    codings: Mapping[str, Sequence[Coding]] = PRODUCT_CODINGS,
) -> list[dict[str, Any]]:
    """The Bundle entries for the exceptions (and replacements) in the export."""
    patient_ref = {"reference": f"urn:uuid:{_rid('Patient', patient_id)}"}
    org_ref = {"reference": f"urn:uuid:{_rid('Organization', pharmacy_id)}"}
    found: list[dict[str, Any]] = []
    for record in sorted(records, key=lambda r: (r.recorded_at, r.id)):
        resources = [_observation(record, patient_ref)]
        if record.replacement is not None:
            resources.append(
                _replacement(record, record.replacement, patient_ref, org_ref, codings)
            )
        found += [{"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources]
    return found
