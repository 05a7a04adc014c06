"""Record a supervised dose through the full stack vs the physical limit (DESIGN §8, issue 21).

Three servers, each served by uvicorn on 127.0.0.1 in its own process(es) with the same options
(so the same loop and HTTP implementations). The handover has the benchmark's database; the
limit and the old baseline share a second one on the same disk or PostgreSQL cluster, so that a
SQLite WAL checkpoint of one's pages never falls on another's commit:

- limit (the yardstick since issue 21): a bare ASGI callable and the raw driver (`bench.limit`):
  stdlib sqlite3 with one writer thread, or async psycopg with a pool; one INSERT + COMMIT per
  request, the product's durability rules (WAL and synchronous=FULL on SQLite).
- old baseline (the yardstick before issue 21, kept as a labelled line): a raw ASGI endpoint
  doing the same INSERT through the product's thread pool and SQLAlchemy engine
  (`bench.server --app bare`).
- handover: POST /api/v1/counter/handover with a bearer token, the whole stack —
  authentication, the patient's facts and the counter rules, the conditional UPDATE of the
  ledger row, the register line, the audit chain append, the alert rules and outbox.

wrk (C, one thread, keep-alive) drives each at 16 and at 2 connections, in alternating blocks
(limit, old baseline, handover, limit, …) so that the shared machine's background load falls on
all three alike. Every request is a POST of its own line from a list written beforehand: a
different patient's dose with that counter colleague's bearer token (`bench/walk.lua`). The
limit and the old baseline get the same bytes. wrk's response() hook counts every status other
than 201 (any one makes the run INVALID, as do socket errors and running out of the list); the
handovers recorded in the database are counted afterwards.

Setup goes through the real services: N patients, each registered, with a 14-day supervised
prescription transcribed and second-checked at a fixed "today". The server's clock is that
fixed instant moved on by the `x-bench-day` header. The list is day-major: every patient's
first dose (day 0), then every patient's dose on day 1, and so on, so no request shares a
patient with the `--patients` - 1 requests before it. Targets: handover/limit >= 0.30 and
p99 <= 50 ms at 16 connections, p99 <= 20 ms at 2, p99/p50 < 4 at 16.

The old method (httpx.AsyncClient at 16 connections, old baseline vs handover) is run last, as
before issue 21, so the change of yardstick stays visible.
"""

from __future__ import annotations

import contextlib
import json
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench import common, wrk
from bench.server import BASELINE, LIMIT

TARGET_RATIO = 0.30
TARGET_P99_MS = {16: 50.0, 2: 20.0}
TARGET_TAIL = 4.0  # p99/p50 at 16 connections
HANDOVER_PATH = "/api/v1/counter/handover"

SUBJECTS = ("limit", "old", "handover", "floor", "floor_auth")
# The handover server's own floors (`bench.server.add_floors`): the same process, middleware and
# thread-pool hop as the handover, a sync endpoint that parses the same body and writes nothing;
# `floor_auth` adds the caller: a cached bearer token confirmed in a transaction of its own (the
# auth epoch, app/auth/token_cache.py). What the framework costs before any dosing work.
PATHS = {
    "limit": "/bench/insert",
    "old": "/bench/insert",
    "handover": HANDOVER_PATH,
    "floor": "/bench/floor",
    "floor_auth": "/bench/floor-auth",
}
SERVED_BY = {"floor": "handover", "floor_auth": "handover"}


def labels(kind: str) -> dict[str, str]:
    driver = "sqlite3, one writer thread" if kind == "sqlite" else "async psycopg, a pool"
    return {
        "limit": f"limit: bare ASGI + raw {driver}",
        "old": "old baseline: same thread pool + SQLAlchemy engine",
        "handover": "handover: full stack",
        "floor": "floor: same app, parse the body, no DB",
        "floor_auth": "floor + the caller (token cache + epoch)",
    }


