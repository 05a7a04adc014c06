"""Webhook destinations are checked again when sent, not only when saved: the host is resolved
at connect time, the delivery is refused (dead at once, the lead told, nothing connected to) if
any address is internal, and the connection goes to the very address that was checked, so a
name cannot resolve to a public address for the check and a private one for the connection
(DNS rebinding). Hosts on the allow-list are connected to as they are (the tests' 127.0.0.1).
The save-time check is tests/notify/test_ssrf.py."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

import httpcore
import pytest

from app.clock import FixedClock
from app.config import Settings
from app.contacts.models import Contact
from app.notify import destinations
from app.notify.channels import WebhookSender
from app.notify.destinations import Address, GuardedBackend, is_internal
from app.notify.worker import Worker
from tests.factories import World
from tests.notify.helpers import (
    API,
    alerts_of_kind,
    attempts,
    deliveries,
    drain,
    hooked_contact,
    raise_missed,
)
from tests.notify.receivers import WebhookReceiver

SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A bare TCP port on 127.0.0.1 that never accepts: any connection would wait in its
    backlog, so a non-blocking accept() tells whether anything connected at all."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    yield sock
    sock.close()


def connected(sock: socket.socket) -> bool:
    try:
        conn, _ = sock.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


def saved_with(world: World, url: str, allowed: set[str], **kw: Any) -> dict[str, Any]:
    """A key-worker contact whose URL the save-time check accepted under `allowed` (as an
    administrator would have allow-listed it then)."""
    app = world.client.app
    original: Settings = app.state.settings  # type: ignore[attr-defined]
    app.state.settings = original.model_copy(  # type: ignore[attr-defined]
        update={"webhook_allowed_hosts": frozenset(allowed)}
    )
    try:
        body = {"name": "Hook", "organisation": "Org", "kind": "key_worker", "webhook_url": url}
        response = world.post(f"{API}/contacts", {**body, **kw})
    finally:
        app.state.settings = original  # type: ignore[attr-defined]
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.mark.hazard("H-07.3")
def test_a_name_resolving_to_loopback_is_refused_at_send_time(
    world: World,
    clock: FixedClock,
    hooks: Callable[..., WebhookReceiver],
    workers: Callable[..., Worker],
    listener: socket.socket,
) -> None:
    lead_hook = hooks()
    hooked_contact(world, lead_hook, "safeguarding_lead")
    port = listener.getsockname()[1]
    contact = saved_with(world, f"http://localhost:{port}/hooks", {"localhost"})
    patient = world.patient(key_worker_id=contact["id"])
    alert_id = raise_missed(world, patient["id"], day=clock.now().date(), now=clock.now())
    worker = workers()  # the test settings allow-list 127.0.0.1, not localhost
    worker.run_once()

    (delivery,) = deliveries(world, alert_id)
    assert delivery.state == "dead"
    (tried,) = attempts(world, delivery.id)
    assert (tried.outcome, tried.status_code) == ("refused", None)
    assert "localhost resolves to an internal address" in tried.detail
    assert "nothing was sent" in tried.detail
    assert not connected(listener), "a refused destination was connected to"
    with world.uow as uow:
        row = uow.session.get(Contact, UUID(contact["id"]))
        assert row is not None
        assert row.webhook_disabled_at is None

    (failure,) = alerts_of_kind(world, "delivery_failed")
    assert failure.facts["cause"] == "refused"
    assert "refused at send time" in failure.message
    drain(worker)
    assert [p["data"]["kind"] for p in lead_hook.payloads()] == ["delivery_failed"]
    assert not connected(listener)


def test_an_allow_listed_name_is_delivered_to(
    world: World,
    clock: FixedClock,
    receiver: WebhookReceiver,
    workers: Callable[..., Worker],
    nsettings: Settings,
) -> None:
    url = receiver.url.replace("127.0.0.1", "localhost")
    contact = saved_with(world, url, {"localhost"})
    receiver.secret = contact["webhook_secret"]
    patient = world.patient(key_worker_id=contact["id"])
    alert_id = raise_missed(world, patient["id"], day=clock.now().date(), now=clock.now())
    allowing = nsettings.model_copy(
        update={"webhook_allowed_hosts": frozenset({"127.0.0.1", "localhost"})}
    )
    drain(workers(settings=allowing))
    (delivery,) = deliveries(world, alert_id)
    assert delivery.state == "delivered"
    (got,) = receiver.received
    assert got.verified
    assert got.headers["host"] == url.split("/")[2]  # the name, as the URL gave it


def test_the_contact_test_button_is_refused_the_same_way(
    world: World, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    contact = saved_with(world, f"http://localhost:{port}/hooks", {"localhost"})
    result = world.post(f"{API}/contacts/{contact['id']}/test", {})
    assert result.status_code == 200, result.text
    assert result.json()["outcome"] == "refused"
    assert not connected(listener)


class Recorder:
    """Stands in for the socket layer: records where a connection was opened, and fails it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def __call__(self, address: tuple[str, int], *args: Any, **kw: Any) -> socket.socket:
        self.calls.append(address)
        raise ConnectionRefusedError("recorded, not connected")


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    record = Recorder()
    monkeypatch.setattr(httpcore._backends.sync.socket, "create_connection", record)
    return record


