"""What a scanned code is: `interpret(code, today=...)` classifies it and checks it.

Codes we recognise, in the order they are tried:

| kind               | format                                                                 |
|--------------------|------------------------------------------------------------------------|
| `patient_card`     | `DKP-` + 16-character random token + 1 check character (21 in all)     |
| `label`            | `DKL-` + label id (1-7 characters) + 1 check character (at most 12)    |
| `stock_pack`       | GS1 element string (DataMatrix `]d2`, GS1-128 `]C1`, ...): GTIN (01),  |
|                    | expiry (17), batch (10), serial (21); or a bare GTIN (EAN-13, ITF-14)  |
| `nhs_number`       | 10 digits (or `943 476 5919`), NHS Modulus 11 check                   |
| `eps_prescription` | EPS short-form prescription ID `XXXXXX-XXXXXX-XXXXXC`, MOD 37-2 check  |
| `unknown`          | anything else                                                          |

Dosekeeper's own codes (cards and labels) use Crockford base32 (`0-9 A-Z` without I, L, O, U:
no 0/O or 1/I/L confusion when typed) and end in a Luhn mod 32 check character, so a
mistyped or misread character is caught rather than matched to another patient or bottle.
Input is case-insensitive and ignores hyphens and spaces after the prefix.

A code that is recognised but fails a check (wrong check digit, expired pack, merged GS1
fields) comes back with its kind and `accepted=False` plus a message a pharmacist can act on;
only codes we cannot place at all are `unknown`. Nothing here raises for bad input.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Final

import biip
from biip.gs1_messages import GS1Message

__all__ = [
    "GS1_SYMBOLOGIES",
    "Interpretation",
    "ScanKind",
    "StockPack",
    "eps_check_character",
    "interpret",
    "is_valid_eps_prescription_id",
    "is_valid_nhs_number",
    "make_label_code",
    "make_patient_card_code",
]

PATIENT_CARD_PREFIX: Final = "DKP-"
LABEL_PREFIX: Final = "DKL-"
PATIENT_TOKEN_LENGTH: Final = 16  # 80 random bits
LABEL_ID_MAX_LENGTH: Final = 7  # fits the 12-character barcode limit of a 32-column label

CROCKFORD: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CROCKFORD_VALUE: Final = {char: index for index, char in enumerate(CROCKFORD)} | {
    "O": 0,
    "I": 1,
    "L": 1,
}

EPS_ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ+"

#: AIM identifiers whose data is a GS1 element string (ISO/IEC 15424, GS1 General Specs 5.1.2).
GS1_SYMBOLOGIES: Final = frozenset({"]d2", "]C1", "]e0", "]Q3", "]J1"})
_GTIN_SYMBOLOGIES: Final = frozenset({"]E0", "]E4", "]I1"})

_AIM = re.compile(r"^\][A-Za-z][0-9A-Za-z]")
_NHS = re.compile(r"^(\d{3}) ?(\d{3}) ?(\d{4})$")
_EPS = re.compile(r"^([0-9A-F]{6})-?([0-9A-Z]{6})-?([0-9A-F]{5}[0-9A-Z+])$")
_GTIN_ONLY = re.compile(r"^(\d{8}|\d{12}|\d{13}|\d{14})$")
_GS1_START = re.compile(r"^(01\d{14}.|\(\d{2,4}\))")


class ScanKind(StrEnum):
    PATIENT_CARD = "patient_card"
    LABEL = "label"
    STOCK_PACK = "stock_pack"
    NHS_NUMBER = "nhs_number"
    EPS_PRESCRIPTION = "eps_prescription"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class StockPack:
    """The GS1 data of a medicine pack. Only `gtin` is certain: a linear EAN has nothing else."""

    gtin: str
    expiry: date | None = None
    batch: str | None = None
    serial: str | None = None


@dataclass(frozen=True, slots=True)
class Interpretation:
    """What a scan is. `value` is the canonical identifier of the kind, when it has one:
    patient card token, label id (decimal), GTIN, NHS number (10 digits), EPS ID with hyphens.
    """

    kind: ScanKind
    accepted: bool
    message: str
    value: str | None = None
    symbology: str | None = None
    pack: StockPack | None = None


# --- check characters ----------------------------------------------------------------------


def _luhn_mod_n(values: list[int], n: int, *, with_check: bool) -> int:
    """Luhn mod N sum: doubles every second value from the right (the check is not doubled)."""
    total, double = 0, not with_check
    for value in reversed(values):
        addend = value * 2 if double else value
        total += addend // n + addend % n
        double = not double
    return total % n


def _crockford_values(text: str) -> list[int] | None:
    try:
        return [_CROCKFORD_VALUE[char] for char in text]
    except KeyError:
        return None


def _crockford_check(body: str) -> str:
    values = _crockford_values(body)
    assert values is not None
    return CROCKFORD[(32 - _luhn_mod_n(values, 32, with_check=False)) % 32]


def make_patient_card_code(token: str | None = None) -> str:
    """A patient card code: `DKP-` + 16 random Crockford base32 characters + check character.

    The token is random (not derived from the patient) so a lost card says nothing about
    whose it is; the app stores the token against the patient and can revoke it.
    """
    if token is None:
        token = "".join(secrets.choice(CROCKFORD) for _ in range(PATIENT_TOKEN_LENGTH))
    token = token.upper()
    if len(token) != PATIENT_TOKEN_LENGTH or any(char not in CROCKFORD for char in token):
        raise ValueError(f"token must be {PATIENT_TOKEN_LENGTH} characters of {CROCKFORD}")
    return PATIENT_CARD_PREFIX + token + _crockford_check(token)


def make_label_code(label_id: int) -> str:
    """A label code: `DKL-` + the label id in Crockford base32 + check character."""
    if not 0 < label_id < 32**LABEL_ID_MAX_LENGTH:
        raise ValueError(f"label_id must be between 1 and {32**LABEL_ID_MAX_LENGTH - 1}")
    digits = ""
    while label_id:
        label_id, remainder = divmod(label_id, 32)
        digits = CROCKFORD[remainder] + digits
    return LABEL_PREFIX + digits + _crockford_check(digits)


def is_valid_nhs_number(number: str) -> bool:
    """NHS number check: 10 digits (or 3-3-4 with spaces) passing the Modulus 11 check.

    Policy beyond the NHS Data Dictionary algorithm: numbers made of one repeated digit
    (0000000000, 1111111111, ...) are refused. They all pass Modulus 11 but are never issued;
    0000000000 in particular is what a blank or placeholder field turns into. Region and range
    rules (e.g. Scottish CHI numbers beginning with a date of birth) are *not* checked, so
    1234567881 is valid here.
    """
    match = _NHS.match(number)
    if not match:
        return False
    digits = "".join(match.groups())
    if len(set(digits)) == 1:
        return False
    total = sum(
        int(digit) * weight for digit, weight in zip(digits[:9], range(10, 1, -1), strict=True)
    )
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def eps_check_character(body: str) -> str:
    """ISO/IEC 7064 MOD 37-2 check character for the 17 characters of an EPS ID ("+" for 36)."""
    total = 0
    for char in body.replace("-", "").upper():
        total = ((total + EPS_ALPHABET.index(char)) * 2) % 37
    return EPS_ALPHABET[(38 - total) % 37]


def is_valid_eps_prescription_id(prescription_id: str) -> bool:
    """EPS short-form prescription ID (with or without hyphens) with a correct check character."""
    match = _EPS.match(prescription_id.upper())
    if not match:
        return False
    compact = "".join(match.groups())
    return eps_check_character(compact[:-1]) == compact[-1]


# --- interpretation ------------------------------------------------------------------------


def interpret(
    code: str,
    *,
    today: date,
    symbology: str | None = None,
    gs1_separators: tuple[str, ...] = ("\x1d",),
) -> Interpretation:
    """Classify and check one scan. `today` decides whether a pack has expired.

    `code` may still carry its AIM identifier (keyboard-wedge scanners send it inline); pass
    `symbology` when the reader already stripped it (`devices.Scan`). `gs1_separators` lists
    what stands for FNC1 between GS1 fields: GS by default; add the printable substitute
    (e.g. "~") a keyboard-wedge scanner has been configured to type.
    """
    if symbology is None and (match := _AIM.match(code)):
        symbology, code = match.group(), code[match.end() :]
    text = code.strip(" \t\r\n")
    if not text:
        return Interpretation(ScanKind.UNKNOWN, False, "Empty scan.", symbology=symbology)
    upper = text.upper()
    if upper.startswith(PATIENT_CARD_PREFIX):
        return _patient_card(upper, symbology)
    if upper.startswith(LABEL_PREFIX):
        return _label(upper, symbology)
    if symbology in GS1_SYMBOLOGIES or text[0] in gs1_separators:
        return _stock_pack(text, symbology, today, gs1_separators)
    if _NHS.match(text):
        return _nhs_number(text, symbology)
    if eps := _EPS.match(upper):
        canonical = "-".join(eps.groups())
        if is_valid_eps_prescription_id(canonical) or not _GS1_START.match(text):
            return _eps(canonical, symbology)
    if symbology in _GTIN_SYMBOLOGIES or _GTIN_ONLY.match(text) or _GS1_START.match(text):
        return _stock_pack(text, symbology, today, gs1_separators)
    return Interpretation(
        ScanKind.UNKNOWN,
        False,
        "Not a code Dosekeeper knows (patient card, Dosekeeper label, medicine pack, "
        "NHS number or EPS prescription ID).",
        symbology=symbology,
    )


def _own_code(text: str, prefix: str) -> tuple[str, bool] | None:
    """(body, check ok) for a `DKP-`/`DKL-` code, or None when it is not base32 at all."""
    compact = text[len(prefix) :].replace("-", "").replace(" ", "")
    values = _crockford_values(compact)
    if values is None or len(values) < 2:
        return None
    body = "".join(CROCKFORD[value] for value in values[:-1])
    return body, _luhn_mod_n(values, 32, with_check=True) == 0


def _patient_card(text: str, symbology: str | None) -> Interpretation:
    parsed = _own_code(text, PATIENT_CARD_PREFIX)
    if parsed is None or len(parsed[0]) != PATIENT_TOKEN_LENGTH:
        return Interpretation(
            ScanKind.PATIENT_CARD, False, "Patient card code is malformed.", symbology=symbology
        )
    token, check_ok = parsed
    if not check_ok:
        return Interpretation(
            ScanKind.PATIENT_CARD,
            False,
            "Patient card check character is wrong: rescan the card.",
            symbology=symbology,
        )
    return Interpretation(ScanKind.PATIENT_CARD, True, "Patient card.", token, symbology)


def _label(text: str, symbology: str | None) -> Interpretation:
    parsed = _own_code(text, LABEL_PREFIX)
    if parsed is None or len(parsed[0]) > LABEL_ID_MAX_LENGTH:
        return Interpretation(
            ScanKind.LABEL, False, "Dosekeeper label code is malformed.", symbology=symbology
        )
    digits, check_ok = parsed
    if not check_ok:
        return Interpretation(
            ScanKind.LABEL,
            False,
            "Dosekeeper label check character is wrong: rescan the label.",
            symbology=symbology,
        )
    label_id = 0
    for char in digits:
        label_id = label_id * 32 + _CROCKFORD_VALUE[char]
    return Interpretation(ScanKind.LABEL, True, "Dosekeeper label.", str(label_id), symbology)


def _nhs_number(text: str, symbology: str | None) -> Interpretation:
    digits = text.replace(" ", "")
    if is_valid_nhs_number(digits):
        return Interpretation(ScanKind.NHS_NUMBER, True, "NHS number.", digits, symbology)
    if len(set(digits)) == 1:
        message = f"{digits} is not an NHS number (placeholder of one repeated digit)."
    else:
        message = f"{digits} is not a valid NHS number: the check digit is wrong."
    return Interpretation(ScanKind.NHS_NUMBER, False, message, symbology=symbology)


def _eps(canonical: str, symbology: str | None) -> Interpretation:
    if is_valid_eps_prescription_id(canonical):
        return Interpretation(
            ScanKind.EPS_PRESCRIPTION, True, "EPS prescription ID.", canonical, symbology
        )
    return Interpretation(
        ScanKind.EPS_PRESCRIPTION,
        False,
        f"{canonical} is not a valid EPS prescription ID: the check character is wrong.",
        symbology=symbology,
    )


_GS_LOST_HINT: Final = (
    " If the scanner drops group separators, set it to send GS (or a substitute character) "
    "for FNC1 and scan again."
)


def _stock_pack(
    text: str, symbology: str | None, today: date, separators: tuple[str, ...]
) -> Interpretation:
    def refuse(message: str) -> Interpretation:
        return Interpretation(ScanKind.STOCK_PACK, False, message, symbology=symbology)

    config = biip.ParseConfig(separator_chars=separators)
    has_separator = any(separator in text for separator in separators)
    if text.startswith("("):
        try:
            message = GS1Message.parse_hri(text, config=config)
        except biip.ParseError as exc:
            return refuse(f"Not a valid GS1 code: {str(exc).rstrip('.')}.")
    else:
        result = biip.parse((symbology or "") + text, config=config)
        parsed = result.gs1_message
        if parsed is None and result.gs1_digital_link_uri is not None:  # GS1 QR (]Q3) links
            parsed = result.gs1_digital_link_uri.as_gs1_message()
        if parsed is None or symbology in _GTIN_SYMBOLOGIES:
            if result.gtin is not None:
                return Interpretation(
                    ScanKind.STOCK_PACK,
                    True,
                    "Pack GTIN only: this barcode has no expiry, batch or serial; "
                    "scan the 2D code for those.",
                    result.gtin.value.zfill(14),
                    symbology,
                    StockPack(result.gtin.value.zfill(14)),
                )
            if result.gtin_error and _GTIN_ONLY.match(text):
                return refuse(f"Pack barcode refused: {result.gtin_error}")
            hint = "" if has_separator else _GS_LOST_HINT
            error = (result.gs1_message_error or "unrecognised data").rstrip(".")
            return refuse(f"Not a valid GS1 code: {error}.{hint}")
        message = parsed

    elements = message.element_strings
    gtin_element = elements.get(ai="01")
    if gtin_element is None:
        return refuse("GS1 code has no GTIN (AI 01): not a medicine pack code.")
    if gtin_element.gtin_error:
        return refuse(f"Pack refused: {gtin_element.gtin_error}")
    gtin = gtin_element.value

    batch = elements.get(ai="10")
    serial = elements.get(ai="21")
    if not has_separator and (
        (batch is not None and serial is None and "21" in batch.value)
        or (serial is not None and batch is None and "10" in serial.value)
    ):
        merged = batch if batch is not None else serial
        assert merged is not None
        return refuse(
            f"Pack refused: ({merged.ai.ai}) {merged.value!r} looks like batch and serial "
            "run together because the group separator was lost." + _GS_LOST_HINT
        )

    expiry_element = elements.get(ai="17")
    expiry = expiry_element.date if expiry_element is not None else None
    pack = StockPack(
        gtin,
        expiry,
        batch.value if batch is not None else None,
        serial.value if serial is not None else None,
    )
    if expiry is not None and expiry < today:
        return Interpretation(
            ScanKind.STOCK_PACK,
            False,
            f"Pack expired on {expiry.isoformat()}: do not dispense from it.",
            gtin,
            symbology,
            pack,
        )
    details = ", ".join(
        part
        for part in (
            f"expiry {expiry.isoformat()}" if expiry else "no expiry",
            f"batch {pack.batch}" if pack.batch else "",
            f"serial {pack.serial}" if pack.serial else "",
        )
        if part
    )
    return Interpretation(
        ScanKind.STOCK_PACK, True, f"Medicine pack {gtin} ({details}).", gtin, symbology, pack
    )
