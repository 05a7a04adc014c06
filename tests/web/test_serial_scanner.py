"""A serial scanner plugged into the served app, end to end: `dosekeeper serve` configured with
`DOSEKEEPER_SCANNER_URL=serial:///dev/pts/N?baudrate=9600` (one end of a pty pair) and its
embedded delivery worker, and the counter page in Chromium. A patient card written to the other
end of the pty, as a scanner sends it (data, then CR LF), travels pyserial -> the scanner thread
-> the scan hub -> `/api/v1/counter/scans/stream` -> the page, which opens the patient.

Everything runs as in production: the CLI reads the environment, migrates, seeds the demo and
starts uvicorn with the serving lifespan (scanner and worker), so a start-up fault in that
lifespan fails here.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from app.notify.models import Delivery, DeliveryState
from app.patients.models import Patient
from tests.databases import Database
from tests.notify.receivers import free_port
from tests.processes import BIN, server_env, start, stop, wait_until_up
from tests.web.browser import counter_ready, describe, serious_violations, sign_in
from tests.web.live import VIEWPORT

pytestmark = pytest.mark.browser


@dataclass
class ScannerPort:
    """A pty pair: the app opens `path` (the slave) as its scanner; the test writes to `master`
    what a scanner would send down its cable."""

    master: int
    slave: int
    path: str

    def send(self, data: bytes) -> None:
        os.write(self.master, data)


@pytest.fixture
def scanner_port() -> Iterator[ScannerPort]:
    master, slave = os.openpty()
    try:
        yield ScannerPort(master, slave, os.ttyname(slave))
    finally:
        os.close(master)
        os.close(slave)


@dataclass
class Served:
    url: str
    database: Database
    data_dir: Path
    log: Path

    def health(self) -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(f"{self.url}/healthz", timeout=5).json()
        return body


@pytest.fixture
def served(fresh_database: Database, tmp_path: Path, scanner_port: ScannerPort) -> Iterator[Served]:
    """`dosekeeper serve --demo` on 127.0.0.1 with the scanner on the pty and the worker on."""
    data_dir = tmp_path / "data"
    env = {
        **server_env(fresh_database.url, data_dir),
        "DOSEKEEPER_SCANNER_URL": f"serial://{scanner_port.path}?baudrate=9600",
        "DOSEKEEPER_NOTIFY__EMBEDDED_WORKER": "true",
    }
    port, log = free_port(), tmp_path / "serve.log"
    process = start([str(BIN / "dosekeeper"), "serve", "--demo", "--port", str(port)], env, log)
    try:
        wait_until_up(f"http://127.0.0.1:{port}/livez", process, log)
        yield Served(f"http://127.0.0.1:{port}", fresh_database, data_dir, log)
    finally:
        stop(process)


@pytest.fixture
def counter_page(browser: Any, served: Served) -> Iterator[Page]:
    context = browser.new_context(
        base_url=served.url, viewport=VIEWPORT, locale="en-GB", timezone_id="Europe/London"
    )
    context.set_default_timeout(10_000)
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
        assert errors == [], "uncaught script errors in the page"
    finally:
        context.close()  # closes the event stream before the server is stopped


def wait_for(predicate: Any, what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def card_of(database: Database, given_name: str, family_name: str) -> str:
    with database.engine.connect() as conn:
        code = conn.scalar(
            select(Patient.card_code).where(
                Patient.given_name == given_name, Patient.family_name == family_name
            )
        )
    assert code, (given_name, family_name)
    return str(code)


def test_a_card_scanned_on_the_serial_scanner_opens_the_patient_at_the_counter(
    served: Served, scanner_port: ScannerPort, counter_page: Page
) -> None:
    page = counter_page
    wait_for(
        lambda: served.health()["devices"]["scanner"] == {"configured": True, "connected": True},
        "the app never opened the scanner's port",
    )
    # The worker runs beside the scanner: it delivers the alerts the demo seed raised (email to
    # the local file sink), so the serving lifespan started both.
    wait_for(lambda: any((served.data_dir / "mail").glob("*.eml")), "no alert was delivered")

    with page.expect_response(lambda r: r.url.endswith("/api/v1/counter/scans/stream")) as opened:
        sign_in(page, "pharmacist")
    assert opened.value.status == 200
    assert opened.value.headers["content-type"].startswith("text/event-stream")
    counter_ready(page)
    expect(page.locator("#patient-heading")).to_have_text("Patient")  # nobody opened yet

    morgan = card_of(served.database, "Morgan", "Marsh")
    scanner_port.send(morgan.encode() + b"\r\n")

    expect(page.locator("#patient-heading")).to_have_text("Morgan Marsh")
    violations = serious_violations(page)
    assert violations == [], describe(violations)

    # A second card on the same stream: the page follows the scanner, not only its first scan.
    casey = card_of(served.database, "Casey", "Marsh")
    scanner_port.send(b"]Q1" + casey.encode() + b"\r")  # with an AIM prefix (a QR card)
    expect(page.locator("#patient-heading")).to_have_text("Casey Marsh")

    with served.database.engine.connect() as conn:
        delivered = conn.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.state == DeliveryState.DELIVERED)
        )
    assert delivered, served.log.read_text()[-3000:]
