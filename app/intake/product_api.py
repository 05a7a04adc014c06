"""The products a prescription may name (issue 20 §3): `GET /products`, read from the product
table (`app.prescriptions.products`), so an integrator transcribing a prescription picks the
exact product, sugar-free or standard, and strength, by its stable code.

No patient data and no tenant: any signed-in member of staff may read it.
"""

from __future__ import annotations

from decimal import Decimal

from fastapi import APIRouter
from pydantic import Field

from app.auth.deps import ActorDep
from app.http import problems
from app.http.schemas import Out, Paged
from app.prescriptions.products import PRODUCTS, Product

router = APIRouter(tags=["prescriptions"], responses=problems.API_ERRORS)


class ProductRead(Out):
    code: str = Field(description="The stable code a prescription names, e.g. methadone-1mg-ml")
    name: str = Field(description="As printed on the label: says SUGAR FREE, or standard")
    drug: str = Field(description="The active ingredient: missed-dose thresholds are per drug")
    form: str
    unit: str = Field(description="What a quantity counts: mL, tablet or capsule")
    strength_mg_per_ml: Decimal | None
    strength_mg_per_unit: Decimal | None
    sugar_free: bool | None = Field(description="True sugar free, False standard, null: n/a")
    concentrate: bool = Field(description="A strength easily confused with 1 mg/mL")
    schedule: int = Field(description="Misuse of Drugs Regulations 2001 schedule")
    instalment_eligible: bool = Field(description="May be dispensed in instalments (FP10MDA)")
    dmd_code: str | None = Field(description="dm+d concept id where confirmed; null: unconfirmed")
    gtins: list[str] = Field(description="Confirmed pack GTINs (none confirmed yet)")
    cautionary_wording: list[str] = Field(description="Label warnings, in print order")


def product_read(product: Product) -> ProductRead:
    return ProductRead(
        code=product.code,
        name=product.name,
        drug=product.drug,
        form=product.form,
        unit=product.unit,
        strength_mg_per_ml=product.strength_mg_per_ml,
        strength_mg_per_unit=product.strength_mg_per_unit,
        sugar_free=product.sugar_free,
        concentrate=product.confusable_strength,
        schedule=product.schedule,
        instalment_eligible=product.instalment_eligible,
        dmd_code=product.dmd_code,
        gtins=list(product.gtins),
        cautionary_wording=list(product.cautionary_wording),
    )


@router.get("/products", response_model=Paged[ProductRead])
def list_products(actor: ActorDep) -> object:
    """Every product a prescription may name, in the table's order (the whole list, one page)."""
    return {"items": [product_read(p) for p in PRODUCTS.values()], "next": None}
