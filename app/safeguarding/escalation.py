"""Escalation: an alert nobody acknowledged within its severity's time goes up the ladder
(the pharmacy's safeguarding lead, then the MASH).

Safeguarding decides when and to whom an alert escalates; the delivery worker only runs this
on each pass (`app/safeguarding/delivery.py` wires it in) and delivers what it queues.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from app.actor import SYSTEM
from app.audit import service as audit_service
from app.clock import local_date
from app.config import Settings
from app.db import UnitOfWork
from app.safeguarding import routing
from app.safeguarding.models import Alert, AlertHistory, AlertState

ALERTS = cast(Table, Alert.__table__)
ARM_BATCH = 500

# Built once (issue 21): the worker runs these before every pass, so at an alert storm they
# are on the drain's critical path. Plain columns and one executemany UPDATE, not Alert
# objects flushed one by one: arming 200 alerts took longer than delivering them.
_UNARMED = (
    select(ALERTS.c.id, ALERTS.c.created_at, ALERTS.c.severity)
    .where(
        ALERTS.c.state == AlertState.OPEN,
        ALERTS.c.escalation_level == 0,
        ALERTS.c.next_escalation_at.is_(None),
    )
    .limit(ARM_BATCH)
)
_ARM = (
    update(ALERTS)
    .where(ALERTS.c.id == bindparam("alert_id"), ALERTS.c.next_escalation_at.is_(None))
    .values(next_escalation_at=bindparam("due_at"))
)


def _arm_new_alerts(session: Session, sla: dict[str, float]) -> int:
    """Start each new alert's SLA clock from when it was raised (not from when the worker
    first saw it): `created_at` plus its severity's time. Guarded on `next_escalation_at IS
    NULL`, so a second worker arming the same alert writes nothing twice."""
    rows = session.execute(_UNARMED).all()
    if rows:
        session.execute(
            _ARM,
            [
                {
                    "alert_id": alert_id,
                    "due_at": created_at + timedelta(seconds=sla.get(severity, 3600)),
                }
                for alert_id, created_at, severity in rows
            ],
        )
    return len(rows)


def escalate_due(uow: UnitOfWork, settings: Settings, now: datetime) -> int:
    """Arm new alerts' SLA clocks; escalate those nobody acknowledged in time. Returns how
    many alerts escalated."""
    sla = settings.notify.sla_seconds
    escalated = 0
    with uow:
        session = uow.session
        _arm_new_alerts(session, sla)
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
