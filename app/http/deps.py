"""FastAPI dependencies shared by every capability: unit of work, clock, settings. The caller
(`ActorDep`) is auth's own, in `app.auth.deps`: HTTP glue sits below every capability."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from app.clock import Clock
from app.config import Settings
from app.db import UnitOfWork

# The dependencies below do no I/O, so they are `async def`: FastAPI runs a plain `def`
# dependency in the thread pool, and four hops there and back cost more per request than
# the work itself (docs/performance.md). The `*_for` helpers serve synchronous callers.


# Checks a dependency registered for this request, to run first in each of its units of work
# (a list on `request.state`; `app/auth/token_cache.py` adds one for a cached bearer token).
UOW_CHECKS = "uow_checks"


def uow_for(request: Request) -> UnitOfWork:
    state = request.state

    def checks(session: Session) -> None:
        # Read when the unit of work begins, not when it was made: FastAPI may build the
        # unit of work before it resolves the caller.
        for check in getattr(state, UOW_CHECKS, ()):
            check(session)

    return UnitOfWork(request.app.state.session_factory, on_begin=checks)


def add_uow_check(request: Request, check: Callable[[Session], None]) -> None:
    checks: list[Callable[[Session], None]] | None = getattr(request.state, UOW_CHECKS, None)
    if checks is None:
        checks = []
        setattr(request.state, UOW_CHECKS, checks)
    checks.append(check)


def clock_for(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


def settings_for(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_uow(request: Request) -> UnitOfWork:
    return uow_for(request)


async def get_clock(request: Request) -> Clock:
    return clock_for(request)


async def get_settings(request: Request) -> Settings:
    return settings_for(request)


async def get_now(request: Request) -> datetime:
    return clock_for(request).now()


UowDep = Annotated[UnitOfWork, Depends(get_uow)]
ClockDep = Annotated[Clock, Depends(get_clock)]
NowDep = Annotated[datetime, Depends(get_now)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
