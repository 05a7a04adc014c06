"""Every place that turns mg into what is measured out agrees, for every product and dose.

The conversion was once written five times with three rounding behaviours (and FHIR reported mg
as mL when the strength was unknown): the counter, the label, the register, the reports and the
FHIR export could show a pharmacist different quantities for the same dose. Now there is one
(`Product.quantity`, docs/decisions.md "One conversion from mg to mL"), and this property holds
it there. Pure: no database, no web app.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from app.dosing import counter as dosing_counter
from app.intake import schemas as prescriptions_api
from app.labelling import content as label_content
from app.prescriptions.products import PRODUCTS, measured
from app.register import rules as register_rules
from app.reports import chronology_doses, fhir

DOSES = st.decimals(min_value=Decimal("0.01"), max_value=Decimal(500), places=2)
CODES = st.sampled_from(sorted(PRODUCTS))


def _day(code: str, mg: Decimal) -> fhir.DoseDay:
    return fhir.DoseDay(
        id="d",
        prescription_id="p",
        product=code,
        dose_date=date(2026, 11, 30),
        mode="take_home",
        dose_mg=mg,
        state="collected",
        recorded_at=datetime(2026, 11, 30, 10, tzinfo=UTC),
        handover_id="h",
        collector=None,
        reason=None,
    )


@settings(max_examples=300, deadline=None)
@given(code=CODES, mg=DOSES)
def test_counter_label_register_reports_and_fhir_measure_a_dose_alike(
    code: str, mg: Decimal
) -> None:
    product = PRODUCTS[code]
    expected = measured(mg / product.strength)
    assert product.quantity(mg) == expected
    assert register_rules.quantity_ml(product, mg) == expected
    fhir_quantity = fhir._dispensed_quantity([_day(code, mg)])
    assert fhir_quantity is not None
    assert Decimal(str(fhir_quantity["value"])) == expected  # a JSON number
    if product.unit == "mL":
        assert fhir_quantity["code"] == "mL"
        assert prescriptions_api._ml(code, mg) == expected
        assert chronology_doses._ml(code, mg) == expected
        assert Decimal(dosing_counter._ml(code, mg) or "nan") == expected
        assert label_content._ml(mg, product.strength_mg_per_ml) == expected
    else:
        # A tablet is never given a volume: nothing prints or reports "mL" for it.
        assert fhir_quantity["unit"] == product.unit
        assert prescriptions_api._ml(code, mg) is None
        assert chronology_doses._ml(code, mg) is None
        assert dosing_counter._ml(code, mg) is None


def test_half_a_hundredth_rounds_up_everywhere() -> None:
    concentrate = PRODUCTS["methadone-10mg-ml"]
    # 0.45 mg at 10 mg/mL is 0.045 mL: half up gives 0.05 (banker's rounding gave 0.04).
    assert concentrate.quantity(Decimal("0.45")) == Decimal("0.05")
    assert label_content._ml(Decimal("0.45"), concentrate.strength_mg_per_ml) == Decimal("0.05")


def test_an_unknown_product_has_no_quantity_in_fhir_rather_than_mg_called_ml() -> None:
    assert fhir._dispensed_quantity([_day("no-such-product", Decimal(60))]) is None
