"""The alerts a dose exception raises (issue 20 §1): what happened to a dose after it left the
counter, recorded on the day by the pharmacy (`app.dosing.exceptions`).

Pure (STYLE B3). Two patterns cannot wait for a conference:

- a take-home reported lost or stolen in a household where children live: the methadone may
  be somewhere a child can reach it (one dose can kill a child), so the social worker and the
  key worker are told urgently, whatever any child's plan status;
- a second exception of the same patient within 28 days (vomited, spilt, lost, stolen,
  damaged or returned): a pattern the prescriber weighs (diversion, storage, a dose too high to
  keep down), so the prescriber is told. Once per rolling 28 days: while the prescriber's alert
  raised in the last 28 days stands for the pattern (`window_record`), a further exception is
  added to that alert as a repeat (its history), not sent as another alert.

Each exception is its own record, so each alert is scoped to the exception that raised it
(`record`); the repeated-exceptions alert to the exception that first made the pattern. The message says what happened, the volume and the dates, and no name (it may be
sent); the record itself is read through the authenticated API.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from types import MappingProxyType

from app.safeguarding.alert_messages import fact_map, format_mg
from app.safeguarding.alert_vocabulary import Severity
from app.safeguarding.rules import EventKind, Recipient, SafeguardingEvent

__all__ = ["EXCEPTION_WORDS", "REPEAT_WINDOW_DAYS", "dose_exception_events"]

# The days over which a second exception is a pattern the prescriber must hear of.
REPEAT_WINDOW_DAYS = 28
EXCEPTION_WORDS: Mapping[str, str] = MappingProxyType(
    {
        "vomited": "vomited after swallowing",
        "spilt": "spilt at the counter",
        "lost": "reported lost",
        "stolen": "reported stolen",
        "damaged": "damaged",
        "returned": "returned unused",
    }
)
_ASTRAY = frozenset({"lost", "stolen"})


def _day(value: date) -> str:
    return value.strftime("%d/%m/%Y")


def _dates(days: Sequence[date]) -> str:
    ordered = sorted(days)
    if len(ordered) == 1:
        return _day(ordered[0])
    return ", ".join(_day(d) for d in ordered[:-1]) + f" and {_day(ordered[-1])}"


def dose_exception_events(
    *,
    kind: str,
    dose_dates: Iterable[date],
    dose_mg: Decimal,
    volume_ml: Decimal | None,
    recorded_on: date,
    children: int,
    exceptions_in_window: int,
    record: str,
    window_record: str | None = None,
) -> tuple[SafeguardingEvent, ...]:
    """The events for one exception just recorded.

    `children`: children living in the patient's household that day; `exceptions_in_window`:
    the patient's exceptions recorded in the `REPEAT_WINDOW_DAYS` days to `recorded_on`, this
    one included; `window_record`: the record of the repeated-exceptions alert already raised
    in the last `REPEAT_WINDOW_DAYS` days, if any (this exception then repeats that alert).
    """
    days = tuple(dose_dates)
    what = EXCEPTION_WORDS[kind]
    amount = (
        f"{format_mg(volume_ml)} mL ({format_mg(dose_mg)} mg)"
        if volume_ml is not None
        else f"{format_mg(dose_mg)} mg"
    )
    dose = f"{amount} of methadone, the dose for {_dates(days)}"
    events: list[SafeguardingEvent] = []
    if kind in _ASTRAY and children > 0:
        homes = "1 child lives" if children == 1 else f"{children} children live"
        events.append(
            SafeguardingEvent(
                EventKind.DOSE_LOST_WITH_CHILDREN,
                Severity.URGENT,
                (Recipient.SOCIAL_WORKER, Recipient.KEY_WORKER),
                f"A take-home of {dose}, was {what} on {_day(recorded_on)} by a patient in a "
                f"household where {homes}. The methadone may be where a child can reach it: "
                "check the children's safety and the storage today.",
                fact_map(
                    kind=kind,
                    dose_mg=format_mg(dose_mg),
                    volume_ml=format_mg(volume_ml) if volume_ml is not None else "",
                    dose_dates=",".join(d.isoformat() for d in days),
                    recorded_on=recorded_on.isoformat(),
                    children=children,
                    record=record,
                ),
                "record",
            )
        )
    if exceptions_in_window >= 2:
        events.append(
            SafeguardingEvent(
                EventKind.REPEATED_DOSE_EXCEPTIONS,
                Severity.WARNING,
                (Recipient.PRESCRIBER,),
                f"A dose exception was recorded on {_day(recorded_on)}: {dose}, was {what}. "
                f"It is the patient's {_ordinal(exceptions_in_window)} exception in "
                f"{REPEAT_WINDOW_DAYS} days. Review the regime (storage, supervision, the dose).",
                fact_map(
                    kind=kind,
                    dose_mg=format_mg(dose_mg),
                    volume_ml=format_mg(volume_ml) if volume_ml is not None else "",
                    dose_dates=",".join(d.isoformat() for d in days),
                    recorded_on=recorded_on.isoformat(),
                    exceptions_in_window=exceptions_in_window,
                    window_days=REPEAT_WINDOW_DAYS,
                    record=window_record or record,
                ),
                "record",
            )
        )
    return tuple(events)


def _ordinal(number: int) -> str:
    return {2: "second", 3: "third"}.get(number, f"{number}th")
