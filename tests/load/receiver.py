"""One webhook receiver on 127.0.0.1 for every contact of the load run.

Each contact posts to its own path (`/hooks/<name>`) and signs with its own secret, so one
server can stand in for many receivers and still check, with the `standardwebhooks` library,
that each message was signed for the destination it reached. It keeps HTTP/1.1 connections
alive (the worker's httpx client reuses them) and answers at once: 204, or 401 when the
signature does not verify, as a real receiver would (the worker then retries, so a signing
fault shows as undelivered alerts, not as a quiet success).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the worker sends 16 at a time; a deep queue avoids resets
    daemon_threads = True


@dataclass(frozen=True)
class Hit:
    destination: str
    webhook_id: str
    verified: bool


@dataclass
class HookSink:
    secrets: dict[str, str] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: _Server | None = None

    def url_for(self, name: str) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/{name}"

    def register(self, name: str, secret: str) -> None:
        self.secrets[name] = secret

    def start(self) -> HookSink:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                name = self.path.removeprefix("/hooks/")
                headers = {k.lower(): v for k, v in self.headers.items()}
                verified = sink.record(name, headers, body)
                self.send_response(204 if verified else 401)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self._server = _Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def record(self, name: str, headers: dict[str, str], body: bytes) -> bool:
        """Verify the signature with the destination's own secret, log the hit, and say
        whether it verified."""
        secret = self.secrets.get(name)
        try:
            verified = bool(secret) and bool(Webhook(secret or "").verify(body, headers))
        except (WebhookVerificationError, ValueError):
            verified = False
        with self._lock:
            self.hits.append(Hit(name, headers.get("webhook-id", ""), verified))
        return verified

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def snapshot(self) -> list[Hit]:
        with self._lock:
            return list(self.hits)

    @staticmethod
    def duplicates(hits: list[Hit]) -> dict[tuple[str, str], int]:
        """(destination, webhook-id) pairs received more than once."""
        counts = Counter((h.destination, h.webhook_id) for h in hits)
        return {pair: n for pair, n in counts.items() if n > 1}
