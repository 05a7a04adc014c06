"""The test databases: built by the real migrations, on SQLite by default or on PostgreSQL
when DOSEKEEPER_TEST_DATABASE_URL names a server. Imported by the fixtures that need a
database (tests/conftest.py), never at collection, so pure rule tests run without one."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from app.db import make_engine
from app.ops import migrations as migrate

PG_URL = os.environ.get("DOSEKEEPER_TEST_DATABASE_URL", "")


@dataclass
class Database:
    url: str
    engine: Engine

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name


def create_database(name: str, tmp: Path) -> str:
    if PG_URL:
        base = make_url(PG_URL)
        # Named after the run's own database too: two runs against one server (two worktrees,
        # CI's dk_ci_<pid>) never drop each other's worker databases.
        name = f"{base.database}_{name}"
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return base.set(database=name).render_as_string(hide_password=False)
    return f"sqlite:///{tmp / (name + '.sqlite3')}"


def drop_database(url: str) -> None:
    if PG_URL:
        name = make_url(url).database
        admin = create_engine(make_url(PG_URL), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def build_database(name: str, tmp: Path) -> Database:
    url = create_database(name, tmp)
    migrate.upgrade(url)
    return Database(url, make_engine(url))


@contextmanager
def scratch_database(prefix: str, tmp: Path) -> Iterator[Database]:
    """A database of its own (named `prefix` and a random suffix), built by every migration and
    dropped at the end."""
    db = build_database(f"{prefix}_{uuid.uuid4().hex[:10]}", tmp)
    try:
        yield db
    finally:
        db.engine.dispose()
        drop_database(db.url)
