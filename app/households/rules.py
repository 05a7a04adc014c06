"""The household's vocabulary that the counter and safeguarding both reason with.

Pure (no database, clock or web framework). It lives here, in the capability that owns
households, so that the counter decision (`app.dosing.rules`) and the alert rules
(`app.safeguarding.rules`) read the same facts without importing each other: both sit above
households.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

__all__ = ["ChildFacts", "ProtectionStatus", "StorageBlock"]

ProtectionStatus = Literal["none", "child_in_need", "child_protection_plan", "looked_after"]


@dataclass(frozen=True, slots=True)
class ChildFacts:
    """A child living in the household, as far as safety rules need to know them."""

    age_years: int
    protection_status: ProtectionStatus


class StorageBlock(StrEnum):
    """The counter's household-storage blocks: local policy and guidance, not law or the
    prescriber's direction, so the only blocks a pharmacist may override (with a reason).

    The counter's `Code` takes its values from here, and an override of one of them raises a
    safeguarding alert, so the two capabilities cannot drift apart on what was overridden.
    """

    NO_LOCKABLE_BOX = "no_lockable_box"
    CHILDREN_NOT_CONFIRMED = "children_not_confirmed"
