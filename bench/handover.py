"""Record a supervised dose through the full stack vs a bare ASGI insert (DESIGN §8).

Full stack: POST /api/v1/counter/handover with a bearer token — authentication (a token lookup),
the patient's facts and the counter rules, the conditional UPDATE of the ledger row, the audit
chain append, the alert rules and outbox — served by uvicorn on 127.0.0.1 in its own process.
Baseline: a raw ASGI endpoint served the same way that parses the same JSON body and does one
INSERT into the same database (same engine rules: WAL, synchronous=FULL, BEGIN IMMEDIATE on
SQLite). Both are driven at 16 concurrent keep-alive connections by httpx.AsyncClient.

Setup goes through the real services: N patients, each registered, with a 14-day supervised
prescription transcribed and second-checked at a fixed "today". The server's clock is that
fixed instant moved on by the `x-bench-day` header, so each patient is handed a dose on each
of `--days` consecutive days (day-major order: no request waits on another for the same
patient) without stopping the load between days. Targets: throughput ratio >= 0.30, p99 <= 50 ms.
"""

from __future__ import annotations

import contextlib
import time
from datetime import timedelta

from bench import common
from bench.server import BASELINE

TARGET_RATIO = 0.30
TARGET_P99_MS = 50.0


def build(db: common.BenchDB, patients: int, pharmacies: int) -> list[tuple[str, str]]:
    """(patient id, a bearer token of a counter colleague at the patient's pharmacy) each."""
    settings = common.settings_for(db.url)
    world = common.make_world(db, settings)
    first = common.make_branch(world)
    branches = [first] + [
        common.make_branch(world, key_worker_id=first.key_worker_id, prescriber_id=first.prescriber_id)
        for _ in range(pharmacies - 1)
    ]  # fmt: skip
    started = time.perf_counter()
    out = []
    for i in range(patients):
        branch = branches[i % pharmacies]
        patient_id = common.register_patient(world, branch)
        common.prescribe(world, branch, patient_id)
        # Pharmacists only: the not-intoxicated attestation at a handover is theirs alone.
        pharmacists = branch.tokens[:2]
        out.append((str(patient_id), pharmacists[(i // pharmacies) % len(pharmacists)]))
    BASELINE.create(db.engine, checkfirst=True)
    common.analyze(db)
    print(
        f"  setup: {patients} patients + prescriptions at {pharmacies} pharmacies through the "
        f"services in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    return out


def calls(patients: list[tuple[str, str]], days: int) -> list[common.Call]:
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
            headers = {"Authorization": f"Bearer {token}", "x-bench-day": str(day)}
            out.append(common.Call("POST", "/api/v1/counter/handover", body, headers))
    return out


def run(
    kind: str,
    patients: int,
    days: int,
    concurrency: int,
    blocks: int,
    pharmacies: int = 1,
    profile: bool = False,
    workers: int = 1,
) -> dict[str, object]:
    common.banner(
        f"handover on {kind}: {patients} patients at {pharmacies} pharmacies x {days} days, "
        f"{concurrency} connections, {workers} server process(es) each"
    )
    with common.database(kind, "handover") as db:
        people = build(db, patients, pharmacies)
        db.dispose()
        full = calls(people, days)
        bare = [common.Call("POST", "/bench/insert", c.body) for c in full]
        warmup = max(concurrency * 4, len(full) // 20)
        procs = ("--workers", str(workers))
        with (
            common.serve("--app", "bare", "--url", db.url, *procs) as bare_server,
            common.serve(
                "--app", "dosekeeper", "--url", db.url, "--now", common.NOW.isoformat(), *procs
            ) as full_server,
        ):
            profiling = (
                common.pyspy(full_server.process.pid, f"full handover server on {kind}")
                if profile
                else contextlib.nullcontext()
            )
            with profiling:
                results = common.interleave(
                    {"bare": (bare_server, bare), "full": (full_server, full)},
                    warmup=warmup,
                    blocks=blocks,
                    concurrency=concurrency,
                    expect=201,
                )
    base, stack = results["bare"], results["full"]
    ratio = stack["rps"] / base["rps"]
    rows = [
        [name, r["requests"], f"{r['rps']:.0f}", f"{r['p50']:.1f}", f"{r['p90']:.1f}",
         f"{r['p99']:.1f}", f"{r['server_cpu_ms']:.2f}"]
        for name, r in (("bare insert (baseline)", base), ("full handover", stack))
    ]  # fmt: skip
    print(common.table(rows, ["endpoint", "requests", "req/s", "p50 ms", "p90 ms", "p99 ms",
                              "server CPU ms/req"]))  # fmt: skip
    print(f"  throughput ratio full/bare = {ratio:.2f} (target >= {TARGET_RATIO:.2f}: "
          f"{common.verdict(ratio >= TARGET_RATIO)})")  # fmt: skip
    print(f"  full handover p99 = {stack['p99']:.1f} ms (target <= {TARGET_P99_MS:.0f} ms: "
          f"{common.verdict(stack['p99'] <= TARGET_P99_MS)})")  # fmt: skip
    print(f"  load average at end: {common.load_average()}")
    result = {
        "db": kind,
        "pharmacies": pharmacies,
        "workers": workers,
        "baseline": base,
        "handover": stack,
        "ratio": ratio,
    }
    common.dump(f"handover.{kind}", result)
    return result


def main(argv: list[str] | None = None) -> None:
    ap = common.parser(__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=100, help="patients set up through services")
    ap.add_argument("--days", type=int, default=6, help="dispensing days per patient (max 11)")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--pharmacies", type=int, default=1, help="patients spread over N pharmacies")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn processes per server")
    ap.add_argument("--blocks", type=int, default=5, help="alternating baseline/subject blocks")
    ap.add_argument("--profile", action="store_true", help="py-spy the full server (slower)")
    args = ap.parse_args(argv)
    if not 1 <= args.days <= 11:
        ap.error("--days must be 1..11 (a 14-day prescription warns it is ending after that)")
    common.print_machine()
    for kind in common.kinds(args.db):
        run(
            kind,
            args.patients,
            args.days,
            args.concurrency,
            args.blocks,
            args.pharmacies,
            args.profile,
            args.workers,
        )


if __name__ == "__main__":
    main()
