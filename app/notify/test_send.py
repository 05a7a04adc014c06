"""A signed test event sent to a contact's webhook now, so an administrator sees what the
receiver answers and the receiver can check its signature verification."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from app.contacts.service import TestTarget
from app.notify.channels import Result, WebhookSender


def send_test_event(
    target: TestTarget, *, now: datetime, timeout: float, allowed_hosts: frozenset[str]
) -> Result:
    """A signed CloudEvent of type `…test.v1`, through the same guarded sender as alerts."""
    event_id = str(uuid.uuid4())
    body = json.dumps(
        {
            "specversion": "1.0",
            "id": event_id,
            "source": "/dosekeeper",
            "type": "uk.dosekeeper.test.v1",
            "time": now.isoformat(),
            "data": {"test": True},
        },
        separators=(",", ":"),
    ).encode()
    sender = WebhookSender(timeout=timeout, allowed_hosts=allowed_hosts)
    try:
        return sender.send(target.url, target.secret, event_id=event_id, body=body)
    finally:
        sender.close()
