"""How each product is coded in exports: a data table, not logic in the serializer.

Every product is coded in Dosekeeper's own code system (its stable product code), so an export
is always coded. National codes are added per product here as they are verified: the dm+d
VMP/AMP concept ids must come from the NHSBSA dm+d release (TRUD), not from memory (peers.md §4
found no source for methadone's codes), so the dm+d slots below are empty until then. UK Core
codes dm+d concepts with the SNOMED CT system; check which system a receiving API expects.

Pure data: standard library and the product table only, mypy-checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from app.prescriptions.products import PRODUCTS

__all__ = ["DMD_SYSTEM", "LOCAL_PRODUCT_SYSTEM", "PRODUCT_CODINGS", "SNOMED_SYSTEM", "Coding"]

LOCAL_PRODUCT_SYSTEM = "https://dosekeeper.invalid/fhir/CodeSystem/product"
DMD_SYSTEM = "https://dmd.nhs.uk"
SNOMED_SYSTEM = "http://snomed.info/sct"


@dataclass(frozen=True, slots=True)
class Coding:
    system: str
    code: str
    display: str


# Product code -> national codings, in preference order. Empty: only the local coding is sent.
# Built from each product's confirmed dm+d code (`Product.dmd_code`); every one is unconfirmed
# today, so every product is sent with its local coding alone, sugar-free and standard and each
# strength under its own code (docs/decisions.md, "The products in use").
PRODUCT_CODINGS: Mapping[str, tuple[Coding, ...]] = MappingProxyType(
    {
        product.code: (
            (Coding(SNOMED_SYSTEM, product.dmd_code, product.name),) if product.dmd_code else ()
        )
        for product in PRODUCTS.values()
    }
)
