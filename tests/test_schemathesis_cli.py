"""The `schemathesis run` CLI against the real server (reliability.md §5.2, #40). Slow.

uvicorn serves the app on a free loopback port, on a database of its own (SQLite in a temporary
directory, or PostgreSQL when DOSEKEEPER_TEST_DATABASE_URL is set) seeded with the demo data.
The demo pharmacist signs in through the API, and schemathesis runs every phase (examples,
coverage, fuzzing, stateful) with every check, seeded and deterministic, with the configuration
the in-process tests use (tests/schemathesis.toml). It must exit 0; the JUnit report is kept
under the test's tmp_path.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.config import AuthSettings, Settings
from app.db import UnitOfWork, make_session_factory
from app.demo import DEMO_PASSWORD, seed
from tests.databases import Database
from tests.notify.receivers import free_port
from tests.processes import BIN, server_env, start, stop, uvicorn_args, wait_until_up
from tests.test_schemathesis import CONFIG

pytestmark = pytest.mark.slow

# The two Server-Sent Events streams never end (covered elsewhere with a bounded reader).
STREAMS = ["/api/v1/alerts/stream", "/api/v1/counter/scans/stream"]
MAX_EXAMPLES = 25  # per operation and phase; the whole run stays under about four minutes
RUN_TIMEOUT = 600


@pytest.fixture
def server(fresh_database: Database, tmp_path: Path) -> Iterator[str]:
    """The demo world served by uvicorn on 127.0.0.1; yields its base URL. Alerts raised while
    fuzzing stay in the outbox: nothing is sent anywhere."""
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        database_url=fresh_database.url,
        auth=AuthSettings(password_profile="cheapest"),
        data_dir=tmp_path / "data",
    )
    seed(UnitOfWork(make_session_factory(fresh_database.engine)), settings)
    port = free_port()
    log = tmp_path / "uvicorn.log"
    process = start(uvicorn_args(port), server_env(fresh_database.url, tmp_path / "data"), log)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/healthz", process, log)
        yield base
    finally:
        stop(process)


def test_schemathesis_cli_passes_every_check_against_the_real_server(
    server: str, tmp_path: Path
) -> None:
    signed_in = httpx.post(
        f"{server}/api/v1/auth/token",
        data={"username": "pharmacist", "password": DEMO_PASSWORD},
        timeout=30,
    )
    assert signed_in.status_code == 200, signed_in.text
    token = signed_in.json()["access_token"]
    junit = tmp_path / "schemathesis-junit.xml"
    command = [
        str(BIN / "schemathesis"),
        "--config-file",
        str(CONFIG),
        "run",
        f"{server}/openapi.json",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--checks",
        "all",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        "1",
        "--generation-deterministic",
        "--header",
        f"Authorization: Bearer {token}",
        "--request-timeout",
        "30",
        "--report",
        "junit",
        "--report-junit-path",
        str(junit),
        "--no-color",
    ]
    for path in STREAMS:
        command += ["--exclude-path", path]
    started = time.monotonic()
    run = subprocess.run(
        command, capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=tmp_path, check=False
    )
    took = time.monotonic() - started
    print(f"schemathesis took {took:.0f} s; JUnit report: {junit}")
    # The token is on the command line only; keep it out of the test log.
    output = (run.stdout + run.stderr).replace(token, "[token]")
    assert run.returncode == 0, output[-20_000:]
    assert junit.exists()
