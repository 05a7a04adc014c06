"""The alert a long-acting buprenorphine injection past its window raises at close of day.

Pure (STYLE B3). A prolonged-release injection (Buvidal) is given weekly or monthly, often at
the drug service's clinic rather than the pharmacy; when a dose is not given by the end of the
window the licence allows, buprenorphine levels fall: withdrawal, relapse onto illicit opioids
and, with lost tolerance, overdose. Nobody sees a missed injection at the counter the way a
missed daily dose is seen, so close of day tells the prescriber and the key worker, urgently
(docs/decisions.md), once per overdue dose: the dedupe record is the course and the due date,
so the next evenings add nothing until a dose is recorded and a later one falls overdue.
"""

from __future__ import annotations

from app.safeguarding.alert_messages import fact_map
from app.safeguarding.alert_vocabulary import Severity
from app.safeguarding.rules import EventKind, Recipient, SafeguardingEvent

__all__ = ["injection_overdue_event"]


def injection_overdue_event(
    *,
    record: str,
    product_name: str,
    due_words: str,
    window_end_words: str,
    days_overdue: int,
    first_dose: bool,
) -> SafeguardingEvent:
    """The event for one overdue dose; `record` identifies the course and the due date."""
    which = "first dose" if first_dose else "dose"
    days = "1 day" if days_overdue == 1 else f"{days_overdue} days"
    return SafeguardingEvent(
        EventKind.INJECTION_OVERDUE,
        Severity.URGENT,
        (Recipient.PRESCRIBER, Recipient.KEY_WORKER),
        f"A long-acting buprenorphine injection is overdue: the {which} of {product_name} "
        f"was due {due_words} and none was recorded by the end of its window "
        f"({window_end_words}); {days} past due. Contact the patient today to arrange it "
        "(falling buprenorphine levels: withdrawal, relapse and overdose risk).",
        fact_map(record=record, days_overdue=days_overdue, first_dose=first_dose),
        "record",
    )
