"""The alerts a dose given on paper during an outage raises once it is entered.

Pure (STYLE B3). While the system was down the counter worked from the printed sheet; the
record only learns afterwards what was given. Two things in that reconciliation cannot wait for
a conference: a day supplied twice (the patient may have had a double dose, and the tolerance
and overdose risk are the prescriber's to weigh today), and a supply the counter would have
refused that day (the days-without-a-dose threshold, a withhold for intoxication, no lockable
box). Both go urgently to the prescriber and the key worker, as a dose given unchecked does.
"""

from __future__ import annotations

from collections.abc import Iterable

from app.safeguarding.alert_messages import fact_map
from app.safeguarding.alert_vocabulary import Severity
from app.safeguarding.rules import EventKind, Recipient, SafeguardingEvent

__all__ = ["outage_dose_events"]


def outage_dose_events(
    *, double_supply: bool, blocks: Iterable[str], not_due: bool
) -> tuple[SafeguardingEvent, ...]:
    """The events for one dose entered from the outage sheet: nothing when the record and the
    rules agree with what was given."""
    codes = sorted(set(blocks))
    events: list[SafeguardingEvent] = []
    if double_supply:
        events.append(
            SafeguardingEvent(
                EventKind.OUTAGE_DOUBLE_SUPPLY,
                Severity.URGENT,
                (Recipient.PRESCRIBER, Recipient.KEY_WORKER),
                "A dose given from the outage sheet was entered for a day already supplied: "
                "the patient may have had two doses that day. Review the patient today "
                "(overdose risk, tolerance, next dose).",
                fact_map(double_supply=True),
                "patient",
            )
        )
    if codes or not_due:
        events.append(
            SafeguardingEvent(
                EventKind.OUTAGE_BLOCK_IGNORED,
                Severity.URGENT,
                (Recipient.PRESCRIBER, Recipient.KEY_WORKER),
                "A dose given from the outage sheet was one the counter would have refused "
                "that day"
                + (" (no dose of the prescription was due)" if not_due else "")
                + ". Review the patient today (tolerance, intoxication, next dose).",
                fact_map(blocks=",".join(codes) or "not_due"),
                "patient",
            )
        )
    return tuple(events)
