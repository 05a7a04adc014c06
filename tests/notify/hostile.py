"""A webhook receiver on 127.0.0.1 that answers in every pathological way we could think of,
chosen by the last segment of the URL path (`/hook/<behaviour>`). Raw sockets, so it can break
HTTP where a framework would not let it; each connection is served by its own thread.

`TlsReceiver` is the same, behind TLS with a self-signed certificate nobody trusts."""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import subprocess
import threading
import time
from pathlib import Path

BIG = 10 * 1024 * 1024
# Every answer says so: the receiver closes after one answer, and a sender that pooled the
# connection would otherwise send its next delivery into a socket already closed (a
# RemoteProtocolError that depends on timing, not on the behaviour under test).
CLOSE = "Connection: close\r\n"

# behaviour -> what the sender should make of it after one attempt: (state, status, detail part)
BEHAVIOURS: dict[str, tuple[str, int | None, str]] = {
    "huge-retry-after": ("dead", 503, "receiver error"),
    "date-retry-after": ("dead", 503, "receiver error"),
    "negative-retry-after": ("pending", 503, "receiver error"),
    "garbage-retry-after": ("pending", 429, "receiver error"),
    "slowloris": ("pending", None, "timed out"),
    "slow-body": ("pending", None, "timed out"),
    "big-body": ("delivered", 200, ""),
    "redirect-loop": ("pending", 302, "redirect not followed"),
    "reset-mid-body": ("pending", None, ""),
    "reset-mid-headers": ("pending", None, ""),
    "not-http": ("pending", None, ""),
    "close-at-once": ("pending", None, ""),
}


class HostileReceiver:
    def __init__(self, *, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self.stopping = threading.Event()
        self.seen: list[str] = []
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.2)
        self.port = int(self._listener.getsockname()[1])
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def url(self, behaviour: str) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}/hook/{behaviour}"

    def start(self) -> HostileReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            conn.settimeout(5)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                head += chunk
            path = head.split(b" ", 2)[1].decode()
            behaviour = path.rsplit("/", 1)[-1]
            _read_body(conn, head)  # unread bytes at close would reset, not answer
            self.seen.append(behaviour)
            self._answer(conn, behaviour, path)
        except (OSError, ssl.SSLError):
            pass  # the sender hung up, or refused our certificate: that is the point
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    def _answer(self, conn: socket.socket, behaviour: str, path: str) -> None:
        def status(line: str, *headers: str, body: bytes = b"") -> None:
            extra = "".join(f"{h}\r\n" for h in headers)
            conn.sendall(
                f"HTTP/1.1 {line}\r\n{extra}{CLOSE}Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )

        if behaviour == "huge-retry-after":
            status("503 Service Unavailable", "Retry-After: 999999999999999999999")
        elif behaviour == "date-retry-after":
            status("503 Service Unavailable", "Retry-After: Fri, 31 Dec 9999 23:59:59 GMT")
        elif behaviour == "negative-retry-after":
            status("503 Service Unavailable", "Retry-After: -5")
        elif behaviour == "garbage-retry-after":
            # ASCII nonsense: h11 (rightly) refuses raw obs-text before we could read it.
            status("429 Too Many Requests", "Retry-After: soon, maybe (in 5)")
        elif behaviour == "slowloris":  # a byte of the status line at a time, for ever
            for byte in b"HTTP/1.1 200 OK\r\n" * 100:
                if self.stopping.wait(0.25):
                    return
                conn.sendall(bytes([byte]))
        elif behaviour == "slow-body":  # prompt headers, then a body a byte at a time
            conn.sendall(f"HTTP/1.1 200 OK\r\n{CLOSE}Content-Length: 100000\r\n\r\n".encode())
            for _ in range(100_000):
                if self.stopping.wait(0.25):
                    return
                conn.sendall(b"x")
        elif behaviour == "big-body":
            conn.sendall(f"HTTP/1.1 200 OK\r\n{CLOSE}Content-Length: {BIG}\r\n\r\n".encode())
            block = b"x" * 65536
            for _ in range(BIG // len(block)):
                conn.sendall(block)
        elif behaviour == "redirect-loop":
            status("302 Found", f"Location: {path}")
        elif behaviour == "reset-mid-body":
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly some of it")
            _reset(conn)
        elif behaviour == "reset-mid-headers":
            conn.sendall(b"HTTP/1.1 20")
            _reset(conn)
        elif behaviour == "not-http":
            conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")
        elif behaviour == "close-at-once":
            return
        else:
            status("204 No Content")


def _reset(conn: socket.socket) -> None:
    """Close with a TCP RST rather than a FIN: the peer sees 'connection reset'."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    time.sleep(0.05)


def self_signed_context(folder: Path) -> ssl.SSLContext | None:
    """A server context with a fresh self-signed certificate for 127.0.0.1 (openssl), or None
    when openssl is not installed."""
    key, cert = folder / "key.pem", folder / "cert.pem"
    try:
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=127.0.0.1",
                "-keyout",
                str(key),
                "-out",
                str(cert),
            ],
            check=True,
            capture_output=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def _read_body(conn: socket.socket, head: bytes) -> None:
    """Read the request body the head announces. Closing a socket with unread data sends a
    reset that can overtake our answer, and the sender then sees a ReadError instead of the
    pathological answer under test (seen under load)."""
    headers, _, already = head.partition(b"\r\n\r\n")
    length = 0
    for line in headers.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip() or 0)
    remaining = length - len(already)
    while remaining > 0:
        chunk = conn.recv(min(remaining, 65536))
        if not chunk:
            return
        remaining -= len(chunk)
