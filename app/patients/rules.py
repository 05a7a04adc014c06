"""Pure checks on patient identity."""

from __future__ import annotations

import re

from devices import is_valid_nhs_number as _modulus_11_and_policy


def normalise_nhs_number(value: str) -> str:
    """Strip the spaces and hyphens people type (`943 476 5919`, `943-476-5919`)."""
    return re.sub(r"[\s-]", "", value)


def is_valid_nhs_number(value: str) -> bool:
    """Modulus 11 check (NHS Data Dictionary): a check digit of 10 means the number is invalid.

    Numbers of one repeated digit (`0000000000`, `1111111111`…) pass the arithmetic but are
    never issued; they are refused, so a placeholder typed at the counter cannot become a
    patient identity. The check itself lives in `devices.barcodes`, which reads scanned numbers.
    """
    return bool(re.fullmatch(r"[0-9]{10}", value)) and _modulus_11_and_policy(value)
