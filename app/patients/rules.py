"""Pure checks on patient identity."""

from __future__ import annotations

import re

WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)


def normalise_nhs_number(value: str) -> str:
    """Strip the spaces and hyphens people type (`943 476 5919`, `943-476-5919`)."""
    return re.sub(r"[\s-]", "", value)


def is_valid_nhs_number(value: str) -> bool:
    """Modulus 11 check (NHS Data Dictionary). A check digit of 10 means the number is invalid.

    `0000000000` passes the arithmetic but is never issued; we refuse it so a placeholder typed
    at the counter cannot become a patient identity.
    """
    # [0-9], not \d: \d also matches fullwidth and other scripts' digits, a second spelling of
    # the same number that would slip past the unique constraint.
    if not re.fullmatch(r"[0-9]{10}", value) or value == "0000000000":
        return False
    total = sum(int(d) * w for d, w in zip(value[:9], WEIGHTS, strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(value[9])
