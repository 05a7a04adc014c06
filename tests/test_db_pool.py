"""Each process's connection pool is bounded by settings (DOSEKEEPER_DB_POOL_SIZE,
_DB_MAX_OVERFLOW, _DB_POOL_TIMEOUT_SECONDS), so processes x (pool + overflow) can be fitted
under PostgreSQL's max_connections; a request that finds every connection busy is answered
503 database_busy with Retry-After at once, never left hanging."""

from __future__ import annotations

import inspect
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import QueuePool

from app import cli
from app.clock import FixedClock
from app.config import Settings
from app.db import engine_for, make_engine
from app.main import create_app
from tests.factories import World


def limits(engine: Engine) -> tuple[int, int, float]:
    """(pool size, max overflow, checkout timeout) the engine's pool was built with."""
    pool = engine.pool
    assert isinstance(pool, QueuePool)
    return pool.size(), pool._max_overflow, pool.timeout()


def tiny(settings: Settings) -> Settings:
    """The test's settings with one connection and no overflow, given up on after 0.3 s."""
    return settings.model_copy(
        update={"db_pool_size": 1, "db_max_overflow": 0, "db_pool_timeout_seconds": 0.3}
    )


def test_the_defaults_are_one_budget_for_settings_and_engines(settings: Settings) -> None:
    defaults = Settings.model_fields
    engine_defaults = inspect.signature(make_engine).parameters
    assert defaults["db_pool_size"].default == engine_defaults["pool_size"].default == 8
    assert defaults["db_max_overflow"].default == engine_defaults["max_overflow"].default == 4
    assert (
        defaults["db_pool_timeout_seconds"].default
        == engine_defaults["pool_timeout"].default
        == 10.0
    )
    engine = make_engine(settings.database_url)
    try:
        assert limits(engine) == (8, 4, 10.0)
    finally:
        engine.dispose()


def test_the_environment_s_pool_settings_reach_every_process_s_engine(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOSEKEEPER_DB_POOL_SIZE", "3")
    monkeypatch.setenv("DOSEKEEPER_DB_MAX_OVERFLOW", "2")
    monkeypatch.setenv("DOSEKEEPER_DB_POOL_TIMEOUT_SECONDS", "1.5")
    configured = Settings(_env_file=None, database_url=settings.database_url)  # type: ignore[call-arg]
    assert (
        configured.db_pool_size,
        configured.db_max_overflow,
        configured.db_pool_timeout_seconds,
    ) == (3, 2, 1.5)

    engines = [
        engine_for(configured),
        # The API process (create_app without a session factory builds its own engine) and
        # the command line's (close-day, the worker, anchors).
        create_app(configured).state.session_factory.kw["bind"],
        cli._uow(configured).session_factory.kw["bind"],
    ]
    try:
        assert [limits(e) for e in engines] == [(3, 2, 1.5)] * 3
    finally:
        for engine in engines:
            engine.dispose()


def test_no_more_than_pool_plus_overflow_connections_are_opened(settings: Settings) -> None:
    engine = make_engine(settings.database_url, pool_size=2, max_overflow=1, pool_timeout=0.2)
    held = [engine.connect() for _ in range(3)]
    try:
        started = time.monotonic()
        with pytest.raises(PoolTimeout):
            engine.connect()
        assert 0.15 < time.monotonic() - started < 5, "gave up after pool_timeout, not before"
    finally:
        for connection in held:
            connection.close()
        engine.dispose()


@pytest.fixture
def starved(
    world: World, settings: Settings, clock: FixedClock
) -> Iterator[tuple[TestClient, Engine]]:
    """An app on the test's database whose pool has one connection, and that engine."""
    app = create_app(tiny(settings), clock=clock)
    engine: Engine = app.state.session_factory.kw["bind"]
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client, engine
    finally:
        engine.dispose()


def test_a_request_that_finds_every_connection_busy_is_a_503_problem_with_retry_after(
    world: World, starved: tuple[TestClient, Engine]
) -> None:
    client, engine = starved
    headers = world.home.headers()
    assert client.get("/api/v1/alerts", headers=headers).status_code == 200

    holder = engine.connect()  # the pool's only connection, held as a long transaction would
    try:
        started = time.monotonic()
        busy = client.get("/api/v1/alerts", headers=headers)
        waited = time.monotonic() - started
        # A counter page (a signed-in browser: its session is looked up in the database).
        client.cookies.set("__Host-session", "a-session-token")
        page = client.get("/", headers={"Accept": "text/html"}, follow_redirects=False)
        client.cookies.clear()
    finally:
        holder.close()

    assert busy.status_code == 503, busy.text
    assert busy.headers["content-type"].startswith("application/problem+json")
    assert busy.headers["Retry-After"] == "5"
    problem = busy.json()
    assert (problem["status"], problem["code"]) == (503, "database_busy")
    assert "nothing was recorded" in problem["title"]
    assert waited < 5, "answered after the pool timeout (0.3 s), not left hanging"
    assert page.status_code == 503
    assert "Nothing was recorded" in page.text
    # The connection back in the pool, the same request is served again.
    assert client.get("/api/v1/alerts", headers=headers).status_code == 200
