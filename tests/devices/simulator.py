"""The emupos ESC/POS simulator (Python >= 3.13, its own venv), for tests that check our printed
bytes with a decoder we did not write: offline (`decode`) or as a printer listening on
127.0.0.1 (`run_emupos`), from the device tests and from the app's own label tests.

Not named `emupos.py`: emupos_helper.py runs as a script from this folder, where such a module
would shadow the real package.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.devices.support import REPO_ROOT, free_port
from tests.gaps import unavailable

EMUPOS_ENV = "DOSEKEEPER_EMUPOS_PYTHON"
HELPER = Path(__file__).with_name("emupos_helper.py")


def emupos_interpreter() -> Path:
    """The interpreter that has emupos, from DOSEKEEPER_EMUPOS_PYTHON or `.venv-emupos`;
    skips the test where there is none, and fails it under CI."""
    configured = os.environ.get(EMUPOS_ENV)
    path = Path(configured) if configured else Path(".venv-emupos/bin/python")
    if not path.is_absolute():
        path = REPO_ROOT / path
    problem = None
    if not (path.is_file() and os.access(path, os.X_OK)):
        problem = f"no emupos interpreter at {path}"
    elif subprocess.run([path, "-c", "import emupos"], capture_output=True, check=False).returncode:
        problem = f"{path} cannot import emupos"
    if problem:
        unavailable(f"{problem}: run scripts/emupos-venv.sh (needs python3.13) or set {EMUPOS_ENV}")
    return path


def decode(python: Path, data: bytes, columns: int) -> dict[str, Any]:
    """What emupos' printer model makes of `data`: receipts (text, cut) and events."""
    result = subprocess.run(
        [python, HELPER, "decode", str(columns)],
        input=data,
        capture_output=True,
        check=True,
        timeout=60,
    )
    decoded: dict[str, Any] = json.loads(result.stdout)
    return decoded


CONFIG = """\
schema: 1
api: {{ host: 127.0.0.1, port: {api_port} }}
devices:
  - id: front
    type: printer
    profile: epson-tm-t20iii
    connections:
      - tcp: {{ host: 127.0.0.1, port: {printer_port} }}
    receipts_dir: ./receipts
"""


@dataclass
class Emupos:
    """A running emupos: an 80 mm ESC/POS printer at `printer_url` and its control API."""

    api: str
    printer_url: str

    def call(self, method: str, path: str) -> bytes:
        request = urllib.request.Request(f"{self.api}{path}", method=method)
        with urllib.request.urlopen(request, timeout=5) as response:
            body: bytes = response.read()
            return body

    def receipts(self) -> list[dict[str, Any]]:
        listed: list[dict[str, Any]] = json.loads(self.call("GET", "/devices/front/receipts"))
        return listed

    def wait_for_receipt(self, count: int) -> str:
        """The newest receipt's text once there are `count` of them."""
        deadline = time.monotonic() + 10
        while len(receipts := self.receipts()) < count:
            assert time.monotonic() < deadline, "emupos did not complete the job"
            time.sleep(0.05)
        newest = receipts[0]["id"]
        return self.call("GET", f"/devices/front/receipts/{newest}/text").decode("utf-8")

    @contextlib.contextmanager
    def fault(self, name: str) -> Iterator[None]:
        self.call("PUT", f"/devices/front/faults/{name}")
        try:
            yield
        finally:
            self.call("DELETE", f"/devices/front/faults/{name}")


@contextlib.contextmanager
def run_emupos(python: Path, work: Path) -> Iterator[Emupos]:
    """`emupos run` with a printer on a free 127.0.0.1 port; stopped (by its pid) at the end."""
    api_port, printer_port = free_port(), free_port()
    config = work / "emupos.yaml"
    config.write_text(CONFIG.format(api_port=api_port, printer_port=printer_port))
    log_path = work / "emupos.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(python), "-c", "from emupos.cli.app import main; main()"]
            + ["run", "--config", str(config)],
            cwd=work,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
        )
    daemon = Emupos(f"http://127.0.0.1:{api_port}/api/v1", f"tcp://127.0.0.1:{printer_port}")
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                pytest.fail(f"emupos exited: {log_path.read_text(errors='replace')}")
            try:
                daemon.call("GET", "/health")
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, log_path.read_text(errors="replace")
                time.sleep(0.1)
        yield daemon
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
