"""Scan interpretation with every check vector from reference/devices.md §4-§5."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices import (
    Interpretation,
    ScanKind,
    StockPack,
    eps_check_character,
    interpret,
    is_valid_eps_prescription_id,
    is_valid_nhs_number,
    make_label_code,
    make_patient_card_code,
)
from devices.barcodes import CROCKFORD, LABEL_ID_MAX_LENGTH

TODAY = date(2026, 11, 26)
GS = "\x1d"
PACK = "]d2" + "0105012345678900" + "17270331" + "10A1B2C" + GS + "21SN0001"


def scan(code: str, **kwargs: object) -> Interpretation:
    return interpret(code, today=TODAY, **kwargs)  # type: ignore[arg-type]


# --- NHS numbers ---------------------------------------------------------------------------

VALID_NHS = [
    # stdnum docs, nhs-number tests, Wikipedia
    "9434765919",
    "9434765870",
    "9876543210",
    "4010232137",
    "9000000009",
    # nhs-number synthetic 999 range (never issued)
    "9990000018",
    "9990000026",
    "9990000034",
    "9990000042",
    "9990000050",
    "9990000069",
    "9990000077",
    "9990000085",
    "9990000093",
    # NHS England EPS API example messages
    "9449304130",
    "9990548609",
    "9449305552",
    "9449304106",
    "9453740519",
    "9449310394",
    "5839945242",
    "9449304122",
    "9449310475",
]


@pytest.mark.parametrize("number", VALID_NHS)
def test_valid_nhs_numbers(number: str) -> None:
    assert is_valid_nhs_number(number)
    assert scan(number) == Interpretation(ScanKind.NHS_NUMBER, True, "NHS number.", number)


def test_nhs_number_in_display_format() -> None:
    assert is_valid_nhs_number("943 476 5919")
    assert scan("943 476 5919").value == "9434765919"


@pytest.mark.parametrize(
    "number",
    [
        "9434765871",  # wrong check digit
        "1234567890",  # check digit for 123456789 would be 10: no valid number starts so
        "123 456 789",  # format
        "94347659190",
        "943476591X",
        "",
    ],
)
def test_invalid_nhs_numbers(number: str) -> None:
    assert not is_valid_nhs_number(number)


def test_wrong_check_digit_is_an_nhs_number_refused() -> None:
    result = scan("9434765871")
    assert (result.kind, result.accepted) == (ScanKind.NHS_NUMBER, False)
    assert "check digit" in result.message


@pytest.mark.parametrize("digit", "0123456789")
def test_policy_refuses_repeated_digit_placeholders(digit: str) -> None:
    number = digit * 10
    assert not is_valid_nhs_number(number)  # all of them pass Modulus 11
    result = scan(number)
    assert (result.kind, result.accepted) == (ScanKind.NHS_NUMBER, False)
    assert "placeholder" in result.message


def test_policy_does_not_apply_region_rules() -> None:
    # Modulus 11 passes; nhs-number's region rules would refuse it (impossible CHI date).
    assert is_valid_nhs_number("1234567881")


# --- EPS prescription IDs ------------------------------------------------------------------

VALID_EPS = [
    "83C40E-A23856-00123W",
    "24F5DA-A83008-7EFE6Z",
    "7A9089-A83008-56A03J",
    "003D4D-A99968-4C5AAJ",
    "A0548B-A99968-451485",
    "B407F7-A99968-4DB2AU",
    "FC6D78-A83008-EDF7BI",
]
INVALID_EPS = [
    "FC6D78-A83008-EDF7BF",
    "FC6D78-A83008-EDF7BC",
    "FC6D78-A83008-EDF7BB",
    "FC6D78-A83008-EDF7BD",
    "FC6D78-A83008-EDF7BA",
    "DC2C66-A1B2C3-23407B",  # illustrative JSON in the IG: fails its own check
    "9AD427-A83008-2E461+",
]


@pytest.mark.parametrize("prescription_id", VALID_EPS)
def test_valid_eps_ids_with_and_without_hyphens(prescription_id: str) -> None:
    compact = prescription_id.replace("-", "")
    assert eps_check_character(compact[:-1]) == compact[-1]
    for form in (prescription_id, compact, compact.lower()):
        assert is_valid_eps_prescription_id(form)
        result = scan(form)
        assert (result.kind, result.accepted, result.value) == (
            ScanKind.EPS_PRESCRIPTION,
            True,
            prescription_id,
        )


@pytest.mark.parametrize("prescription_id", INVALID_EPS)
def test_invalid_eps_ids(prescription_id: str) -> None:
    assert not is_valid_eps_prescription_id(prescription_id)
    result = scan(prescription_id)
    assert (result.kind, result.accepted) == (ScanKind.EPS_PRESCRIPTION, False)
    assert "check character" in result.message


def test_eps_check_uses_plus_for_36() -> None:
    body = next(
        f"{n:06X}A83008{n:05X}"
        for n in range(10_000)
        if eps_check_character(f"{n:06X}A83008{n:05X}") == "+"
    )
    assert is_valid_eps_prescription_id(body + "+")


# --- GS1 stock packs -----------------------------------------------------------------------


def test_gs1_datamatrix_pack() -> None:
    result = scan(PACK)
    assert result.kind is ScanKind.STOCK_PACK
    assert result.accepted, result.message
    assert result.symbology == "]d2"
    assert result.value == "05012345678900"
    assert result.pack == StockPack("05012345678900", date(2027, 3, 31), "A1B2C", "SN0001")


def test_symbology_passed_separately_as_the_scanner_reports_it() -> None:
    assert scan(PACK[3:], symbology="]d2").pack == scan(PACK).pack


@pytest.mark.parametrize(
    "code",
    [
        PACK[3:],  # no identifier
        GS + PACK[3:],  # leading FNC1 sent as GS
        "]C1" + PACK[3:],
        "(01)05012345678900(17)270331(10)A1B2C(21)SN0001",  # typed from the printed text
    ],
)
def test_gs1_pack_variants(code: str) -> None:
    result = scan(code)
    assert result.accepted, result.message
    assert result.pack == StockPack("05012345678900", date(2027, 3, 31), "A1B2C", "SN0001")


def test_expiry_day_00_is_the_last_day_of_the_month() -> None:
    result = scan(PACK.replace("17270331", "17270300"))
    assert result.pack is not None
    assert result.pack.expiry == date(2027, 3, 31)


def test_expired_pack_is_refused() -> None:
    result = interpret(PACK, today=date(2027, 4, 1))
    assert (result.kind, result.accepted) == (ScanKind.STOCK_PACK, False)
    assert result.message == "Pack expired on 2027-03-31: do not dispense from it."
    assert result.pack is not None  # the data is still there for the record


def test_pack_is_usable_on_its_expiry_date() -> None:
    assert interpret(PACK, today=date(2027, 3, 31)).accepted


def test_wrong_gtin_check_digit_is_refused() -> None:
    result = scan(PACK.replace("05012345678900", "05012345678903"))
    assert (result.kind, result.accepted) == (ScanKind.STOCK_PACK, False)
    assert "Expected 0, got 3" in result.message


def test_lost_group_separator_is_refused() -> None:
    merged = PACK.replace(GS, "")  # biip would read batch "A1B2C21SN0001"
    result = scan(merged)
    assert (result.kind, result.accepted) == (ScanKind.STOCK_PACK, False)
    assert "group separator was lost" in result.message
    assert "A1B2C21SN0001" in result.message


def test_lost_separator_with_serial_before_batch_is_refused() -> None:
    code = "]d2" + "0105012345678900" + "17270331" + "21SN0001" + "10A1B2C"
    result = scan(code)
    assert not result.accepted
    assert "group separator" in result.message


def test_invalid_date_is_refused_with_the_reason() -> None:
    result = scan("]d2" + "0105012345678900" + "17271331" + "10A1B2C")
    assert (result.kind, result.accepted) == (ScanKind.STOCK_PACK, False)
    assert "Not a valid GS1 code" in result.message


def test_keyboard_wedge_substitute_separator() -> None:
    code = "0107032069804988100329|2112345" + GS + "15210526"
    result = scan(code, gs1_separators=("|", GS))
    assert result.accepted, result.message
    assert result.pack == StockPack("07032069804988", None, "0329", "12345")


@pytest.mark.parametrize(
    ("code", "gtin", "batch"),
    [
        ("]C1010590123412345715210526", "05901234123457", None),
        ("0107032069804988100329" + GS + "15210526", "07032069804988", "0329"),
        ("]e00100123456789012", "00123456789012", None),
        ("]Q3https://example.com/01/614141123452/10/ABC123?15=250330", "00614141123452", "ABC123"),
    ],
)
def test_biip_vectors(code: str, gtin: str, batch: str | None) -> None:
    result = scan(code)
    assert result.accepted, result.message
    assert result.pack is not None
    assert (result.pack.gtin, result.pack.batch) == (gtin, batch)


@pytest.mark.parametrize("code", ["]E05901234123457", "5901234123457", "5012345678900"])
def test_linear_ean_gives_gtin_only(code: str) -> None:
    result = scan(code)
    assert result.accepted
    assert result.pack is not None
    assert result.pack.expiry is None
    assert "GTIN only" in result.message


def test_linear_ean_with_bad_check_digit_is_refused() -> None:
    result = scan("5012345678901")
    assert (result.kind, result.accepted) == (ScanKind.STOCK_PACK, False)


# --- Dosekeeper's own codes ----------------------------------------------------------------


def test_patient_card_round_trip() -> None:
    code = make_patient_card_code()
    assert code.startswith("DKP-")
    assert len(code) == 21
    result = scan(code)
    assert (result.kind, result.accepted, result.value) == (
        ScanKind.PATIENT_CARD,
        True,
        code[4:-1],
    )
    assert scan(code.lower()).value == code[4:-1]


def test_patient_card_codes_are_random() -> None:
    assert len({make_patient_card_code() for _ in range(50)}) == 50


@pytest.mark.parametrize("code", ["DKP-", "DKP-ABC", "DKP-!!!!!!!!!!!!!!!!!", "dkp-" + "U" * 17])
def test_malformed_patient_cards(code: str) -> None:
    result = scan(code)
    assert (result.kind, result.accepted) == (ScanKind.PATIENT_CARD, False)


def test_label_round_trip() -> None:
    code = make_label_code(12345)
    assert code == "DKL-C1SM"
    assert scan(code) == Interpretation(ScanKind.LABEL, True, "Dosekeeper label.", "12345")
    assert scan("dkl-c1sm").value == "12345"


def test_label_id_range() -> None:
    largest = 32**LABEL_ID_MAX_LENGTH - 1
    assert len(make_label_code(largest)) == 12  # fits a 32-column label barcode
    assert scan(make_label_code(largest)).value == str(largest)
    for bad in (0, -1, largest + 1):
        with pytest.raises(ValueError, match="label_id"):
            make_label_code(bad)


@given(label_id=st.integers(1, 32**LABEL_ID_MAX_LENGTH - 1), data=st.data())
def test_any_single_character_error_in_a_label_is_caught(
    label_id: int, data: st.DataObject
) -> None:
    code = make_label_code(label_id)
    position = data.draw(st.integers(4, len(code) - 1))
    wrong = data.draw(st.sampled_from([c for c in CROCKFORD if c != code[position]]))
    result = scan(code[:position] + wrong + code[position + 1 :])
    assert not (result.accepted and result.value == str(label_id))
    assert not result.accepted


@given(token=st.text(alphabet=CROCKFORD, min_size=16, max_size=16), data=st.data())
def test_any_single_character_error_in_a_card_is_caught(token: str, data: st.DataObject) -> None:
    code = make_patient_card_code(token)
    position = data.draw(st.integers(4, len(code) - 1))
    wrong = data.draw(st.sampled_from([c for c in CROCKFORD if c != code[position]]))
    assert not scan(code[:position] + wrong + code[position + 1 :]).accepted


def test_card_token_must_be_base32() -> None:
    with pytest.raises(ValueError, match="token"):
        make_patient_card_code("not-a-valid-token")


# --- unknown -------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["hello", "https://example.com", "12345", "]Q1free text", "\x00"])
def test_unknown_codes(code: str) -> None:
    result = scan(code)
    assert (result.kind, result.accepted) == (ScanKind.UNKNOWN, False)
    assert "Not a code Dosekeeper knows" in result.message


def test_empty_scan() -> None:
    assert scan("  \r\n").message == "Empty scan."
