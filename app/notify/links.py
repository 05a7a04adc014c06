"""Signed acknowledgement links for contacts who are not users: HMAC over the alert, the
contact and an expiry, with the service's secret key. The link opens a confirmation page; only
its POST acknowledges, so mail scanners that follow links cannot acknowledge an alert."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from urllib.parse import urlencode
from uuid import UUID

LINK_DAYS = 14


def signature(secret: str, alert_id: UUID | str, contact_id: UUID | str, expires: int) -> str:
    message = f"{alert_id}|{contact_id}|{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def acknowledge_link(
    base_url: str, secret: str, *, alert_id: UUID, contact_id: UUID, now: datetime
) -> str:
    expires = int((now + timedelta(days=LINK_DAYS)).timestamp())
    query = urlencode(
        {
            "contact": str(contact_id),
            "expires": expires,
            "sig": signature(secret, alert_id, contact_id, expires),
        }
    )
    return f"{base_url.rstrip('/')}/alerts/{alert_id}/ack?{query}"


def verify(
    secret: str, *, alert_id: UUID, contact_id: UUID, expires: int, sig: str, now: datetime
) -> bool:
    if now.timestamp() > expires:
        return False
    # compare_digest refuses str with non-ASCII characters (TypeError); a hex digest never has any.
    if not sig.isascii():
        return False
    return hmac.compare_digest(signature(secret, alert_id, contact_id, expires), sig)
