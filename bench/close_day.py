"""End-of-day close over 100,000 instalments due today at one pharmacy (DESIGN §8).

Setup in bulk (COPY on PostgreSQL, executemany on SQLite): N patients at one pharmacy, each with
an active supervised prescription and an instalment due today and tomorrow. 90 % of today's
instalments are already recorded (supervised); 10 % are still due and become missed. Among
those, one in ten also missed the two previous days (a streak of 3: an urgent alert to the
prescriber and the key worker) and one in ten missed yesterday (a streak of 2: a warning to the
key worker); the rest attended yesterday.

Subject: `app.dosing.close_day.close_day` for today, called in-process as the endpoint calls it
(the set-based UPDATE … RETURNING, then the missed-dose rules, alerts and outbox per patient it
touched, the audit event, one commit). Baseline: a bare `UPDATE instalment_days SET
state='missed', recorded_at=… WHERE pharmacy_id=… AND collect_on<=… AND state='due'` and its
commit, on a copy of the same database made before the close. Target: close <= 5 s.
"""

from __future__ import annotations

import secrets
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import func, select, text, tuple_

from app.actor import Actor
from app.db import UnitOfWork, make_session_factory
from app.dosing import close_day as dosing_close_day
from app.dosing.gather import STREAK_HORIZON
from app.dosing.models import InstalmentDay, Release
from app.injections import overdue as injections_overdue  # noqa: F401  (answers DayClosed)
from app.patients.models import Patient
from app.prescriptions.models import Prescription
from bench import common

TARGET_SECONDS = 5.0
MG = 60
EVENING = datetime(common.TODAY.year, common.TODAY.month, common.TODAY.day, 19, tzinfo=UTC)


def build(kind: str, count: int) -> tuple[common.BenchDB, common.Branch, dict[str, int]]:
    db = common.create_database(kind, "closeday")
    settings = common.settings_for(db.url)
    world = common.make_world(db, settings)
    branch = common.make_branch(world)
    started = time.perf_counter()
    today, yesterday = common.TODAY, common.TODAY - timedelta(days=1)
    before, tomorrow = common.TODAY - timedelta(days=2), common.TODAY + timedelta(days=1)
    created = datetime(2026, 11, 1, 9, tzinfo=UTC)
    patients, prescriptions, instalments = [], [], []
    numbers = common.nhs_numbers(10)
    expected = {"due": 0, "streak3": 0, "streak2": 0}

    # Templates copied per row: the same columns and values the common helpers produce.
    rx_template = common.prescription_row(
        patient_id=uuid.uuid4(),
        pharmacy_id=branch.pharmacy_id,
        prescriber_id=branch.prescriber_id,
        start=before,
        days=14,
        mg=MG,
        status="active",
        entered_by=branch.pharmacist.id,
        verified_by=branch.pharmacist2.id,
    )
    day_templates = {
        (day, state): common.instalment_row(
            prescription_id=rx_template["id"],
            patient_id=rx_template["patient_id"],
            pharmacy_id=branch.pharmacy_id,
            day=day,
            mg=MG,
            state=state,
            recorded_by=branch.pharmacist.id,
        )
        for day in (before, yesterday, today, tomorrow)
        for state in ("due", "supervised", "missed")
    }
    new_id = uuid.uuid4
    for i in range(count):
        patient_id, rx_id = new_id(), new_id()
        patients.append(
            {
                "id": patient_id,
                "given_name": "Bench",
                "family_name": f"Patient {i:06d}",
                "date_of_birth": date(1970 + i % 30, 1 + i % 12, 1 + i % 28),
                "nhs_number": next(numbers),
                "pharmacy_id": branch.pharmacy_id,
                "household_id": None,
                "key_worker_id": branch.key_worker_id,
                "prescriber_id": branch.prescriber_id,
                "pregnant": False,
                "card_code": "DKB" + secrets.token_hex(10).upper(),
                "created_at": created,
            }
        )
        prescriptions.append({**rx_template, "id": rx_id, "patient_id": patient_id})
        days = [(today, "supervised"), (tomorrow, "due")]
        if i % 10 == 0:  # still due today: becomes missed at the close
            expected["due"] += 1
            previous = ("supervised", "supervised")
            if i % 100 == 0:
                previous = ("missed", "missed")
                expected["streak3"] += 1
            elif i % 100 == 10:
                previous = ("supervised", "missed")
                expected["streak2"] += 1
            days = [
                (before, previous[0]),
                (yesterday, previous[1]),
                (today, "due"),
                (tomorrow, "due"),
            ]
        for key in days:
            instalments.append(
                {**day_templates[key], "id": new_id(), "prescription_id": rx_id, "patient_id": patient_id}
            )  # fmt: skip
    generated = time.perf_counter() - started
    common.bulk_load(
        db,
        [
            (Patient.__table__, patients),
            (Prescription.__table__, prescriptions),
            (InstalmentDay.__table__, instalments),
        ],
    )
    common.analyze(db)
    db.dispose()
    print(
        f"  setup: {count} patients, {count} prescriptions, {len(instalments)} instalments "
        f"({expected['due']} still due today) generated in {generated:.1f} s, "
        f"loaded in bulk in {time.perf_counter() - started - generated:.1f} s",
        flush=True,
    )
    return db, branch, expected


def close(db: common.BenchDB, actor: Actor) -> tuple[float, float, dosing_close_day.DayClosed]:
    uow = UnitOfWork(make_session_factory(db.engine))
    policy = common.settings_for(db.url).policy
    with db.engine.connect() as conn:  # open the pool's first connection outside the timing
        conn.execute(text("SELECT 1"))
    started, cpu = time.perf_counter(), time.process_time()
    closed = dosing_close_day.close_day(
        uow,
        actor=actor,
        pharmacy_id=actor.pharmacy_id,  # type: ignore[arg-type]
        day=common.TODAY,
        today=common.TODAY,
        policy=policy,
        now=EVENING,
    )
    return time.perf_counter() - started, time.process_time() - cpu, closed


