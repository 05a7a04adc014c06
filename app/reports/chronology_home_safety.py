"""The conference report's naloxone and safe-storage advice: each supply and each piece of
advice as a chronology event, and what the home holds at the end of the period (naloxone in
date or expired; the last advice, when and by whom)."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from sqlalchemy.orm import Session

from app.auth import service as auth_service
from app.households.home_safety import ADVICE_TOPICS
from app.households.naloxone import supplies
from app.households.storage_advice import advice_given
from app.reports.rules import Event, EventKind


def home_safety_events(session: Session, household_id: UUID, start: date, end: date) -> list[Event]:
    events = []
    for n in supplies(session, household_id, limit=500):
        if start <= n.supplied_on <= end:
            events.append(
                Event(
                    n.supplied_on,
                    n.created_at,
                    EventKind.NALOXONE_SUPPLIED,
                    f"naloxone:{n.id}",
                    str(n.patient_id) if n.patient_id else None,
                    f"Take-home naloxone ({n.product_name}, batch {n.batch}, expires "
                    f"{n.expires_on.isoformat()}) supplied to {n.recipient_name}; "
                    + ("shown how to use it." if n.trained else "not shown how to use it."),
                    details={"expires_on": n.expires_on.isoformat(), "trained": n.trained},
                )
            )
    for a in advice_given(session, household_id, limit=500):
        if start <= a.given_on <= end:
            events.append(
                Event(
                    a.given_on,
                    a.created_at,
                    EventKind.STORAGE_ADVICE,
                    f"storage_advice:{a.id}",
                    str(a.patient_id) if a.patient_id else None,
                    f"Safe-storage advice given to {a.given_to}: "
                    + "; ".join(ADVICE_TOPICS.get(t, t) for t in a.topics)
                    + ".",
                    details={"topics": ",".join(a.topics)},
                )
            )
    return events


def home_safety_summary(session: Session, household_id: UUID, end: date) -> dict[str, Any]:
    """Naloxone held at the end of the period and the last storage advice before it."""
    held = [n for n in supplies(session, household_id, limit=500) if n.supplied_on <= end]
    advice = [a for a in advice_given(session, household_id, limit=500) if a.given_on <= end]
    last = max(advice, key=lambda a: (a.given_on, a.created_at), default=None)
    users: set[UUID | None] = {n.supplied_by_id for n in held}
    if last is not None:
        users.add(last.given_by_id)
    names = auth_service.display_names(session, users)
    return {
        "naloxone_in_date": any(n.expires_on >= end for n in held),
        "naloxone": [
            {
                "product_name": n.product_name,
                "recipient_name": n.recipient_name,
                "supplied_on": n.supplied_on,
                "expires_on": n.expires_on,
                "in_date": n.expires_on >= end,
                "supplied_by": names.get(n.supplied_by_id, "-"),
            }
            for n in held
        ],
        "last_storage_advice": {
            "given_on": last.given_on,
            "given_to": last.given_to,
            "given_by": names.get(last.given_by_id, "-"),
            "topics": list(last.topics),
        }
        if last
        else None,
    }
