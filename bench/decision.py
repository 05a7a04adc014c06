"""Counter decision and due list as dose history grows: 1x vs 10x history (DESIGN §8).

Two databases, identical except for history: P patients at one pharmacy, each registered with a
14-day supervised prescription starting today through the real services; then, inserted in bulk
with SQL, past prescriptions (completed, 14 days each) and one recorded instalment per past day —
supervised, a Sunday take-home collected on the Saturday, and a missed day every 17th day —
for 30 days (1x) or 300 days (10x) before today. Both are served at once by uvicorn processes
with the same fixed clock, and calls alternate between them one by one (sequential, one
keep-alive connection each): POST /api/v1/counter/check for each patient, and GET
/api/v1/counter/due for the pharmacy (every patient's decision). Prints time per call and the
10x/1x ratio of medians. Target: <= 1.5x.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import httpx

from app.dosing.models import InstalmentDay
from app.prescriptions.models import Prescription
from bench import common

TARGET_RATIO = 1.5
MG = 60


def history_rows(
    branch: common.Branch, patient_id: UUID, days: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Prescriptions and recorded instalments for the `days` days before today."""
    prescriptions, instalments = [], []
    end = common.TODAY - timedelta(days=1)
    first = common.TODAY - timedelta(days=days)
    while end >= first:
        start = max(first, end - timedelta(days=13))
        rx = common.prescription_row(
            patient_id=patient_id,
            pharmacy_id=branch.pharmacy_id,
            prescriber_id=branch.prescriber_id,
            start=start,
            days=(end - start).days + 1,
            mg=MG,
            status="completed",
            entered_by=branch.pharmacist.id,
            verified_by=branch.pharmacist2.id,
        )
        prescriptions.append(rx)
        day = start
        while day <= end:
            instalments.append(_instalment(branch, rx["id"], patient_id, day))
            day += timedelta(days=1)
        end = start - timedelta(days=1)
    return prescriptions, instalments


def _instalment(branch: common.Branch, rx_id: UUID, patient_id: UUID, day: date) -> dict[str, Any]:
    ago = (common.TODAY - day).days
    state, mode, collect_on = "supervised", "supervised", day
    if ago % 17 == 5:
        state = "missed"
    elif day.weekday() == 6:
        state, mode, collect_on = "collected", "take_home", day - timedelta(days=1)
    return common.instalment_row(
        prescription_id=rx_id,
        patient_id=patient_id,
        pharmacy_id=branch.pharmacy_id,
        day=day,
        mg=MG,
        state=state,
        recorded_by=branch.pharmacist.id,
        mode=mode,
        collect_on=collect_on,
    )


def build(kind: str, patients: int, history: int) -> tuple[common.BenchDB, list[str], str]:
    db = common.create_database(kind, f"decision{history}")
    settings = common.settings_for(db.url)
    world = common.make_world(db, settings)
    branch = common.make_branch(world)
    started = time.perf_counter()
    ids = []
    for _ in range(patients):
        patient_id = common.register_patient(world, branch)
        common.prescribe(world, branch, patient_id, mg=MG)
        ids.append(patient_id)
    through_services = time.perf_counter() - started
    prescriptions, instalments = [], []
    for patient_id in ids:
        rx, days = history_rows(branch, patient_id, history)
        prescriptions += rx
        instalments += days
    common.bulk_load(
        db, [(Prescription.__table__, prescriptions), (InstalmentDay.__table__, instalments)]
    )
    common.analyze(db)
    db.dispose()
    print(
        f"  setup {history:>4} days: {patients} patients through the services in "
        f"{through_services:.1f} s; {len(prescriptions)} past prescriptions and "
        f"{len(instalments)} past instalments in bulk in "
        f"{time.perf_counter() - started - through_services:.1f} s",
        flush=True,
    )
    return db, [str(i) for i in ids], branch.tokens[0]


def timed(client: httpx.Client, method: str, path: str, **kw: Any) -> float:
    started = time.perf_counter()
    response = client.request(method, path, **kw)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{method} {path}: {response.status_code} {response.text[:300]}")
    return elapsed