def bare_update(db: common.BenchDB, pharmacy_id: UUID) -> tuple[float, int]:
    table = InstalmentDay.__table__
    statement = (
        table.update()  # type: ignore[attr-defined]
        .where(
            table.c.pharmacy_id == pharmacy_id,
            table.c.collect_on <= common.TODAY,
            table.c.state == "due",
        )
        .values(state="missed", recorded_at=EVENING)
    )
    with db.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    started = time.perf_counter()
    with db.engine.begin() as conn:
        count = conn.execute(statement).rowcount
    return time.perf_counter() - started, count


def set_based_streaks(db: common.BenchDB, pharmacy_id: UUID) -> tuple[float, dict[int, int]]:
    """A prototype of the proposed fix, timed on the copy after the bare UPDATE: every touched
    patient's missed streak from two queries (their instalments inside the streak horizon and
    their latest release), instead of two queries per patient. Returns (seconds, histogram)."""
    days, releases = InstalmentDay.__table__, Release.__table__
    horizon = common.TODAY - timedelta(days=STREAK_HORIZON)
    touched = (
        select(days.c.patient_id, days.c.product)
        .where(
            days.c.pharmacy_id == pharmacy_id,
            days.c.collect_on <= common.TODAY,
            days.c.state == "missed",
            days.c.recorded_at == EVENING,
        )
        .subquery()
    )
    started = time.perf_counter()
    with db.engine.connect() as conn:
        rows = conn.execute(
            select(days.c.patient_id, days.c.product, days.c.dose_date, days.c.state)
            .where(
                tuple_(days.c.patient_id, days.c.product).in_(select(touched)),
                days.c.dose_date > horizon,
                days.c.dose_date <= common.TODAY,
            )
            .order_by(days.c.patient_id, days.c.product, days.c.dose_date.desc())
        ).all()
        released = dict(
            conn.execute(
                select(releases.c.patient_id, func.max(releases.c.released_on))
                .where(releases.c.patient_id.in_(select(touched.c.patient_id)))
                .group_by(releases.c.patient_id)
            ).all()
        )
    streaks: dict[tuple[Any, str], int] = {}
    expected: dict[tuple[Any, str], date] = {}
    for patient_id, product, dose_date, state in rows:
        key = (patient_id, product)
        if key not in streaks:
            streaks[key], expected[key] = 0, common.TODAY
        since = released.get(patient_id)
        if (
            expected[key] is None
            or dose_date != expected[key]
            or state != "missed"
            or (since is not None and dose_date < since)
        ):
            expected[key] = None  # type: ignore[assignment]
            continue
        streaks[key] += 1
        expected[key] = dose_date - timedelta(days=1)
    took = time.perf_counter() - started
    histogram: dict[int, int] = {}
    for n in streaks.values():
        histogram[n] = histogram.get(n, 0) + 1
    return took, dict(sorted(histogram.items()))


def run(kind: str, count: int, profile: bool) -> dict[str, Any]:
    common.banner(f"close-day on {kind}: {count} instalments due today at one pharmacy")
    db, branch, expected = build(kind, count)
    copy = db.copy("closeday_copy")
    try:
        base_s, base_rows = bare_update(copy, branch.pharmacy_id)
        proto_s, histogram = set_based_streaks(copy, branch.pharmacy_id)
        if profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0005)
            profiler.start()
        took, cpu, closed = close(db, branch.pharmacist)
        if profile:
            profiler.stop()
            print(profiler.output_text(unicode=False, color=False, show_all=False))
    finally:
        copy.drop()
        db.drop()
    if closed.missed != expected["due"] or base_rows != expected["due"]:
        raise SystemExit(f"expected {expected['due']} missed, got {closed.missed} / {base_rows}")
    ratio = took / base_s
    rows = [
        ["bare UPDATE (baseline)", base_rows, "-", "-", f"{base_s:.2f}", "-"],
        ["close_day", closed.missed, closed.patients, closed.alerts, f"{took:.2f}", f"{cpu:.2f}"],
    ]
    header = ["run", "rows missed", "patients", "alerts raised", "seconds", "our CPU s"]
    print(common.table(rows, header))
    print(
        f"  close_day = {took:.2f} s (target <= {TARGET_SECONDS:.0f} s: "
        f"{common.verdict(took <= TARGET_SECONDS)}); {ratio:.1f}x the bare UPDATE; "
        f"expected alerts {expected['streak3']} urgent + {expected['streak2']} warning"
    )
    print(
        f"  prototype of the fix: every touched patient's streak set-based in {proto_s:.2f} s "
        f"(streak: patients = {histogram})"
    )
    print(f"  load average at end: {common.load_average()}")
    result = {
        "db": kind,
        "rows": count,
        "missed": closed.missed,
        "alerts": closed.alerts,
        "close_s": took,
        "close_cpu_s": cpu,
        "bare_s": base_s,
        "ratio": ratio,
        "prototype_streaks_s": proto_s,
    }
    common.dump(f"close_day.{kind}", result)
    return result


def main(argv: list[str] | None = None) -> None:
    ap = common.parser(__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000, help="instalments due today")
    ap.add_argument("--profile", action="store_true", help="pyinstrument the close")
    args = ap.parse_args(argv)
    common.print_machine()
    for kind in common.kinds(args.db):
        run(kind, args.rows, args.profile)


if __name__ == "__main__":
    main()
