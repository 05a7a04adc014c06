"""How units of work begin on SQLite: a writer takes the write lock at BEGIN (IMMEDIATE), so
read-then-write races queue instead of failing; a declared reader (a bearer-token lookup)
begins DEFERRED and neither waits for nor blocks a writer. On PostgreSQL both are plain
transactions."""

from __future__ import annotations

import time

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from app.auth.models import AuthSession
from app.db import UnitOfWork


def test_a_reader_does_not_wait_for_a_writer_holding_the_lock(
    session_factory: sessionmaker[Session],
) -> None:
    writer = UnitOfWork(session_factory)
    with writer:
        writer.session.execute(text("SELECT 1"))  # began: on SQLite it holds the write lock
        started = time.monotonic()
        with UnitOfWork(session_factory, read_only=True) as reader:
            count = reader.session.scalar(select(func.count()).select_from(AuthSession))
        waited = time.monotonic() - started
    assert count is not None
    # A writer would wait for the lock (busy_timeout: 30 s); the reader answers at once.
    assert waited < 5
