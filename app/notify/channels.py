"""Channels: deliver one message and say what happened. No database here; the worker records
the outcome. Channels never follow redirects and never raise for a receiver's failure.
Webhooks connect only to addresses checked at connect time (`app.notify.destinations`)."""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Literal, Protocol
from urllib.parse import unquote, urlsplit

import httpx
from standardwebhooks.webhooks import Webhook

from app.notify.destinations import (
    GuardedTransport,
    RefusedDestination,
    Resolver,
    Unresolved,
    cause,
    deadline,
    system_resolver,
)

# delivered; retry (later, within the window); gone (410: the webhook is disabled); refused
# (the host resolved to an internal address: nothing was sent); no_channel (the contact has no
# working webhook or email). Every outcome but delivered and retry makes the delivery dead.
Outcome = Literal["delivered", "retry", "gone", "refused", "no_channel"]


# The longest wait a receiver may ask for. Anything beyond the retry window makes the delivery
# dead at once anyway; the cap keeps an absurd value (10**21 s, year 9999) a plain number.
MAX_RETRY_AFTER_SECONDS = 366 * 24 * 3600.0
# A receiver's answer is read up to this much; the rest is never downloaded.
MAX_RESPONSE_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome
    status_code: int | None = None
    detail: str = ""
    retry_after: float | None = None  # seconds, when the receiver asked for it


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a Retry-After header (delta seconds or an HTTP date), from 0 to
    `MAX_RETRY_AFTER_SECONDS`; None when absent or unreadable (negative, garbage)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(float(value), MAX_RETRY_AFTER_SECONDS)  # 10**21 is a float, then capped
    try:
        when = parsedate_to_datetime(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER_SECONDS)


class WebhookSender:
    """POST a signed CloudEvent (Standard Webhooks headers, HMAC-SHA256), only to public
    addresses unless the host is allow-listed (checked at connect time, see destinations)."""

    def __init__(
        self,
        *,
        timeout: float,
        allowed_hosts: Iterable[str],
        resolver: Resolver = system_resolver,
        client: httpx.Client | None = None,
    ) -> None:
        self._timeout = timeout
        self._client = client or httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            transport=GuardedTransport(allowed_hosts=allowed_hosts, resolver=resolver),
        )

    def close(self) -> None:
        self._client.close()

    def send(self, url: str, secret: str, *, event_id: str, body: bytes) -> Result:
        # Sign and stamp from one UTC instant (the library replaces, not converts, the zone).
        now = datetime.now(UTC)
        signature = Webhook(secret).sign(event_id, now, body.decode())
        headers = {
            "content-type": "application/cloudevents+json; charset=utf-8",
            "webhook-id": event_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature,
            "user-agent": "Dosekeeper-Webhooks/1",
        }
        try:
            # The whole exchange within the timeout (a slowloris cannot hold the thread), and
            # only the start of the answer read (a 10 MB body is not downloaded).
            with (
                deadline(self._timeout),
                self._client.stream("POST", url, content=body, headers=headers) as response,
            ):
                read = 0
                for chunk in response.iter_raw():
                    read += len(chunk)
                    if read > MAX_RESPONSE_BYTES:
                        break
        except httpx.InvalidURL as exc:  # saved before the checks tightened: never sendable
            return Result("refused", detail=f"refused: invalid webhook URL ({exc})")
        except httpx.TimeoutException:
            return Result("retry", detail="timed out")
        except httpx.HTTPError as exc:
            refused = cause(exc, RefusedDestination)
            if refused is not None:
                return Result("refused", detail=str(refused))
            unresolved = cause(exc, Unresolved)
            if unresolved is not None:
                return Result("retry", detail=str(unresolved))
            return Result("retry", detail=type(exc).__name__)
        status = response.status_code
        if 200 <= status < 300:
            return Result("delivered", status)
        if status == 410:
            return Result("gone", status, "receiver answered 410 Gone")
        retry_after = parse_retry_after(response.headers.get("retry-after"), datetime.now(UTC))
        kind = "redirect not followed" if 300 <= status < 400 else "receiver error"
        return Result("retry", status, f"{kind} ({status})", retry_after)


class EmailSender(Protocol):
    def send(self, message: EmailMessage) -> Result: ...


class SmtpSender:
    """SMTP with STARTTLS whenever the server offers it (`smtp://user:pass@host:port`)."""

    def __init__(self, url: str, *, timeout: float = 15) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 25
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.implicit_tls = parts.scheme == "smtps"
        self.timeout = timeout

    def send(self, message: EmailMessage) -> Result:
        try:
            smtp_class = smtplib.SMTP_SSL if self.implicit_tls else smtplib.SMTP
            with smtp_class(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.ehlo()
                if not self.implicit_tls and smtp.has_extn("starttls"):
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if self.username and self.password:
                    smtp.login(self.username, self.password)
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            return Result("retry", detail=f"recipient refused ({len(exc.recipients)})")
        except (smtplib.SMTPException, OSError) as exc:
            return Result("retry", detail=type(exc).__name__)
        return Result("delivered", 250)


class FileMailSink:
    """The first-run default: each message is an .eml file under the data folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: EmailMessage) -> Result:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = str(message["Message-ID"]).strip("<>").replace("@", "_at_")
        (self.folder / f"{name}.eml").write_bytes(bytes(message))
        return Result("delivered", 250, "written to the local mail sink")


def mail_sender(smtp_url: str, data_dir: Path) -> EmailSender:
    if smtp_url:
        return SmtpSender(smtp_url)
    return FileMailSink(data_dir / "mail")


def elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
