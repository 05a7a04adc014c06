"""Real receivers on 127.0.0.1: an HTTP webhook endpoint that verifies every request with the
`standardwebhooks` library, and an SMTP server (aiosmtpd).

The webhook receiver behaves as a real one must: a request whose signature does not verify is
answered 401 and its payload is not read, so a sender that signs wrongly sees its delivery
fail instead of a quiet 204. It still keeps the request (`received`, `verified=False`) so the
test that made it can look at it; the `hooks` fixture fails any test that leaves an unverified
request behind without saying it expected one."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook, WebhookVerificationError


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Server(ThreadingHTTPServer):
    # Many workers post at once: a deep accept queue, or the kernel resets connections.
    request_queue_size = 256
    daemon_threads = True


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    verified: bool
    payload: dict[str, Any] | None  # the verified JSON body; None when it did not verify
    status: int  # what the receiver answered


@dataclass
class WebhookReceiver:
    """Answers 401 to a request that fails signature verification; answers each verified POST
    with the next scripted response (status, headers), then 204s."""

    secret: str = ""
    # Further contacts' secrets this one receiver verifies (several contacts, one endpoint).
    more_secrets: list[str] = field(default_factory=list)
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    delay: float = 0.0
    on_request: Callable[[Received], None] | None = None
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _released: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                payload, verified = None, False
                for secret in [receiver.secret, *receiver.more_secrets]:
                    try:
                        payload = Webhook(secret).verify(body, headers)
                    except (WebhookVerificationError, EmptyWebhookSecretError, ValueError):
                        continue
                    verified = True
                    break
                with receiver._lock:
                    if not verified:
                        status, extra = 401, {}
                    else:
                        status, extra = receiver.script.pop(0) if receiver.script else (204, {})
                    item = Received(headers, body, verified, payload, status)
                    receiver.received.append(item)
                if receiver.on_request:
                    receiver.on_request(item)
                if receiver.delay:
                    receiver._released.wait(receiver.delay)
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self._server = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._released.set()  # let any held request answer, so its thread ends
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def payloads(self) -> list[dict[str, Any]]:
        """Every payload received, in arrival order; each one verified (asserted here, so no
        unverified request is ever dropped from what a test looks at)."""
        unverified = self.unverified()
        assert not unverified, f"{len(unverified)} webhook(s) failed signature verification"
        return [r.payload for r in self.received if r.payload is not None]

    def unverified(self) -> list[Received]:
        return [r for r in self.received if not r.verified]


def assert_all_verified(receivers: Iterable[WebhookReceiver]) -> None:
    """Every request these receivers got verified (the `hooks` fixture's closing check)."""
    unverified = [r.headers.get("webhook-id") for h in receivers for r in h.unverified()]
    assert unverified == [], f"webhooks that failed signature verification: {unverified}"


class MailReceiver:
    """aiosmtpd on 127.0.0.1, keeping every message it is given.

    `raw` holds the bytes of every DATA, including those refused with a temporary failure
    while `refuse` is above zero (each refusal counts it down), so a test can compare the
    Message-ID of a failed send with the one of its retry."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[Message] = []
        self.raw: list[bytes] = []
        self.refuse = 0
        receiver = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
                receiver.raw.append(bytes(envelope.content))
                if receiver.refuse > 0:
                    receiver.refuse -= 1
                    return "451 4.3.0 Try again later"
                receiver.messages.append(message_from_bytes(envelope.content))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> MailReceiver:
        self.controller.start()
        return self

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.controller.stop()
