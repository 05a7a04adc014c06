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


# Staff accounts (every account here is staff): NIST SP 800-63B §5.1.1.2 asks for at least 8
# characters; NHS and NCSC guidance for systems holding health records asks for more.
MIN_LENGTH = 12


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords from breach corpora, as zxcvbn ships them (lower case)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def password_problem(password: str, *, username: str) -> tuple[str, str] | None:
    """Why a new password is refused, as (rule, message), or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return "min_length", f"must be at least {MIN_LENGTH} characters"
    folded = password.strip().lower()
    if folded in common_passwords():
        return "common_password", "is on a list of commonly used passwords; choose another"
    if username and username.lower() in folded:
        return "contains_username", "must not contain the username"
    if len(set(folded)) < 4:
        return "too_few_characters", "must use at least 4 different characters"
    return None


@lru_cache
def dummy_hash(profile: str) -> str:
    """A hash to verify against for unknown usernames, so timing does not reveal accounts."""
    return hash_password("not-a-real-password-for-timing", profile=profile)


__all__ = [
    "MIN_LENGTH",
    "PasswordHasher",
    "dummy_hash",
    "hash_password",
    "password_problem",
    "verify_password",
]
