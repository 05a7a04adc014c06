"""Two API processes and two delivery workers against one PostgreSQL: a counter day driven from
two terminals records one dose per patient per day, and each alert reaches each recipient once.

Slow (it starts real processes), so `.ci/run` runs it in its own step on PostgreSQL.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from app.config import AuthSettings, Settings
from app.db import UnitOfWork, make_session_factory
from app.demo import DEMO_PASSWORD, seed
from app.dosing.models import InstalmentDay
from app.notify.models import Delivery
from tests.databases import Database
from tests.notify.receivers import MailReceiver, free_port
from tests.processes import BIN, start, stop, uvicorn_args, wait_until_up

pytestmark = [pytest.mark.slow]


def test_two_api_processes_and_two_workers_keep_one_dose_a_day_and_one_delivery_each(
    pg_database: Database, tmp_path: Path
) -> None:
    mail = MailReceiver().start()
    env = {
        **os.environ,
        "DOSEKEEPER_DATABASE_URL": pg_database.url,
        "DOSEKEEPER_DATA_DIR": str(tmp_path / "data"),
        "DOSEKEEPER_SMTP_URL": mail.url,
        "DOSEKEEPER_AUTH__PASSWORD_PROFILE": "cheapest",
        "DOSEKEEPER_NOTIFY__EMBEDDED_WORKER": "false",
        "DOSEKEEPER_NOTIFY__WORKER_POLL_SECONDS": "0.2",
    }
    settings = Settings(
        _env_file=None,
        database_url=pg_database.url,  # type: ignore[call-arg]
        auth=AuthSettings(password_profile="cheapest"),
        data_dir=tmp_path,
    )
    seed(UnitOfWork(make_session_factory(pg_database.engine)), settings)
    port = free_port()
    processes = [
        start(uvicorn_args(port, workers=2), env),
        *[start([str(BIN / "dosekeeper"), "worker", "--name", f"w{i}"], env) for i in range(2)],
    ]
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base}/healthz", processes[0])
        terminals = []
        for username in ("pharmacist", "pharmacist2"):
            token = httpx.post(
                f"{base}/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD}
            ).json()["access_token"]
            terminals.append(
                httpx.Client(
                    base_url=base, timeout=30, headers={"Authorization": f"Bearer {token}"}
                )
            )
        due = terminals[0].get("/api/v1/counter/due").json()["items"]
        assert len(due) >= 6
        outcomes: Counter[int] = Counter()
        lock = threading.Lock()

        def serve(patient: dict[str, Any], terminal: httpx.Client, index: int) -> None:
            if index == 0 and patient["family_name"] in ("Birch", "Thorn"):
                response = terminal.post(
                    "/api/v1/counter/withhold",
                    json={
                        "patient_id": patient["patient_id"],
                        "date": patient["dose_dates"][0],
                        "reason": "intoxicated",
                    },
                )
            else:
                response = terminal.post(
                    "/api/v1/counter/handover",
                    json={
                        "patient_id": patient["patient_id"],
                        "date": patient["dose_dates"][0],
                        "outcome": "supervised" if patient["mode"] == "supervised" else "collected",
                        "measuring_device": patient["mode"] != "supervised",
                        "intoxicated": False,
                        "acknowledged": [w["code"] for w in patient["warnings"]],
                        "overrides": [
                            {"code": b["code"], "reason": "multi-process test"}
                            for b in patient["blocks"]
                        ],
                    },
                )
            with lock:
                outcomes[response.status_code] += 1

        threads = [
            threading.Thread(target=serve, args=(p, t, i))
            for p in due
            for i, t in enumerate(terminals)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert outcomes[500] == 0, outcomes
        assert outcomes[201] == len(due), outcomes  # exactly one terminal recorded each patient
        pharmacy_id = terminals[0].get("/api/v1/me").json()["pharmacy_id"]
        closed = terminals[1].post(f"/api/v1/pharmacies/{pharmacy_id}/close-day", json={})
        assert closed.status_code == 200, closed.text

        # Let the two workers drain the outbox.
        factory = make_session_factory(pg_database.engine)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with factory() as session:
                pending = session.scalar(
                    select(func.count())
                    .select_from(Delivery)
                    .where(Delivery.state.in_(("pending", "sending")))
                )
            if not pending:
                break
            time.sleep(0.5)
        with factory() as session:
            deliveries = session.scalar(select(func.count()).select_from(Delivery))
            delivered = session.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.state == "delivered")
            )
            doubles = session.execute(
                select(InstalmentDay.patient_id, InstalmentDay.dose_date, func.count())
                .group_by(InstalmentDay.patient_id, InstalmentDay.product, InstalmentDay.dose_date)
                .having(func.count() > 1)
            ).all()
        assert doubles == []
        assert deliveries
        assert delivered == deliveries
        message_ids = Counter(str(m["Message-ID"]) for m in mail.messages)
        assert len(message_ids) == deliveries
        assert max(message_ids.values()) == 1, "an alert was emailed twice"
        for terminal in terminals:
            terminal.close()
    finally:
        stop(*processes)
        mail.stop()
