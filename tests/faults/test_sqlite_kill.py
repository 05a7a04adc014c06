"""SQLite writer killed at random 20 times: the file stays consistent, every acknowledged write
is present, and the audit chain verifies (reliability.md §5.3). Slow: run in its own CI step."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy import select, text

from app.actor import SYSTEM
from app.audit import service as audit_service
from app.db import UnitOfWork, make_engine, make_session_factory
from app.households.models import Household
from app.ops import migrations as migrate
from app.pharmacies import service as pharmacies_service
from tests.factories import NOW

pytestmark = [pytest.mark.slow, pytest.mark.sqlite]
ROOT = Path(__file__).resolve().parent.parent.parent


def test_a_sqlite_writer_killed_twenty_times_loses_nothing_it_acknowledged(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'kill.sqlite3'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    uow = UnitOfWork(make_session_factory(engine))
    pharmacy = pharmacies_service.create_pharmacy(
        uow,
        actor=SYSTEM,
        name="Kill test",
        ods_code="FKILL1",
        address="1 Road",
        phone="01632 960777",
        open_weekdays=[0, 1, 2, 3, 4, 5],
        now=NOW,
    )
    rng = random.Random(20261126)
    acknowledged: set[UUID] = set()
    for _ in range(20):
        writer = subprocess.Popen(
            [sys.executable, "-m", "tests.faults.writer", url, str(pharmacy.id)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        # Wait for its first acknowledged write, so a slow start on a loaded machine (importing
        # the app can take seconds) does not use up the random interval: the kill must land
        # among writes, not before them.
        assert writer.stdout is not None
        first = writer.stdout.readline().strip()
        assert first, "the writer died before its first write"
        time.sleep(rng.uniform(0.05, 0.8))
        writer.send_signal(signal.SIGKILL)
        out, _ = writer.communicate(timeout=30)
        acknowledged |= {UUID(line) for line in [first, *out.split()] if line}

    engine.dispose()
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
    uow = UnitOfWork(make_session_factory(engine))
    with uow:
        stored = set(uow.session.scalars(select(Household.id)))
        report = audit_service.verify(uow.session)
    assert len(acknowledged) > 20, "the writer never got going"
    assert acknowledged <= stored, f"{len(acknowledged - stored)} acknowledged writes lost"
    assert report.ok, report.reason
    engine.dispose()
