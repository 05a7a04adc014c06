"""The whole application for `bench.regional_week`: uvicorn on 127.0.0.1 in its own process(es),
`create_app(settings, None, clock)` as `bench/server.py` serves it, with a clock that each
request sets to a simulated instant: midnight (UTC, which is London time in winter) of the
benchmark's first day, plus `x-bench-day: N` days, plus `x-bench-minute: M` minutes. So one
setup serves a week of counter days, each dose recorded at its simulated time of day (the
morning peak, the evening close) without stopping the server.

Run by `bench.common.serve(module="bench.regional_server")`; not meant to be started by hand.
"""

from __future__ import annotations

import argparse
import os
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

import uvicorn

from app.clock import FixedClock

DAY: ContextVar[int] = ContextVar("regional_day", default=0)
MINUTE: ContextVar[int] = ContextVar("regional_minute", default=0)


class RegionalClock(FixedClock):
    def now(self) -> datetime:
        return super().now() + timedelta(days=DAY.get(), minutes=MINUTE.get())


def with_simulated_time(app: Any) -> Any:
    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"x-bench-day":
                    DAY.set(int(value))
                elif name == b"x-bench-minute":
                    MINUTE.set(int(value))
        await app(scope, receive, send)

    return wrapped


def factory() -> Any:
    """The ASGI app named by BENCH_URL / BENCH_EPOCH (for uvicorn --workers)."""
    from app.main import create_app
    from bench.common import settings_for

    clock = RegionalClock(datetime.fromisoformat(os.environ["BENCH_EPOCH"]))
    return with_simulated_time(create_app(settings_for(os.environ["BENCH_URL"]), None, clock))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--epoch", required=True, help="day 0, minute 0 (ISO 8601, aware)")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = ap.parse_args()
    os.environ.update(BENCH_URL=args.url, BENCH_EPOCH=args.epoch)
    options: dict[str, Any] = {"log_level": "warning", "access_log": False}
    if args.workers > 1:
        uvicorn.run(
            "bench.regional_server:factory",
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
