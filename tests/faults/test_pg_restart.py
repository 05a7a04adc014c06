"""PostgreSQL crashes (`pg_ctl stop -m immediate`) while counters hand over doses, and comes back.

reliability.md §5.3 and §7 row 28. During the outage every handover and /readyz answers a clean
503 problem document (no 500, no stack trace, no driver text); once PostgreSQL is back the SAME
API process serves again without a restart (pool_pre_ping); every handover acknowledged with a
201 is in the ledger and the CD register exactly once, nothing unacknowledged was recorded, and
the audit chain and the register chain verify.

The counters behave as the real ones do: a 503 or a dropped connection is retried with the
same Idempotency-Key, so a commit whose reply was lost is replayed, not supplied again.

The cluster is a scratch one of the test's own (tests/faults/scratch_pg.py): the shared
PostgreSQL is never restarted. Slow: it starts real processes.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections import Counter as Tally
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import httpx
import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.db import UnitOfWork, make_engine, make_session_factory
from app.dosing.models import DoseState, InstalmentDay
from app.http.models import IdempotentRequest
from app.ops import migrations as migrate
from app.register.models import EntryKind, RegisterEntry
from tests.faults import scratch_pg
from tests.faults.counter import API, assert_chains_verify, handover_body, seed_counter, sign_in
from tests.gaps import unavailable
from tests.notify.receivers import free_port
from tests.processes import server_env, start, stop, uvicorn_args, wait_until_up

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
]

TERMINALS = 4
BEFORE, AFTER = 15, 15  # acknowledged handovers wanted before the crash and after recovery
PATIENTS = BEFORE + AFTER + 40  # headroom for the handovers in flight while the phases change
LEAKS = ("traceback", "psycopg", "sqlalchemy", "operationalerror", 'file "', "/app/")


@pytest.fixture
def cluster() -> Iterator[scratch_pg.ScratchCluster]:
    reason = scratch_pg.unavailable()
    if reason:
        unavailable(f"{reason} (apt-get install postgresql)")
    made = scratch_pg.ScratchCluster()
    try:
        yield made
    finally:
        made.destroy()


@dataclass(frozen=True)
class Reply:
    at: float
    status: int | None  # None: no HTTP response at all
    content_type: str
    text: str
    retry_after: str | None


class Counters:
    """TERMINALS threads handing over one patient after another until told to stop."""

    def __init__(self, base: str, auth: dict[str, str], patients: list[UUID], today: str):
        self.base, self.auth, self.today = base, auth, today
        self.waiting: queue.Queue[UUID] = queue.Queue()
        for patient in patients:
            self.waiting.put(patient)
        self.replies: list[Reply] = []
        self.acknowledged: dict[UUID, tuple[str, str]] = {}  # patient -> (key, handover_id)
        self.unfinished: list[UUID] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._terminal) for _ in range(TERMINALS)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=90)

    def count(self) -> int:
        with self.lock:
            return len(self.acknowledged)

    def unavailable_since(self, moment: float) -> int:
        with self.lock:
            return sum(r.status == 503 and r.at > moment for r in self.replies)

    def _terminal(self) -> None:
        with httpx.Client(base_url=self.base, headers=self.auth, timeout=30) as client:
            while not self.stopping.is_set():
                try:
                    patient = self.waiting.get_nowait()
                except queue.Empty:
                    return
                self._hand_over(client, patient)

    def _hand_over(self, client: httpx.Client, patient: UUID) -> None:
        """One handover, retried with its key through 503s and dropped connections."""
        key = str(uuid.uuid4())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                response = client.post(
                    f"{API}/counter/handover",
                    json=handover_body(patient, self.today),
                    headers={"Idempotency-Key": key},
                )
            except httpx.TransportError as exc:
                self._note(Reply(time.monotonic(), None, "", repr(exc), None))
                time.sleep(0.2)
                continue
            self._note(
                Reply(
                    time.monotonic(),
                    response.status_code,
                    response.headers.get("content-type", ""),
                    response.text,
                    response.headers.get("retry-after"),
                )
            )
            if response.status_code == 201:
                with self.lock:
                    self.acknowledged[patient] = (key, response.json()["handover_id"])
                return
            if response.status_code != 503:
                return  # unexpected: recorded above, and the test fails on it
            time.sleep(0.2)  # the service said so (Retry-After), but the test has no 5 s
        with self.lock:
            self.unfinished.append(patient)

    def _note(self, reply: Reply) -> None:
        with self.lock:
            self.replies.append(reply)

    def unexpected(self) -> list[Reply]:
        with self.lock:
            return [r for r in self.replies if r.status not in (201, 503)]

    def wait_until(self, condition: str, predicate: Callable[[], bool], timeout: float) -> None:
        """Wait for `predicate`, failing at once if any reply is neither 201 nor 503."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.unexpected():
                raise AssertionError(f"an unexpected reply: {self.unexpected()[:3]}")
            if predicate():
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting until {condition}")


