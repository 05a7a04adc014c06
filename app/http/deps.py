"""FastAPI dependencies shared by every capability: unit of work, clock, settings. The caller
(`ActorDep`) is auth's own, in `app.auth.deps`: HTTP glue sits below every capability."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from app.clock import Clock
from app.config import Settings
from app.db import UnitOfWork

# The dependencies below do no I/O, so they are `async def`: FastAPI runs a plain `def`
# dependency in the thread pool, and four hops there and back cost more per request than
# the work itself (docs/performance.md). The `*_for` helpers serve synchronous callers.


def uow_for(request: Request) -> UnitOfWork:
    return UnitOfWork(request.app.state.session_factory)


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
