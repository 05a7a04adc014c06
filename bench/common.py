"""Shared plumbing for the benchmarks: throwaway databases built by the real migrations, a world
built through the real services, bulk inserts for history, servers in subprocesses, a load
generator, statistics and the machine's description.

Nothing here asserts a time: every script prints figures and ratios against a baseline measured
in the same run, on the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import Connection, Engine, Table, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from app.actor import SYSTEM, Actor
from app.auth import service as auth_service
from app.auth.service import actor_for
from app.config import AuthSettings, Settings
from app.contacts import service as contacts_service
from app.db import UnitOfWork, make_engine, make_session_factory
from app.intake import transcribe as transcription
from app.intake import verify as verification
from app.ops import migrations as migrate
from app.patients import service as patients_service
from app.pharmacies import service as pharmacies_service
from app.prescriptions import intake_terms
from app.prescriptions.words import number_to_words

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get(
    "DOSEKEEPER_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
# Monday 30 November 2026, 09:30 in London (GMT): the benchmarks' "today".
NOW = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
TODAY = NOW.date()
PASSWORD = "correct horse battery"
PRODUCT = "methadone-1mg-ml"
NHS_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)  # Modulus 11 (NHS Data Dictionary)


# --- command line -----------------------------------------------------------------------------


def parser(description: str) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument(
        "--db", choices=("sqlite", "postgres", "both"), default="both", help="database(s) to run on"
    )
    return ap


def kinds(choice: str) -> list[str]:
    return ["sqlite", "postgres"] if choice == "both" else [choice]


# --- databases ----------------------------------------------------------------------------------


@dataclass
class BenchDB:
    kind: str  # sqlite | postgres
    url: str
    name: str
    folder: Path | None = None
    _engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.url)
        return self._engine

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def copy(self, label: str) -> BenchDB:
        """A copy of the database as it is now (file copy / CREATE DATABASE … TEMPLATE)."""
        self.dispose()
        name = f"dk_bench_{label}_{uuid.uuid4().hex[:8]}"
        if self.kind == "sqlite":
            assert self.folder is not None
            with sqlite3.connect(make_url(self.url).database or "") as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            target = self.folder / f"{name}.sqlite3"
            shutil.copyfile(make_url(self.url).database or "", target)
            return BenchDB("sqlite", f"sqlite:///{target}", name, self.folder)
        with _admin() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.name}"'))
        return BenchDB("postgres", _pg_url(name), name)

    def drop(self) -> None:
        self.dispose()
        if self.kind == "postgres":
            with _admin() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        elif self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def _admin() -> Iterator[Connection]:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            yield conn
    finally:
        admin.dispose()


def _pg_url(name: str) -> str:
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def create_database(kind: str, label: str) -> BenchDB:
    """An empty database of `kind` built by running every migration."""
    name = f"dk_bench_{label}_{uuid.uuid4().hex[:8]}"
    if kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="dk-bench-"))
        db = BenchDB("sqlite", f"sqlite:///{folder / (name + '.sqlite3')}", name, folder)
    else:
        with _admin() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        db = BenchDB("postgres", _pg_url(name), name)
    logging.disable(logging.INFO)  # alembic's per-revision INFO lines
    try:
        migrate.upgrade(db.url)
    finally:
        logging.disable(logging.NOTSET)
    return db


@contextmanager
def database(kind: str, label: str) -> Iterator[BenchDB]:
    db = create_database(kind, label)
    try:
        yield db
    finally:
        db.drop()


def analyze(db: BenchDB) -> None:
    """Fresh planner statistics after a bulk load (as autovacuum/ANALYZE would give in life)."""
    with db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


def settings_for(url: str, **overrides: Any) -> Settings:
    """Settings for a benchmark. password_profile="cheapest" only makes the setup's sign-ins
    fast; no password is hashed or checked inside any timed section."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        database_url=url,
        auth=AuthSettings(password_profile="cheapest", token_ttl_seconds=90 * 24 * 3600),
        webhook_allowed_hosts=frozenset({"127.0.0.1"}),
        allow_http_webhooks=True,
        data_dir=Path(tempfile.gettempdir()) / "dk-bench-data",
        **overrides,
    )


