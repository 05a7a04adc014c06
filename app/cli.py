"""The `dosekeeper` command: serve, migrate, demo, users, audit (and more as capabilities land)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer

from app.actor import SYSTEM
from app.audit import anchors as audit_anchors
from app.audit import keys as audit_keys
from app.audit import service as audit_service
from app.auth import service as auth_service
from app.clock import SystemClock, local_date
from app.config import Settings, get_settings
from app.db import UnitOfWork, engine_for, make_session_factory
from app.demo import seed
from app.dosing import close_day as dosing_close_day
from app.errors import DomainError
from app.injections import overdue as injections_overdue  # noqa: F401  (answers DayClosed)
from app.labelling import content
from app.logs import configure_logging
from app.ops import backups, migrations
from app.safeguarding.delivery import alert_worker

cli = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Dosekeeper: methadone dispensing with the household as the unit of safety.",
)
users = typer.Typer(no_args_is_help=True, help="Staff accounts.")
audit = typer.Typer(no_args_is_help=True, help="The hash-chained audit log.")
cli.add_typer(users, name="users")
cli.add_typer(audit, name="audit")


def _settings() -> Settings:

    settings = get_settings()
    configure_logging(settings)
    audit_keys.configure(settings)
    return settings


def _uow(settings: Settings):  # type: ignore[no-untyped-def]

    return UnitOfWork(make_session_factory(engine_for(settings)))


# Seconds an idle HTTP connection stays open (uvicorn's own default is 5 s).
KEEP_ALIVE_SECONDS = 75


@cli.command()
def migrate() -> None:
    """Bring the database schema to the newest migration."""

    settings = _settings()
    migrations.upgrade(settings.database_url)
    typer.echo("database at the newest migration")


@cli.command()
def demo() -> None:
    """Seed fictional demo data (a pharmacy, staff for every role, households, patients)."""

    settings = _settings()
    migrations.upgrade(settings.database_url)
    report = seed(_uow(settings), settings, history=True)
    typer.echo(report)


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    demo_data: Annotated[
        bool, typer.Option("--demo", help="Seed demo data if the database is empty")
    ] = False,
    workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1,
) -> None:
    """Migrate, optionally seed demo data, then serve the API and pages."""
    import uvicorn

    settings = _settings()
    configure_logging(settings)  # first, so the migration's lines are JSON lines like the rest
    migrations.upgrade(settings.database_url)
    if demo_data:
        typer.echo(seed(_uow(settings), settings, only_if_empty=True, history=True))
    typer.echo(f"Dosekeeper on http://{host}:{port}/ (API docs at /docs)")
    uvicorn.run(
        "app.main:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        proxy_headers=True,
        # Idle connections are kept longer than nginx's upstream keepalive_timeout (60 s) and
        # any client's pause: a request sent on a connection the server is just closing is a
        # reset (a 502 behind nginx, which does not resend a POST).
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


@cli.command()
def worker(
    name: Annotated[str | None, typer.Option(help="Worker name in the delivery records")] = None,
) -> None:
    """Deliver alerts and escalate them until stopped (SIGTERM finishes the current batch)."""
    import signal
    import threading

    settings = _settings()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    runner = alert_worker(
        make_session_factory(engine_for(settings)), settings, SystemClock(), name=name
    )
    typer.echo(f"delivery worker {runner.name} started")
    runner.run(stop)
    runner.close()
    typer.echo("delivery worker stopped")


@cli.command("close-day")
def close_day(
    pharmacy_id: Annotated[UUID, typer.Option("--pharmacy-id")],
    day: Annotated[str | None, typer.Option("--date", help="YYYY-MM-DD; today by default")] = None,
) -> None:
    """End of day for a pharmacy: uncollected instalments become missed; alerts are raised."""
    from datetime import date

    settings = _settings()
    now = SystemClock().now()
    today = local_date(now, settings.timezone)
    try:
        closed = dosing_close_day.close_day(
            _uow(settings),
            actor=SYSTEM,
            pharmacy_id=pharmacy_id,
            day=date.fromisoformat(day) if day else today,
            today=today,
            policy=settings.policy,
            now=now,
        )
    except DomainError as exc:
        typer.echo(f"refused: {exc.detail}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(
        f"{closed.date}: {closed.missed} instalment days missed for {closed.patients} "
        f"patients; {closed.alerts} alerts raised"
    )
    # The day's record is anchored at once: the audit chain's heads, signed, off the database.
    try:
        path = _write_anchor(settings, settings.anchor_dir)
    except OSError as exc:  # the day is closed all the same; say why the anchor is missing
        typer.echo(f"could not anchor the audit chain in {settings.anchor_dir}: {exc}", err=True)
    else:
        typer.echo(f"anchored the audit chain heads in {path}")


@cli.command("print-test")
def print_test() -> None:
    """Print a sample label (fictional) on the configured printer and report what happened."""
    from decimal import Decimal

    from devices import DeviceError, LabelLine, open_printer
    from devices import Label as DeviceLabel

    settings = _settings()
    today = local_date(SystemClock().now(), settings.timezone)
    printer = open_printer(settings.printer_url, preview_dir=settings.data_dir / "labels")
    facts = content.LabelFacts(
        patient_name="TEST PATIENT (not a real person)",
        pharmacy_name="Dosekeeper print test",
        pharmacy_address="1 Example Parade, Demotown",
        pharmacy_phone="01632 960000",
        supplied_on=today,
        medicine="Methadone 1mg/mL oral solution",
        strength_mg_per_ml=Decimal(1),
        dose_mg=Decimal(60),
        dose_dates=(today,),
        directions="TEST LABEL - do not use.",
        cautionary_wording=(),
        separate_containers=False,
    )
    lines = content.label_lines(facts, facts.dose_dates, number=1, of=1)
    label = DeviceLabel(
        lines=tuple(
            LabelLine(
                line.text, bold=line.bold, centre=line.centre, double_height=line.double_height
            )
            for line in lines
        ),
        barcode="DKL-TEST",
        columns=32 if printer.columns == 32 else 48,
    )
    try:
        result = printer.print_label(label, job_id="print-test")
    except DeviceError as exc:
        typer.echo(f"printer fault on {printer.url}: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(
        f"printed on {printer.url}: {result.bytes_sent} bytes"
        + (f"; preview {result.text_path}" if result.text_path else "")
    )


@users.command("add")
def users_add(
    username: str,
    role: Annotated[
        str,
        typer.Option(
            help="pharmacist, technician, prescriber, key_worker, safeguarding_lead, admin or "
            "clinician (the last-dose look-up only)"
        ),
    ],
    pharmacy_id: Annotated[UUID | None, typer.Option("--pharmacy-id")] = None,
    display_name: Annotated[str | None, typer.Option("--display-name")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
) -> None:
    """Create a staff account (the password is read from standard input, never an argument)."""

    settings = _settings()
    if not password_stdin:
        typer.echo("use --password-stdin and pipe the password in", err=True)
        raise typer.Exit(2)
    password = sys.stdin.readline().rstrip("\n")

    try:
        user = auth_service.add_user(
            _uow(settings),
            actor=SYSTEM,
            username=username,
            password=password,
            role=role,
            display_name=display_name,
            pharmacy_id=pharmacy_id,
            now=SystemClock().now(),
            settings=settings.auth,
        )
    except DomainError as exc:
        typer.echo(f"refused: {exc.detail}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"created {user.username} ({user.role}) id={user.id}")


def _anchor_keys(settings: Settings) -> tuple[str, list[str]]:
    """The key anchors are signed with, and the keys older anchors may carry (rotated audit
    keys, and the secret key that signed anchors before the chain was keyed)."""
    previous = [k.get_secret_value() for k in settings.audit_previous_keys]
    return settings.audit_key.get_secret_value(), [
        *previous,
        settings.secret_key.get_secret_value(),
    ]


def _write_anchor(settings: Settings, folder: Path) -> Path:

    uow = _uow(settings)
    with uow:
        return audit_anchors.anchor(
            uow.session, folder, key=_anchor_keys(settings)[0], now=SystemClock().now()
        )


@audit.command("verify")
def audit_verify(
    anchors: Annotated[
        Path | None,
        typer.Option(
            help="Check every anchor in this file (default: the latest anchor in "
            "DOSEKEEPER_AUDIT_ANCHOR_DIR)"
        ),
    ] = None,
    no_anchor: Annotated[
        bool, typer.Option("--no-anchor", help="Walk the chains only, without an anchor")
    ] = False,
) -> None:
    """Walk every audit chain and compare it with the latest anchor; exit 1 and name the first
    broken link or missing anchored event if any."""

    settings = _settings()
    key, previous = _anchor_keys(settings)
    latest = settings.anchor_dir / "audit-anchors.jsonl"
    checked = anchors or (None if no_anchor or not latest.exists() else latest)
    uow = _uow(settings)
    with uow:
        report = audit_service.verify(uow.session)
        problems = (
            audit_anchors.check_anchors(
                uow.session, checked, key=key, previous_keys=previous, latest_only=not anchors
            )
            if checked
            else []
        )
    if not report.ok:
        typer.echo(f"audit chain BROKEN at seq {report.broken_at}: {report.reason}", err=True)
        raise typer.Exit(1)
    if problems:
        for problem in problems:
            typer.echo(f"audit anchor mismatch: {problem}", err=True)
        raise typer.Exit(1)
    if checked is None and not no_anchor:
        typer.echo(
            f"no audit anchor in {settings.anchor_dir}: events removed from the end of a chain "
            "would go unnoticed (run `dosekeeper audit anchor`)",
            err=True,
        )
    which = f"; {checked} matches" + ("" if anchors else " (latest anchor)") if checked else ""
    typer.echo(f"audit chain intact: {report.events} events in {report.chains} chains{which}")


@audit.command("anchor")
def audit_anchor(
    to: Annotated[
        Path | None,
        typer.Option(
            help="Folder for audit-anchors.jsonl (default DOSEKEEPER_AUDIT_ANCHOR_DIR; keep it "
            "off the database host)"
        ),
    ] = None,
) -> None:
    """Append the chain heads now, signed with the audit key, to a file outside the database
    (hourly and after each close-day; deploy/systemd)."""
    settings = _settings()
    path = _write_anchor(settings, to or settings.anchor_dir)
    typer.echo(f"anchored the audit chain heads in {path}")


@cli.command()
def backup(to: Annotated[Path, typer.Option(help="Folder to write the backup into")]) -> None:
    """Back up the database (pg_dump, or SQLite's online backup)."""

    settings = _settings()
    path = backups.backup(settings.database_url, to, now=SystemClock().now())
    typer.echo(f"backup written to {path}")


@cli.command()
def restore(
    backup_file: Annotated[Path, typer.Argument(help="A file written by `dosekeeper backup`")],
    yes: Annotated[bool, typer.Option("--yes", help="Replace the configured database")] = False,
) -> None:
    """Replace the configured database with a backup, then verify its audit chain."""

    settings = _settings()
    if not yes:
        typer.echo("refusing without --yes: this replaces the configured database", err=True)
        raise typer.Exit(2)
    backups.restore(backup_file, settings.database_url)
    # The chain only: an older backup is expected to lack what was anchored since (run
    # `dosekeeper audit verify` to see what).
    audit_verify(anchors=None, no_anchor=True)


def main() -> None:
    cli()
