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

__all__ = [
    "LABEL_2",
    "MEASURE",
    "PRODUCTS",
    "Product",
    "drugs",
    "measured",
    "ml_at",
    "same_medicine",
]

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
# Our own plain wording of how each dosage form is taken (from the products' leaflets; not a
# BNF label, whose numbers are not stored: domain-rules §3.4, §9). Check against the current
# BNF and SPC before labels go live (docs/decisions.md, "The products in use").
SUBLINGUAL = (
    "Put the tablet(s) under the tongue and let them dissolve completely. "
    "Do not chew or swallow them."
)
LYOPHILISATE = (
    "Place it on the tongue and let it dissolve. Do not swallow it whole. "
    "Not interchangeable with buprenorphine sublingual tablets."
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
    # True: sugar free; False: the standard (sugar-containing) liquid; None: not a liquid, or
    # the question does not arise. Sugar-free and standard are distinct products that are
    # easily confused (issue 20 §3, hazard H-31): the name always says which.
    sugar_free: bool | None = None
    # The dm+d concept id (VMP or AMP), only where one has been confirmed from the NHSBSA dm+d
    # release (TRUD); None: unconfirmed. Never written from memory (peers.md §4).
    dmd_code: str | None = None
    # GTINs (GS1, 14 digits) of packs of this product, for scanning stock; empty until
    # confirmed from the dm+d AMPP release (app/register/packs.py adds the demo GTIN).
    gtins: tuple[str, ...] = ()

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


def drugs() -> frozenset[str]:
    """The active ingredients in the table: per-drug settings are keyed by these."""
    return frozenset(product.drug for product in PRODUCTS.values())


def same_medicine(code: str) -> frozenset[str]:
    """The products a live prescription of `code` excludes on the same days: every liquid of
    the same drug (sugar free, standard, concentrate: one is a switch from another, never a
    second daily dose), else `code` alone (a dose may be made up of two tablet strengths)."""
    product = PRODUCTS.get(code)
    if product is None or product.unit != "mL":
        return frozenset({code})
    return frozenset(
        other.code
        for other in PRODUCTS.values()
        if other.drug == product.drug and other.unit == "mL"
    )


def _methadone_liquid(
    code: str, name: str, mg_per_ml: int, *, sugar_free: bool | None, concentrate: bool = False
) -> Product:
    # A concentrate says so on every label: a mg/mL slip multiplies the dose.
    strength = f"Concentrate: {mg_per_ml} mg in each 1 mL."
    return Product(
        code=code,
        name=name,
        drug="methadone",
        form="oral solution",
        strength_mg_per_ml=Decimal(mg_per_ml),
        strength_mg_per_unit=None,
        unit="mL",
        instalment_eligible=True,
        benzodiazepine=False,
        opioid=True,
        confusable_strength=concentrate,
        cautionary_wording=(strength, LABEL_2) if concentrate else (LABEL_2,),
        schedule=2,
        sugar_free=sugar_free,
    )


def _buprenorphine(code: str, name: str, mg: str, form: str, how: str) -> Product:
    # With or without naloxone, the dose (and the tolerance) is the buprenorphine's.
    return Product(
        code=code,
        name=name,
        drug="buprenorphine",
        form=form,
        strength_mg_per_ml=None,
        strength_mg_per_unit=Decimal(mg),
        unit="tablet",
        instalment_eligible=True,
        benzodiazepine=False,
        opioid=True,
        confusable_strength=False,
        cautionary_wording=(how, LABEL_2),
        schedule=3,
    )


def _tablet(code: str, name: str, drug: str, mg: int, *, schedule: int) -> Product:
    return Product(
        code=code,
        name=name,
        drug=drug,
        form="tablet",
        strength_mg_per_ml=None,
        strength_mg_per_unit=Decimal(mg),
        unit="tablet",
        instalment_eligible=True,
        benzodiazepine=drug == "diazepam",
        opioid=drug == "methadone",
        confusable_strength=False,
        cautionary_wording=(LABEL_2,),
        schedule=schedule,
    )


# Every dm+d code is unconfirmed (None) and every GTIN list empty: this machine cannot read the
# dm+d, and codes are not written from memory (docs/decisions.md, "The products in use").
# `methadone-1mg-ml` is the standard (sugar-containing) 1 mg/mL solution, as the dm+d names it
# without "sugar free"; prescriptions and stock recorded under it before sugar-free existed here
# keep it.
PRODUCTS: Mapping[str, Product] = _table(
    _methadone_liquid(
        "methadone-1mg-ml",
        "Methadone 1mg/mL oral solution (standard, contains sugar)",
        1,
        sugar_free=False,
    ),
    _methadone_liquid(
        "methadone-1mg-ml-sf",
        "Methadone 1mg/mL oral solution SUGAR FREE",
        1,
        sugar_free=True,
    ),
    _methadone_liquid(
        "methadone-10mg-ml",
        "Methadone 10mg/mL oral solution (concentrate)",
        10,
        sugar_free=None,  # unconfirmed: the concentrates' sugar content is not recorded here
        concentrate=True,
    ),
    _methadone_liquid(
        "methadone-20mg-ml",
        "Methadone 20mg/mL oral solution (concentrate)",
        20,
        sugar_free=None,
        concentrate=True,
    ),
    # Rarely prescribed for opioid dependence: most services use the oral solution.
    _tablet("methadone-5mg-tablet", "Methadone 5mg tablets", "methadone", 5, schedule=2),
    _buprenorphine(
        "buprenorphine-400mcg-tablet",
        "Buprenorphine 400microgram sublingual tablets",
        "0.4",
        "sublingual tablet",
        SUBLINGUAL,
    ),
    _buprenorphine(
        "buprenorphine-2mg-tablet",
        "Buprenorphine 2mg sublingual tablets",
        "2",
        "sublingual tablet",
        SUBLINGUAL,
    ),
    _buprenorphine(
        "buprenorphine-8mg-tablet",
        "Buprenorphine 8mg sublingual tablets",
        "8",
        "sublingual tablet",
        SUBLINGUAL,
    ),
    _buprenorphine(
        "buprenorphine-16mg-tablet",
        "Buprenorphine 16mg sublingual tablets",
        "16",
        "sublingual tablet",
        SUBLINGUAL,
    ),
    _buprenorphine(
        "buprenorphine-2mg-lyophilisate",
        "Buprenorphine 2mg oral lyophilisates (Espranor)",
        "2",
        "oral lyophilisate",
        LYOPHILISATE,
    ),
    _buprenorphine(
        "buprenorphine-8mg-lyophilisate",
        "Buprenorphine 8mg oral lyophilisates (Espranor)",
        "8",
        "oral lyophilisate",
        LYOPHILISATE,
    ),
    # The dose is written as the buprenorphine in it: "8 mg" is one 8 mg/2 mg tablet.
    _buprenorphine(
        "buprenorphine-naloxone-2mg-tablet",
        "Buprenorphine 2mg / naloxone 500microgram sublingual tablets",
        "2",
        "sublingual tablet",
        SUBLINGUAL,
    ),
    _buprenorphine(
        "buprenorphine-naloxone-8mg-tablet",
        "Buprenorphine 8mg / naloxone 2mg sublingual tablets",
        "8",
        "sublingual tablet",
        SUBLINGUAL,
    ),
    _tablet("diazepam-2mg-tablet", "Diazepam 2mg tablets", "diazepam", 2, schedule=4),
    _tablet("diazepam-5mg-tablet", "Diazepam 5mg tablets", "diazepam", 5, schedule=4),
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