# --- a world built through the services -----------------------------------------------------------


def nhs_numbers(start: int = 1) -> Iterator[str]:
    """Distinct valid NHS numbers from the never-issued 999 range."""
    serial = start
    while serial < 1_000_000:
        body = f"999{serial:06d}"
        check = 11 - sum(int(d) * w for d, w in zip(body, NHS_WEIGHTS, strict=True)) % 11
        check = 0 if check == 11 else check
        if check != 10:
            yield body + str(check)
        serial += 1


@dataclass
class Branch:
    pharmacy_id: UUID
    pharmacist: Actor
    pharmacist2: Actor
    tokens: list[str]  # bearer tokens of counter staff (pharmacists and a technician)
    key_worker_id: UUID
    prescriber_id: UUID


@dataclass
class World:
    db: BenchDB
    settings: Settings
    session_factory: sessionmaker[Session]
    uow: UnitOfWork
    branches: list[Branch] = field(default_factory=list)
    _nhs: Iterator[str] = field(default_factory=nhs_numbers)


def make_world(db: BenchDB, settings: Settings) -> World:
    session_factory = make_session_factory(db.engine)
    return World(db, settings, session_factory, UnitOfWork(session_factory))


def make_contact(
    world: World, kind: str, *, webhook_url: str | None = None, email: str | None = None
) -> UUID:
    contact, _ = contacts_service.create_contact(
        world.uow,
        actor=SYSTEM,
        name=f"{kind} {uuid.uuid4().hex[:6]}",
        organisation="Bench drug service",
        address="1 Bench Road, Benchtown BT1 1AA",
        kind=kind,
        email=email if (email or webhook_url) else f"{kind}@bench.example",
        webhook_url=webhook_url,
        allowed_webhook_hosts=frozenset({"127.0.0.1"}),
        allow_http_webhooks=True,
        now=NOW - timedelta(days=400),
    )
    return contact.id


def make_branch(
    world: World,
    *,
    key_worker_id: UUID | None = None,
    prescriber_id: UUID | None = None,
    open_weekdays: Sequence[int] = tuple(range(7)),
) -> Branch:
    """A pharmacy open every day with two pharmacists and a technician signed in."""
    then = NOW - timedelta(days=400)
    auth = world.settings.auth
    tag = uuid.uuid4().hex[:6].upper()
    pharmacy = pharmacies_service.create_pharmacy(
        world.uow,
        actor=SYSTEM,
        name=f"Bench Pharmacy {tag}",
        ods_code=f"B{tag}",
        address="1 Bench Street",
        phone="01632 960123",
        open_weekdays=open_weekdays,
        now=then,
    )
    tokens, actors = [], []
    for role in ("pharmacist", "pharmacist", "technician"):
        username = f"{role[:4]}{uuid.uuid4().hex[:8]}"
        user = auth_service.add_user(
            world.uow,
            actor=SYSTEM,
            username=username,
            password=PASSWORD,
            role=role,
            pharmacy_id=pharmacy.id,
            now=then,
            settings=auth,
        )
        actors.append(actor_for(user))
        tokens.append(
            auth_service.sign_in(
                world.uow,
                username=username,
                password=PASSWORD,
                client="bench",
                kind="api",
                now=NOW - timedelta(days=1),
                settings=auth,
            ).token
        )
    branch = Branch(
        pharmacy.id,
        actors[0],
        actors[1],
        tokens,
        key_worker_id or make_contact(world, "key_worker"),
        prescriber_id or make_contact(world, "prescriber"),
    )
    world.branches.append(branch)
    return branch


