"""The products in use (issue 20 §3): the table's own rules, and the intake warnings about
concentrates and about a change between sugar-free, standard and concentrate (hazard H-31).

Pure tests: no fixtures, no database (tests/test_pure_rules_alone.py runs them alone).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from app.prescriptions.intake_terms import (
    WARNINGS,
    Code,
    IntakeContext,
    IntakeDecision,
    PrescriptionDraft,
)
from app.prescriptions.products import LABEL_2, PRODUCTS, drugs
from app.prescriptions.rules import check_intake
from app.register.packs import PACKS, seed_for
from app.reports.coding import LOCAL_PRODUCT_SYSTEM, PRODUCT_CODINGS
from tests.prescriptions.test_rules import OPEN_MON_TO_SAT, POLICY, RX, TODAY, _spell, codes

D = Decimal
SF = "methadone-1mg-ml-sf"
STANDARD = "methadone-1mg-ml"


def draft(product: str, dose: Decimal, total: Decimal) -> PrescriptionDraft:
    return replace(
        RX,
        product_code=product,
        daily_dose_mg=dose,
        total_quantity=total,
        total_quantity_words=_spell(int(total)) if total == int(total) else str(total),
    )


def check(
    product: str, dose: Decimal, total: Decimal, previous: str | None = STANDARD
) -> IntakeDecision:
    context = IntakeContext(
        today=TODAY,
        previous_daily_dose_mg=dose,
        benzodiazepine_coprescribed=False,
        previous_product_code=previous,
    )
    return check_intake(draft(product, dose, total), context, OPEN_MON_TO_SAT, POLICY)


# --- the table -----------------------------------------------------------------------------


@pytest.mark.hazard("H-31.1")
def test_sugar_free_and_standard_are_distinct_products_whose_names_say_which() -> None:
    standard, sugar_free = PRODUCTS[STANDARD], PRODUCTS[SF]

    assert (standard.sugar_free, sugar_free.sugar_free) == (False, True)
    assert standard.strength == sugar_free.strength == 1
    assert "SUGAR FREE" in sugar_free.name
    # The standard's name never contains the words, in any case, so a glance cannot mistake it.
    assert "sugar free" not in standard.name.lower()
    assert "standard" in standard.name
    assert standard.name != sugar_free.name


def test_the_products_in_use_are_in_the_table() -> None:
    expected = {
        "methadone-1mg-ml": ("methadone", "mL", D(1), 2),
        "methadone-1mg-ml-sf": ("methadone", "mL", D(1), 2),
        "methadone-10mg-ml": ("methadone", "mL", D(10), 2),
        "methadone-20mg-ml": ("methadone", "mL", D(20), 2),
        "methadone-5mg-tablet": ("methadone", "tablet", D(5), 2),
        "buprenorphine-400mcg-tablet": ("buprenorphine", "tablet", D("0.4"), 3),
        "buprenorphine-2mg-tablet": ("buprenorphine", "tablet", D(2), 3),
        "buprenorphine-8mg-tablet": ("buprenorphine", "tablet", D(8), 3),
        "buprenorphine-16mg-tablet": ("buprenorphine", "tablet", D(16), 3),
        "buprenorphine-2mg-lyophilisate": ("buprenorphine", "tablet", D(2), 3),
        "buprenorphine-8mg-lyophilisate": ("buprenorphine", "tablet", D(8), 3),
        "buprenorphine-naloxone-2mg-tablet": ("buprenorphine", "tablet", D(2), 3),
        "buprenorphine-naloxone-8mg-tablet": ("buprenorphine", "tablet", D(8), 3),
    }
    found = {
        code: (p.drug, p.unit, p.strength, p.schedule)
        for code, p in PRODUCTS.items()
        if code in expected
    }
    assert found == expected
    assert all(PRODUCTS[code].instalment_eligible for code in expected)
    assert {"methadone", "buprenorphine"} <= drugs()


def test_no_national_code_or_gtin_is_claimed_until_confirmed() -> None:
    """dm+d codes and GTINs come from the NHSBSA release, never from memory: none is confirmed
    on this machine, so every product is coded locally and only the demo GTIN scans."""
    assert all(p.dmd_code is None and p.gtins == () for p in PRODUCTS.values())
    assert set(PRODUCT_CODINGS) == set(PRODUCTS)
    assert all(codings == () for codings in PRODUCT_CODINGS.values())
    assert PACKS == {}  # the production seed: the GS1 example is for the demo and tests
    assert seed_for("test") == seed_for("development") == {"05012345678900": STANDARD}
    assert seed_for("production") == {}
    assert LOCAL_PRODUCT_SYSTEM.startswith("https://")


def test_each_form_carries_how_it_is_taken_on_its_label() -> None:
    for code, product in PRODUCTS.items():
        wording = " ".join(product.cautionary_wording)
        if product.form == "sublingual tablet":
            assert "under the tongue" in wording, code
            assert "Do not chew or swallow" in wording, code
        elif product.form == "oral lyophilisate":
            assert "Place it on the tongue" in wording, code
            assert "Not interchangeable with buprenorphine sublingual tablets" in wording, code
        else:
            assert "tongue" not in wording, code
        assert LABEL_2 in product.cautionary_wording


@pytest.mark.hazard("H-31.1")
def test_a_concentrate_says_so_on_every_label() -> None:
    assert PRODUCTS["methadone-20mg-ml"].cautionary_wording[0] == "Concentrate: 20 mg in each 1 mL."
    assert PRODUCTS["methadone-10mg-ml"].cautionary_wording[0] == "Concentrate: 10 mg in each 1 mL."
    assert [p.code for p in PRODUCTS.values() if p.confusable_strength] == [
        "methadone-10mg-ml",
        "methadone-20mg-ml",
    ]
    assert not any(
        "Concentrate" in " ".join(PRODUCTS[c].cautionary_wording) for c in (SF, STANDARD)
    )


# --- intake --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("product", "dose", "total"),
    [
        (SF, D(60), D(840)),
        ("methadone-5mg-tablet", D(30), D(84)),
        ("buprenorphine-400mcg-tablet", D("0.8"), D(28)),
        ("buprenorphine-16mg-tablet", D(16), D(14)),
        ("buprenorphine-2mg-lyophilisate", D(4), D(28)),
        ("buprenorphine-8mg-lyophilisate", D(16), D(28)),
        ("buprenorphine-naloxone-2mg-tablet", D(6), D(42)),
        ("buprenorphine-naloxone-8mg-tablet", D(8), D(14)),
    ],
)
def test_each_new_product_may_go_on_an_fp10mda(product: str, dose: Decimal, total: Decimal) -> None:
    decision = check(product, dose, total, previous=product)
    assert decision.blocks == ()
    assert decision.warnings == ()


@pytest.mark.hazard("H-31.1")
def test_a_20mg_concentrate_asks_for_acknowledgement_naming_the_strength_and_the_volumes() -> None:
    decision = check("methadone-20mg-ml", D(60), D(42), previous="methadone-20mg-ml")

    (warning,) = decision.warnings
    assert warning.code == Code.NON_STANDARD_STRENGTH
    assert warning.code in WARNINGS
    assert "holds 20 mg in each mL, 20 times the standard 1 mg/mL solution" in warning.message
    assert "multiply the dose by 20" in warning.message
    assert "60 mg is 3 mL of it, but 60 mL of the standard solution" in warning.message
    assert "Concentrates are rarely used for instalment dispensing" in warning.message
    assert "confirm with the prescriber" in warning.message


def test_a_concentrate_warning_without_a_readable_dose_names_no_volumes() -> None:
    decision = check("methadone-10mg-ml", D(0), D(84), previous="methadone-10mg-ml")

    message = next(w.message for w in decision.warnings if w.code == Code.NON_STANDARD_STRENGTH)
    assert "holds 10 mg in each mL" in message
    assert " mL of it" not in message


@pytest.mark.hazard("H-31.2")
def test_a_change_from_standard_to_sugar_free_is_warned() -> None:
    decision = check(SF, D(60), D(840), previous=STANDARD)

    (warning,) = decision.warnings
    assert warning.code == Code.PRODUCT_CHANGED
    assert warning.field == "product_code"
    assert PRODUCTS[STANDARD].name in warning.message
    assert PRODUCTS[SF].name in warning.message
    assert "Sugar-free and standard solutions are easily confused" in warning.message


@pytest.mark.hazard("H-31.2")
def test_a_change_from_sugar_free_to_a_concentrate_names_both_strengths() -> None:
    decision = check("methadone-10mg-ml", D(60), D(84), previous=SF)

    assert codes(decision.warnings) == [Code.NON_STANDARD_STRENGTH, Code.PRODUCT_CHANGED]
    changed = decision.warnings[1].message
    assert "The strength changes from 1 mg/mL to 10 mg/mL" in changed
    assert "Sugar-free and standard" not in changed


@pytest.mark.parametrize(
    ("previous", "product", "dose", "total"),
    [
        pytest.param(STANDARD, STANDARD, D(60), D(840), id="the same product"),
        pytest.param(None, SF, D(60), D(840), id="no earlier prescription"),
        pytest.param("unknown-product", SF, D(60), D(840), id="an earlier product not known"),
        pytest.param(
            "buprenorphine-2mg-tablet",
            "buprenorphine-8mg-tablet",
            D(16),
            D(28),
            id="a tablet strength change",
        ),
        pytest.param(
            "methadone-5mg-tablet", STANDARD, D(60), D(840), id="tablets to the oral solution"
        ),
        pytest.param(STANDARD, "methadone-5mg-tablet", D(30), D(84), id="solution to tablets"),
        pytest.param("diazepam-5mg-tablet", SF, D(60), D(840), id="another drug"),
    ],
)
def test_no_product_change_warning_where_no_liquid_changes(
    previous: str | None, product: str, dose: Decimal, total: Decimal
) -> None:
    decision = check(product, dose, total, previous=previous)
    assert Code.PRODUCT_CHANGED not in codes(decision.warnings)
