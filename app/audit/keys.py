"""The key that seals the audit chain: an HMAC key held outside the database (the service's
environment), so someone who can write to the database but does not hold the key cannot rewrite
an event and recompute the hashes after it. Each event records the id of the key that sealed it,
so the key can be rotated: the old one stays known (`DOSEKEEPER_AUDIT_PREVIOUS_KEYS`) to verify
what it sealed. The id is a hash of the key, never the key.

Set once per process from the settings (`configure`, called by the app factory and the CLI);
until then the development default is in force, as everywhere else in development and tests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from app.config import DEFAULT_AUDIT_KEY, Settings


def key_id(key: str) -> str:
    """A short public name for a key (12 hex digits of a hash of it)."""
    return hashlib.sha256(b"dosekeeper-audit-key-id:" + key.encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class Keyring:
    current_id: str
    keys: Mapping[str, bytes]

    @classmethod
    def of(cls, current: str, previous: Iterable[str] = ()) -> Keyring:
        keys = {key_id(k): k.encode() for k in (*previous, current)}
        return cls(key_id(current), keys)

    @property
    def current(self) -> bytes:
        return self.keys[self.current_id]


_keyring = Keyring.of(DEFAULT_AUDIT_KEY)


def configure(settings: Settings) -> None:
    """Use the settings' audit key (and keep the previous ones for verifying)."""
    global _keyring
    _keyring = Keyring.of(
        settings.audit_key.get_secret_value(),
        [k.get_secret_value() for k in settings.audit_previous_keys],
    )


def keyring() -> Keyring:
    return _keyring