def receive_stock(world: World, branch: Branch, quantity_ml: Decimal) -> None:
    """A CD receipt for the branch, so its register balance covers the run's supplies: a
    pharmacy handing out methadone it never received raises a negative-balance alert on every
    line, a path no real counter takes on every dose."""
    from app.register import receipts as register_receipts

    register_receipts.record_receipt(
        world.uow,
        actor=branch.pharmacist,
        receipt=register_receipts.Receipt(
            received_on=TODAY,
            supplier_name="Benchshire Wholesale Ltd",
            supplier_address="Unit 1, Benchtown Trading Estate",
            quantity_ml=quantity_ml,
            invoice_ref=f"INV-{uuid.uuid4().hex[:8]}",
            product=PRODUCT,
        ),
        today=TODAY,
        now=NOW - timedelta(hours=1),
    )


def register_patient(world: World, branch: Branch, *, key_worker_id: UUID | None = None) -> UUID:
    patient = patients_service.register_patient(
        world.uow,
        actor=branch.pharmacist,
        given_name="Bench",
        family_name=f"Patient {uuid.uuid4().hex[:8]}",
        date_of_birth=date(1980, 5, 17),
        nhs_number=next(world._nhs),
        pharmacy_id=branch.pharmacy_id,
        household_id=None,
        key_worker_id=key_worker_id or branch.key_worker_id,
        prescriber_id=branch.prescriber_id,
        today=TODAY,
        now=NOW - timedelta(days=1),
    )
    return patient.id


def supervised_daily(mg: int, start: date, days: int) -> intake_terms.PrescriptionDraft:
    """`mg` daily, supervised and collected every day (the pharmacy opens every day)."""
    every = frozenset(range(7))
    total = mg * days
    return intake_terms.PrescriptionDraft(
        product_code=PRODUCT,
        daily_dose_mg=Decimal(mg),
        form_type="FP10MDA",
        written_on=start - timedelta(days=2),
        start_on=start,
        end_on=start + timedelta(days=days - 1),
        total_quantity=Decimal(total),
        total_quantity_words=number_to_words(total),
        supervised_days=every,
        collection_days=every,
        wording=intake_terms.Wording(supervise_on_collection=True, consult_after_3_missed=True),
        direction_text=f"{mg}mg ({mg}ml) daily, supervised consumption every day.",
    )


def prescribe(
    world: World, branch: Branch, patient_id: UUID, *, mg: int = 60, days: int = 14
) -> UUID:
    """Transcribe and second-check a prescription starting today: its days become the ledger."""
    now = NOW - timedelta(hours=1)
    policy = world.settings.policy
    prescription, _ = transcription.transcribe(
        world.uow,
        actor=branch.pharmacist,
        data=transcription.PrescriptionInput(
            patient_id=patient_id,
            prescriber_id=branch.prescriber_id,
            draft=supervised_daily(mg, TODAY, days),
            last_dose=transcription.LastDoseInput(None, "induction"),
        ),
        policy=policy,
        today=TODAY,
        now=now,
    )
    verification.verify(
        world.uow,
        actor=branch.pharmacist2,
        prescription_id=prescription.id,
        policy=policy,
        today=TODAY,
        now=now,
    )
    return prescription.id


# --- bulk inserts (setup only) ----------------------------------------------------------------------


