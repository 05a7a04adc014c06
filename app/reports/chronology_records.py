"""The conference chronology's events from the records around the doses: changes to the
household's and its members' records, lockable-box confirmations, alerts (with how long each
took to acknowledge) and recorded concerns (with who was told and why that was lawful).

Kept apart from `app.reports.chronology_doses` because these come from the households,
patients and safeguarding records rather than the ledger, and are filtered by household too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from uuid import UUID

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.clock import local_date, local_midnight_utc
from app.households.models import BoxConfirmation, HouseholdChange
from app.patients.models import PatientChange
from app.reports.rules import Event, EventKind
from app.safeguarding.concern_alerts import CONCERN_WORDS
from app.safeguarding.concerns import LAWFUL_BASIS_WORDS
from app.safeguarding.models import Alert, Concern


def change_events(
    session: Session,
    household_id: UUID,
    patient_ids: Sequence[UUID],
    start: date,
    end: date,
    timezone: str,
) -> list[Event]:
    """Changes to the household, its children and its members' details in the period."""
    since = local_midnight_utc(start, timezone)
    until = local_midnight_utc(end + timedelta(days=1), timezone)
    events: list[Event] = []
    for change in session.scalars(
        select(HouseholdChange).where(
            HouseholdChange.household_id == household_id,
            HouseholdChange.changed_at >= since,
            HouseholdChange.changed_at < until,
        )
    ):
        what = "a child" if change.child_id else "the household"
        events.append(
            Event(
                local_date(change.changed_at, timezone),
                change.changed_at,
                EventKind.CHANGED,
                f"household_change:{change.id}",
                None,
                f"Record of {what} changed ({change.field.replace('_', ' ')}: "
                f"{change.old_value or '-'} → {change.new_value or '-'}): {change.reason}.",
            )
        )
    for patient_change in session.scalars(
        select(PatientChange).where(
            PatientChange.patient_id.in_(patient_ids),
            PatientChange.changed_at >= since,
            PatientChange.changed_at < until,
        )
    ):
        events.append(
            Event(
                local_date(patient_change.changed_at, timezone),
                patient_change.changed_at,
                EventKind.CHANGED,
                f"patient_change:{patient_change.id}",
                str(patient_change.patient_id),
                f"Patient record changed ({patient_change.field.replace('_', ' ')}): "
                f"{patient_change.reason}.",
            )
        )
    return events


BOX_METHODS = {
    "shown_at_pharmacy": "shown at the pharmacy",
    "seen_at_home": "seen at home by the key worker",
}


def box_events(
    session: Session, patient_ids: Sequence[UUID], start: date, end: date
) -> list[Event]:
    return [
        Event(
            box.seen_on,
            box.created_at,
            EventKind.BOX_CONFIRMED,
            f"box:{box.id}",
            str(box.patient_id),
            f"Lockable box {BOX_METHODS.get(box.method, box.method)}; valid until "
            f"{box.valid_until.isoformat()}.",
        )
        for box in session.scalars(
            select(BoxConfirmation).where(
                BoxConfirmation.patient_id.in_(patient_ids),
                BoxConfirmation.seen_on >= start,
                BoxConfirmation.seen_on <= end,
            )
        )
    ]


def alert_events(
    session: Session,
    household_id: UUID,
    patient_ids: Sequence[UUID],
    start: date,
    end: date,
    timezone: str,
) -> list[Event]:
    events = []
    for alert in session.scalars(
        select(Alert).where(
            or_(Alert.household_id == household_id, Alert.patient_id.in_(patient_ids)),
            Alert.created_at >= local_midnight_utc(start, timezone),
            Alert.created_at < local_midnight_utc(end + timedelta(days=1), timezone),
        )
    ):
        if alert.patient_id is not None and alert.patient_id not in patient_ids:
            continue  # a member the caller may not see
        minutes = (
            int((alert.acknowledged_at - alert.created_at).total_seconds() // 60)
            if alert.acknowledged_at
            else None
        )
        events.append(
            Event(
                local_date(alert.created_at, timezone),
                alert.created_at,
                EventKind.ALERT,
                f"alert:{alert.id}",
                str(alert.patient_id) if alert.patient_id else None,
                f"{alert.severity.capitalize()} alert ({alert.kind.replace('_', ' ')}): "
                f"{alert.message}",
                details={
                    "alert_kind": alert.kind,
                    "severity": alert.severity,
                    "state": alert.state,
                    "acknowledged_at": alert.acknowledged_at.isoformat()
                    if alert.acknowledged_at
                    else None,
                    "minutes_to_acknowledge": minutes,
                },
            )
        )
    return events


def concern_events(
    session: Session,
    household_id: UUID,
    patient_ids: Sequence[UUID],
    start: date,
    end: date,
    timezone: str,
) -> list[Event]:
    """Each concern in the period, in the words it was recorded, with who else was told, why
    that was lawful, and the action its recipient recorded (or that nobody has yet)."""
    events = []
    rows = session.execute(
        select(Concern, Alert)
        .outerjoin(Alert, Alert.id == Concern.alert_id)
        .where(
            or_(Concern.household_id == household_id, Concern.patient_id.in_(patient_ids)),
            Concern.raised_at >= local_midnight_utc(start, timezone),
            Concern.raised_at < local_midnight_utc(end + timedelta(days=1), timezone),
        )
    ).all()
    for concern, alert in rows:
        if concern.patient_id is not None and concern.patient_id not in patient_ids:
            continue  # a member the caller may not see
        told = concern.shared_with or "nobody outside Dosekeeper"
        if alert is not None and alert.acknowledged_at is not None:
            action = f"Action recorded: {alert.acknowledgement_note or '-'}"
        else:
            action = "No action recorded yet"
        follow_up = (
            f" Follow up by {concern.follow_up_on.strftime('%d/%m/%Y')}."
            if concern.follow_up_on
            else ""
        )
        events.append(
            Event(
                local_date(concern.raised_at, timezone),
                concern.raised_at,
                EventKind.CONCERN,
                f"concern:{concern.id}",
                str(concern.patient_id) if concern.patient_id else None,
                f"Concern recorded ({CONCERN_WORDS[concern.category]}): {concern.seen} "
                f"Also told: {told} (lawful basis: "
                f"{LAWFUL_BASIS_WORDS.get(concern.lawful_basis, concern.lawful_basis)}).{follow_up} "
                f"{action}.",
                details={
                    "category": concern.category,
                    "severity": concern.severity,
                    "alert_id": str(concern.alert_id) if concern.alert_id else None,
                    "acknowledged_at": alert.acknowledged_at.isoformat()
                    if alert is not None and alert.acknowledged_at
                    else None,
                },
            )
        )
    return events
