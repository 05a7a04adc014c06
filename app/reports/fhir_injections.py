"""Long-acting buprenorphine injections in the FHIR export, pure: values in, JSON out.

Each dose given is a `MedicationAdministration` with status `completed`: `effectiveDateTime`
when it was given, the dose in mg, the site (`dosage.site` as text), the route (subcutaneous),
the batch and its expiry as `note`s (R4 carries lot numbers on `Medication`, not on the
administration), who gave it as the performer's display, and where (this pharmacy, or the clinic
named) in the dosage text. Ids are name-based UUIDs of the log rows, as for the dose days, so
the same export twice gives the same ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from app.reports.coding import LOCAL_PRODUCT_SYSTEM
from app.reports.fhir import _instant, _rid

__all__ = ["InjectionGiven", "entries"]

SUBCUTANEOUS = {
    "coding": [
        {"system": "http://snomed.info/sct", "code": "34206005", "display": "Subcutaneous route"}
    ],
    "text": "subcutaneous",
}


@dataclass(frozen=True, slots=True)
class InjectionGiven:
    id: str
    course_id: str
    product: str
    product_name: str
    given_at: datetime
    dose_mg: int
    site: str  # in words ("upper arm")
    batch: str
    expires_on: date
    given_by: str
    given_by_role: str
    where: str  # "this pharmacy" or the clinic's name


def entries(given: Sequence[InjectionGiven], *, patient_id: str) -> list[dict[str, Any]]:
    """One bundle entry per dose given, oldest first."""
    patient_ref = {"reference": f"urn:uuid:{_rid('Patient', patient_id)}"}
    out = []
    for g in sorted(given, key=lambda g: (g.given_at, g.id)):
        resource_id = _rid("MedicationAdministration", f"injection/{g.id}")
        who = g.given_by + (f" ({g.given_by_role})" if g.given_by_role else "")
        resource = {
            "resourceType": "MedicationAdministration",
            "id": resource_id,
            "identifier": [
                {"system": "https://dosekeeper.invalid/fhir/Id/injection", "value": g.id}
            ],
            "status": "completed",
            "medicationCodeableConcept": {
                "coding": [
                    {"system": LOCAL_PRODUCT_SYSTEM, "code": g.product, "display": g.product_name}
                ],
                "text": g.product_name,
            },
            "subject": patient_ref,
            "effectiveDateTime": _instant(g.given_at),
            "performer": [{"actor": {"display": who}}],
            "note": [{"text": f"Batch {g.batch}, expiry {g.expires_on.isoformat()}"}],
            "dosage": {
                "text": f"{g.dose_mg} mg long-acting buprenorphine injection, given at {g.where}",
                "site": {"text": g.site},
                "route": SUBCUTANEOUS,
                "dose": {
                    "value": g.dose_mg,
                    "unit": "mg",
                    "system": "http://unitsofmeasure.org",
                    "code": "mg",
                },
            },
        }
        out.append({"fullUrl": f"urn:uuid:{resource_id}", "resource": resource})
    return out
