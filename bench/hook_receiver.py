"""A webhook receiver with one signing secret per destination, for `bench.regional_week`: its
own process, HTTP/1.1 keep-alive, one thread per connection. Each contact posts to its own path
(`/hooks/<name>`) and every request is verified with that contact's secret by the
`standardwebhooks` library, as `tests/load/receiver.py` does in-process (and as
`bench/receiver.py` does for a single secret).

POST /configure {"secrets": {name: secret}}  the contacts' signing secrets (may be repeated)
POST /hooks/<name>                            a delivery: verify, note it, 204 (401 unverified)
GET  /stats                                   {"verified", "failed"}
GET  /hits                                    {"hits": [[name, webhook_id, verified], ...]}

Run by `bench.common.serve(module="bench.hook_receiver")`; not meant to be started by hand.
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.webhooks: dict[str, Webhook] = {}
        self.verified = 0
        self.failed = 0
        self.hits: list[tuple[str, str, bool]] = []


STATE = State()


class Server(ThreadingHTTPServer):
    request_queue_size = 256  # the worker sends 16 at a time; a deep queue avoids resets
    daemon_threads = True


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
            if self.path.startswith("/hits"):
                payload: dict[str, Any] = {"hits": list(STATE.hits)}
            else:
                payload = {"verified": STATE.verified, "failed": STATE.failed}
        self._answer(200, payload)

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        if self.path == "/configure":
            secrets = json.loads(body)["secrets"]
            with STATE.lock:
                STATE.webhooks.update({name: Webhook(s) for name, s in secrets.items()})
            self._answer(204)
            return
        name = self.path.removeprefix("/hooks/")
        headers = {k.lower(): v for k, v in self.headers.items()}
        webhook = STATE.webhooks.get(name)
        try:
            ok = webhook is not None and bool(webhook.verify(body, headers))
        except (WebhookVerificationError, ValueError):
            ok = False
        with STATE.lock:
            STATE.hits.append((name, headers.get("webhook-id", ""), ok))
            if ok:
                STATE.verified += 1
            else:
                STATE.failed += 1
        self._answer(204 if ok else 401)  # a receiver refuses what it cannot verify

    def log_message(self, *args: object) -> None:
        return


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    Server(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
