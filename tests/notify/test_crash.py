"""A worker killed mid-delivery: what was pending is delivered by the next worker, with the same
webhook-id, and nothing is lost (at-least-once; reliability.md §1.1, §5.3)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.clock import FixedClock
from app.config import Settings
from app.notify.worker import Worker
from tests.databases import Database
from tests.factories import World
from tests.notify.helpers import (
    attempts,
    by_id,
    deliveries,
    drain,
    hooked_contact,
    raise_missed,
)
from tests.notify.receivers import Received, WebhookReceiver


@pytest.mark.hazard("H-07.1")
def test_a_worker_that_dies_after_claiming_loses_nothing(
    world: World,
    clock: FixedClock,
    receiver: WebhookReceiver,
    workers: Callable[..., Worker],
    nsettings: Settings,
) -> None:
    contact = hooked_contact(world, receiver)
    patient = world.patient(key_worker_id=contact["id"])
    today = clock.now().date()
    for offset in range(3):
        raise_missed(world, patient["id"], day=today + timedelta(days=offset), now=clock.now())
    everything = {str(d.event_id) for d in deliveries(world)}
    assert len(everything) == 3
    small = nsettings.model_copy(
        update={"notify": nsettings.notify.model_copy(update={"batch_size": 2})}
    )
    dying = workers("dying", settings=small)
    jobs = dying.claim()
    assert len(jobs) == 2
    # One request got out before the worker died; the other never left; nothing was recorded.
    sent, took = dying.send(jobs[0])
    assert sent.outcome == "delivered"
    heir = workers("heir", settings=small)
    clock.advance(timedelta(seconds=small.notify.lease_seconds - 1))
    assert heir.run_once() == 1, "only the unclaimed delivery is due while the lease holds"
    assert sorted(d.state for d in deliveries(world)) == ["delivered", "sending", "sending"]
    clock.advance(timedelta(seconds=2))  # the lease has run out
    drain(heir)
    assert {d.state for d in deliveries(world)} == {"delivered"}
    counts = by_id(receiver.received)
    assert set(counts) == everything
    assert counts[jobs[0].event_id] == 2
    assert counts[jobs[1].event_id] == 1
    assert all(r.verified for r in receiver.received)
    # The dead worker's late report (its lease long gone) changes nothing.
    dying.record([(jobs[0], sent, took)])
    for delivery in deliveries(world):
        assert delivery.attempts == 1
        assert [(a.outcome, a.worker) for a in attempts(world, delivery.id)] == [
            ("delivered", "heir")
        ]


def _worker_process(
    name: str, database: Database, data_dir: Path, log: Path
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOSEKEEPER_")}
    env.update(
        {
            "DOSEKEEPER_ENVIRONMENT": "test",
            "DOSEKEEPER_DATABASE_URL": database.url,
            "DOSEKEEPER_DATA_DIR": str(data_dir),
            "DOSEKEEPER_NOTIFY__BATCH_SIZE": "3",
            "DOSEKEEPER_NOTIFY__LEASE_SECONDS": "2",
            "DOSEKEEPER_NOTIFY__WORKER_POLL_SECONDS": "0.1",
            "DOSEKEEPER_NOTIFY__WEBHOOK_TIMEOUT_SECONDS": "30",
            # The receiver is on loopback: refused at send time unless allow-listed.
            "DOSEKEEPER_WEBHOOK_ALLOWED_HOSTS": '["127.0.0.1"]',
        }
    )
    command = Path(sys.executable).with_name("dosekeeper")
    return subprocess.Popen(
        [str(command), "worker", "--name", name],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        cwd=data_dir,
    )


@pytest.mark.slow  # two worker processes start (~2 s each); the lease test above runs always
def test_kill_9_mid_delivery_then_restart_delivers_everything(
    world: World, receiver: WebhookReceiver, database: Database, tmp_path: Path
) -> None:
    contact = hooked_contact(world, receiver)
    patient = world.patient(key_worker_id=contact["id"])
    now = datetime.now(UTC)  # the worker processes run on the real clock
    for offset in range(5):
        raise_missed(world, patient["id"], day=now.date() + timedelta(days=offset), now=now)
    everything = {str(d.event_id) for d in deliveries(world)}
    assert len(everything) == 5

    in_flight = threading.Event()

    def count(_: Received) -> None:
        if len(receiver.received) >= 3:
            in_flight.set()

    receiver.on_request = count
    receiver.delay = 60  # hold each request open: the worker dies waiting for the answer
    log = tmp_path / "workers.log"
    first = _worker_process("first", database, tmp_path, log)
    try:
        assert in_flight.wait(30), log.read_text()
        time.sleep(0.2)  # no fourth request: one batch of three is in flight
        assert len(receiver.received) == 3
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        first.kill()
    assert first.returncode == -signal.SIGKILL
    states = sorted((d.state, d.locked_by) for d in deliveries(world))
    assert states == [("pending", None)] * 2 + [("sending", "first")] * 3
    held = {r.headers["webhook-id"] for r in receiver.received}

    receiver.delay = 0
    second = _worker_process("second", database, tmp_path, log)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if {d.state for d in deliveries(world)} == {"delivered"}:
                break
            time.sleep(0.1)
        second.send_signal(signal.SIGTERM)  # finishes the current batch, then stops
        assert second.wait(15) == 0, log.read_text()
    finally:
        second.kill()
    assert {d.state for d in deliveries(world)} == {"delivered"}, log.read_text()
    counts = by_id(receiver.received)
    assert set(counts) == everything, "a delivery was lost"
    assert all(counts[e] == (2 if e in held else 1) for e in everything), counts
    assert all(r.verified for r in receiver.received)
    for delivery in deliveries(world):
        assert [(a.outcome, a.worker) for a in attempts(world, delivery.id)] == [
            ("delivered", "second")
        ]
    assert "delivery worker stopped" in log.read_text()
