"""Password hashing with argon2id (pwdlib). Note pwdlib's order: verify(password, hash)."""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher, profiles
from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher


@lru_cache
def hasher(profile: str) -> PasswordHash:
    if profile == "cheapest":  # argon2-cffi documents CHEAPEST as "only for testing"
        p = profiles.CHEAPEST
        return PasswordHash(
            (
                Argon2Hasher(
                    time_cost=p.time_cost, memory_cost=p.memory_cost, parallelism=p.parallelism
                ),
            )
        )
    return PasswordHash((Argon2Hasher(),))


def hash_password(password: str, *, profile: str) -> str:
    return hasher(profile).hash(password)


def verify_password(password: str, password_hash: str, *, profile: str) -> bool:
    try:
        return hasher(profile).verify(password, password_hash)
    except (UnknownHashError, ValueError):
        return False


@lru_cache
def dummy_hash(profile: str) -> str:
    """A hash to verify against for unknown usernames, so timing does not reveal accounts."""
    return hash_password("not-a-real-password-for-timing", profile=profile)


__all__ = ["PasswordHasher", "dummy_hash", "hash_password", "verify_password"]
