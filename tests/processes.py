"""Real server processes for the slow tests: the served app's command line, its environment, a
launcher that logs to a file, a wait until it answers (failing early if it exits), and a stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the venv's scripts: uvicorn, dosekeeper, locust, ...


def server_env(url: str, data_dir: Path) -> dict[str, str]:
    """The environment of an API process in the test environment, on the database at `url`."""
    return {
        **os.environ,
        "DOSEKEEPER_ENVIRONMENT": "test",
        "DOSEKEEPER_DATABASE_URL": url,
        "DOSEKEEPER_DATA_DIR": str(data_dir),
        "DOSEKEEPER_AUTH__PASSWORD_PROFILE": "cheapest",
        # Alert delivery is not under test here; the HTTP path is (nothing is sent anywhere).
        "DOSEKEEPER_NOTIFY__EMBEDDED_WORKER": "false",
    }


def uvicorn_args(port: int, workers: int = 1) -> list[str]:
    """The served app exactly as in production: `app.main:app_from_env`, on 127.0.0.1:`port`,
    in one process or, with `workers`, that many."""
    args = [
        str(BIN / "uvicorn"),
        "app.main:app_from_env",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    if workers != 1:
        args += ["--workers", str(workers)]
    # As deployed (deploy/systemd/dosekeeper-web.service): idle connections outlive a client's
    # pause, so a request is never sent on a connection the server is closing.
    args += ["--timeout-keep-alive", "75"]
    return [*args, "--log-level", "warning"]


def start(args: list[str], env: dict[str, str], log: Path | None = None) -> subprocess.Popen[bytes]:
    """Start a process in the repository root; its output (JSON log lines, any traceback) goes to
    `log`, or to the test's own output when there is none."""
    if log is None:
        return subprocess.Popen(args, cwd=ROOT, env=env)
    with log.open("ab") as out:
        return subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def wait_until_up(
    url: str,
    process: subprocess.Popen[bytes] | None = None,
    log: Path | None = None,
    timeout: float = 60,
) -> None:
    """Poll `url` until it answers 200; fail at once if `process` exits first (with the tail of
    its `log`), or after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            tail = log.read_text()[-3000:] if log is not None and log.exists() else ""
            raise AssertionError(
                f"the server exited with {process.returncode} before serving:\n{tail}"
            )
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not come up")


def stop(*processes: subprocess.Popen[bytes]) -> None:
    """SIGTERM to every process still running, then wait for each; one that has not exited
    within 30 s is killed."""
    running = [process for process in processes if process.poll() is None]
    for process in running:
        process.send_signal(signal.SIGTERM)
    for process in running:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
