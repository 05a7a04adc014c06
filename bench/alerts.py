"""Alert raised -> signed webhook received, and how fast the outbox drains (DESIGN §8).

A key worker's contact has only a webhook, pointing at a local receiver (bench/receiver.py, its
own process, HTTP/1.1 keep-alive, verifying every signature with `standardwebhooks`).

1. Baseline: the receiver's raw throughput — N signed POSTs from a plain httpx.Client shared by
   16 threads (the worker's own sending concurrency).
2. Latency: a delivery worker (`app.notify.worker.Worker.run`) runs in a thread with a short
   poll interval while alerts are raised one by one through `safeguarding.service.raise_alert`
   (alert, history, audit, routing and outbox in one transaction) at a steady rate; latency is
   from each alert's commit to its receipt at the receiver (both on CLOCK_MONOTONIC). Target:
   p99 <= 1 s.
3. Drain: N open alerts with one pending webhook delivery each (loaded in bulk, as the outbox
   leaves them), then one worker drains them with `Worker.drain`, the loop `Worker.run` runs
   (claim a batch and send it on the worker's 16 threads; while it sends, claim the next and
   queue it behind; record each batch on the recorder thread while the next one sends).
   Target: >= 500 deliveries/s.
   `--sequential` drains with `run_once` instead (claim, send, record, one batch at a time).
   `--drains N` repeats the drain N times on the same database; the slowest counts.
   `--alerts 0` skips the latency part. `--drain-workers N` drains with N worker processes
   together (each its own engine and pool), and checks every delivery arrived exactly once.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from app.actor import Actor
from app.clock import SystemClock
from app.config import NotifySettings, Settings
from app.contacts.models import Contact
from app.db import UnitOfWork
from app.notify.models import Delivery, DeliveryState
from app.safeguarding import rules as safeguarding_rules
from app.safeguarding import service as safeguarding_service
from app.safeguarding.delivery import alert_worker
from app.safeguarding.models import Alert
from bench import common

TARGET_P99_S = 1.0
TARGET_RATE = 500.0
EVENT = safeguarding_rules.missed_dose_events(
    days_without_dose=2, children=(), policy_missed_threshold=3
)[0]  # a warning to the key worker


def raw_throughput(receiver: str, secret: str, count: int, threads: int = 16) -> float:
    webhook = Webhook(secret)
    client = httpx.Client(timeout=10, trust_env=False, follow_redirects=False)

    def post(i: int) -> int:
        event_id = str(uuid.uuid4())
        body = (
            '{"data":{"alert_id":"raw-%d"},"id":"%s","specversion":"1.0"}' % (i, event_id)  # noqa: UP031
        )
        now = datetime.now(UTC)
        headers = {
            "content-type": "application/cloudevents+json; charset=utf-8",
            "webhook-id": event_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": webhook.sign(event_id, now, body),
        }
        return client.post(f"{receiver}/hooks", content=body, headers=headers).status_code

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(post, range(threads * 4)))  # warm-up: open the connections
        started = time.perf_counter()
        statuses = list(pool.map(post, range(count)))
        elapsed = time.perf_counter() - started
    client.close()
    if set(statuses) != {204}:
        raise SystemExit(f"receiver refused raw posts: {sorted(set(statuses))}")
    return count / elapsed


def raise_alerts(
    uow: UnitOfWork, actor: Actor, branch: common.Branch, patient_id: UUID, days: range
) -> list[str]:
    """One alert (and its delivery) per day in `days`, in one transaction."""
    clock = SystemClock()
    with uow:
        ids = [
            str(
                safeguarding_service.raise_alert(
                    uow.session,
                    EVENT,
                    actor=actor,
                    pharmacy_id=branch.pharmacy_id,
                    patient_id=patient_id,
                    household_id=None,
                    day=common.TODAY - timedelta(days=d),
                    now=clock.now(),
                    routing={},
                ).id
            )
            for d in days
        ]
        uow.commit()
    return ids


def pending_deliveries(
    db: common.BenchDB, branch: common.Branch, patient_id: UUID, contact_id: UUID, count: int
) -> None:
    """`count` open alerts, each with one pending webhook delivery, as `raise_alert` and
    `outbox.enqueue` would leave them (loaded in bulk: only the worker is measured)."""
    now = SystemClock().now()
    alerts, deliveries = [], []
    for i in range(count):
        alert_id = uuid.uuid4()
        alerts.append(
            {
                "id": alert_id,
                "kind": str(EVENT.kind),
                "severity": str(EVENT.severity),
                "state": "open",
                "pharmacy_id": branch.pharmacy_id,
                "patient_id": patient_id,
                "household_id": None,
                "message": EVENT.message,
                "facts": dict(EVENT.facts),
                "recipients": [str(r) for r in EVENT.recipients],
                "dedupe_key": f"bench:{alert_id}:{i}",
                "created_at": now,
                "escalation_level": 0,
                "next_escalation_at": None,
            }
        )
        deliveries.append(
            {
                "id": uuid.uuid4(),
                "event_id": uuid.uuid4(),
                "alert_id": alert_id,
                "contact_id": contact_id,
                "channel": "webhook",
                "reason": "key_worker",
                "escalation_level": 0,
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
        )
    common.bulk_load(db, [(Alert.__table__, alerts), (Delivery.__table__, deliveries)])


def receipts(client: httpx.Client) -> dict[str, Any]:
    return dict(client.get("/stats").json())


def measure_latency(
    world: common.World,
    settings: Settings,
    branch: common.Branch,
    patient_id: UUID,
    stats: httpx.Client,
    alerts: int,
    rate: float,
) -> list[float]:
    """Seconds from each alert's commit to its receipt, with a worker running in a thread."""
    clock = SystemClock()
    worker = alert_worker(world.session_factory, settings, clock, name="bench-latency")
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    committed: dict[str, float] = {}
    interval = 1 / rate
    next_at = time.monotonic()
    for i in range(alerts):
        next_at += interval
        (alert_id,) = raise_alerts(
            world.uow, branch.pharmacist, branch, patient_id, range(i, i + 1)
        )
        committed[alert_id] = time.monotonic()
        time.sleep(max(0.0, next_at - time.monotonic()))
    deadline = time.monotonic() + 30
    while receipts(stats)["verified"] < alerts and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    thread.join(timeout=30)
    worker.close()
    got = receipts(stats)
    latencies = [got["receipts"][a] - t for a, t in committed.items() if a in got["receipts"]]
    if len(latencies) != alerts or got["failed"]:
        raise SystemExit(f"received {len(latencies)}/{alerts}, {got['failed']} unverified")
    stats.post("/reset")
    return latencies


