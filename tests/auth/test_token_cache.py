"""The bearer-token cache (issue 21) is never trusted alone: a revoked token, a disabled or
changed account stops working within one request, in every process, whoever revoked it.

Two apps on one database stand for two API processes, each with a cache of its own. Every
test first makes sure the token is in the cache of the process that is then asked."""

from __future__ import annotations

import ipaddress
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, text, update
from sqlalchemy.orm import Session, sessionmaker

from app.actor import Actor
from app.auth.models import AuthSession, User
from app.auth.service import Authenticated
from app.auth.token_cache import TokenCache
from app.clock import FixedClock
from app.config import Settings
from app.main import create_app
from tests.builders import signed_in
from tests.factories import NOW, World

ME = "/api/v1/me"
PATIENTS = "/api/v1/patients"


@pytest.fixture
def other_process(
    settings: Settings, session_factory: sessionmaker[Session], clock: FixedClock
) -> Iterator[TestClient]:
    """A second API process: its own app, its own token cache, the same database."""
    app = create_app(settings, session_factory, clock)
    address = str(ipaddress.IPv4Address(0x0B000000 + uuid.uuid4().int % 0xFFFFFF))
    with TestClient(app, raise_server_exceptions=False, client=(address, 50000)) as client:
        yield client


@contextmanager
def statements(session_factory: sessionmaker[Session]) -> Iterator[list[str]]:
    """Every SQL statement run while the block runs."""
    engine = session_factory.kw["bind"]
    seen: list[str] = []

    def note(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


@contextmanager
def checkouts(session_factory: sessionmaker[Session]) -> Iterator[list[object]]:
    """Every connection taken from the pool while the block runs (one per transaction)."""
    engine = session_factory.kw["bind"]
    taken: list[object] = []

    def note(*args: Any) -> None:
        taken.append(args[0])

    event.listen(engine, "checkout", note)
    try:
        yield taken
    finally:
        event.remove(engine, "checkout", note)


def lookups(seen: list[str]) -> int:
    return sum("FROM auth_sessions" in s for s in seen)


def bearer(world: World, role: str) -> dict[str, str]:
    return world.home.headers(role)


def assert_refused(response: Any) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "not_authenticated"
    assert "username" not in response.text  # nothing of the refused answer leaked through


def warm(client: TestClient, world: World, role: str) -> None:
    """The token resolved once in this process, so the next request is served from its cache."""
    assert client.get(ME, headers=bearer(world, role)).status_code == 200


def test_a_cached_token_is_confirmed_by_the_epoch_in_the_requests_own_transaction(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    with statements(session_factory) as seen, checkouts(session_factory) as first:
        assert world.get(PATIENTS).status_code == 200
    assert lookups(seen) == 1, "the first request resolves the token"
    with statements(session_factory) as seen, checkouts(session_factory) as cached:
        assert world.get(PATIENTS).status_code == 200
    assert lookups(seen) == 0, "a later request is served from the cache"
    assert sum("FROM auth_epoch" in s for s in seen) == 1, "and still reads the epoch"
    assert len(cached) == len(first) - 1, "in its own transaction, not one more"
    with statements(session_factory) as seen, checkouts(session_factory) as answered:
        assert world.get(ME).status_code == 200
    assert sum("FROM auth_epoch" in s for s in seen) == 1
    assert len(answered) == 1, "a request that opens no transaction is confirmed in one"


@pytest.mark.hazard("H-14.5")
@pytest.mark.parametrize("path", [PATIENTS, ME], ids=["opens a transaction", "answers from memory"])
def test_an_account_disabled_in_another_process_is_refused_at_its_next_request(
    world: World, other_process: TestClient, path: str
) -> None:
    warm(world.client, world, "technician")
    admin = bearer(world, "admin")
    disabled = other_process.post(
        f"/api/v1/users/{world.home.users['technician']}/disable", headers=admin
    )
    assert disabled.status_code == 200, disabled.text

    assert_refused(world.client.get(path, headers=bearer(world, "technician")))
    assert world.get(ME).status_code == 200, "nobody else's token stopped working"


@pytest.mark.hazard("H-14.5")
def test_a_token_revoked_by_an_operator_in_sql_is_refused_at_its_next_request(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    warm(world.client, world, "pharmacist")
    with session_factory() as session:
        # Not through the service: as an operator revoking a leaked token would.
        session.execute(
            update(AuthSession)
            .where(AuthSession.user_id == world.home.users["pharmacist"])
            .values(revoked_at=NOW)
        )
        session.commit()

    assert_refused(world.get(PATIENTS))
    assert_refused(world.get(ME))


@pytest.mark.hazard("H-14.5")
def test_an_account_whose_role_changed_is_never_served_as_what_it_was(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    """The request in flight was authorised as a pharmacist: it is refused, not carried out
    under a role the account no longer has; the next one is the technician's."""
    warm(world.client, world, "pharmacist")
    with session_factory() as session:
        session.execute(
            update(User).where(User.id == world.home.users["pharmacist"]).values(role="technician")
        )
        session.commit()

    refused = world.get(PATIENTS)
    assert_refused(refused)
    assert "changed" in refused.json()["detail"]
    me = world.get(ME)
    assert me.status_code == 200
    assert me.json()["role"] == "technician"


def test_another_accounts_revocation_costs_one_lookup_and_nothing_else(
    world: World, other_process: TestClient, session_factory: sessionmaker[Session]
) -> None:
    """The epoch is one number for everyone: it moving only sends each cached token back to
    the database once, in the request's own transaction."""
    warm(world.client, world, "pharmacist")
    other_process.post(
        f"/api/v1/users/{world.home.users['technician']}/disable", headers=bearer(world, "admin")
    )
    with statements(session_factory) as seen:
        assert world.get(PATIENTS).status_code == 200
        assert world.get(PATIENTS).status_code == 200
    assert lookups(seen) == 1


def test_a_web_page_seen_does_not_move_the_epoch(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    def epoch() -> int:
        with session_factory() as session:
            return int(session.execute(text("SELECT epoch FROM auth_epoch")).scalar_one())

    browser = signed_in(world)
    before = epoch()
    assert browser.page("/counter").status_code == 200
    assert browser.page("/counter").status_code == 200
    assert epoch() == before


def test_a_cached_token_past_its_expiry_is_refused_without_asking_the_database(
    world: World, clock: FixedClock, settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    warm(world.client, world, "pharmacist")
    clock.advance(timedelta(seconds=settings.auth.token_ttl_seconds))
    assert_refused(world.get(ME))


def test_with_the_cache_off_every_request_resolves_its_token(
    world: World, settings: Settings, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    off = settings.model_copy(
        update={"auth": settings.auth.model_copy(update={"token_cache_seconds": 0})}
    )
    with (
        TestClient(create_app(off, session_factory, clock)) as client,
        statements(session_factory) as seen,
    ):
        for _ in range(3):
            assert client.get(ME, headers=bearer(world, "pharmacist")).status_code == 200
    assert lookups(seen) == 3


def _auth(expires_at: datetime | None, epoch: int | None = 1) -> Authenticated:
    actor = Actor(id=UUID(int=1), name="p", role="pharmacist")
    return Authenticated(actor, UUID(int=2), None, "P", expires_at, epoch)


def test_the_cache_forgets_the_oldest_entry_when_full_and_each_after_its_time() -> None:
    cache = TokenCache(ttl_seconds=0.2, max_entries=2)
    for key in ("a", "b", "c"):
        cache.put(key, _auth(NOW + timedelta(hours=1)))
    assert len(cache) == 2
    assert cache.get("a", NOW) is None
    assert cache.get("c", NOW) is not None
    time.sleep(0.25)
    assert cache.get("c", NOW) is None


def test_the_cache_keeps_nothing_it_could_not_check() -> None:
    cache = TokenCache(ttl_seconds=60)
    cache.put("no epoch", _auth(NOW + timedelta(hours=1), epoch=None))
    cache.put("no expiry", _auth(None))
    assert len(cache) == 0
