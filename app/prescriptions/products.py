"""The products an instalment prescription may name: a data table, not logic.

This hand-kept table stands in for the dm+d (domain-rules §1.6 says FP10MDA eligibility should
come from the dm+d AMPP flags). When it is replaced by a dm+d import, the `Product` shape stays
the same and `app.prescriptions.rules` does not change. It is kept in a module rather than a
JSON file so the rules stay free of I/O and mypy checks every entry.

Pure: standard library only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from types import MappingProxyType

__all__ = ["LABEL_2", "MEASURE", "PRODUCTS", "Product", "measured", "ml_at"]

# What is measured out is held to the hundredth (of a mL, or of a tablet for the intake check
# that refuses part tablets), rounded half up: the one rule for labels, the counter, the
# register, reports and FHIR (docs/decisions.md, "One conversion from mg to mL").
MEASURE = Decimal("0.01")


def measured(quantity: Decimal) -> Decimal:
    """A quantity as it is measured and printed: to the hundredth, half up."""
    return quantity.quantize(MEASURE, rounding=ROUND_HALF_UP)


def ml_at(dose_mg: Decimal, strength_mg_per_ml: Decimal | None) -> Decimal | None:
    """The mL that hold `dose_mg` at this strength, measured; None without a liquid strength."""
    if not strength_mg_per_ml:
        return None
    return measured(dose_mg / strength_mg_per_ml)


# BNF cautionary label 2 (BNF Appendix 3, wording verified in domain-rules §3.1). That the BNF
# assigns label 2 to these products is [UNVERIFIED] in domain-rules: check the current BNF
# monograph before labels go live. Label numbers are not stored because they change (§9).
LABEL_2 = (
    "Warning: This medicine may make you sleepy. If this happens, do not drive or use tools "
    "or machines. Do not drink alcohol."
)


@dataclass(frozen=True, slots=True)
class Product:
    """One dispensable product. Exactly one of the two strengths is set, matching `unit`."""

    code: str  # stable API key, e.g. "methadone-1mg-ml"
    name: str  # as printed on the label, with strength and form
    drug: str  # the active ingredient, e.g. "methadone": dose thresholds are per drug
    form: str  # "oral solution", "sublingual tablet", "tablet", "capsule"
    strength_mg_per_ml: Decimal | None  # liquids
    strength_mg_per_unit: Decimal | None  # tablets and capsules
    unit: str  # what the total quantity counts: "mL", "tablet", "capsule"
    # May be dispensed in instalments on an FP10MDA in England: Schedule 2 CDs, buprenorphine
    # (with or without naloxone) and diazepam only (domain-rules §1.3; dm+d flag in future).
    instalment_eligible: bool
    benzodiazepine: bool
    opioid: bool
    # A strength easily confused with the standard one (methadone concentrates): a mg/mL slip
    # multiplies the dose (domain-rules §8.1, §11 #47).
    confusable_strength: bool
    cautionary_wording: tuple[str, ...]  # for labels, in print order
    schedule: int  # Misuse of Drugs Regulations 2001 schedule (2-5)

    @property
    def strength(self) -> Decimal:
        """mg per `unit` (per mL for a liquid, per tablet or capsule otherwise)."""
        strength = self.strength_mg_per_ml if self.unit == "mL" else self.strength_mg_per_unit
        if strength is None or strength <= 0:
            raise ValueError(f"product {self.code} has no strength for its unit {self.unit}")
        return strength

    def exact_quantity(self, dose_mg: Decimal) -> Decimal:
        """`dose_mg` in the product's unit, unrounded: the intake check uses it to refuse a dose
        that is not a whole number of tablets."""
        return dose_mg / self.strength

    def quantity(self, dose_mg: Decimal) -> Decimal:
        """`dose_mg` in the product's unit as measured out (mL, tablets, capsules)."""
        return measured(self.exact_quantity(dose_mg))

    def ml_for(self, dose_mg: Decimal) -> Decimal | None:
        """`dose_mg` in mL as measured out; None for a product that is not a liquid."""
        return self.quantity(dose_mg) if self.unit == "mL" else None


def _table(*products: Product) -> Mapping[str, Product]:
    return MappingProxyType({product.code: product for product in products})


PRODUCTS: Mapping[str, Product] = _table(
    Product(
        code="methadone-1mg-ml",
        name="Methadone 1mg/mL oral solution",
        drug="methadone",
        form="oral solution",
        strength_mg_per_ml=Decimal(1),
        strength_mg_per_unit=None,
        unit="mL",
        instalment_eligible=True,
        benzodiazepine=False,
        opioid=True,
        confusable_strength=False,
        cautionary_wording=(LABEL_2,),
        schedule=2,
    ),
    Product(
        code="methadone-10mg-ml",
        name="Methadone 10mg/mL oral solution (concentrate)",
        drug="methadone",
        form="oral solution",
        strength_mg_per_ml=Decimal(10),
        strength_mg_per_unit=None,
        unit="mL",
        instalment_eligible=True,
        benzodiazepine=False,
        opioid=True,
        confusable_strength=True,
        cautionary_wording=(LABEL_2,),
        schedule=2,
    ),
    Product(
        code="buprenorphine-2mg-tablet",
        name="Buprenorphine 2mg sublingual tablets",
        drug="buprenorphine",
        form="sublingual tablet",
        strength_mg_per_ml=None,
        strength_mg_per_unit=Decimal(2),
        unit="tablet",
        instalment_eligible=True,
        benzodiazepine=False,
        opioid=True,
        confusable_strength=False,
        cautionary_wording=(LABEL_2,),
        schedule=3,
    ),
    Product(
        code="buprenorphine-8mg-tablet",
        name="Buprenorphine 8mg sublingual tablets",
        drug="buprenorphine",
        form="sublingual tablet",
        strength_mg_per_ml=None,
        strength_mg_per_unit=Decimal(8),
        unit="tablet",
        instalment_eligible=True,
        benzodiazepine=False,
        opioid=True,
        confusable_strength=False,
        cautionary_wording=(LABEL_2,),
        schedule=3,
    ),
    Product(
        code="diazepam-2mg-tablet",
        name="Diazepam 2mg tablets",
        drug="diazepam",
        form="tablet",
        strength_mg_per_ml=None,
        strength_mg_per_unit=Decimal(2),
        unit="tablet",
        instalment_eligible=True,
        benzodiazepine=True,
        opioid=False,
        confusable_strength=False,
        cautionary_wording=(LABEL_2,),
        schedule=4,
    ),
    Product(
        code="diazepam-5mg-tablet",
        name="Diazepam 5mg tablets",
        drug="diazepam",
        form="tablet",
        strength_mg_per_ml=None,
        strength_mg_per_unit=Decimal(5),
        unit="tablet",
        instalment_eligible=True,
        benzodiazepine=True,
        opioid=False,
        confusable_strength=False,
        cautionary_wording=(LABEL_2,),
        schedule=4,
    ),
    # Schedule 3 but neither buprenorphine nor diazepam: not on an FP10MDA in England, though a
    # WP10MDA (Wales, Schedules 2-5) may carry it.
    Product(
        code="pregabalin-75mg-capsule",
        name="Pregabalin 75mg capsules",
        drug="pregabalin",
        form="capsule",
        strength_mg_per_ml=None,
        strength_mg_per_unit=Decimal(75),
        unit="capsule",
        instalment_eligible=False,
        benzodiazepine=False,
        opioid=False,
        confusable_strength=False,
        cautionary_wording=(LABEL_2,),
        schedule=3,
    ),
)
