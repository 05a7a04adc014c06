"""A local webhook receiver for the alert benchmark, in its own process: HTTP/1.1 keep-alive,
one thread per connection, every request verified with the `standardwebhooks` library (as
tests/notify/receivers.WebhookReceiver does, which closes each connection after one request).

POST /configure {"secret": …}  the contact's signing secret
POST /reset                    forget what was received
POST /hooks                    a delivery: verify, note time.monotonic() by `data.alert_id`, 204
                               (401 when the signature does not verify)
GET  /stats                    {"count", "verified", "failed", "receipts": {alert_id: t}}

time.monotonic() is CLOCK_MONOTONIC on Linux, shared by every process on the machine, so the
benchmark can subtract its own commit instants from these receipt instants.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.webhook: Webhook | None = None
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self.verified = 0
        self.failed = 0
        self.receipts: dict[str, float] = {}


STATE = State()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self, status: int, payload: Any = None) -> None:
        body = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        if body:
            self.send_header("content-type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        with STATE.lock:
            payload = {
                "count": STATE.count,
                "verified": STATE.verified,
                "failed": STATE.failed,
                "receipts": dict(STATE.receipts),
            }
        self._answer(200, payload)

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        if self.path == "/configure":
            STATE.webhook = Webhook(json.loads(body)["secret"])
            self._answer(204)
            return
        if self.path == "/reset":
            with STATE.lock:
                STATE.reset()
            self._answer(204)
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        alert_id = None
        try:
            assert STATE.webhook is not None
            payload = STATE.webhook.verify(body, headers)
            alert_id = payload.get("data", {}).get("alert_id")
            ok = True
        except (WebhookVerificationError, AssertionError):
            ok = False
        at = time.monotonic()
        with STATE.lock:
            STATE.count += 1
            if ok:
                STATE.verified += 1
                if alert_id:
                    STATE.receipts.setdefault(alert_id, at)
            else:
                STATE.failed += 1
        self._answer(204 if ok else 401)  # a receiver refuses what it cannot verify

    def log_message(self, *args: object) -> None:
        return


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
