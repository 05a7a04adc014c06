"""Escalation: an alert nobody acknowledged within its severity's time goes up the ladder
(the pharmacy's safeguarding lead, then the MASH).

Safeguarding decides when and to whom an alert escalates; the delivery worker only runs this
on each pass (`app/safeguarding/delivery.py` wires it in) and delivers what it queues.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from app.actor import SYSTEM
from app.audit import service as audit_service
from app.clock import local_date
from app.config import Settings
from app.db import UnitOfWork
from app.safeguarding import routing
from app.safeguarding.models import Alert, AlertHistory, AlertState


def escalate_due(uow: UnitOfWork, settings: Settings, now: datetime) -> int:
    """Arm new alerts' SLA clocks; escalate those nobody acknowledged in time. Returns how
    many alerts escalated."""
    sla = settings.notify.sla_seconds
    escalated = 0
    with uow:
        session = uow.session
        for alert in session.scalars(
            select(Alert)
            .where(
                Alert.state == AlertState.OPEN,
                Alert.escalation_level == 0,
                Alert.next_escalation_at.is_(None),
            )
            .limit(500)
        ):
            alert.next_escalation_at = alert.created_at + timedelta(
                seconds=sla.get(alert.severity, 3600)
            )
        session.flush()
        due = list(
            session.scalars(
                select(Alert)
                .where(
                    Alert.state.in_((AlertState.OPEN, AlertState.ESCALATED)),
                    Alert.next_escalation_at <= now,
                )
                .order_by(Alert.next_escalation_at)
                .limit(200)
                .with_for_update(skip_locked=True)
            )
        )
        for alert in due:
            level = alert.escalation_level + 1
            targets = routing.escalation_targets(
                session,
                level,
                pharmacy_id=alert.pharmacy_id,
                today=local_date(now, settings.timezone),
            )
            alert.escalation_level = level
            alert.state = AlertState.ESCALATED
            more = level < len(routing.ESCALATION)
            alert.next_escalation_at = (
                now + timedelta(seconds=sla.get(alert.severity, 3600)) if more else None
            )
            routing.send(session, alert, targets, level=level, now=now, actor="system")
            if not targets:
                session.add(
                    AlertHistory(
                        alert_id=alert.id,
                        at=now,
                        action="escalated",
                        actor="system",
                        note=f"level {level}: nobody to escalate to",
                    )
                )
            audit_service.record(
                session,
                SYSTEM,
                "alert.escalated",
                entity="alert",
                entity_id=alert.id,
                at=now,
                pharmacy_id=alert.pharmacy_id,
                facts={"level": level, "recipients": len(targets)},
            )
            escalated += 1
        uow.commit()
    return escalated