def run(kind: str, patients: int, histories: tuple[int, int], rounds: int, due_calls: int) -> None:
    small, large = histories
    common.banner(
        f"decision on {kind}: {patients} patients, {small} vs {large} days of history "
        f"({large / small:.0f}x)"
    )
    built = {h: build(kind, patients, h) for h in histories}
    samples: dict[str, dict[int, list[float]]] = {"check": {}, "due": {}}
    cpu: dict[str, dict[int, float]] = {"check": {}, "due": {}}
    try:
        with (
            common.serve(
                "--app", "dosekeeper", "--url", built[small][0].url, "--now", common.NOW.isoformat()
            ) as s_small,
            common.serve(
                "--app", "dosekeeper", "--url", built[large][0].url, "--now", common.NOW.isoformat()
            ) as s_large,
        ):
            servers = {small: s_small, large: s_large}
            clients = {
                h: httpx.Client(
                    base_url=served.base_url,
                    headers={"Authorization": f"Bearer {built[h][2]}"},
                    trust_env=False,
                    timeout=60,
                )
                for h, served in servers.items()
            }

            def call(what: str, h: int, method: str, path: str, **kw: Any) -> None:
                before = servers[h].cpu_seconds()
                samples[what].setdefault(h, []).append(timed(clients[h], method, path, **kw))
                cpu[what][h] = cpu[what].get(h, 0.0) + servers[h].cpu_seconds() - before

            # Warm-up: a due list and a few checks on each.
            for h in histories:
                timed(clients[h], "GET", "/api/v1/counter/due")
                for patient_id in built[h][1][:5]:
                    timed(
                        clients[h], "POST", "/api/v1/counter/check", json={"patient_id": patient_id}
                    )
            # Alternate between the two databases call by call.
            for _ in range(rounds):
                for i in range(patients):
                    for h in histories:
                        body = {"patient_id": built[h][1][i]}
                        call("check", h, "POST", "/api/v1/counter/check", json=body)
            for _ in range(due_calls):
                for h in histories:
                    call("due", h, "GET", "/api/v1/counter/due")
            for client in clients.values():
                client.close()
    finally:
        for db, _, _ in built.values():
            db.drop()
    rows = []
    result: dict[str, Any] = {"db": kind, "patients": patients, "histories": histories}
    for what, name in (("check", "POST /counter/check"), ("due", "GET /counter/due")):
        got = samples[what]
        p50 = {h: common.percentile(got[h], 50) for h in histories}
        p90 = {h: common.percentile(got[h], 90) for h in histories}
        cpu_ms = {h: cpu[what][h] / len(got[h]) * 1000 for h in histories}
        ratio = p50[large] / p50[small]
        rows.append(
            [name, len(got[small]), f"{p50[small]:.1f}", f"{p90[small]:.1f}",
             f"{cpu_ms[small]:.1f}", f"{p50[large]:.1f}", f"{p90[large]:.1f}",
             f"{cpu_ms[large]:.1f}", f"{ratio:.2f}x", f"{cpu_ms[large] / cpu_ms[small]:.2f}x",
             common.verdict(ratio <= TARGET_RATIO)]
        )  # fmt: skip
        result[name] = {"p50": p50, "p90": p90, "server_cpu_ms": cpu_ms, "ratio": ratio}
    header = [
        "call", "calls each",
        f"{small}d p50 ms", f"{small}d p90 ms", f"{small}d CPU ms",
        f"{large}d p50 ms", f"{large}d p90 ms", f"{large}d CPU ms",
        "ratio p50", "ratio CPU", f"target <= {TARGET_RATIO}x (p50)",
    ]  # fmt: skip
    print(common.table(rows, header))
    print(
        f"  (the due list covers all {patients} patients in one call; CPU = the server "
        "process's CPU per call)"
    )
    print(f"  load average at end: {common.load_average()}")
    common.dump(f"decision.{kind}", result)


def main(argv: list[str] | None = None) -> None:
    ap = common.parser(__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=30)
    ap.add_argument("--history", type=int, nargs=2, default=(30, 300), metavar=("SMALL", "LARGE"))
    ap.add_argument("--rounds", type=int, default=4, help="checks per patient")
    ap.add_argument("--due-calls", type=int, default=12)
    args = ap.parse_args(argv)
    common.print_machine()
    for kind in common.kinds(args.db):
        run(kind, args.patients, tuple(args.history), args.rounds, args.due_calls)


if __name__ == "__main__":
    main()
