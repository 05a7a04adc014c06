"""The conference chronology's dose exceptions and replacements (issue 20 §1): a dose vomited,
spilt, lost, stolen, damaged or returned unused, and the replacement the prescriber
authorised, in words a conference can read (`app.reports.conference` gathers them)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import local_date, local_midnight_utc
from app.dosing.exception_models import DoseException, DoseReplacement
from app.reports.rules import Event, EventKind
from app.safeguarding.exception_alerts import EXCEPTION_WORDS


def _amount(mg: Decimal, ml: Decimal | None) -> str:
    mg_text = f"{Decimal(mg).normalize():f}"
    return f"{Decimal(ml).normalize():f} mL ({mg_text} mg)" if ml is not None else f"{mg_text} mg"


def _days(values: Sequence[str]) -> tuple[date, ...]:
    return tuple(date.fromisoformat(v) for v in values)


def exception_events(
    session: Session, patient_ids: Sequence[UUID], start: date, end: date, timezone: str
) -> list[Event]:
    """Each exception recorded in the period and each replacement supplied in it."""
    if not patient_ids:
        return []
    since = local_midnight_utc(start, timezone)
    until = local_midnight_utc(end + timedelta(days=1), timezone)
    events: list[Event] = []
    for exception in session.scalars(
        select(DoseException).where(
            DoseException.patient_id.in_(patient_ids),
            DoseException.recorded_at >= since,
            DoseException.recorded_at < until,
        )
    ):
        days = _days(exception.dose_dates)
        extra = ""
        if exception.minutes_after is not None:
            extra = f", {exception.minutes_after} minutes after swallowing"
        if exception.police_reference:
            extra = f" (police reference {exception.police_reference})"
        events.append(
            Event(
                local_date(exception.recorded_at, timezone),
                exception.recorded_at,
                EventKind.DOSE_EXCEPTION,
                f"dose_exception:{exception.id}",
                str(exception.patient_id),
                ("Replacement dose" if exception.replacement_id else "Dose")
                + f" {EXCEPTION_WORDS[exception.kind]}{extra}: "
                f"{_amount(exception.dose_mg, exception.volume_ml)}, the dose for "
                f"{', '.join(d.strftime('%d/%m/%Y') for d in days)}"
                + (f". {exception.note}" if exception.note else ""),
                dose_dates=days,
                dose_mg=Decimal(exception.dose_mg),
                details={"kind": exception.kind}
                | (
                    {"replacement": str(exception.replacement_id)}
                    if exception.replacement_id
                    else {}
                ),
            )
        )
    for replacement, kind in session.execute(
        select(DoseReplacement, DoseException.kind)
        .join(DoseException, DoseException.id == DoseReplacement.exception_id)
        .where(
            DoseReplacement.patient_id.in_(patient_ids),
            DoseReplacement.supplied_at >= since,
            DoseReplacement.supplied_at < until,
        )
    ):
        days = _days(replacement.dose_dates)
        mode = "swallowed at the counter" if replacement.mode == "supervised" else "taken home"
        events.append(
            Event(
                local_date(replacement.supplied_at, timezone),
                replacement.supplied_at,
                EventKind.REPLACEMENT,
                f"dose_replacement:{replacement.id}",
                str(replacement.patient_id),
                f"Replacement supplied ({mode}) for the dose {EXCEPTION_WORDS[kind]}: "
                f"{_amount(replacement.dose_mg, replacement.volume_ml)}, authorised by "
                f"{replacement.authorised_by} ({replacement.authorised_how.replace('_', ' ')})",
                dose_dates=days,
                dose_mg=Decimal(replacement.dose_mg),
                details={"exception": str(replacement.exception_id)},
            )
        )
    return events
