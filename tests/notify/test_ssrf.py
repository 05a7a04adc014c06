"""Webhook destinations cannot point alert delivery at our own network (SSRF): internal, loopback,
link-local and metadata addresses, in every spelling the resolver accepts, are refused when a
contact is added, unless the host is explicitly allow-listed (the tests allow 127.0.0.1 only).
Names are checked again when sent: tests/notify/test_ssrf_send.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from app.config import Settings
from app.contacts.models import Contact
from tests.factories import World, unique
from tests.notify.helpers import API

# No worker runs here and every check is scoped to the test's own contacts.
SHARED_DATABASE = True

INTERNAL = [
    "http://10.0.0.1/hooks",
    "http://169.254.169.254/latest/meta-data/",
    "http://localhost/hooks",
    "http://localhost:8080/hooks",
    "http://[::1]/hooks",
    "http://[::1]:9000/hooks",
    "http://127.0.0.2/hooks",  # loopback, but not the allow-listed host
    "http://192.168.1.10/hooks",
    "http://172.16.5.4/hooks",
    "http://100.64.0.1/hooks",  # shared address space (carrier-grade NAT)
    "http://0.0.0.0/hooks",
    "http://[::]/hooks",
    "http://[fe80::1]/hooks",
    "http://[fd00::1]/hooks",
    "http://[::ffff:127.0.0.1]/hooks",
    "http://[::ffff:169.254.169.254]/hooks",
    "http://[64:ff9b::7f00:1]/hooks",  # NAT64 of 127.0.0.1
    "http://[2002:a9fe:a9fe::1]/hooks",  # 6to4 of 169.254.169.254
    "http://[fd00:ec2::254]/hooks",  # AWS metadata over IPv6
    "http://LOCALHOST/hooks",
    "http://localhost./hooks",
    "http://api.localhost/hooks",
    "http://metadata.google.internal/computeMetadata/v1/",
    # Spellings of 127.0.0.1 and 0.0.0.0 that the system resolver (inet_aton) accepts.
    "http://127.1/hooks",
    "http://0x7f000001/hooks",
    "http://2130706433/hooks",
    "http://017700000001/hooks",
    "http://0/hooks",
]


def add(world: World, url: str, name: str = "Hook") -> Any:
    return world.post(
        f"{API}/contacts",
        {"name": name, "organisation": "Org", "kind": "key_worker", "webhook_url": url},
    )


def named(world: World, name: str) -> int:
    with world.uow as uow:
        return len(list(uow.session.scalars(select(Contact).where(Contact.name == name))))


def test_internal_destinations_are_refused(world: World) -> None:
    name = unique("Hook ")
    wrong = {}
    for url in INTERNAL:
        response = add(world, url, name)
        if not (
            response.status_code == 422
            and response.json()["code"] == "invalid_input"
            and "internal" in response.text
            and "webhook_url" in response.text
        ):
            wrong[url] = (response.status_code, response.text[:200])
    assert wrong == {}
    assert named(world, name) == 0, "a refused contact was stored"


def test_the_allow_listed_host_is_accepted(world: World) -> None:
    response = add(world, "http://127.0.0.1:9/hooks")
    assert response.status_code == 201, response.text
    assert response.json()["webhook_secret"].startswith("whsec_")


@pytest.fixture
def no_allow_list(world: World) -> Iterator[None]:
    """The production default: nothing is allow-listed and webhooks must use https."""
    app = world.client.app
    original: Settings = app.state.settings  # type: ignore[attr-defined]
    app.state.settings = original.model_copy(  # type: ignore[attr-defined]
        update={"webhook_allowed_hosts": frozenset(), "allow_http_webhooks": False}
    )
    yield
    app.state.settings = original  # type: ignore[attr-defined]


@pytest.mark.usefixtures("no_allow_list")
def test_without_the_allow_list_loopback_and_plain_http_are_refused(world: World) -> None:
    assert add(world, "https://127.0.0.1/hooks").status_code == 422
    assert add(world, "https://[::1]/hooks").status_code == 422
    assert add(world, "https://10.0.0.1/hooks").status_code == 422
    plain = add(world, "http://hooks.example.org/alerts")
    assert plain.status_code == 422
    assert "https" in plain.text
    assert add(world, "https://user:pw@hooks.example.org/alerts").status_code == 422
    for scheme in ("ftp://hooks.example.org/x", "file:///etc/passwd", "gopher://x/", "hooks"):
        assert add(world, scheme).status_code == 422, scheme
    assert add(world, "https://hooks.example.org/alerts").status_code == 201
