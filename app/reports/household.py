"""The household as one picture for the household view and the counter's household strip:
methadone at home, each member's lockable box and regime, and the alerts still open."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.dosing import facts as dosing_facts
from app.dosing.models import DoseState, InstalmentDay
from app.households.models import BoxConfirmation, HouseholdConfirmation
from app.households.naloxone import supplies as naloxone_supplies
from app.households.storage_advice import advice_given
from app.patients.models import Patient
from app.safeguarding.models import Alert, AlertState


def household_extras(session: Session, household_id: UUID, today: date) -> dict[str, Any]:
    boxes = session.scalars(
        select(BoxConfirmation)
        .where(BoxConfirmation.household_id == household_id)
        .order_by(BoxConfirmation.seen_on.desc())
        .limit(50)
    )
    members = {
        p.id: p
        for p in session.scalars(select(Patient).where(Patient.household_id == household_id))
    }
    alerts = session.scalars(
        select(Alert)
        .where(
            Alert.household_id == household_id,
            Alert.state.in_((AlertState.OPEN, AlertState.ESCALATED)),
        )
        .order_by(Alert.created_at.desc())
        .limit(100)
    )
    return {
        **home_safety_extras(session, household_id, today),
        "methadone_at_home_mg": dosing_facts.methadone_at_home(session, household_id, today),
        "boxes": [
            {
                "patient_id": b.patient_id,
                "seen_on": b.seen_on,
                "valid_until": b.valid_until,
                "method": b.method,
                "valid_today": b.valid_until >= today,
            }
            for b in boxes
            if b.patient_id in members
        ],
        "open_alerts": [
            {
                "id": a.id,
                "kind": a.kind,
                "severity": a.severity,
                "state": a.state,
                "patient_id": a.patient_id,
                "created_at": a.created_at,
            }
            for a in alerts
        ],
    }


def home_safety_extras(session: Session, household_id: UUID, today: date) -> dict[str, Any]:
    """Naloxone held in the household (each in date or expired) and storage advice given."""
    naloxone = naloxone_supplies(session, household_id)
    return {
        "naloxone_in_date": any(n.expires_on >= today for n in naloxone),
        "naloxone": [
            {
                "id": n.id,
                "product_name": n.product_name,
                "batch": n.batch,
                "expires_on": n.expires_on,
                "in_date": n.expires_on >= today,
                "trained": n.trained,
                "recipient_name": n.recipient_name,
                "supplied_on": n.supplied_on,
                "supplied_by_id": n.supplied_by_id,
            }
            for n in naloxone
        ],
        "storage_advice": [
            {
                "id": a.id,
                "topics": a.topics,
                "given_to": a.given_to,
                "given_on": a.given_on,
                "given_by_id": a.given_by_id,
            }
            for a in advice_given(session, household_id)
        ],
    }


def methadone_series(
    session: Session, household_id: UUID, start: date, end: date
) -> list[tuple[date, Decimal]]:
    """Take-home methadone at home on each day: handed over on or before it, dated on or after."""
    rows = session.execute(
        select(InstalmentDay.collect_on, InstalmentDay.dose_date, InstalmentDay.dose_mg)
        .join(Patient, Patient.id == InstalmentDay.patient_id)
        .where(
            Patient.household_id == household_id,
            InstalmentDay.state == DoseState.COLLECTED,
            InstalmentDay.dose_date >= start,
            InstalmentDay.collect_on <= end,
            InstalmentDay.product.like("methadone%"),
        )
    ).all()
    series = []
    day = start
    while day <= end:
        total = sum(
            (Decimal(mg) for collected, dose_date, mg in rows if collected <= day <= dose_date),
            Decimal(0),
        )
        series.append((day, total))
        day += timedelta(days=1)
    return series


def chronology(
    session: Session, household_id: UUID, start: date, end: date
) -> list[dict[str, Any]]:
    """Doses, boxes, confirmations and alerts for the household's members, in time order."""
    members = {
        p.id: p
        for p in session.scalars(select(Patient).where(Patient.household_id == household_id))
    }
    events: list[dict[str, Any]] = []
    for row in session.scalars(
        select(InstalmentDay).where(
            InstalmentDay.patient_id.in_(members),
            InstalmentDay.dose_date >= start,
            InstalmentDay.dose_date <= end,
            InstalmentDay.state != DoseState.DUE,
        )
    ):
        who = members[row.patient_id]
        events.append(
            {
                "at": row.recorded_at,
                "day": row.dose_date,
                "kind": row.state,
                "text": f"{who.given_name} {who.family_name}: {row.state.replace('_', ' ')}"
                f" {Decimal(row.dose_mg).normalize():f} mg for {row.dose_date}"
                + (
                    f" ({len(row.children_present)} child(ren) present)"
                    if row.children_present
                    else ""
                ),
            }
        )
    for box in session.scalars(
        select(BoxConfirmation).where(
            BoxConfirmation.household_id == household_id, BoxConfirmation.seen_on >= start
        )
    ):
        events.append(
            {
                "at": box.created_at,
                "day": box.seen_on,
                "kind": "box",
                "text": f"Lockable box seen ({box.method.replace('_', ' ')}), "
                f"valid until {box.valid_until:%d/%m/%Y}",
            }
        )
    for confirmation in session.scalars(
        select(HouseholdConfirmation).where(
            HouseholdConfirmation.household_id == household_id,
            HouseholdConfirmation.confirmed_on >= start,
        )
    ):
        events.append(
            {
                "at": confirmation.created_at,
                "day": confirmation.confirmed_on,
                "kind": "confirmation",
                "text": f"Children confirmed ({confirmation.children_count})",
            }
        )
    for naloxone in naloxone_supplies(session, household_id):
        if start <= naloxone.supplied_on <= end:
            events.append(
                {
                    "at": naloxone.created_at,
                    "day": naloxone.supplied_on,
                    "kind": "naloxone",
                    "text": f"Naloxone supplied to {naloxone.recipient_name} "
                    f"({naloxone.product_name}), expires {naloxone.expires_on:%d/%m/%Y}",
                }
            )
    for advice in advice_given(session, household_id):
        if start <= advice.given_on <= end:
            events.append(
                {
                    "at": advice.created_at,
                    "day": advice.given_on,
                    "kind": "storage advice",
                    "text": f"Safe-storage advice given to {advice.given_to}",
                }
            )
    for alert in session.scalars(
        select(Alert).where((Alert.household_id == household_id) | Alert.patient_id.in_(members))
    ):
        if alert.created_at.date() >= start:
            events.append(
                {
                    "at": alert.created_at,
                    "day": alert.created_at.date(),
                    "kind": f"alert {alert.severity}",
                    "text": f"Alert: {alert.kind.replace('_', ' ')} ({alert.state})",
                }
            )
    events.sort(key=lambda e: e["at"] or datetime.combine(e["day"], time(), UTC))
    return events