def bulk_load(db: BenchDB, batches: Sequence[tuple[Table, Sequence[Mapping[str, Any]]]]) -> None:
    """Load rows fast, in one transaction: COPY on PostgreSQL, one executemany per table on
    SQLite (through each column's own bind processor, as Core would). Every row of a batch
    names the same columns. Setup only: foreign-key checks are off while loading (the rows are
    generated consistent with each other and with the world built through the services); the
    schema's own triggers only guard UPDATE and DELETE, so an INSERT misses none of them."""
    dialect = db.engine.dialect
    pooled = db.engine.raw_connection()
    raw: Any = pooled.driver_connection
    try:
        if db.kind == "sqlite":
            raw.execute("PRAGMA foreign_keys=OFF")  # only outside a transaction
            # Random UUID keys touch pages all over each index: a bigger page cache helps.
            raw.execute("PRAGMA cache_size=-262144")
            raw.execute("BEGIN IMMEDIATE")
            for table, rows in batches:
                if not rows:
                    continue
                columns = list(rows[0])
                processors = [table.c[c].type._cached_bind_processor(dialect) for c in columns]
                pairs = list(zip(columns, processors, strict=True))
                values = [tuple(p(row[c]) if p else row[c] for c, p in pairs) for row in rows]
                marks = ", ".join("?" * len(columns))
                raw.executemany(
                    f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})", values
                )
            raw.execute("COMMIT")
            raw.execute("PRAGMA foreign_keys=ON")
            return
        from psycopg.types.json import Json

        with raw.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = replica")  # no FK triggers
            for table, rows in batches:
                if not rows:
                    continue
                columns = list(rows[0])
                json_columns = {c.name for c in table.columns if type(c.type).__name__ == "JSON"}
                statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
                with cursor.copy(statement) as copy:
                    for row in rows:
                        copy.write_row(
                            [
                                Json(row[c]) if c in json_columns and row[c] is not None else row[c]
                                for c in columns
                            ]
                        )
        raw.commit()
    finally:
        pooled.invalidate()  # never hand a connection with changed settings back to the pool


def prescription_row(
    *,
    patient_id: UUID,
    pharmacy_id: UUID,
    prescriber_id: UUID,
    start: date,
    days: int,
    mg: int,
    status: str,
    entered_by: UUID | None,
    verified_by: UUID | None,
) -> dict[str, Any]:
    at = datetime(start.year, start.month, start.day, 8, tzinfo=UTC) - timedelta(days=1)
    total = mg * days
    return {
        "id": uuid.uuid4(),
        "patient_id": patient_id,
        "pharmacy_id": pharmacy_id,
        "prescriber_id": prescriber_id,
        "product": PRODUCT,
        "daily_dose_mg": Decimal(mg),
        "form_type": "FP10MDA",
        "written_on": start - timedelta(days=2),
        "start_on": start,
        "end_on": start + timedelta(days=days - 1),
        "total_quantity": Decimal(total),
        "total_quantity_words": number_to_words(total),
        "supervised_days": list(range(7)),
        "collection_days": list(range(7)),
        "wording_closed_day_prior": False,
        "wording_missed_remaining": False,
        "wording_consult_after_3_missed": True,
        "wording_supervise_on_collection": True,
        "wording_separate_containers": False,
        "direction_text": f"{mg}mg ({mg}ml) daily, supervised consumption every day.",
        "status": status,
        "warnings": [],
        "entered_by_id": entered_by,
        "entered_at": at,
        "verified_by_id": verified_by,
        "verified_at": at,
    }


def instalment_row(
    *,
    prescription_id: UUID,
    patient_id: UUID,
    pharmacy_id: UUID,
    day: date,
    mg: int,
    state: str,
    recorded_by: UUID | None,
    mode: str = "supervised",
    collect_on: date | None = None,
) -> dict[str, Any]:
    recorded = state != "due"
    collect_on = collect_on or day
    return {
        "id": uuid.uuid4(),
        "prescription_id": prescription_id,
        "patient_id": patient_id,
        "pharmacy_id": pharmacy_id,
        "household_id": None,
        "product": PRODUCT,
        "dose_date": day,
        "collect_on": collect_on,
        "mode": mode,
        "dose_mg": Decimal(mg),
        "state": state,
        "recorded_by_id": recorded_by if recorded and state != "missed" else None,
        "recorded_at": (
            datetime(collect_on.year, collect_on.month, collect_on.day, 10, tzinfo=UTC)
            if recorded
            else None
        ),
        "collector": "patient" if state in ("supervised", "collected") else None,
    }


