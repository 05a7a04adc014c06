"""Test fixtures: a real database built by the real migrations (tests/databases.py), on SQLite
by default or on PostgreSQL when DOSEKEEPER_TEST_DATABASE_URL names a server.

Each xdist worker gets its own database. Tests do not roll back: each one builds its own
pharmacy (the tenant boundary) through the factories, so tests never see each other's rows,
and the services' own commits run exactly as in production. Tests that break things on
purpose (tampering, dropping triggers) use `fresh_database` instead.

Nothing heavy is imported here at collection: the database, the web app and the factories are
imported by the fixtures that use them, so the pure rule tests (`pytest tests/*/test_rules*.py`)
run with no database, no SQLAlchemy and no FastAPI (tests/test_pure_rules_alone.py checks).
"""

from __future__ import annotations

import ipaddress
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from sqlalchemy.orm import Session, sessionmaker

    from app.clock import FixedClock
    from app.config import Settings
    from app.db import UnitOfWork
    from tests.databases import Database
    from tests.factories import World

PG_URL = os.environ.get("DOSEKEEPER_TEST_DATABASE_URL", "")

# Markers derived from what each test needs, and what happens when this machine lacks it.
pytest_plugins = ("tests.gaps",)


def pytest_configure(config: pytest.Config) -> None:
    """Nothing a test does may write into the checkout's ./var (labels, mail, audit anchors):
    Settings built without a data folder get this process's own. An anchor file left in ./var
    by one test would make another's `audit verify` compare the wrong database's chain."""
    os.environ.setdefault("DOSEKEEPER_DATA_DIR", tempfile.mkdtemp(prefix="dk-test-data-"))


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[Database]:
    """The worker's database, built once by running every migration."""
    from tests.databases import scratch_database

    with scratch_database(f"dk_test_{worker_id}", tmp_path_factory.mktemp("db")) as db:
        yield db


@pytest.fixture
def fresh_database(tmp_path: Path) -> Iterator[Database]:
    """A database of the test's own, for tests that tamper or need an empty world."""
    from tests.databases import scratch_database

    with scratch_database("dk_fresh", tmp_path) as db:
        yield db


@pytest.fixture
def pg_database(tmp_path: Path) -> Iterator[Database]:
    """A fresh database of the test's own on PostgreSQL, for tests that need a real server
    (several processes, a crash mid-commit). Using it marks a test `postgres` (tests/gaps.py):
    left out of the SQLite runs; run without DOSEKEEPER_TEST_DATABASE_URL it skips, or fails
    under CI."""
    from tests.databases import scratch_database

    assert PG_URL, "marked postgres, so tests/gaps.py skips it (or fails it) before this"
    with scratch_database("dk_pg", tmp_path) as db:
        yield db


@pytest.fixture
def settings(database: Database, tmp_path: Path) -> Settings:
    from app.config import AuthSettings, Settings

    return Settings(
        data_dir=tmp_path / "data",
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        database_url=database.url,
        # Tests move the clock by days; a token lasts the whole scenario unless a test says so.
        auth=AuthSettings(password_profile="cheapest", token_ttl_seconds=90 * 24 * 3600),
        webhook_allowed_hosts=frozenset({"127.0.0.1"}),
        allow_http_webhooks=True,
    )


@pytest.fixture
def session_factory(database: Database) -> sessionmaker[Session]:
    from app.db import make_session_factory

    return make_session_factory(database.engine)


@pytest.fixture
def uow(session_factory: sessionmaker[Session]) -> UnitOfWork:
    from app.db import UnitOfWork

    return UnitOfWork(session_factory)


@pytest.fixture
def clock() -> FixedClock:
    from app.clock import FixedClock
    from tests.factories import NOW

    return FixedClock(NOW)


@pytest.fixture
def client(
    settings: Settings, session_factory: sessionmaker[Session], clock: FixedClock
) -> Iterator[TestClient]:
    from fastapi.testclient import TestClient

    from app.main import create_app

    app = create_app(settings, session_factory, clock)
    # A client address of the test's own: the login rate limiter counts failures per address,
    # and every test runs at the same fixed "now", so a shared address would leak across tests.
    address = str(ipaddress.IPv4Address(0x0A000000 + uuid.uuid4().int % 0xFFFFFF))
    with TestClient(app, raise_server_exceptions=False, client=(address, 50000)) as test_client:
        yield test_client


@pytest.fixture
def world(uow: UnitOfWork, settings: Settings, client: TestClient) -> World:
    from tests.factories import make_world

    return make_world(uow, settings, client)


# --- Clinical safety: which controls were proven by passing tests in this run, on which database
# `@pytest.mark.hazard("H-06.2", "H-06.3")` names the controls (docs/safety/hazard-log.md) a
# test proves. The report records, per control, the passing tests on each database, because
# the SQLite and PostgreSQL legs write into the same file and scripts/check-hazards requires
# a proof on both.
_CONTROLS_PROVEN: dict[str, list[str]] = {}


def database_leg() -> str:
    """The database this run's tests use: "postgresql" on the PostgreSQL leg, else "sqlite"."""
    # The URL's scheme without its driver ("postgresql+psycopg" -> "postgresql"), as
    # SQLAlchemy's make_url would say, without importing it at collection.
    return PG_URL.split(":", 1)[0].split("+", 1)[0] if PG_URL else "sqlite"


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("hazard"):
        assert mark.args, f"{item.nodeid}: @pytest.mark.hazard needs at least one control id"
        for control in mark.args:
            item.user_properties.append(("hazard", str(control)))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.passed:
        for key, value in report.user_properties:
            if key == "hazard":
                _CONTROLS_PROVEN.setdefault(str(value), []).append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """With DOSEKEEPER_HAZARD_REPORT set, add this run's proofs to that JSON file:
    {control id: {database: [test node ids]}}."""
    path = os.environ.get("DOSEKEEPER_HAZARD_REPORT")
    if not path or hasattr(session.config, "workerinput"):  # the xdist controller writes it
        return
    import json

    leg = database_leg()
    report = Path(path)
    proven: dict[str, dict[str, list[str]]] = (
        json.loads(report.read_text()) if report.exists() else {}
    )
    for control, tests in _CONTROLS_PROVEN.items():
        by_database = proven.setdefault(control, {})
        by_database[leg] = sorted(set(by_database.get(leg, [])) | set(tests))
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps(proven, indent=2, sort_keys=True))
