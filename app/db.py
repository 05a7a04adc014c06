"""Database plumbing: the declarative base, engines for SQLite and PostgreSQL, the unit of work.

SQLite gets the same guarantees we rely on in PostgreSQL by pragmas on every connection
(WAL, foreign keys on, a busy timeout, synchronous=FULL) and by starting every transaction
with BEGIN IMMEDIATE, which takes the write lock up front: two counters can never both read
"not yet recorded" and then both write.
"""

from __future__ import annotations

import functools
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, Self, TypeVar

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Engine,
    MetaData,
    create_engine,
    event,
    literal,
    select,
    text,
)
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    from app.config import Settings

log = logging.getLogger("dosekeeper.db")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC timestamp on both databases (SQLite stores no zone, so we restore it)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: store UTC instants only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def referenced_row_exists(session: Session, column: ColumnElement[Any], value: object) -> bool:
    """Whether the row that `column`'s foreign key would point at for `value` exists.

    Lets a capability check a reference in its own table (a user's pharmacy, say) by the
    foreign key it declares, without importing the model of the capability that owns the
    other table: the schema, not an import, says what the reference means.
    """
    (foreign_key,) = column.foreign_keys
    target = foreign_key.column
    return session.scalar(select(literal(1)).where(target == value).limit(1)) is not None


def make_engine(
    url: str,
    *,
    pool_size: int = 8,
    max_overflow: int = 4,
    pool_timeout: float = 10.0,
    echo: bool = False,
) -> Engine:
    """An engine with the project's connection rules for either database.

    The pool is bounded (defaults: Settings' db_pool_size, db_max_overflow and
    db_pool_timeout_seconds) because each process has its own: at pool 10 + overflow 20 four
    API processes and the workers could ask PostgreSQL for more than its default 100
    connections. A checkout that waits `pool_timeout` seconds raises sqlalchemy's
    TimeoutError, answered 503 database_busy (app/http/problems.py), never a hang.
    """
    limits: dict[str, Any] = {
        "pool_size": pool_size,
        "max_overflow": max_overflow,
        "pool_timeout": pool_timeout,
    }
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": 30},
            **limits,
        )
        _install_sqlite_rules(engine)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, **limits)


def engine_for(settings: Settings) -> Engine:
    """The process's engine, with the pool its settings ask for (the API, the worker, the
    command line: whatever connects to the configured database)."""
    return make_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
    )


class WriterQueue:
    """SQLite's writers in arrival order, one at a time (issue 21).

    SQLite lets one transaction write at a time; without this, the others poll its busy
    handler with growing sleeps, so whoever happens to retry at the right moment goes next and
    an unlucky counter waits hundreds of milliseconds behind later arrivals. Here each
    BEGIN IMMEDIATE of this process first queues for its turn, handed over in order the moment
    the previous writer commits or rolls back: the database lock is then free when it asks,
    and the wait is the work ahead of it, no more. Other processes still meet SQLite's own
    busy handler. The owner is the DBAPI connection, so a turn is released by whatever ends
    its transaction (commit, rollback, or the pool taking the connection back).
    """

    def __init__(self, timeout_seconds: float) -> None:
        self._guard = threading.Lock()
        self._waiting: deque[tuple[object, threading.Event]] = deque()
        self._owner: object | None = None
        self._timeout = timeout_seconds

    def acquire(self, owner: object) -> None:
        with self._guard:
            if self._owner is None and not self._waiting:
                self._owner = owner
                return
            turn = threading.Event()
            self._waiting.append((owner, turn))
        if turn.wait(self._timeout):
            return
        with self._guard:
            if self._owner is owner:
                return
            self._waiting.remove((owner, turn))
        # Past the busy timeout: go on to BEGIN IMMEDIATE, which waits or fails as SQLite does.

    def release(self, owner: object) -> None:
        with self._guard:
            if self._owner is not owner:
                return
            if self._waiting:
                self._owner, turn = self._waiting.popleft()
                turn.set()
            else:
                self._owner = None


SQLITE_BUSY_SECONDS = 30


