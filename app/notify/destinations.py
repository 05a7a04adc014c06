"""Where a webhook may go (SSRF). A contact's URL is checked when it is saved
(`app.contacts.service.check_webhook_url`), but a name that resolved to a public address then
may resolve to an internal one at send time (a changed record, or DNS rebinding). So every
connection is checked too: the host is resolved when the connection is opened, the delivery is
refused if any address is internal, and the socket is opened to the very address that was
checked, never to a second lookup. TLS still verifies the certificate against the name (SNI and
the `Host` header are the URL's own), because only the TCP connect is redirected.

Hosts on `DOSEKEEPER_WEBHOOK_ALLOWED_HOSTS` (matched by name, exactly as at save time) are
connected to without the check: that is how tests reach receivers on 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeAlias

import httpcore
import httpx
from httpcore import NetworkStream, SyncBackend
from httpcore._backends.base import SOCKET_OPTION

from app.addresses import Address, is_internal

Resolver: TypeAlias = Callable[[str, int], list[Address]]

# The well-known NAT64 prefix carries an IPv4 address in its last 32 bits (RFC 6052).


def system_resolver(host: str, port: int) -> list[Address]:
    """Every address the system resolver gives for the host, in its order, without repeats."""
    found: list[Address] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


def normalise_host(host: str) -> str:
    """The host as the allow-list compares it: lower case, no trailing dot, no brackets."""
    return host.lower().rstrip(".").strip("[]")


class RefusedDestination(httpcore.ConnectError):
    """The host resolved to an internal address: nothing was connected to."""


class Unresolved(httpcore.ConnectError):
    """The host did not resolve (worth retrying: DNS failures are often brief)."""


_deadline = threading.local()


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Everything this thread sends and receives inside the block, connect to last byte, must
    be done within `seconds` in all. httpx's timeouts are per operation: a receiver trickling
    one byte every few seconds (slowloris) would otherwise hold a delivery thread for ever."""
    previous = getattr(_deadline, "at", None)
    _deadline.at = time.monotonic() + seconds
    try:
        yield
    finally:
        _deadline.at = previous


def _remaining(timeout: float | None) -> float | None:
    at: float | None = getattr(_deadline, "at", None)
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the receiver did not finish within the delivery's deadline")
    return left if timeout is None else min(timeout, left)


class DeadlineStream(NetworkStream):
    """A network stream whose every read and write is held to the thread's `deadline`."""

    def __init__(self, stream: NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _remaining(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _remaining(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> NetworkStream:
        return DeadlineStream(
            self._stream.start_tls(ssl_context, server_hostname, _remaining(timeout))
        )

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class GuardedBackend(SyncBackend):
    """httpcore's socket backend, resolving and checking the host itself before connecting."""

    def __init__(self, allowed_hosts: Iterable[str], resolver: Resolver = system_resolver):
        self.allowed_hosts = frozenset(normalise_host(h) for h in allowed_hosts)
        self.resolver = resolver

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SOCKET_OPTION] | None = None,
    ) -> NetworkStream:
        timeout = _remaining(timeout)
        if normalise_host(host) in self.allowed_hosts:
            return DeadlineStream(
                super().connect_tcp(host, port, timeout, local_address, socket_options)
            )
        try:
            addresses = self.resolver(host, port)
        except (OSError, UnicodeError, ValueError) as exc:
            raise Unresolved(f"could not resolve {host} ({exc})") from exc
        if not addresses:
            raise Unresolved(f"could not resolve {host} (no addresses)")
        internal = [a for a in addresses if is_internal(a)]
        if internal:
            raise RefusedDestination(
                f"refused: {host} resolves to an internal address ({internal[0]}); nothing was sent"
            )
        failure: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:  # connect to what was checked, never to a fresh lookup
            try:
                return DeadlineStream(
                    super().connect_tcp(str(address), port, timeout, local_address, socket_options)
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure


class GuardedTransport(httpx.HTTPTransport):
    """An httpx transport whose connections go through `GuardedBackend` (and never a proxy)."""

    def __init__(
        self,
        *,
        allowed_hosts: Iterable[str],
        resolver: Resolver = system_resolver,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        super().__init__(verify=verify, trust_env=False)
        limits = httpx.Limits()
        # Replaces the pool the base class built: the same pool, with our network backend.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(allowed_hosts, resolver),
        )


def cause(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """The exception of `kind` behind an httpx error (httpx re-raises httpcore's `from` it)."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None or isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
