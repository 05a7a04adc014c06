"""The words safeguarding alerts are made of: severities, dedupe scopes, what "on a plan"
means, and why a delivery failed.

Pure (STYLE B3), like the rules that use it. Every safeguarding rules module (the patient's,
the household's, a concern's) builds its alerts from these, so they live apart from any one of
them; the API and pages that only need a word (a severity) read it without the decisions.
Why "on a plan" covers the three statuses it does is one of the choices listed in
`app.safeguarding.rules`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Literal, TypeAlias

from app.households.rules import ChildFacts

__all__ = [
    "DELIVERY_FAILURE_CAUSES",
    "PLAN_STATUSES",
    "DedupeScope",
    "FactValue",
    "Severity",
    "children_on_plan",
]

FactValue: TypeAlias = str | int | bool
# "record": one alert per record that raised it (a pharmacist's concern is never merged with
# another raised the same day: each is owned and answered on its own).
DedupeScope = Literal["patient", "household", "pharmacy", "record"]

# Statuses that mean children's social care knows the child and a social worker is allocated.
PLAN_STATUSES: frozenset[str] = frozenset(
    {"child_protection_plan", "child_in_need", "looked_after"}
)


def children_on_plan(children: Iterable[ChildFacts]) -> tuple[ChildFacts, ...]:
    """The children known to children's social care (`PLAN_STATUSES`)."""
    return tuple(child for child in children if child.protection_status in PLAN_STATUSES)


class Severity(StrEnum):
    """How fast someone must act; the acknowledgement SLA per severity is a setting."""

    INFO = "info"
    WARNING = "warning"
    URGENT = "urgent"


# Why a delivery is dead, as the lead reads it ("… could not be delivered by webhook <why>").
DELIVERY_FAILURE_CAUSES: Mapping[str, str] = MappingProxyType(
    {
        "retries": "after every retry",
        "gone": "because the receiver answered 410 Gone (that webhook is now disabled)",
        "refused": "because its address was refused at send time (an internal network address "
        "or an invalid URL), so nothing was sent",
        "no_channel": "because the recipient has no working webhook or email address",
    }
)
