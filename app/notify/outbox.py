"""Write deliveries in the caller's transaction: a message and who must receive it commit
together, or not at all.

The outbox is handed plain targets (a contact and the reason they are told) and a subject id;
who should be told, and what that means, is the caller's (safeguarding's routing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from sqlalchemy.orm import Session

from app.contacts.models import Contact
from app.notify.models import Delivery, DeliveryState


@dataclass(frozen=True, slots=True)
class Target:
    """A contact to deliver to, and why they are told (a role or an escalation level)."""

    contact: Contact
    reason: str


@dataclass(frozen=True, slots=True)
class Enqueued:
    """What `enqueue` wrote: every delivery, the targets with no working channel, and a
    description of each channel and reason actually queued ("webhook to key_worker")."""

    deliveries: list[Delivery] = field(default_factory=list)
    unreachable: list[Target] = field(default_factory=list)
    sent_to: list[str] = field(default_factory=list)


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
    subject_id: UUID,
    targets: Sequence[Target],
    *,
    level: int,
    now: datetime,
) -> Enqueued:
    """One delivery per contact and channel (a contact with both gets both).

    A contact with no working channel (no webhook and no email, or only a webhook disabled
    after a 410) still gets one delivery, on the channel they had: the worker finds nothing to
    send it by and makes it dead on its next pass, which tells the safeguarding lead exactly as
    a delivery dead after its retries does (`delivery_failed`). A message that cannot reach
    someone it was meant for is never only a line in a history."""
    result = Enqueued()
    queued: list[Delivery] = []
    for target in targets:
        contact = target.contact
        channels = working_channels(contact)
        reachable = bool(channels)
        if not reachable:
            result.unreachable.append(target)
            channels = ["webhook" if contact.webhook_url else "email"]
        for channel in channels:
            delivery = Delivery(
                alert_id=subject_id,
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
            result.deliveries.append(delivery)
            if reachable:
                queued.append(delivery)
    result.sent_to.extend(
        sorted(
            {
                f"{d.channel} to {t.reason}"
                for d in queued
                for t in targets
                if t.contact.id == d.contact_id
            }
        )
    )
    return result