def build(db: common.BenchDB, patients: int, pharmacies: int) -> list[tuple[str, str]]:
    """(patient id, a bearer token of a counter colleague at the patient's pharmacy) each."""
    settings = common.settings_for(db.url)
    world = common.make_world(db, settings)
    first = common.make_branch(world)
    branches = [first] + [
        common.make_branch(world, key_worker_id=first.key_worker_id, prescriber_id=first.prescriber_id)
        for _ in range(pharmacies - 1)
    ]  # fmt: skip
    for branch in branches:
        # Every patient's every day at the highest dose the bench prescribes, in mL.
        common.receive_stock(world, branch, Decimal(200 * 14 * (patients // pharmacies + 1)))
    started = time.perf_counter()
    out = []
    for i in range(patients):
        branch = branches[i % pharmacies]
        patient_id = common.register_patient(world, branch)
        common.prescribe(world, branch, patient_id)
        # Pharmacists only: the not-intoxicated attestation at a handover is theirs alone.
        pharmacists = branch.tokens[:2]
        out.append((str(patient_id), pharmacists[(i // pharmacies) % len(pharmacists)]))
    common.analyze(db)
    print(
        f"  setup: {patients} patients + prescriptions at {pharmacies} pharmacies through the "
        f"services in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    return out


def request_lines(patients: list[tuple[str, str]], days: int) -> list[wrk.Line]:
    """Day-major: every patient's dose on day 0, then on day 1, …"""
    out = []
    for day in range(days):
        date = (common.TODAY + timedelta(days=day)).isoformat()
        for patient_id, token in patients:
            body = {
                "patient_id": patient_id,
                "date": date,
                "outcome": "supervised",
                "intoxicated": False,
                "children_present": [],
            }
            out.append(wrk.Line(f"Bearer {token}", day, json.dumps(body, separators=(",", ":"))))
    return out


def as_call(line: wrk.Line, path: str) -> common.Call:
    headers = {"Authorization": line.authorization, "x-bench-day": str(line.day)}
    return common.Call("POST", path, json.loads(line.body), headers)


def settle(served: common.Served, limit_s: float = 5.0) -> None:
    """Wait until the server's CPU clock stands still (the requests in flight when wrk stopped
    have finished), so that their CPU is counted in the block that sent them."""
    deadline = time.monotonic() + limit_s
    last = served.cpu_seconds()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = served.cpu_seconds()
        if now == last:
            return
        last = now


def load_1min() -> float:
    return float(common.load_average().split()[0])


class Walker:
    """Runs wrk blocks against the servers of the moment; the handover's list is never sent
    twice. Counts every block it runs (warm-ups too), per subject, for the final check."""

    def __init__(self, requests: Path, size: int) -> None:
        self.servers: dict[str, common.Served] = {}
        self.requests = requests
        self.size = size
        self.next_line = 0  # the handover's next unsent line
        self.all: dict[str, list[wrk.Block]] = {name: [] for name in SUBJECTS}

    def block(self, name: str, connections: int, seconds: float) -> wrk.Block:
        served = self.servers[SERVED_BY.get(name, name)]
        handover = name == "handover"
        load = load_1min()
        before = served.cpu_seconds()
        result = wrk.run(
            served.base_url + PATHS[name],
            self.requests,
            connections=connections,
            seconds=seconds,
            first=self.next_line if handover else 0,
            wrap=not handover,
        )
        if handover:
            self.next_line += result.sent
        settle(served)
        result.server_cpu_s = served.cpu_seconds() - before
        result.load = [load, load_1min()]
        self.all[name].append(result)
        return result


def measure(
    walker: Walker, connections: list[int], blocks: int, seconds: float
) -> dict[int, dict[str, wrk.Block]]:
    out: dict[int, dict[str, wrk.Block]] = {}
    for c in connections:
        runs: dict[str, list[wrk.Block]] = {name: [] for name in SUBJECTS}
        for _ in range(blocks):
            for name in SUBJECTS:
                runs[name].append(walker.block(name, c, seconds))
        out[c] = {name: wrk.merge(bs) for name, bs in runs.items()}
        print(
            f"  {c} connections measured; handover list at {walker.next_line}/{walker.size}; "
            f"load average {common.load_average()}",
            flush=True,
        )
    return out


def count_rows(db: common.BenchDB, bases: common.BenchDB) -> dict[str, int]:
    def count(on: common.BenchDB, sql: str) -> int:
        with on.engine.connect() as conn:
            return int(conn.execute(text(sql)).scalar_one())

    return {
        "handover": count(db, "SELECT count(*) FROM instalment_days WHERE state = 'supervised'"),
        "limit": count(bases, "SELECT count(*) FROM bench_limit"),
        "old": count(bases, "SELECT count(*) FROM bench_baseline"),
    }


def pg_connection_budget(workers: list[int], limit_workers: int, pool: int) -> None:
    """Say whether the servers' pools fit in PostgreSQL's max_connections: past it, a server's
    new connection fails ("too many clients already") and a handover answers 503, which makes
    the run INVALID. The engines (`app.db.make_engine`) may open pool_size 8 + max_overflow 4
    connections per process (the settings' defaults); other sessions' connections count too."""
    with common._admin() as conn:
        limit = int(conn.execute(text("SHOW max_connections")).scalar_one())
        in_use = int(conn.execute(text("SELECT count(*) FROM pg_stat_activity")).scalar_one())
    per_process = 8 + 4
    most = max(workers) * per_process + limit_workers * (per_process + pool)
    print(
        f"  PostgreSQL connections: max_connections {limit}, {in_use} in use now; the servers may "
        f"open up to {most} ({max(workers)} x {per_process} for the handover, {limit_workers} x "
        f"{per_process} for the old baseline, {limit_workers} x {pool} for the limit)"
        + (": may run out" if most + in_use > limit else ""),
        flush=True,
    )


def ms(value: float) -> str:
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def run(
    kind: str,
    *,
    patients: int,
    days: int,
    connections: list[int],
    blocks: int,
    seconds: float,
    warmup: float,
    pharmacies: int = 1,
    workers: list[int] | None = None,
    limit_workers: int = 1,
    pool: int = 16,
    httpx_requests: int = 300,
    profile: bool = False,
) -> dict[str, Any]:
    workers = workers or [1]
    common.banner(
        f"handover on {kind}: {patients} patients at {pharmacies} pharmacies x {days} days; "
        f"wrk at {' and '.join(map(str, connections))} connections, {blocks} blocks of "
        f"{seconds:g} s each; {' then '.join(map(str, workers))} server process(es) for the "
        f"handover, {limit_workers} for the limit and for the old baseline"
    )
    print(f"  load average at start: {common.load_average()}", flush=True)
    if kind == "postgres":
        pg_connection_budget(workers, limit_workers, pool)
    name = labels(kind)
    by_workers: dict[int, dict[str, Any]] = {}
    old_method: dict[str, dict[str, float]] = {}
    with contextlib.ExitStack() as stack:
        db = stack.enter_context(common.database(kind, "handover"))
        people = build(db, patients, pharmacies)
        db.dispose()
        # The limit and the old baseline write to a database of their own on the same disk (or
        # PostgreSQL cluster): on SQLite, WAL checkpoints of the handover's pages must not fall
        # on the baselines' commits (nor theirs on the handover's).
        bases = stack.enter_context(common.database(kind, "baselines"))
        BASELINE.metadata.create_all(bases.engine, tables=[BASELINE, LIMIT])
        bases.dispose()
        lines = request_lines(people, days)
        requests = wrk.write_requests(lines)
        stack.callback(requests.unlink, missing_ok=True)
        walker = Walker(requests, len(lines))
        for w in workers:
            lw = limit_workers
            with contextlib.ExitStack() as servers_up:
                procs = ("--workers", str(w))
                base_procs = ("--workers", str(lw))
                limit_args = (*base_procs, "--pool", str(pool))
                product_args = ("--app", "dosekeeper", "--now", common.NOW.isoformat(), *procs)
                starting = {
                    "limit": common.serve("--url", bases.url, *limit_args, module="bench.limit"),
                    "old": common.serve("--app", "bare", "--url", bases.url, *base_procs),
                    "handover": common.serve("--url", db.url, *product_args),
                }
                servers = {k: servers_up.enter_context(v) for k, v in starting.items()}
                walker.servers = servers
                walker.block("floor", max(connections), warmup)
                if profile:
                    title = f"full handover server on {kind}, {w} process(es)"
                    servers_up.enter_context(common.pyspy(servers["handover"].process.pid, title))
                # Warm-up: imports, pools, each process's statement caches, planner statistics.
                walker.block("limit", max(connections), warmup * lw)
                walker.block("old", max(connections), warmup * lw)
                walker.block("handover", max(connections), warmup * w)
                results = measure(walker, connections, blocks, seconds)
                if w == workers[0] and httpx_requests:
                    old_method = old_yardstick(walker, lines, httpx_requests)
                for served in servers.values():
                    settle(served)
            by_workers[w] = report(kind, name, results, w, lw)
        recorded = count_rows(db, bases)
    if old_method:
        bare, full = old_method["bare"], old_method["full"]
        print(
            f"  old method (httpx.AsyncClient, 16 connections, {workers[0]} process(es), as "
            f"before issue 21): old baseline {bare['rps']:.0f} req/s, p99 {ms(bare['p99'])} ms; "
            f"handover {full['rps']:.0f} req/s, p50 {ms(full['p50'])} ms, p99 "
            f"{ms(full['p99'])} ms; ratio {full['rps'] / bare['rps']:.2f}"
        )
    if len(workers) > 1:
        scale_out(by_workers, connections)
    valid = check(walker, old_method, recorded)
    print(f"  load average at end: {common.load_average()}")
    result = {
        "db": kind,
        "by_workers": by_workers,
        "old_method": old_method,
        "recorded": recorded,
        "valid": valid,
        "load_average_end": common.load_average(),
    }
    common.dump(f"handover.{kind}", result)
    return result


def old_yardstick(
    walker: Walker, lines: list[wrk.Line], requests: int
) -> dict[str, dict[str, float]]:
    """The method before issue 21: httpx at 16 connections, old baseline vs handover."""
    start = walker.next_line
    handovers = [as_call(line, HANDOVER_PATH) for line in lines[start : start + requests]]
    if len(handovers) < requests:
        print("  (old method skipped: the handover list ran out; raise --patients or --days)")
        return {}
    inserts = [as_call(line, "/bench/insert") for line in lines[:requests]]
    servers = walker.servers
    walker.next_line += requests  # before the run: a failure must not leave them reusable
    return common.interleave(
        {"bare": (servers["old"], inserts), "full": (servers["handover"], handovers)},
        warmup=0,
        blocks=2,
        concurrency=16,
        expect=201,  # anything else stops the benchmark
    )


def report(
    kind: str,
    name: dict[str, str],
    results: dict[int, dict[str, wrk.Block]],
    workers: int,
    limit_workers: int,
) -> dict[str, Any]:
    rows = []
    summaries: dict[int, dict[str, dict[str, Any]]] = {}
    for c, by_name in results.items():
        summaries[c] = {}
        for subject in SUBJECTS:
            s = by_name[subject].summary()
            summaries[c][subject] = s
            low, high = s["load"]
            rows.append([
                c, name[subject], s["requests"], f"{s['rps']:.0f}", ms(s["p50"]), ms(s["p90"]),
                ms(s["p99"]), f"{s['p99_over_p50']:.1f}", f"{s['server_cpu_ms']:.2f}",
                s["not_expected"] + s["errors"], f"{low:.1f}-{high:.1f}",
            ])  # fmt: skip
    header = ["conns", "server", "responses", "req/s", "p50 ms", "p90 ms", "p99 ms", "p99/p50",
              "server CPU ms/req", "not 201", "load 1-min"]  # fmt: skip
    print(f"  {kind}, {workers} process(es) for the handover, "
          f"{limit_workers} for the limit and for the old baseline:")  # fmt: skip
    print(common.table(rows, header))
    verdicts: dict[str, bool] = {}
    for c, by in summaries.items():
        lim, old, full = by["limit"], by["old"], by["handover"]
        ratio = full["rps"] / lim["rps"]
        line = f"  {c:>2} connections: handover/limit = {ratio:.2f}"
        if c == 16:
            verdicts["ratio_16"] = ratio >= TARGET_RATIO
            line += f" (target >= {TARGET_RATIO:.2f}: {common.verdict(verdicts['ratio_16'])})"
        line += f"; handover/old baseline = {full['rps'] / old['rps']:.2f} (the old yardstick)"
        print(line)
        if c in TARGET_P99_MS:
            ok = full["p99"] <= TARGET_P99_MS[c]
            verdicts[f"p99_{c}"] = ok
            print(
                f"     handover p99 = {ms(full['p99'])} ms (target <= {TARGET_P99_MS[c]:.0f} ms: "
                f"{common.verdict(ok)})"
            )
        if c == 16:
            verdicts["tail_16"] = full["p99_over_p50"] < TARGET_TAIL
            print(
                f"     handover p99/p50 = {full['p99_over_p50']:.1f} (target < {TARGET_TAIL:.0f}:"
                f" {common.verdict(verdicts['tail_16'])}); limit p99/p50 = "
                f"{lim['p99_over_p50']:.1f}"
            )
        print(
            f"     server CPU per request: handover {full['server_cpu_ms']:.2f} ms, limit "
            f"{lim['server_cpu_ms']:.2f} ms ({full['server_cpu_ms'] / lim['server_cpu_ms']:.0f}x)"
            f", old baseline {old['server_cpu_ms']:.2f} ms"
        )
        floor, floor_auth = by["floor"], by["floor_auth"]
        print(
            f"     the framework's floor: {floor['rps']:.0f} req/s, {floor['server_cpu_ms']:.2f}"
            f" ms CPU/req ({floor['rps'] / lim['rps']:.2f} of the limit); with the caller "
            f"{floor_auth['rps']:.0f} req/s, {floor_auth['server_cpu_ms']:.2f} ms "
            f"({floor_auth['rps'] / lim['rps']:.2f}); the handover's own work "
            f"{full['server_cpu_ms'] - floor_auth['server_cpu_ms']:.2f} ms CPU/req"
        )
        print(
            f"     per process: handover {full['rps'] / workers:.0f} req/s x {workers}, limit "
            f"{lim['rps'] / limit_workers:.0f} req/s x {limit_workers}"
        )
    return {
        "workers": workers,
        "limit_workers": limit_workers,
        "wrk": {str(c): {k: _brief(v) for k, v in by.items()} for c, by in summaries.items()},
        "verdicts": verdicts,
    }


def scale_out(by_workers: dict[int, dict[str, Any]], connections: list[int]) -> None:
    rows = []
    for w, r in by_workers.items():
        for c in connections:
            full, lim = r["wrk"][str(c)]["handover"], r["wrk"][str(c)]["limit"]
            rows.append([
                w, c, f"{full['rps']:.0f}", f"{full['rps'] / w:.0f}", ms(full["p50"]),
                ms(full["p99"]), f"{full['server_cpu_ms']:.2f}", f"{lim['rps']:.0f}",
                r["limit_workers"], f"{full['rps'] / lim['rps']:.2f}",
            ])  # fmt: skip
    print("  scale-out:")
    print(common.table(rows, ["processes", "conns", "handover req/s", "per process", "p50 ms",
                              "p99 ms", "CPU ms/req", "limit req/s", "limit processes",
                              "ratio"]))  # fmt: skip


def check(
    walker: Walker, old_method: dict[str, dict[str, float]], recorded: dict[str, int]
) -> bool:
    """Every request of every block (warm-ups too) must have been answered 201: a benchmark that
    measures refusals is worthless. Prints the counts and says whether the run is valid."""
    valid = True
    for name in SUBJECTS:
        total = wrk.merge(walker.all[name])
        failed = total.not_expected + total.socket_errors
        if failed:
            valid = False
            print(f"  INVALID: {name}: {total.not_expected} responses not 201 {total.statuses}, "
                  f"{total.socket_errors} socket errors/timeouts; e.g. {total.sample}")  # fmt: skip
        if name == "handover":
            httpx = int(old_method["full"]["requests"]) if old_method else 0
            print(
                f"  handovers: {total.ok} answered 201 to wrk, {total.not_expected} not "
                f"(printed by walk.lua's response()), {total.socket_errors} socket "
                f"errors/timeouts, + {httpx} answered 201 to httpx; {walker.next_line} lines "
                f"sent, {recorded['handover']} recorded in the database (a line sent just as "
                f"wrk stopped may or may not be)"
            )
            if total.exhausted:
                valid = False
                print("  INVALID: the handover list ran out in a block: raise --patients/--days")
    return valid


def _brief(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in summary.items()}


def main(argv: list[str] | None = None) -> None:
    ap = common.parser(__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=800, help="patients set up through services")
    ap.add_argument("--days", type=int, default=5, help="dispensing days per patient (max 11)")
    ap.add_argument(
        "--connections",
        "--concurrency",
        type=int,
        nargs="+",
        default=[16, 2],
        help="wrk keep-alive connections, one measurement each (default: 16 2)",
    )
    ap.add_argument("--blocks", type=int, default=3, help="alternating blocks per measurement")
    ap.add_argument("--seconds", type=float, default=4, help="length of one wrk block")
    ap.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per server process")
    ap.add_argument("--pharmacies", type=int, default=1, help="patients spread over N pharmacies")
    ap.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1],
        help="uvicorn processes for the handover; several values are measured in turn on the "
        "same database, e.g. --workers 1 2 4 (throughput per process is printed)",
    )
    ap.add_argument(
        "--limit-workers",
        type=int,
        default=1,
        help="uvicorn processes for the limit and the old baseline (default 1: the limit was "
        "measured as fast with 1 as with 2, with better tails)",
    )
    ap.add_argument("--pool", type=int, default=16, help="limit's PostgreSQL connections/process")
    ap.add_argument(
        "--httpx-requests", type=int, default=300, help="per server, old method (0: skip)"
    )
    ap.add_argument("--profile", action="store_true", help="py-spy the full server (slower)")
    args = ap.parse_args(argv)
    if not 1 <= args.days <= 11:
        ap.error("--days must be 1..11 (a 14-day prescription warns it is ending after that)")
    common.print_machine()
    print(f"servers: {common.uvicorn_implementation()}; client: wrk {wrk.version()}", flush=True)
    valid = True
    for kind in common.kinds(args.db):
        result = run(
            kind,
            patients=args.patients,
            days=args.days,
            connections=args.connections,
            blocks=args.blocks,
            seconds=args.seconds,
            warmup=args.warmup,
            pharmacies=args.pharmacies,
            workers=args.workers,
            limit_workers=args.limit_workers,
            pool=args.pool,
            httpx_requests=args.httpx_requests,
            profile=args.profile,
        )
        valid = valid and bool(result["valid"])
    if not valid:
        raise SystemExit("handover benchmark INVALID: see the lines marked INVALID above")


if __name__ == "__main__":
    main()
