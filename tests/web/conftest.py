"""Browser tests: the real app under uvicorn on 127.0.0.1, driven by Debian's Chromium.

One server (a database of its own, seeded with the demo data, a FixedClock the tests move) and
one Chromium per xdist worker; a fresh browser context (no cookies) per test. Tests change the
demo data, so each journey uses patients no other test touches, or builds its own
(`LiveServer.add_blocked_patient`, `LiveServer.add_pharmacy`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, sync_playwright

from tests.gaps import unavailable
from tests.web.browser import new_context
from tests.web.live import CHROMIUM, LiveServer, launch_chromium, start_live_server


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_live_server(tmp_path_factory.mktemp("web"))
    # A patient blocked after missed days, so the prescriber's page always has one to show.
    server.add_blocked_patient("Blake")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).is_file():
        unavailable(
            f"no Chromium at {CHROMIUM}: apt-get install chromium (scripts/test does it as root)"
        )
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def context(browser: Any, live: LiveServer) -> Iterator[BrowserContext]:
    context = new_context(browser, live)
    yield context
    context.close()


@dataclass
class BrowserLog:
    """What the page reported: uncaught script errors, and console errors (CSP violations and
    failed requests show up there)."""

    errors: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)


@pytest.fixture
def browser_log() -> BrowserLog:
    return BrowserLog()


@pytest.fixture
def page(context: BrowserContext, browser_log: BrowserLog) -> Iterator[Page]:
    page = context.new_page()
    page.on("pageerror", lambda error: browser_log.errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            browser_log.console.append(message.text) if message.type == "error" else None
        ),
    )
    yield page
    assert browser_log.errors == [], "uncaught script errors in the page"


@pytest.fixture
def clock(live: LiveServer) -> Iterator[Any]:
    """The server's clock; put back where it was after the test."""
    before = live.clock.now()
    yield live.clock
    live.clock.set(before)
