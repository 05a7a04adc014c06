"""Contacts (issue 16 item 10): they were readable across pharmacies, webhook URLs with API keys
in their query were returned to anyone, and the test send could be fired without limit. Now a
pharmacy's contacts are its own (the area directory is everyone's), a stored URL comes back
without its query, fragment or credentials, and test sends are limited per contact and per
caller. The receiver is a real one on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.factories import World, unique
from tests.notify.receivers import WebhookReceiver

API = "/api/v1"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hook = WebhookReceiver().start()
    yield hook
    hook.stop()


def add(world: World, url: str, **kw: Any) -> dict[str, Any]:
    body = {"name": unique("Hook "), "organisation": "Org", "kind": "mash", "webhook_url": url}
    response = world.post(f"{API}/contacts", body, **kw)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_another_pharmacys_contact_is_neither_listed_nor_readable(world: World) -> None:
    theirs = add(world, "http://127.0.0.1:9/h?api_key=theirs-secret", branch=world.away)

    listed = world.get(f"{API}/contacts")
    read = world.get(f"{API}/contacts/{theirs['id']}")

    assert listed.status_code == 200
    assert theirs["id"] not in listed.text
    assert "theirs-secret" not in listed.text
    assert read.status_code == 404
    assert read.json()["code"] == "not_found"


def test_a_stored_webhook_url_never_shows_its_query_again(world: World) -> None:
    created = add(world, "http://127.0.0.1:9/hooks/in?api_key=s3cr3t&x=1#frag")

    read = world.get(f"{API}/contacts/{created['id']}")
    listed = world.get(f"{API}/contacts", params={"kind": "mash"})

    assert read.json()["webhook_url"] == "http://127.0.0.1:9/hooks/in?…"
    assert created["webhook_url"] == "http://127.0.0.1:9/hooks/in?…"
    for response in (read, listed):
        assert "s3cr3t" not in response.text
        assert "frag" not in response.text


def test_test_sends_are_limited_per_contact(world: World, receiver: WebhookReceiver) -> None:
    contact = add(world, receiver.url)
    answers = [world.post(f"{API}/contacts/{contact['id']}/test", {}).status_code for _ in range(6)]
    limited = world.post(f"{API}/contacts/{contact['id']}/test", {}, role="safeguarding_lead")

    assert answers == [200] * 5 + [429]
    assert limited.status_code == 429, "another caller is held to the contact's limit too"
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["code"] == "too_many_attempts"
    assert len(receiver.received) == 5


def test_a_second_contact_of_the_same_kind_and_address_is_refused(world: World) -> None:
    """Two records for one key worker would split an alert's deliveries and its ownership."""
    email = f"{unique('dup')}@example.org"
    body = {"name": "Sam Dup", "organisation": "Drug service", "kind": "key_worker", "email": email}
    first = world.post("/api/v1/contacts", body)
    assert first.status_code == 201, first.text

    again = world.post("/api/v1/contacts", body | {"name": "Samuel Dup"})
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "duplicate_contact"
    assert "Sam Dup" in again.json()["detail"]
    other_role = world.post("/api/v1/contacts", body | {"kind": "social_worker"})
    assert other_role.status_code == 201, other_role.text  # one person, another role
    elsewhere = world.post("/api/v1/contacts", body, branch=world.away)
    assert elsewhere.status_code == 201, elsewhere.text  # another pharmacy's own record
