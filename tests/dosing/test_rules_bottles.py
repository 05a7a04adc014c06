"""The stock bottle and the dose pump in the counter decision (issue 20 §5, hazard H-30): each
reason on both sides of its edge, the words a pharmacist reads, and what an acknowledgement
lifts. Pure: facts in, a decision out (`app.dosing.bottle_rules` through `rules.decide`).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from app.dosing.bottle_rules import bottle_findings
from app.dosing.decision_inputs import PumpCheck
from app.dosing.rules import Code, decide
from tests.rule_builders import POLICY, TODAY, blocks, bottle, facts, warnings

CONCENTRATE = "Methadone 10mg/mL oral solution (concentrate)"
STANDARD = "Methadone 1mg/mL oral solution (standard, contains sugar)"


def codes(**changes: object) -> tuple[tuple[Code, ...], tuple[Code, ...]]:
    decision = decide(facts(bottle=bottle(**changes)), POLICY)
    return blocks(decision), warnings(decision)


def test_a_concentrate_bottle_for_a_1mg_prescription_names_both_products() -> None:
    decision = decide(
        facts(bottle=bottle(product="methadone-10mg-ml", product_name=CONCENTRATE)), POLICY
    )

    assert blocks(decision) == (Code.WRONG_PRODUCT_MEASURED,)
    assert not decision.allowed
    message = decision.blocks[0].message
    assert message.startswith(f"This bottle is {CONCENTRATE}; the prescription is for ")
    assert "Methadone 1mg/mL oral solution SUGAR FREE" in message
    # Acknowledging everything and overriding everything lifts nothing.
    assert decision.refusal(frozenset(Code), {code: "sure" for code in Code}) == decision.blocks


def test_standard_for_sugar_free_is_a_different_product() -> None:
    assert codes(product="methadone-1mg-ml", product_name=STANDARD) == (
        (Code.WRONG_PRODUCT_MEASURED,),
        (),
    )


def test_a_product_without_a_name_is_named_by_its_code() -> None:
    decision = decide(facts(bottle=bottle(product="methadone-20mg-ml", product_name=None)), POLICY)

    assert "This bottle is methadone-20mg-ml;" in decision.blocks[0].message


def test_expiry_the_day_before_blocks_and_the_day_itself_does_not() -> None:
    assert codes(expiry=TODAY - timedelta(days=1)) == ((Code.BOTTLE_EXPIRED,), ())
    assert codes(expiry=TODAY) == ((), ())
    expired = decide(facts(bottle=bottle(expiry=TODAY - timedelta(days=1))), POLICY)
    assert "expired on Sun 1 Mar 2026" in expired.blocks[0].message


def test_an_unmapped_gtin_warns_and_an_acknowledgement_lifts_it() -> None:
    decision = decide(facts(bottle=bottle(product=None, product_name=None)), POLICY)

    assert warnings(decision) == (Code.BOTTLE_NOT_MAPPED,)
    assert decision.allowed
    assert "GTIN 05012345678900" in decision.warnings[0].message
    assert not decision.permits()
    assert decision.permits(frozenset({"bottle_not_mapped"}))


def test_an_unmapped_gtin_is_not_also_called_the_wrong_product() -> None:
    assert codes(product=None, product_name=None, expiry=TODAY - timedelta(days=1)) == (
        (Code.BOTTLE_EXPIRED,),
        (Code.BOTTLE_NOT_MAPPED,),
    )


def test_a_wrong_and_expired_bottle_lists_both_blocks() -> None:
    assert codes(product="methadone-10mg-ml", expiry=TODAY - timedelta(days=3)) == (
        (Code.WRONG_PRODUCT_MEASURED, Code.BOTTLE_EXPIRED),
        (),
    )


def test_a_barcode_without_expiry_warns_only_when_a_bottle_was_scanned() -> None:
    assert codes(expiry=None) == ((), (Code.BOTTLE_EXPIRY_UNKNOWN,))
    assert codes(gtin=None, product=None, expiry=None) == ((), ())


@pytest.mark.parametrize(
    ("required", "liquid", "expected"),
    [
        (True, True, (Code.BOTTLE_NOT_SCANNED,)),
        (False, True, ()),
        (True, False, ()),  # tablets are counted, not measured from a bottle
    ],
)
def test_a_missing_scan_blocks_only_a_liquid_where_the_setting_requires_it(
    required: bool, liquid: bool, expected: tuple[Code, ...]
) -> None:
    assert codes(gtin=None, product=None, expiry=None, scan_required=required, liquid=liquid) == (
        expected,
        (),
    )


def test_a_scanned_bottle_satisfies_the_required_scan() -> None:
    assert codes(scan_required=True) == ((), ())


def test_the_pump_must_report_exactly_the_measured_volume() -> None:
    assert codes(pump_ml=Decimal("60.00"), measured_ml=Decimal(60)) == ((), ())
    assert codes(pump_ml=Decimal("60.01"), measured_ml=Decimal(60)) == (
        (Code.PUMP_VOLUME_MISMATCH,),
        (),
    )
    assert codes(pump_ml=None, measured_ml=Decimal(60)) == ((), ())
    mismatch = decide(
        facts(bottle=bottle(pump_ml=Decimal("6.5"), measured_ml=Decimal("65.00"))), POLICY
    )
    assert mismatch.blocks[0].message.startswith(
        "The pump reports 6.5 mL dispensed; this dose is 65 mL"
    )


def test_whole_volumes_are_written_without_an_exponent_or_trailing_zeros() -> None:
    decision = decide(facts(bottle=bottle(pump_ml=Decimal(60), measured_ml=Decimal(100))), POLICY)

    assert "reports 60 mL dispensed; this dose is 100 mL" in decision.blocks[0].message


def test_the_scan_and_mapping_messages_name_the_prescribed_product() -> None:
    prescribed = "Methadone 1mg/mL oral solution SUGAR FREE"
    unscanned = decide(
        facts(bottle=bottle(gtin=None, product=None, expiry=None, scan_required=True)), POLICY
    )
    unmapped = decide(facts(bottle=bottle(product=None)), POLICY)

    assert f"Scan the stock bottle of {prescribed} before" in unscanned.blocks[0].message
    assert f"cannot confirm it is {prescribed} " in unmapped.warnings[0].message


def test_a_pump_report_for_a_product_not_measured_in_ml_blocks() -> None:
    found = bottle_findings(bottle(pump_ml=Decimal(2), measured_ml=None), TODAY)

    assert [code for code, _ in found] == ["pump_volume_mismatch"]
    assert "not measured in mL" in found[0][1][0]


def test_the_counter_check_has_no_bottle_and_no_bottle_reason() -> None:
    assert bottle_findings(None, TODAY) == []
    assert decide(facts(), POLICY).allowed


def test_each_pump_measure_is_checked_against_its_own_container() -> None:
    cup = PumpCheck("the supervised dose (Mon 2 Mar 2026)", Decimal("40.00"), Decimal(40))
    evening = PumpCheck("take-home container 1 of 1", Decimal("20.00"), Decimal(20))
    assert codes(pump_checks=(cup, evening)) == ((), ())

    whole = PumpCheck("the supervised dose (Mon 2 Mar 2026)", Decimal(60), Decimal(40))
    short = PumpCheck("take-home container 1 of 1", Decimal("19.5"), Decimal(20), on_record=True)
    decision = decide(facts(bottle=bottle(pump_checks=(whole, evening, short))), POLICY)

    assert blocks(decision) == (Code.PUMP_VOLUME_MISMATCH,)
    message = decision.blocks[0].message
    assert message.startswith(
        "The pump reports 60 mL dispensed; the supervised dose (Mon 2 Mar 2026) is 40 mL. "
        "The pump's last measure today for take-home container 1 of 1 was 19.5 mL, not 20 mL"
    )
    assert message.endswith("measure that container again on the pump.")
    assert decision.refusal(frozenset(Code), {code: "sure" for code in Code}) == decision.blocks


def test_a_container_measure_of_a_product_not_measured_in_ml_blocks() -> None:
    check = PumpCheck("take-home container 1 of 1", Decimal(2), None)
    found = bottle_findings(bottle(pump_checks=(check,)), TODAY)

    assert [code for code, _ in found] == ["pump_volume_mismatch"]
    assert "take-home container 1 of 1 is not measured in mL" in found[0][1][0]