# --- servers in subprocesses ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Served:
    base_url: str
    process: subprocess.Popen[bytes]

    def cpu_seconds(self) -> float:
        """User + system CPU the server process and its live children (uvicorn --workers) have
        used so far (Linux /proc)."""
        return _cpu_ticks(self.process.pid) / os.sysconf("SC_CLK_TCK")


def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12]) + sum(_cpu_ticks(int(c)) for c in children)


@contextmanager
def serve(*args: str, module: str = "bench.server") -> Iterator[Served]:
    """Run `python -m MODULE --port P ARGS` (by default uvicorn on 127.0.0.1) until the block
    ends."""
    port = free_port()
    command = [sys.executable, "-m", module, "--port", str(port), *args]
    process = subprocess.Popen(command, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited early: {' '.join(command)}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("server did not start within 60 s") from None
                time.sleep(0.05)
        yield Served(f"http://127.0.0.1:{port}", process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def pyspy(pid: int, title: str, top: int = 30, *, gil: bool = True) -> Iterator[None]:
    """Sample process `pid` and its children with py-spy while the block runs — only the thread
    holding the GIL when `gil` (where a Python server's one core goes), else every non-idle
    thread — then print the functions with most samples on their stack (inclusive)."""
    binary = Path(sys.executable).parent / "py-spy"
    if not binary.exists():
        print("  (py-spy not installed: `.venv/bin/pip install py-spy` to profile)")
        yield
        return
    out = Path(tempfile.mkstemp(prefix="dk-pyspy-", suffix=".txt")[1])
    command = [str(binary), "record", "--pid", str(pid), "--rate", "200", "--format", "raw"]
    command += ["--subprocesses", *(["--gil"] if gil else [])]
    recorder = subprocess.Popen(
        [*command, "--output", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)
        recorder.wait(timeout=60)
        print(profile_summary(out, title, top))
        out.unlink(missing_ok=True)


def profile_summary(path: Path, title: str, top: int) -> str:
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [f.split(" (")[0] + " (" + _short(f) + ")" for f in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + n
        own[frames[-1]] = own.get(frames[-1], 0) + n
    if not total:
        return f"  profile {title}: no samples"
    lines = [f"  profile {title}: {total} samples (py-spy)"]
    ours = sorted(
        ((n, f) for f, n in inclusive.items() if "(app/" in f or "(bench/" in f), reverse=True
    )
    lines.append("  inclusive, app code:")
    lines += [f"    {100 * n / total:5.1f}%  {f}" for n, f in ours[:top]]
    lines.append("  self (leaf frames):")
    lines += [f"    {100 * n / total:5.1f}%  {f}" for n, f in sorted(
        ((n, f) for f, n in own.items()), reverse=True)[:12]]  # fmt: skip
    return "\n".join(lines)


def _short(frame: str) -> str:
    """'name (path/to/site-packages/pkg/mod.py:12)' -> 'pkg/mod.py:12'; app code from app/."""
    where = frame.rpartition(" (")[2].rstrip(")")
    for marker in ("site-packages/", "/work/main/", str(ROOT) + "/", "/lib/python3.11/"):
        if marker in where:
            return where.split(marker, 1)[1]
    return where


# --- load generation ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Call:
    method: str
    path: str
    body: Any = None
    headers: Mapping[str, str] | None = None


@dataclass
class Load:
    requests: int
    seconds: float
    latencies_ms: list[float]
    statuses: dict[int, int]
    sample_error: str = ""

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


async def _drive(base_url: str, calls: Sequence[Call], concurrency: int) -> Load:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors: list[str] = []
    position = iter(range(len(calls)))
    async with httpx.AsyncClient(
        base_url=base_url, limits=limits, timeout=60, trust_env=False
    ) as client:

        async def worker() -> None:
            for index in position:
                call = calls[index]
                started = time.perf_counter()
                response = await client.request(
                    call.method, call.path, json=call.body, headers=call.headers
                )
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code >= 300 and not errors:
                    errors.append(response.text[:300])

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return Load(len(calls), elapsed, latencies, statuses, errors[0] if errors else "")


def drive(base_url: str, calls: Sequence[Call], concurrency: int = 16) -> Load:
    """Send `calls` over `concurrency` keep-alive connections (httpx.AsyncClient, one task per
    connection); per-request latency is measured at the client."""
    return asyncio.run(_drive(base_url, calls, concurrency))


def chunks(items: Sequence[Any], count: int) -> list[Sequence[Any]]:
    size = -(-len(items) // count)
    return [items[i : i + size] for i in range(0, len(items), size)]


def interleave(
    runs: Mapping[str, tuple[Served, Sequence[Call]]],
    *,
    warmup: int,
    blocks: int,
    concurrency: int,
    expect: int,
) -> dict[str, dict[str, float]]:
    """Warm each server up, then alternate blocks of their calls (A1 B1 A2 B2 …), so a change in
    the machine's background load during the run falls on baseline and subject alike."""
    for served, calls in runs.values():
        drive(served.base_url, calls[:warmup], concurrency)
    parts = {name: chunks(calls[warmup:], blocks) for name, (_, calls) in runs.items()}
    totals = {name: Load(0, 0.0, [], {}) for name in runs}
    cpu = dict.fromkeys(runs, 0.0)
    for k in range(blocks):
        for name, (served, _) in runs.items():
            if k >= len(parts[name]):
                continue
            before = served.cpu_seconds()
            load = drive(served.base_url, parts[name][k], concurrency)
            cpu[name] += served.cpu_seconds() - before
            total = totals[name]
            total.requests += load.requests
            total.seconds += load.seconds
            total.latencies_ms += load.latencies_ms
            for status, n in load.statuses.items():
                total.statuses[status] = total.statuses.get(status, 0) + n
            total.sample_error = total.sample_error or load.sample_error
    out = {}
    for name, total in totals.items():
        if set(total.statuses) != {expect}:
            raise SystemExit(f"{name}: unexpected responses {total.statuses}: {total.sample_error}")
        out[name] = {
            "requests": total.requests,
            "rps": total.throughput,
            "p50": percentile(total.latencies_ms, 50),
            "p90": percentile(total.latencies_ms, 90),
            "p99": percentile(total.latencies_ms, 99),
            "server_cpu_ms": cpu[name] / total.requests * 1000,
        }
    return out


# --- statistics and printing ---------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile, q in [0, 100]."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def verdict(ok: bool) -> str:
    return "meets target" if ok else "MISSES target"


def table(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    cells = [[str(c) for c in header], *[[str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def banner(title: str) -> None:
    print(f"\n=== {title} ===", flush=True)


def machine() -> dict[str, str]:
    meminfo = Path("/proc/meminfo").read_text().split("\n")[0].split()
    info = {
        "cpus": str(os.cpu_count()),
        "ram": f"{int(meminfo[1]) / 1024 / 1024:.1f} GiB",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }
    try:
        with _admin() as conn:
            info["postgresql"] = str(conn.execute(text("SHOW server_version")).scalar())
    except Exception as exc:  # noqa: BLE001 - only describing the machine
        info["postgresql"] = f"unavailable ({type(exc).__name__})"
    return info


def uvicorn_implementation() -> str:
    """The loop and HTTP implementations uvicorn's "auto" picks in this environment (every
    benchmark server runs with uvicorn's defaults, so all of them use the same)."""
    import importlib.util

    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return f"uvicorn {version('uvicorn')}, loop={loop}, http={http}"


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def print_machine() -> None:
    print("machine: " + ", ".join(f"{k}={v}" for k, v in machine().items()), flush=True)
    print(f"load average (1/5/15 min) at start: {load_average()}", flush=True)


def dump(label: str, payload: Mapping[str, Any]) -> None:
    """One machine-readable line per result (for docs/performance.md and comparisons)."""
    print(f"RESULT {label} {json.dumps(payload, default=str, sort_keys=True)}", flush=True)
