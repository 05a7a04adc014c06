"""Patient-card codes: random, never derived from the NHS number or any other identifier, so a
lost card reveals nothing and cannot be guessed from a patient's details. The format (prefix,
Crockford base32, a check character) belongs to `devices.barcodes`, which reads the scans."""

from __future__ import annotations

import re

from devices import make_patient_card_code

CARD_PREFIX = "DKP-"


def new_card_code() -> str:
    return make_patient_card_code()


def canonical_card_code(scanned: str) -> str:
    """The stored form of a scanned or typed card code (case and separators ignored)."""
    text = scanned.strip().upper()
    if text.startswith(CARD_PREFIX):
        return CARD_PREFIX + re.sub(r"[\s-]", "", text[len(CARD_PREFIX) :])
    return text