def _install_sqlite_rules(engine: Engine) -> None:
    writers = WriterQueue(SQLITE_BUSY_SECONDS)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves (pysqlite's implicit BEGIN is DEFERRED).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")  # deferred: a WAL reader waits for no writer
            return
        owner = connection.connection.dbapi_connection
        writers.acquire(owner)
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            writers.release(owner)
            raise

    def _end(connection: Any) -> None:
        writers.release(connection.connection.dbapi_connection)

    event.listen(engine, "commit", _end)
    event.listen(engine, "rollback", _end)

    @event.listens_for(engine, "checkin")
    def _on_checkin(dbapi_connection: Any, _record: Any) -> None:
        writers.release(dbapi_connection)  # however the transaction ended


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


# Execution option marking a unit of work that only reads.
READ_ONLY = "dosekeeper_read_only"


class UnitOfWork:
    """One business transaction. Nothing is saved unless commit() is called.

    `read_only=True` is for a unit of work that never writes (a bearer-token lookup): on SQLite
    it begins DEFERRED instead of IMMEDIATE, so it neither takes nor waits for the write lock.
    Never write in one: a DEFERRED transaction that writes can fail with SQLITE_BUSY where an
    IMMEDIATE one would have queued. Most reads here are not read-only: a read of a record is
    itself logged.
    """

    session: Session

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        read_only: bool = False,
        on_begin: Callable[[Session], None] | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._read_only = read_only
        # Run first in every transaction this opens, before the use case reads or writes
        # anything: a request's own checks (a cached bearer token confirmed in the request's
        # transaction, app/auth/token_cache.py). If it raises, nothing is done.
        self._on_begin = on_begin
        self._active = False

    @property
    def session_factory(self) -> sessionmaker[Session]:
        """For work that needs its own units of work on the same database (the demo's replay)."""
        return self._session_factory

    def __enter__(self) -> Self:
        if self._active:
            raise RuntimeError("UnitOfWork is not re-entrant: pass uow.session to helpers")
        self._active = True
        self.session = self._session_factory()
        if self._read_only:
            self.session.connection(execution_options={READ_ONLY: True})
        if self._on_begin is not None:
            try:
                self._on_begin(self.session)
            except BaseException:
                self._active = False
                self.session.close()
                raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._active = False
        # close() rolls back whatever was not committed without expiring loaded objects, so
        # what a use case returns stays readable after the block.
        self.session.close()

    def commit(self) -> None:
        self.session.commit()

    @property
    def dialect(self) -> str:
        bind = self.session.get_bind()
        return bind.dialect.name


@contextmanager
def connect(engine: Engine) -> Iterator[Any]:
    with engine.connect() as conn:
        yield conn


def database_head(engine: Engine) -> str | None:
    """The Alembic revision the database is at, or None before the first migration."""
    with engine.connect() as conn:
        try:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except Exception:
            return None


# SQLSTATEs of a transaction that lost a race and may simply be run again: deadlock_detected
# and serialization_failure. Anything else (a database that is down) is not retried.
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})
RETRY_ATTEMPTS = 4
RETRY_BASE_SECONDS = 0.02

P = ParamSpec("P")
R = TypeVar("R")


def is_transient(exc: BaseException) -> bool:
    """Say whether a database error is a lost race (retry) rather than an outage (503)."""
    if not isinstance(exc, DBAPIError):
        return False
    return getattr(exc.orig, "sqlstate", None) in TRANSIENT_SQLSTATES


def retrying(use_case: Callable[P, R]) -> Callable[P, R]:
    """Run a use case again when its transaction lost a deadlock or serialization race.

    The use case opens its own unit of work and commits at its end, so a transaction that
    failed left nothing behind and running it again is safe; a handover retried this way keeps
    its Idempotency-Key, so it still happens once. Bounded (RETRY_ATTEMPTS) with jittered
    backoff, so a hot lock is not hammered in lock-step; a database that is really unreachable
    is not retried and still answers 503.
    """

    @functools.wraps(use_case)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        for attempt in range(1, RETRY_ATTEMPTS + 1):
            try:
                return use_case(*args, **kwargs)
            except DBAPIError as exc:
                if not is_transient(exc) or attempt == RETRY_ATTEMPTS:
                    raise
                log.warning(
                    "transaction lost a race; running it again",
                    extra={"use_case": use_case.__name__, "attempt": attempt},
                )
                time.sleep(random.uniform(0.5, 1.5) * RETRY_BASE_SECONDS * 2 ** (attempt - 1))
        raise AssertionError("unreachable")  # the loop returns or raises

    return run
