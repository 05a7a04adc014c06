"""The alert worker: notify's delivery worker, told by safeguarding what each delivery is
about, what a dead delivery means, and to escalate before each pass.

Notify delivers and knows nothing of alerts' meaning; safeguarding decides that a dead
delivery is itself an alert to the safeguarding lead (never only a log line), and when an
unacknowledged alert escalates. Every process that delivers alerts (the API's in-process
worker, `dosekeeper worker`, the demo, the benchmarks) builds its worker here, so this is also
where the service's housekeeping rides along: expired Idempotency-Key responses are purged
between passes (app/http/idempotency.py), wherever the worker runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from sqlalchemy import Table, select
from sqlalchemy.orm import Session, sessionmaker

from app.actor import SYSTEM
from app.audit import service as audit_service
from app.clock import Clock, local_date
from app.config import Settings
from app.db import UnitOfWork
from app.http import idempotency
from app.notify import payloads
from app.notify.worker import DeadDelivery, Worker
from app.pharmacies.models import Pharmacy
from app.safeguarding import escalation
from app.safeguarding import rules as safeguarding_rules
from app.safeguarding import service as safeguarding_service
from app.safeguarding.models import Alert, AlertHistory

ALERTS = cast(Table, Alert.__table__)
PHARMACIES = cast(Table, Pharmacy.__table__)


def alert_subjects(session: Session, alert_ids: Sequence[UUID]) -> Mapping[UUID, payloads.Subject]:
    """What each delivery's message says about its alert: kind, severity, the pharmacy's ODS
    code and when it was raised (never names or clinical detail). Plain table columns, not
    Alert objects or ORM rows: the worker calls this for every batch it claims."""
    if not alert_ids:
        return {}
    alerts, pharmacies = ALERTS.c, PHARMACIES.c
    return {
        alert_id: payloads.Subject(
            kind=kind,
            severity=severity,
            pharmacy_id=pharmacy_id,
            pharmacy_ods=ods or "-",
            raised_at=raised_at,
        )
        for alert_id, kind, severity, pharmacy_id, raised_at, ods in session.execute(
            select(
                alerts.id,
                alerts.kind,
                alerts.severity,
                alerts.pharmacy_id,
                alerts.created_at,
                pharmacies.ods_code,
            )
            .select_from(ALERTS.outerjoin(PHARMACIES, pharmacies.id == alerts.pharmacy_id))
            .where(alerts.id.in_(alert_ids))
        )
    }


def on_delivery_dead(session: Session, dead: DeadDelivery, settings: Settings) -> None:
    """A dead delivery is itself an alert to the safeguarding lead, whether its retries ran
    out, the receiver said 410, its address was refused at send time, or the contact had no
    working channel at all."""
    alert = session.get(Alert, dead.subject_id)
    assert alert is not None
    session.add(
        AlertHistory(
            alert_id=alert.id,
            at=dead.at,
            action="delivery_dead",
            actor="system",
            note=f"{dead.channel} to contact {dead.contact_id}: {dead.detail}",
        )
    )
    audit_service.record(
        session,
        SYSTEM,
        "delivery.dead",
        entity="alert",
        entity_id=alert.id,
        at=dead.at,
        pharmacy_id=alert.pharmacy_id,
        facts={"delivery_id": dead.delivery_id, "channel": dead.channel, "cause": dead.cause},
    )
    for event in safeguarding_rules.delivery_failed_events(
        original_kind=alert.kind, channel=dead.channel, cause=dead.cause
    ):
        safeguarding_service.raise_alert(
            session,
            event,
            actor=SYSTEM,
            pharmacy_id=alert.pharmacy_id,
            patient_id=alert.patient_id,
            household_id=alert.household_id,
            day=local_date(dead.at, settings.timezone),
            now=dead.at,
            routing=settings.policy.alert_routing,
        )


def alert_worker(
    session_factory: sessionmaker[Session], settings: Settings, clock: Clock, **options: Any
) -> Worker:
    """The delivery worker for safeguarding alerts (`options`: name, webhooks, mail, seed)."""

    def escalate(uow: UnitOfWork, now: datetime) -> int:
        return escalation.escalate_due(uow, settings, now)

    def dead(session: Session, delivery: DeadDelivery) -> None:
        on_delivery_dead(session, delivery, settings)

    return Worker(
        session_factory,
        settings,
        clock,
        subjects=alert_subjects,
        on_dead=dead,
        before_pass=(escalate, idempotency.purge_task(settings.idempotency_retention_hours)),
        **options,
    )