def test_an_immediate_postgresql_restart_gives_clean_503s_and_loses_no_acknowledged_dose(
    cluster: scratch_pg.ScratchCluster, tmp_path: Path
) -> None:
    migrate.upgrade(cluster.url)
    counter = seed_counter(cluster.url, patients=PATIENTS)
    log = tmp_path / "server.log"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start(uvicorn_args(port), server_env(cluster.url, tmp_path / "data"), log)
    try:
        wait_until_up(f"{base}/livez", server, log)
        counters = Counters(
            base, sign_in(base, counter.pharmacist), counter.patient_ids, counter.today
        )
        counters.start()
        try:
            counters.wait_until(
                f"{BEFORE} handovers before the crash", lambda: counters.count() >= BEFORE, 30
            )
            crashed_at = time.monotonic()
            cluster.crash()
            # The outage: the counters keep trying; readiness says no; nothing crashes.
            ready_during = httpx.get(f"{base}/readyz", timeout=30)
            counters.wait_until(
                "the counters have been told 503 a few times",
                lambda: counters.unavailable_since(crashed_at) >= 8,
                30,
            )
            time.sleep(max(0.0, crashed_at + 3 - time.monotonic()))  # at least 3 s down
            during = counters.count()
            cluster.start()
            back_at = time.monotonic()
            counters.wait_until(
                f"{AFTER} handovers after PostgreSQL came back",
                lambda: counters.count() >= during + AFTER,
                45,
            )
        finally:
            counters.stop()
        ready_after = httpx.get(f"{base}/readyz", timeout=30)
        assert server.poll() is None, "the API process did not survive the outage"
    finally:
        stop(server)

    replies = counters.replies
    statuses = Tally(r.status for r in replies)
    assert set(statuses) <= {201, 503}, (
        statuses,
        [r.text for r in replies if r.status != 201 and r.status != 503][:5],
        log.read_text()[-5000:],
    )
    assert not counters.unfinished, counters.unfinished
    assert all(r.status == 201 for r in replies if r.at < crashed_at), statuses
    outage = [r for r in replies if r.status == 503]
    assert outage, "no request saw the outage"
    for reply in outage:
        assert reply.content_type == "application/problem+json", reply
        problem = json.loads(reply.text)
        assert (problem["status"], problem["code"]) == (503, "database_unavailable"), problem
        assert reply.retry_after, reply
        assert not any(leak in reply.text.lower() for leak in LEAKS), reply.text
    assert ready_during.status_code == 503, ready_during.text
    assert ready_during.json()["database"]["reachable"] is False
    assert ready_after.status_code == 200, ready_after.text
    assert any(r.status == 201 and r.at > back_at for r in replies)

    # Every acknowledged handover is on record exactly once, and nothing else is.
    engine = make_engine(cluster.url)
    uow = UnitOfWork(make_session_factory(engine))
    acknowledged = counters.acknowledged
    with uow:
        session = uow.session
        given = session.execute(
            select(InstalmentDay.patient_id, InstalmentDay.handover_id).where(
                InstalmentDay.pharmacy_id == counter.pharmacy_id,
                InstalmentDay.state != DoseState.DUE,
            )
        ).all()
        supplies = list(
            session.scalars(
                select(RegisterEntry.handover_id).where(
                    RegisterEntry.pharmacy_id == counter.pharmacy_id,
                    RegisterEntry.kind == EntryKind.SUPPLY,
                )
            )
        )
        keys = set(
            session.scalars(
                select(IdempotentRequest.key).where(
                    IdempotentRequest.key.in_([k for k, _ in acknowledged.values()])
                )
            )
        )
        handed_over = Tally(
            session.scalars(
                select(AuditEvent.entity_id).where(AuditEvent.action == "dose.handed_over")
            )
        )
        doses = session.scalar(select(func.count()).select_from(InstalmentDay))
    assert doses, "the ledger is empty"
    assert sorted((p, str(h)) for p, h in given) == sorted(
        (p, h) for p, (_, h) in acknowledged.items()
    ), "the ledger and the acknowledged handovers differ"
    assert sorted(str(h) for h in supplies) == sorted(h for _, h in acknowledged.values())
    assert keys == {k for k, _ in acknowledged.values()}
    assert {UUID(p): n for p, n in handed_over.items()} == dict.fromkeys(acknowledged, 1)
    assert_chains_verify(uow, counter.pharmacy_id)
    engine.dispose()