def resolving(*names: str) -> Callable[[str, int], list[Address]]:
    answers = [ipaddress.ip_address(n) for n in names]
    return lambda host, port: list(answers)


@pytest.mark.parametrize(
    "answers",
    [
        ("127.0.0.1",),
        ("10.1.2.3",),
        ("169.254.169.254",),  # cloud metadata
        ("100.100.100.200",),  # Alibaba's metadata, in the shared (CGNAT) range
        ("fd00:ec2::254",),  # AWS metadata over IPv6
        ("::1",),
        ("::ffff:10.0.0.1",),
        ("64:ff9b::a9fe:a9fe",),  # NAT64 of 169.254.169.254
        ("2002:7f00:1::1",),  # 6to4 of 127.0.0.1
        ("93.184.215.14", "192.168.0.10"),  # any internal address refuses the name
    ],
)
def test_a_public_name_resolving_internally_is_refused_without_connecting(
    recorder: Recorder, answers: tuple[str, ...]
) -> None:
    sender = WebhookSender(timeout=5, allowed_hosts={"127.0.0.1"}, resolver=resolving(*answers))
    try:
        result = sender.send(
            "https://hooks.example.org/alerts", SECRET, event_id="evt_1", body=b"{}"
        )
    finally:
        sender.close()
    assert result.outcome == "refused", result
    assert "hooks.example.org resolves to an internal address" in result.detail
    assert recorder.calls == []


def test_the_connection_goes_to_the_checked_address_not_a_second_lookup(
    recorder: Recorder,
) -> None:
    """A rebinding resolver answers public first and loopback after: the backend looks up once
    and connects to what it checked (each address in turn), never resolving the name again."""
    answers = iter([["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"], ["127.0.0.1"]])

    def rebinding(host: str, port: int) -> list[Address]:
        return [ipaddress.ip_address(a) for a in next(answers)]

    sender = WebhookSender(timeout=5, allowed_hosts=(), resolver=rebinding)
    try:
        result = sender.send(
            "https://hooks.example.org/alerts", SECRET, event_id="evt_1", body=b"{}"
        )
    finally:
        sender.close()
    assert result.outcome == "retry"  # refused by our recorder: an ordinary connect failure
    assert recorder.calls == [
        ("93.184.215.14", 443),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", 443),
    ]


def test_a_name_that_does_not_resolve_is_retried_with_the_reason(recorder: Recorder) -> None:
    def failing(host: str, port: int) -> list[Address]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    sender = WebhookSender(timeout=5, allowed_hosts=(), resolver=failing)
    try:
        result = sender.send("https://nowhere.example/x", SECRET, event_id="evt_1", body=b"{}")
    finally:
        sender.close()
    assert result.outcome == "retry"
    assert "could not resolve nowhere.example" in result.detail
    assert recorder.calls == []


def test_allow_listed_hosts_skip_the_check_by_name_only(recorder: Recorder) -> None:
    backend = GuardedBackend({"Hooks.Internal.Example."}, resolving("10.0.0.5"))
    with pytest.raises(httpcore.ConnectError):
        backend.connect_tcp("hooks.internal.example", 443)
    assert recorder.calls == [("hooks.internal.example", 443)]  # connected as named
    with pytest.raises(destinations.RefusedDestination):
        backend.connect_tcp("other.internal.example", 443)
    assert len(recorder.calls) == 1


def test_public_addresses_are_not_internal() -> None:
    for text in ("93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"):
        assert not is_internal(ipaddress.ip_address(text)), text
