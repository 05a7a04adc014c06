"""The household as one picture for the household view and the counter's household strip:
methadone at home, each member's lockable box and regime, and the alerts still open."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.dosing import facts as dosing_facts
from app.households.models import BoxConfirmation
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
