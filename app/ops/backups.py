"""Backups and restores: pg_dump/pg_restore for PostgreSQL, the SQLite online backup API for
SQLite. (The nightly anchor of the audit chain heads is the audit log's: app/audit/anchors.py.)"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import make_url


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
    return dict(os.environ)
