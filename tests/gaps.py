"""What a test needs from the machine, and what happens when the machine lacks it.

Markers follow from the fixtures a test uses (directly or through other fixtures), so they
cannot drift from the code: `browser` (Chromium), `emupos` (the simulator's Python 3.13 venv),
`postgres` (a PostgreSQL server). `-m` then selects by need, and scripts/test leaves out, and
names, a group this machine cannot run.

A test that finds something missing calls `unavailable(reason)`: on a developer's machine it
skips, naming what is missing and how to get it; under CI (CI=true, set by .ci/run) it fails.
And under CI any skip at all fails the run: a CI run that passes by not running a test proves
nothing. (xfail is not a skip; the suite runs with xfail_strict.)
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

MARKED_BY_FIXTURE = {"browser": "browser", "emupos_python": "emupos", "pg_database": "postgres"}


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def unavailable(reason: str) -> NoReturn:
    """Skip with `reason`, or fail with it under CI."""
    if under_ci():
        pytest.fail(f"{reason} (under CI this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        needs = getattr(item, "fixturenames", ())
        for fixture, marker in MARKED_BY_FIXTURE.items():
            if fixture in needs:
                item.add_marker(marker)


@pytest.fixture(autouse=True)
def _postgresql_leg_only(request: pytest.FixtureRequest) -> None:
    """A `postgres` test runs only where DOSEKEEPER_TEST_DATABASE_URL names a server; checked
    before its other fixtures build anything."""
    if request.node.get_closest_marker("postgres") and not os.environ.get(
        "DOSEKEEPER_TEST_DATABASE_URL"
    ):
        unavailable("a PostgreSQL test: set DOSEKEEPER_TEST_DATABASE_URL (the PostgreSQL leg)")


_SKIPPED: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        _SKIPPED.append(f"{report.nodeid}: {reason}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if under_ci() and _SKIPPED:
        terminalreporter.section("skipped under CI: each is a failure", red=True)
        for line in _SKIPPED:
            terminalreporter.line(line)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    if under_ci() and _SKIPPED and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
