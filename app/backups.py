"""Backups and restores: pg_dump/pg_restore for PostgreSQL, the SQLite online backup API for
SQLite, and the nightly anchor of the audit chain heads in a separate file, so a database
rewritten wholesale (chains and all) no longer matches what was written down outside it."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import subprocess
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.audit import keys as audit_keys
from app.audit import service as audit_service
from app.audit.models import AuditEvent


def _stamp(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%SZ")


def _pg_args(url: str) -> tuple[list[str], dict[str, str]]:
    parsed = make_url(url)
    args = [
        "-h",
        parsed.host or "127.0.0.1",
        "-p",
        str(parsed.port or 5432),
        "-U",
        parsed.username or "postgres",
    ]
    env = {"PGPASSWORD": parsed.password} if parsed.password else {}
    return args, env


def backup(database_url: str, folder: Path, *, now: datetime) -> Path:
    """Write a consistent copy of the database into `folder`; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    parsed = make_url(database_url)
    if parsed.get_backend_name() == "sqlite":
        target = folder / f"dosekeeper-{_stamp(now)}.sqlite3"
        source = sqlite3.connect(parsed.database or "")
        try:
            copy = sqlite3.connect(target)
            with copy:
                source.backup(copy)  # consistent even while the service is writing
            copy.close()
        finally:
            source.close()
        return target
    target = folder / f"dosekeeper-{_stamp(now)}.dump"
    args, env = _pg_args(database_url)
    subprocess.run(
        ["pg_dump", "-Fc", "--no-owner", "-f", str(target), *args, parsed.database or ""],
        check=True,
        env={**_base_env(), **env},
    )
    return target


def restore(backup_file: Path, database_url: str) -> None:
    """Replace the database at `database_url` with the backup (an empty database for PostgreSQL)."""
    parsed = make_url(database_url)
    if parsed.get_backend_name() == "sqlite":
        target = Path(parsed.database or "")
        target.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(str(target) + suffix).unlink(missing_ok=True)
        source = sqlite3.connect(backup_file)
        try:
            copy = sqlite3.connect(target)
            with copy:
                source.backup(copy)
            copy.close()
        finally:
            source.close()
        return
    args, env = _pg_args(database_url)
    subprocess.run(
        [
            "pg_restore",
            "--no-owner",
            "--clean",
            "--if-exists",
            "-d",
            parsed.database or "",
            *args,
            str(backup_file),
        ],
        check=True,
        env={**_base_env(), **env},
    )


def _base_env() -> dict[str, str]:
    import os

    return dict(os.environ)


def anchor(session: Session, folder: Path, *, key: str, now: datetime) -> Path:
    """Append today's chain heads, with an HMAC under a key kept outside the database."""
    folder.mkdir(parents=True, exist_ok=True)
    heads = {
        chain: {"seq": seq, "hash": digest}
        for chain, (seq, digest) in audit_service.chain_heads(session).items()
    }
    body = {"at": now.isoformat(), "heads": heads, "key_id": audit_keys.key_id(key)}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    body["hmac"] = hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()
    path = folder / "audit-anchors.jsonl"
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(body, sort_keys=True) + "\n")
    return path


def check_anchors(
    session: Session,
    path: Path,
    *,
    key: str,
    previous_keys: Sequence[str] = (),
    latest_only: bool = False,
) -> list[str]:
    """Every anchored head must still be in the database with the same hash; return problems.

    With `latest_only`, only the newest anchor is checked (what `audit verify` does by
    default: it covers every event up to it). An anchor signed with a previous key still
    verifies: keys are rotated with the anchors."""
    from sqlalchemy import select

    problems = []
    lines = list(enumerate(path.read_text(encoding="utf-8").splitlines(), start=1))
    if latest_only:
        lines = lines[-1:]
    for number, line in lines:
        record = json.loads(line)
        mac = record.pop("hmac", "")
        text = json.dumps(record, sort_keys=True, separators=(",", ":"))
        if not any(
            hmac.compare_digest(
                mac, hmac.new(k.encode(), text.encode(), hashlib.sha256).hexdigest()
            )
            for k in (key, *previous_keys)
        ):
            problems.append(f"anchor line {number} is not signed by this key")
            continue
        for chain, head in record["heads"].items():
            found = session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == head["seq"]))
            if found != head["hash"]:
                problems.append(
                    f"anchor line {number}: chain {chain} event {head['seq']} is missing or changed"
                )
    return problems
