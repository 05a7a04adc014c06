"""Write deliveries in the caller's transaction: the alert and who must hear of it commit
together, or not at all."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from app.contacts.models import Contact
from app.notify.models import Delivery, DeliveryState
from app.notify.routing import Target
from app.safeguarding.models import Alert, AlertHistory


def working_channels(contact: Contact) -> list[str]:
    """The channels a message to this contact can go by now."""
    channels = []
    if contact.webhook_url and contact.webhook_secret and contact.webhook_disabled_at is None:
        channels.append("webhook")
    if contact.email:
        channels.append("email")
    return channels


def enqueue(
    session: Session,
    alert: Alert,
    targets: Sequence[Target],
    *,
    level: int,
    now: datetime,
    actor: str,
) -> list[Delivery]:
    """One delivery per contact and channel (a contact with both gets both).

    A contact with no working channel (no webhook and no email, or only a webhook disabled
    after a 410) still gets one delivery, on the channel they had: the worker finds nothing to
    send it by and makes it dead on its next pass, which tells the safeguarding lead exactly as
    a delivery dead after its retries does (`delivery_failed`). An alert that cannot reach
    someone it was meant for is never only a line in its history."""
    deliveries: list[Delivery] = []
    queued: list[Delivery] = []
    for target in targets:
        contact = target.contact
        channels = working_channels(contact)
        reachable = bool(channels)
        if not reachable:
            session.add(
                AlertHistory(
                    alert_id=alert.id,
                    at=now,
                    action="no_channel",
                    actor=actor,
                    note=f"contact {contact.id} ({target.reason}) has no working channel: "
                    "the safeguarding lead will be told",
                )
            )
            channels = ["webhook" if contact.webhook_url else "email"]
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
            if reachable:
                queued.append(delivery)
    if queued:
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
                            for d in queued
                            for t in targets
                            if t.contact.id == d.contact_id
                        }
                    )
                ),
            )
        )
    return deliveries