def _drain_process(url: str, notify: NotifySettings, name: str, go: Any, done: Any) -> None:
    """One delivery worker in a process of its own (`--drain-workers`): its own engine and
    pool, as a second `dosekeeper worker` would have; drains once `go` is set."""
    from app.db import make_engine, make_session_factory

    settings = common.settings_for(url, notify=notify)
    worker = alert_worker(
        make_session_factory(make_engine(url)), settings, SystemClock(), name=name
    )
    go.wait()
    try:
        done.put((name, worker.drain()))
    finally:
        worker.close()


def drain_in_processes(url: str, settings: Settings, processes: int) -> float:
    """Seconds for `processes` worker processes to drain the backlog together, from the moment
    all are ready to the moment the last returns (each stops when nothing is due)."""
    context = multiprocessing.get_context("spawn")
    go, done = context.Event(), context.Queue()
    workers = [
        context.Process(
            target=_drain_process, args=(url, settings.notify, f"bench-drain-{i}", go, done)
        )
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    time.sleep(3)  # imports and engines: each process is ready long before this
    started = time.perf_counter()
    go.set()
    attempted = dict(done.get(timeout=600) for _ in workers)
    drained_s = time.perf_counter() - started
    for worker in workers:
        worker.join(timeout=30)
    print(f"  drain by {processes} worker processes: attempted {attempted}")
    return drained_s


def drain_once(
    db: common.BenchDB,
    world: common.World,
    settings: Settings,
    branch: common.Branch,
    patient_id: UUID,
    hook: UUID,
    stats: httpx.Client,
    count: int,
    profile: bool,
    sequential: bool,
    processes: int = 1,
) -> tuple[float, float]:
    """Load `count` pending deliveries, then time one worker (or `processes` worker processes,
    as production scales out) draining them all: returns (deliveries/s, setup seconds)."""
    made = time.perf_counter()
    pending_deliveries(db, branch, patient_id, hook, count)
    common.analyze(db)
    made = time.perf_counter() - made
    before = receipts(stats)["verified"]
    if processes > 1:
        drained_s = drain_in_processes(db.url, settings, processes)
    else:
        worker = alert_worker(world.session_factory, settings, SystemClock(), name="bench-drain")
        profiler = None
        if profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005, async_mode="disabled")
            profiler.start()
        started = time.perf_counter()
        if sequential:
            while worker.run_once():
                pass
        else:
            worker.drain()
        drained_s = time.perf_counter() - started
        if profiler is not None:
            profiler.stop()
            print(profiler.output_text(unicode=False, color=False))
        worker.close()
    with world.uow:
        left = world.uow.session.scalar(
            select(func.count()).where(Delivery.state != DeliveryState.DELIVERED)
        )
    got = receipts(stats)
    # Exactly once: a delivery two workers both claimed would be verified twice.
    if left or got["failed"] or got["verified"] - before != count:
        raise SystemExit(
            f"{left} undelivered, receiver verified {got['verified'] - before}/{count}, "
            f"{got['failed']} unverified"
        )
    return count / drained_s, made


