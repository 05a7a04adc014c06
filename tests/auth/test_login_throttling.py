"""Login throttling that slows guessing without locking the owner out (issue 16 item 7; ASVS
V2.2.1). Failures were counted per client address across usernames and delayed correct passwords
too, and a handful of failures an hour kept an account at the maximum delay. Now: per (username,
address) and per address separately, and another address's failures never delay the owner's
correct password from an address with no recent failures. Each address is a client of its own
(the test client's `client=` is the address the service sees)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.clock import FixedClock
from app.config import Settings
from tests.factories import PASSWORD, World, unique

TOKEN = "/api/v1/auth/token"


@pytest.fixture
def address(world: World) -> Iterator[Callable[[str], TestClient]]:
    """A client of the same app from a given address."""
    made: list[TestClient] = []

    def make(ip: str) -> TestClient:
        client = TestClient(world.client.app, raise_server_exceptions=False, client=(ip, 40000))
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def sign_in(client: TestClient, username: str, password: str) -> Any:
    return client.post(TOKEN, data={"username": username, "password": password})


def test_another_addresss_failures_never_delay_the_owner_at_a_clean_address(
    world: World, address: Callable[[str], TestClient], settings: Settings
) -> None:
    owner = world.home.usernames["pharmacist"]
    attacker = address("198.51.100.7")
    for _ in range(settings.auth.login_free_failures * 3):
        sign_in(attacker, owner, "guess guess guess")
    assert sign_in(attacker, owner, PASSWORD).status_code == 429  # the guesser waits

    at_the_counter = sign_in(address("198.51.100.20"), owner, PASSWORD)

    assert at_the_counter.status_code == 200, at_the_counter.text


def test_an_account_past_the_hard_cap_still_lets_its_owner_in_from_a_clean_address(
    world: World, address: Callable[[str], TestClient], settings: Settings
) -> None:
    owner = world.home.usernames["technician"]
    cap = settings.auth.login_max_failures
    # A distributed guesser: one failure from each of `cap` addresses.
    for n in range(cap):
        sign_in(address(f"203.0.113.{n % 250 + 1}"), owner, f"guess {n}")
    again = sign_in(address("203.0.113.1"), owner, PASSWORD)

    owner_in = sign_in(address("192.0.2.55"), owner, PASSWORD)

    assert again.status_code == 429, "an address that failed keeps failing past the cap"
    assert owner_in.status_code == 200, owner_in.text


def test_a_few_mistypes_an_hour_do_not_keep_an_account_at_the_maximum_delay(
    world: World, address: Callable[[str], TestClient], clock: FixedClock, settings: Settings
) -> None:
    """Each success resets the run of failures for that username and address."""
    owner = world.home.usernames["safeguarding_lead"]
    terminal = address("192.0.2.77")
    for _ in range(4):
        for _ in range(settings.auth.login_free_failures - 1):
            assert sign_in(terminal, owner, "mistyped it").status_code == 401
        assert sign_in(terminal, owner, PASSWORD).status_code == 200
        clock.advance(timedelta(minutes=10))

    assert sign_in(terminal, owner, "mistyped it").status_code == 401  # not 429


def test_one_address_spraying_many_usernames_is_slowed(
    world: World, address: Callable[[str], TestClient], settings: Settings
) -> None:
    sprayer = address("198.51.100.99")
    for _ in range(settings.auth.login_address_free_failures):
        assert sign_in(sprayer, unique("staff"), "Summer2026!").status_code == 401

    slowed = sign_in(sprayer, unique("staff"), "Summer2026!")
    elsewhere = sign_in(address("198.51.100.100"), world.home.usernames["admin"], PASSWORD)

    assert slowed.status_code == 429, slowed.text
    assert int(slowed.headers["Retry-After"]) >= 1
    assert elsewhere.status_code == 200, elsewhere.text
