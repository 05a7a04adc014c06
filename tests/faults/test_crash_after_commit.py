"""The server dies between the handover's commit and its response; the counter retries with the
same Idempotency-Key against the restarted server and is given the stored response: one dose,
one register line, one audit event, and the chains verify (reliability.md §5.3, §7 row 26).

The crash is injected by a test-only launcher (tests/faults/crash_server.py) that patches the
real app inside its own process; production code has no crash switch. Slow: it starts real
servers. The SQLite case runs in the SQLite slow step, the PostgreSQL one in the PostgreSQL step.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from app.db import UnitOfWork, make_engine, make_session_factory
from app.dosing.models import DoseState, InstalmentDay
from app.http.models import IdempotentRequest
from app.ops import migrations as migrate
from app.register.models import EntryKind, RegisterEntry
from tests.databases import Database
from tests.faults.counter import (
    API,
    assert_chains_verify,
    audit_count,
    handover_body,
    seed_counter,
    sign_in,
)
from tests.notify.receivers import free_port
from tests.processes import BIN, server_env, start, stop, wait_until_up

pytestmark = [pytest.mark.slow]


@pytest.fixture(
    params=[
        pytest.param("sqlite", marks=pytest.mark.sqlite),
        pytest.param("postgresql", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'crash.sqlite3'}"
        migrate.upgrade(url)
        yield url
        return
    db: Database = request.getfixturevalue("pg_database")
    yield db.url


def test_a_crash_between_commit_and_response_is_replayed_on_retry_with_one_dose(
    database_url: str, tmp_path: Path
) -> None:
    counter = seed_counter(database_url, patients=2)
    crashed, normal = counter.patient_ids
    env = server_env(database_url, tmp_path / "data")
    log = tmp_path / "servers.log"
    record = tmp_path / "reply.json"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    key = {"Idempotency-Key": str(uuid.uuid4())}
    body = handover_body(crashed, counter.today)

    crashing = start(
        [sys.executable, "-m", "tests.faults.crash_server", str(port), str(record)], env, log
    )
    try:
        wait_until_up(f"{base}/livez", crashing, log)
        auth = sign_in(base, counter.pharmacist)
        with pytest.raises(httpx.TransportError):  # the connection drops: no status, no body
            httpx.post(
                f"{base}{API}/counter/handover", json=body, headers={**auth, **key}, timeout=30
            )
        assert crashing.wait(timeout=30) == 1, log.read_text()
    finally:
        stop(crashing)
    would_have_sent = json.loads(record.read_text())
    assert would_have_sent["status"] == 201

    engine = make_engine(database_url)
    uow = UnitOfWork(make_session_factory(engine))
    # The crash came after the commit: the dose is already on record before anyone retries.
    with uow:
        (row,) = uow.session.scalars(
            select(InstalmentDay).where(
                InstalmentDay.patient_id == crashed, InstalmentDay.state != DoseState.DUE
            )
        )
        assert row.state == DoseState.SUPERVISED
        assert str(row.handover_id) == would_have_sent["body"]["handover_id"]

    # The counter retries the same request, with the same key, against the restarted service.
    serving = start([str(BIN / "dosekeeper"), "serve", "--port", str(port)], env, log)
    try:
        wait_until_up(f"{base}/livez", serving, log)
        url = f"{base}{API}/counter/handover"
        with httpx.Client(headers=auth, timeout=30) as client:
            retried = client.post(url, json=body, headers=key)
            assert retried.status_code == would_have_sent["status"], retried.text
            assert retried.json() == would_have_sent["body"]
            again = client.post(url, json=body, headers=key)
            assert (again.status_code, again.json()) == (retried.status_code, retried.json())
            # Without the key it is a second scan of a dose already given: refused, naming it.
            rescan = client.post(url, json=body)
            assert rescan.status_code == 409, rescan.text
            assert rescan.json()["code"] == "already_recorded"
            # A normal reply from the restarted server has the same shape as the replay.
            other = client.post(
                url,
                json=handover_body(normal, counter.today),
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
            assert other.status_code == 201, other.text
            assert other.json().keys() == retried.json().keys()
        assert serving.poll() is None, log.read_text()
    finally:
        stop(serving)

    with uow:
        session = uow.session
        states = list(
            session.scalars(
                select(InstalmentDay.state).where(
                    InstalmentDay.patient_id == crashed, InstalmentDay.state != DoseState.DUE
                )
            )
        )
        supplies = list(
            session.scalars(
                select(RegisterEntry.handover_id).where(
                    RegisterEntry.patient_id == crashed, RegisterEntry.kind == EntryKind.SUPPLY
                )
            )
        )
        keys = session.scalar(
            select(func.count())
            .select_from(IdempotentRequest)
            .where(IdempotentRequest.key == key["Idempotency-Key"])
        )
    assert states == [DoseState.SUPERVISED]
    assert [str(h) for h in supplies] == [would_have_sent["body"]["handover_id"]]
    assert keys == 1
    assert audit_count(uow, "dose.handed_over", crashed) == 1
    assert_chains_verify(uow, counter.pharmacy_id)
    engine.dispose()
