"""What leaves the building: thin messages carrying references and the kind, never names,
dates of birth, addresses or clinical narrative. The receiver fetches detail through the
authenticated (and audited) API."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from uuid import UUID

EVENT_TYPE = "uk.dosekeeper.safeguarding.alert.v1"


@dataclass(frozen=True, slots=True)
class Subject:
    """What a message is about, as its sender describes it (loaded by the caller that owns
    the subject: safeguarding, for alerts)."""

    kind: str
    severity: str
    pharmacy_id: UUID | None
    pharmacy_ods: str
    raised_at: datetime


@dataclass(frozen=True, slots=True)
class AlertRef:
    alert_id: str
    kind: str
    severity: str
    pharmacy_ods: str
    escalation_level: int
    raised_at: datetime
    link: str
    acknowledge_link: str


def cloud_event(ref: AlertRef, *, event_id: str) -> bytes:
    """A structured-mode CloudEvents 1.0 JSON body; these exact bytes are signed and sent."""
    body = {
        "specversion": "1.0",
        "id": event_id,
        "source": f"/pharmacies/{ref.pharmacy_ods}",
        "type": EVENT_TYPE,
        "subject": f"alerts/{ref.alert_id}",
        "time": ref.raised_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "datacontenttype": "application/json",
        "dataclassification": "restricted",
        "dataregulation": "UKGDPR",
        "datacategory": "special-category",
        "data": {
            "alert_id": ref.alert_id,
            "kind": ref.kind,
            "severity": ref.severity,
            "pharmacy_ods": ref.pharmacy_ods,
            "escalation_level": ref.escalation_level,
            "link": ref.link,
            "acknowledge_link": ref.acknowledge_link,
        },
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


def email(ref: AlertRef, *, event_id: str, to: str, sender: str, domain: str) -> EmailMessage:
    """A thin notification with a stable Message-ID, so a retried send is recognisably the same."""
    message = EmailMessage()
    level = f" (escalated, level {ref.escalation_level})" if ref.escalation_level else ""
    message["Subject"] = (
        f"[Dosekeeper] {ref.severity.upper()} safeguarding alert {ref.alert_id[:8]}{level}"
    )
    message["From"] = sender
    message["To"] = to
    message["Message-ID"] = f"<{event_id}@{domain}>"
    message["Date"] = format_datetime(ref.raised_at.astimezone(UTC))
    message["X-Dosekeeper-Alert"] = ref.alert_id
    message.set_content(
        f"A {ref.severity} safeguarding alert ({ref.kind.replace('_', ' ')}) was raised by "
        f"pharmacy {ref.pharmacy_ods}{level}.\n\n"
        f"Sign in to see it: {ref.link}\n"
        f"Acknowledge that you own it: {ref.acknowledge_link}\n\n"
        "This message deliberately carries no personal details.\n"
    )
    return message
