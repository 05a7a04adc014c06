"""The physical limit for the handover benchmark (issue 21): a bare ASGI callable that parses the
request's JSON body and durably inserts one row per request with the raw driver — no
Starlette/FastAPI, no SQLAlchemy, no thread pool.

- SQLite: stdlib `sqlite3`, one connection per process in one writer thread, with the product's
  connection rules (WAL, `synchronous=FULL`, a busy timeout, `BEGIN IMMEDIATE`): one INSERT and
  one COMMIT (an fsync of the WAL) per request.
- PostgreSQL: async psycopg 3 on the event loop, autocommit off, a pool of connections per
  process (an asyncio queue; 16 by default, one per benchmark connection, so concurrent commits
  share PostgreSQL's WAL flushes): one INSERT and one COMMIT per request, the response sent
  after the commit.

Served by uvicorn on 127.0.0.1 exactly like the product's benchmark server (`bench.server`: the
same `uvicorn.run` options, so the same loop and HTTP implementations). Run by
`bench.common.serve(..., module="bench.limit")`; not meant to be started by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

import uvicorn

TABLE = "bench_limit"  # created by the benchmark (bench.server.LIMIT), same columns as BASELINE
INSERT_SQLITE = f"INSERT INTO {TABLE} (id, patient_id, outcome, at) VALUES (?, ?, ?, ?)"
INSERT_PG = f"INSERT INTO {TABLE} (id, patient_id, outcome, at) VALUES (%s, %s, %s, %s)"


class SqliteWriter:
    """One connection in one writer thread: requests' INSERT + COMMITs run one at a time in
    arrival order (no lock waits, no busy handler) while the event loop goes on parsing HTTP.

    `BENCH_SQLITE_WRITER=loop` runs them on the event loop itself instead. Measured side by
    side (interleaved wrk blocks, load 5-7), the writer thread was the faster: 948 vs 521 req/s
    at 16 connections and 861 vs 364 at 2, because the loop reads the next request while the
    thread waits for the WAL's fsync."""

    def __init__(self, path: str) -> None:
        self.on_loop = os.environ.get("BENCH_SQLITE_WRITER") == "loop"
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA busy_timeout=30000")
        self.conn.execute("PRAGMA synchronous=FULL")

    async def insert(self, body: dict[str, Any]) -> str:
        if self.on_loop:
            return self._insert(body)
        return await asyncio.get_running_loop().run_in_executor(self.thread, self._insert, body)

    def _insert(self, body: dict[str, Any]) -> str:
        row_id = uuid4().hex  # SQLAlchemy's Uuid on SQLite: CHAR(32)
        at = datetime.now(UTC).replace(tzinfo=None).isoformat(" ")  # as UTCDateTime stores it
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                INSERT_SQLITE,
                (row_id, str(body.get("patient_id", "")), str(body.get("outcome", "")), at),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return row_id

    async def close(self) -> None:
        self.thread.shutdown()
        self.conn.close()


class PostgresWriter:
    """A small pool of async psycopg connections (autocommit off): one INSERT and COMMIT each."""

    def __init__(self, url: str, size: int) -> None:
        self.conninfo = _libpq_url(url)
        self.size = size
        self.idle: asyncio.Queue[Any] = asyncio.Queue()

    async def open(self) -> None:
        import psycopg

        for _ in range(self.size):
            self.idle.put_nowait(await psycopg.AsyncConnection.connect(self.conninfo))

    async def insert(self, body: dict[str, Any]) -> str:
        row_id = uuid4()
        conn = await self.idle.get()
        try:
            await conn.execute(
                INSERT_PG,
                (
                    row_id,
                    str(body.get("patient_id", "")),
                    str(body.get("outcome", "")),
                    datetime.now(UTC),
                ),
            )
            await conn.commit()
        except BaseException:
            await conn.rollback()
            raise
        finally:
            self.idle.put_nowait(conn)
        return str(row_id)

    async def close(self) -> None:
        while not self.idle.empty():
            await self.idle.get_nowait().close()


def _libpq_url(url: str) -> str:
    """`postgresql+psycopg://…` (SQLAlchemy's form) -> `postgresql://…` (libpq's)."""
    parts = urlsplit(url)
    return parts._replace(scheme="postgresql").geturl()


def limit_app(url: str, pool: int) -> Any:
    """The ASGI callable. `url` is the benchmark database's SQLAlchemy URL."""
    writer: SqliteWriter | PostgresWriter | None = None

    async def startup() -> None:
        nonlocal writer
        if url.startswith("sqlite"):
            writer = SqliteWriter(urlsplit(url).path[1:])
        else:
            writer = PostgresWriter(url, pool)
            await writer.open()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await startup()
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if writer is not None:
                        await writer.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        assert writer is not None, "lifespan startup did not run"
        row_id = await writer.insert(json.loads(body or b"{}"))
        payload = json.dumps({"id": row_id}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 201,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    return app


def factory() -> Any:
    """The app named by BENCH_URL / BENCH_POOL (for uvicorn --workers)."""
    return limit_app(os.environ["BENCH_URL"], int(os.environ.get("BENCH_POOL", "16")))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    ap.add_argument("--pool", type=int, default=16, help="PostgreSQL connections per process")
    args = ap.parse_args()
    os.environ.update(BENCH_URL=args.url, BENCH_POOL=str(args.pool))
    # The same options as bench.server (the product's benchmark server): same loop and HTTP.
    options: dict[str, Any] = {"log_level": "warning", "access_log": False}
    if args.workers > 1:
        uvicorn.run(
            "bench.limit:factory",
            factory=True,
            host="127.0.0.1",
            port=args.port,
            workers=args.workers,
            **options,
        )
    else:
        uvicorn.run(factory(), host="127.0.0.1", port=args.port, **options)


if __name__ == "__main__":
    main()
