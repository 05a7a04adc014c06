"""Patient-card codes: random, never derived from the NHS number or any other identifier, so a
lost card reveals nothing and cannot be guessed from a patient's details."""

from __future__ import annotations

import secrets

CARD_PREFIX = "DKP-"
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: read aloud at a busy counter


def new_card_code() -> str:
    return CARD_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(12))