def run(
    kind: str,
    alerts: int,
    rate: float,
    drain: int,
    poll: float,
    batch_size: int = 50,
    profile: bool = False,
    drains: int = 1,
    sequential: bool = False,
    drain_workers: int = 1,
) -> dict[str, Any]:
    mode = "run_once loop" if sequential else "Worker.drain"
    if drain_workers > 1:
        mode = f"Worker.drain in {drain_workers} processes"
    common.banner(
        f"alerts on {kind}: {alerts} alerts at {rate:.0f}/s with a worker polling every "
        f"{poll * 1000:.0f} ms; drain {drain} x {drains} ({mode})"
    )
    with (
        common.database(kind, "alerts") as db,
        common.serve(module="bench.receiver") as receiver,
    ):
        settings = common.settings_for(
            db.url,
            notify=NotifySettings(
                worker_poll_seconds=poll, batch_size=batch_size, embedded_worker=False
            ),
        )
        world = common.make_world(db, settings)
        hook = common.make_contact(world, "key_worker", webhook_url=f"{receiver.base_url}/hooks")
        with world.uow:
            secret = world.uow.session.get(Contact, hook).webhook_secret  # type: ignore[union-attr]
        assert secret
        stats = httpx.Client(base_url=receiver.base_url, trust_env=False, timeout=30)
        stats.post("/configure", json={"secret": secret})
        branch = common.make_branch(world, key_worker_id=hook)
        patient_id = common.register_patient(world, branch)

        # 1. Baseline: the receiver's raw throughput from a plain httpx client.
        raw_rps = raw_throughput(receiver.base_url, secret, drain)
        stats.post("/reset")

        # 2. Latency with a worker running in a thread (skipped with --alerts 0).
        latencies: list[float] = []
        if alerts:
            latencies = measure_latency(world, settings, branch, patient_id, stats, alerts, rate)

        # 3. Drain: many pending deliveries, one worker; `drains` times, each after the last
        # (the first runs on the freshest tables; later ones see the delivered rows pile up).
        rates = []
        for _ in range(drains):
            drain_rate, made = drain_once(
                db,
                world,
                settings,
                branch,
                patient_id,
                hook,
                stats,
                drain,
                profile,
                sequential,
                drain_workers,
            )
            rates.append(drain_rate)
            stats.post("/reset")
        stats.close()
    drain_rate = min(rates)
    p50, p90, p99 = (common.percentile(latencies, q) for q in (50, 90, 99))
    print(f"  setup: {drain} open alerts with a pending delivery each, in bulk in {made:.1f} s")
    every = ", ".join(f"{r:.0f}" for r in rates)
    rows = [
        ["receiver raw (plain httpx, 16 threads)", f"{raw_rps:.0f}/s", "-"],
        ["worker drain (slowest of the drains)", f"{drain_rate:.0f}/s", f"{drain_rate / raw_rps:.2f} of raw"],
        ["each drain", f"{every} /s", "-"],
        ["commit -> receipt p50 / p90 / p99", f"{p50 * 1000:.0f} / {p90 * 1000:.0f} / {p99 * 1000:.0f} ms", "-"],
    ]  # fmt: skip
    print(common.table(rows, ["measure", "value", "ratio"]))
    if latencies:
        print(
            f"  latency p99 = {p99:.3f} s (target <= {TARGET_P99_S:.0f} s: "
            f"{common.verdict(p99 <= TARGET_P99_S)})"
        )
    print(
        f"  drain = {drain_rate:.0f}/s (slowest of {drains}, {mode}) in batches "
        f"of <= {settings.notify.batch_size} (target >= {TARGET_RATE:.0f}/s: "
        f"{common.verdict(drain_rate >= TARGET_RATE)})"
    )
    print(f"  load average at end: {common.load_average()}")
    result = {
        "db": kind,
        "raw_rps": raw_rps,
        "drain_rate": drain_rate,
        "drain_rates": rates,
        "latency_s": {"p50": p50, "p90": p90, "p99": p99},
        "poll_s": poll,
        "batch_size": batch_size,
        "drain_mode": "sequential" if sequential else "pipelined",
        "drain_workers": drain_workers,
    }
    common.dump(f"alerts.{kind}", result)
    return result


def main(argv: list[str] | None = None) -> None:
    ap = common.parser(__doc__.splitlines()[0])
    ap.add_argument("--alerts", type=int, default=200, help="alerts for the latency run")
    ap.add_argument("--rate", type=float, default=20.0, help="alerts raised per second")
    ap.add_argument("--drain", type=int, default=2000, help="pending deliveries to drain")
    ap.add_argument("--poll", type=float, default=0.1, help="worker poll interval (s)")
    ap.add_argument(
        "--batch-size",
        type=int,
        default=NotifySettings().batch_size,
        help="worker batch (default: the shipped notify.batch_size)",
    )
    ap.add_argument("--profile", action="store_true", help="pyinstrument the drain")
    ap.add_argument(
        "--drains", type=int, default=1, help="drains to run one after another (the slowest counts)"
    )
    ap.add_argument(
        "--sequential",
        action="store_true",
        help="drain with the run_once loop (one batch at a time)",
    )
    ap.add_argument(
        "--drain-workers",
        type=int,
        default=1,
        help="worker processes draining together (each its own engine, as production scales)",
    )
    args = ap.parse_args(argv)
    common.print_machine()
    for kind in common.kinds(args.db):
        run(
            kind,
            args.alerts,
            args.rate,
            args.drain,
            args.poll,
            args.batch_size,
            args.profile,
            args.drains,
            args.sequential,
            args.drain_workers,
        )


if __name__ == "__main__":
    main()
