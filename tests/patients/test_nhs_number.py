"""Modulus 11 against the published vectors (devices.md §5), the 0000000000 policy and the ways
people type an NHS number at the counter. Pure: no database."""

from __future__ import annotations

import pytest

from app.patients.rules import is_valid_nhs_number, normalise_nhs_number

VALID = (
    # python-stdnum docs, nhs-number tests and Wikipedia
    "9434765919", "9434765870", "9876543210", "4010232137", "9000000009",
    # nhs-number's 999 test range (never issued)
    "9990000018", "9990000026", "9990000034", "9990000042", "9990000050",
    "9990000069", "9990000077", "9990000085", "9990000093",
    # NHS England EPS API example messages
    "9449304130", "9990548609", "9449305552", "9449304106", "9453740519",
    "9449310394", "5839945242", "9449304122", "9449310475",
)  # fmt: skip

INVALID = {
    "9434765871": "wrong check digit",
    "1234567890": "check digit would be 10, so no number starting 123456789 is valid",
    "123 456 789": "nine digits once the spaces are gone",
    "0000000000": "passes the arithmetic but is refused by policy: a placeholder, never issued",
    "": "empty",
    "943476591": "nine digits",
    "94347659190": "eleven digits",
    "943476591X": "a letter",
    "９４３４７６５９１９": "fullwidth digits: a second spelling of 9434765919",
    "٩٤٣٤٧٦٥٩١٩": "Arabic-Indic digits: a second spelling of 9434765919",
    "+943476591": "a sign",
}


@pytest.mark.parametrize("number", VALID)
def test_a_published_valid_nhs_number_passes_modulus_11(number: str) -> None:
    assert is_valid_nhs_number(number)


@pytest.mark.parametrize("number", INVALID, ids=INVALID.values())
def test_an_invalid_nhs_number_is_refused(number: str) -> None:
    assert not is_valid_nhs_number(normalise_nhs_number(number))


@pytest.mark.parametrize("number", VALID)
def test_changing_the_check_digit_of_a_valid_number_makes_it_invalid(number: str) -> None:
    for digit in "0123456789":
        if digit != number[9]:
            assert not is_valid_nhs_number(number[:9] + digit)


def test_a_number_that_passes_modulus_11_but_fails_region_rules_is_accepted() -> None:
    # Policy: the Modulus 11 check only. 1234567881 falls in the Scottish CHI range with an
    # impossible date of birth (nhs-number refuses it); we do not apply region rules.
    assert is_valid_nhs_number("1234567881")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("943 476 5919", "9434765919"),
        ("943-476-5919", "9434765919"),
        (" 9434765919 ", "9434765919"),
        ("943\t476\u00a05919", "9434765919"),
        ("9434765919", "9434765919"),
    ],
)
def test_spaces_and_hyphens_typed_at_the_counter_are_removed(typed: str, stored: str) -> None:
    assert normalise_nhs_number(typed) == stored
    assert is_valid_nhs_number(normalise_nhs_number(typed))
