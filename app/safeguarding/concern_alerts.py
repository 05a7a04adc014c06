"""What a concern a person records is about, and the alert it raises.

Pure (STYLE B3). The rules in `app.safeguarding.rules` decide from facts the system holds; a
concern is what a pharmacist saw or was told that no rule can see, raised to the recipients
they chose (the use case is `app.safeguarding.concerns`). Its categories and their words are
here, with the alert, because the API, the pages and the reports read the same words.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType

from app.safeguarding.alert_messages import fact_map
from app.safeguarding.alert_vocabulary import Severity
from app.safeguarding.rules import EventKind, Recipient, SafeguardingEvent

__all__ = ["CONCERN_WORDS", "ConcernCategory", "concern_events"]


class ConcernCategory(StrEnum):
    """What a concern is about (the words people choose from; never rename one)."""

    OBSERVATION = "observation"
    DISCLOSURE = "disclosure"
    CHILD_UNWELL_OR_UNSUPERVISED = "child_unwell_or_unsupervised"
    PARTNER_INTOXICATED = "partner_intoxicated"
    REFUSED_HOME_VISIT = "refused_home_visit"
    OTHER = "other"


CONCERN_WORDS: Mapping[str, str] = MappingProxyType(
    {
        ConcernCategory.OBSERVATION: "something seen at the pharmacy",
        ConcernCategory.DISCLOSURE: "something the patient or someone else disclosed",
        ConcernCategory.CHILD_UNWELL_OR_UNSUPERVISED: "a child seen unwell or unsupervised",
        ConcernCategory.PARTNER_INTOXICATED: "a partner or other adult intoxicated",
        ConcernCategory.REFUSED_HOME_VISIT: "a home visit refused",
        ConcernCategory.OTHER: "another concern",
    }
)


def concern_events(
    *,
    category: str,
    severity: Severity,
    recipients: Iterable[Recipient],
    record: str,
) -> tuple[SafeguardingEvent, ...]:
    """Return the alert for a concern a person recorded, to the recipients they chose.

    The rules cannot see what a pharmacist sees at the counter: a child left in a car, a
    disclosure, a partner arriving intoxicated. Such a concern travels like any alert (the
    outbox, acknowledgement, escalation) and, unlike an information-only alert, is closed only
    with a note of the action taken (the service's check): "shared" is not the end of it. The
    message names the category only; what was seen stays in the record, read through the
    authenticated, audited API. Each concern is its own alert (`record` scope).
    """
    chosen = tuple(dict.fromkeys(recipients))
    if not chosen:
        raise ValueError("a concern is raised to at least one recipient")
    return (
        SafeguardingEvent(
            EventKind.PHARMACIST_CONCERN,
            severity,
            chosen,
            f"A pharmacy recorded a safeguarding concern ({CONCERN_WORDS[category]}). "
            "Read it, act, and acknowledge it with what you did.",
            fact_map(category=category, record=record),
            "record",
        ),
    )
