"""A real server for the benchmarks: uvicorn on 127.0.0.1 in its own process, serving either

- `dosekeeper`: the whole application, `create_app(settings, None, clock)` (its own engine and
  pool, exactly as `serve` builds them) with a fixed clock that a request may move on by whole
  days (`x-bench-day: N`), or
- `bare`: the old baseline (before issue 21; the physical limit is `bench.limit`), a raw ASGI endpoint that reads a JSON body and does one INSERT into the
  same database through an engine with the same connection rules (`app.db.make_engine`: WAL,
  synchronous=FULL and BEGIN IMMEDIATE on SQLite), in the same worker-thread pool FastAPI uses
  for its `def` endpoints.

Run by `bench.common.serve`; not meant to be started by hand.
"""

from __future__ import annotations

import argparse
import json
import os
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

import anyio.to_thread
import uvicorn
from sqlalchemy import Column, MetaData, String, Table, Uuid

from app.clock import FixedClock, SystemClock
from app.db import UTCDateTime, make_engine


def _row_table(name: str, metadata: MetaData) -> Table:
    return Table(
        name,
        metadata,
        Column("id", Uuid, primary_key=True),
        Column("patient_id", String(36)),
        Column("outcome", String(16)),
        Column("at", UTCDateTime),
    )


BASELINE = _row_table("bench_baseline", MetaData())
# The same columns for the physical limit (`bench.limit`), which writes them with the raw driver.
LIMIT = _row_table("bench_limit", BASELINE.metadata)


# The benchmark's day, per request: `FixedClock`'s instant plus the `x-bench-day` header's days,
# so one setup serves several consecutive dispensing days without stopping the load between them.
DAY: ContextVar[int] = ContextVar("bench_day", default=0)


class BenchClock(FixedClock):
    def now(self) -> datetime:
        return super().now() + timedelta(days=DAY.get())


def with_bench_day(app: Any) -> Any:
    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"x-bench-day":
                    DAY.set(int(value))
        await app(scope, receive, send)

    return wrapped


def bare_app(url: str) -> Any:
    engine = make_engine(url)
    clock = SystemClock()

    def insert(body: dict[str, Any]) -> str:
        row_id = uuid4()
        with engine.begin() as conn:
            conn.execute(
                BASELINE.insert().values(
                    id=row_id,
                    patient_id=str(body.get("patient_id", "")),
                    outcome=str(body.get("outcome", "")),
                    at=clock.now(),
                )
            )
        return str(row_id)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    engine.dispose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        row_id = await anyio.to_thread.run_sync(insert, json.loads(body or b"{}"))
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
    """The ASGI app named by BENCH_APP / BENCH_URL / BENCH_NOW (for uvicorn --workers)."""
    url = os.environ["BENCH_URL"]
    if os.environ["BENCH_APP"] == "bare":
        return bare_app(url)
    from app.main import create_app
    from bench.common import settings_for

    now = os.environ.get("BENCH_NOW")
    clock = BenchClock(datetime.fromisoformat(now)) if now else SystemClock()
    return with_bench_day(add_floors(create_app(settings_for(url), None, clock)))


def add_floors(app: Any) -> Any:
    """Two routes on the product's own app, for `bench.handover`'s floor lines: a sync endpoint
    that parses the handover's body and answers 201 (the framework, its middleware and the
    thread-pool hop), and the same behind the caller (`ActorDep`: a bearer token from the token
    cache, confirmed against the auth epoch in a transaction of its own). They write nothing."""
    from typing import Annotated

    from fastapi import Depends
    from fastapi.responses import JSONResponse

    from app.actor import Actor
    from app.auth.deps import get_actor
    from app.dosing.schemas import HandoverBody

    def floor(body: HandoverBody) -> JSONResponse:
        return JSONResponse({"patient_id": str(body.patient_id)}, status_code=201)

    def floor_auth(body: HandoverBody, actor: Annotated[Actor, Depends(get_actor)]) -> JSONResponse:
        return JSONResponse({"patient_id": str(body.patient_id)}, status_code=201)

    # This module's annotations are strings (`from __future__ import annotations`) naming
    # imports local to this function, which FastAPI could not resolve: give it the objects.
    floor.__annotations__ = {"body": HandoverBody, "return": JSONResponse}
    floor_auth.__annotations__ = {
        "body": HandoverBody,
        "actor": Annotated[Actor, Depends(get_actor)],
        "return": JSONResponse,
    }
    app.add_api_route("/bench/floor", floor, methods=["POST"], status_code=201)
    app.add_api_route("/bench/floor-auth", floor_auth, methods=["POST"], status_code=201)
    return app


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--app", choices=("dosekeeper", "bare"), required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--now", help="the FixedClock's instant (ISO 8601, aware)")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = ap.parse_args()
    os.environ.update(BENCH_APP=args.app, BENCH_URL=args.url, BENCH_NOW=args.now or "")
    options: dict[str, Any] = {"log_level": "warning", "access_log": False}
    if args.workers > 1:
        uvicorn.run(
            "bench.server:factory",
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
