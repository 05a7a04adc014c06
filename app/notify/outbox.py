"""Write deliveries in the caller's transaction: the alert and who must hear of it commit
together, or not at all."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from app.notify.models import Delivery, DeliveryState
from app.notify.routing import Target
from app.safeguarding.models import Alert, AlertHistory


def enqueue(
    session: Session,
    alert: Alert,
    targets: Sequence[Target],
    *,
    level: int,
    now: datetime,
    actor: str,
) -> list[Delivery]:
    """One delivery per contact and channel (a contact with both gets both)."""
    deliveries: list[Delivery] = []
    for target in targets:
        contact = target.contact
        channels = []
        if contact.webhook_url and contact.webhook_secret and contact.webhook_disabled_at is None:
            channels.append("webhook")
        if contact.email:
            channels.append("email")
        if not channels:
            session.add(
                AlertHistory(
                    alert_id=alert.id,
                    at=now,
                    action="no_channel",
                    actor=actor,
                    note=f"contact {contact.id} has no working channel",
                )
            )
            continue
        for channel in channels:
            delivery = Delivery(
                alert_id=alert.id,
                contact_id=contact.id,
                channel=channel,
                reason=target.reason,
                escalation_level=level,
                state=DeliveryState.PENDING,
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            session.add(delivery)
            deliveries.append(delivery)
    if deliveries:
        session.add(
            AlertHistory(
                alert_id=alert.id,
                at=now,
                action="queued" if level == 0 else "escalated",
                actor=actor,
                note=", ".join(
                    sorted(
                        {
                            f"{d.channel} to {t.reason}"
                            for d in deliveries
                            for t in targets
                            if t.contact.id == d.contact_id
                        }
                    )
                ),
            )
        )
    return deliveries
