from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import Field

from app.audit.service import Actor
from app.db import UnitOfWork
from app.http import problems
from app.http.deps import ActorDep, NowDep, SettingsDep, UowDep
from app.http.schemas import In, Out, Paged
from app.safeguarding import service as safeguarding_service
from app.safeguarding.models import AlertState

router = APIRouter(tags=["alerts"], responses=problems.API_ERRORS)
# How often the event stream looks for new alerts (seconds).
POLL_SECONDS = 1.0


class AlertRead(Out):
    id: UUID
    kind: str
    severity: str
    state: str
    pharmacy_id: UUID | None
    patient_id: UUID | None
    household_id: UUID | None
    message: str
    facts: dict[str, Any]
    recipients: list[str]
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by_id: UUID | None
    escalation_level: int
    next_escalation_at: datetime | None = None
    deliveries: list[dict[str, Any]] = []


class HistoryRead(Out):
    at: datetime
    action: str
    actor: str
    note: str


class AlertDetail(AlertRead):
    history: list[HistoryRead]


class AcknowledgeBody(In):
    note: Annotated[str, Field(max_length=2000)] = ""


@router.get("/alerts", response_model=Paged[AlertRead])
def list_alerts(
    uow: UowDep,
    actor: ActorDep,
    settings: SettingsDep,
    state: AlertState | None = None,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    severity: Annotated[str | None, Query(pattern="^(info|warning|urgent)$")] = None,
    pharmacy_id: UUID | None = None,
    patient_id: UUID | None = None,
    household_id: UUID | None = None,
    cursor: Annotated[str | None, Query(pattern=r"^\d{1,7}$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> object:
    """The alert feed the caller may see, newest first, with filters."""
    offset = int(cursor or 0)
    limit = min(limit, settings.max_page_size)
    rows, more = safeguarding_service.list_alerts(
        uow,
        actor=actor,
        state=state,
        kind=kind,
        severity=severity,
        pharmacy_id=pharmacy_id,
        patient_id=patient_id,
        household_id=household_id,
        offset=offset,
        limit=limit,
    )
    with uow:
        deliveries = safeguarding_service.deliveries_for(uow.session, [a.id for a in rows])
    items = [
        AlertRead(
            **AlertRead.model_validate(a).model_dump(exclude={"deliveries"}),
            deliveries=deliveries[a.id],
        )
        for a in rows
    ]
    return {"items": items, "next": str(offset + limit) if more else None}


async def alert_events(
    request: Request, uow: UnitOfWork, actor: Actor, since: datetime
) -> AsyncIterator[bytes]:
    seen: set[UUID] = set()
    yield b": connected\n\n"
    quiet = 0.0
    while not await request.is_disconnected():
        rows, _ = await run_in_threadpool(
            safeguarding_service.list_alerts, uow, actor=actor, limit=50
        )
        fresh = [a for a in reversed(rows) if a.created_at >= since and a.id not in seen]
        for alert in fresh:
            seen.add(alert.id)
            body = AlertRead.model_validate(alert).model_dump_json()
            yield f"id: {alert.id}\nevent: alert\ndata: {body}\n\n".encode()
        quiet = 0.0 if fresh else quiet + POLL_SECONDS
        if quiet >= 15:
            yield b": keep-alive\n\n"
            quiet = 0.0
        await asyncio.sleep(POLL_SECONDS)


@router.get(
    "/alerts/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream(request: Request, actor: ActorDep, uow: UowDep, now: NowDep) -> StreamingResponse:
    """Server-Sent Events: each new alert the caller may see, as it is raised."""
    return StreamingResponse(
        alert_events(request, uow, actor, since=now),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/alerts/{alert_id}", response_model=AlertDetail)
def get_alert(alert_id: UUID, uow: UowDep, actor: ActorDep) -> AlertDetail:
    steps = safeguarding_service.history(uow, actor=actor, alert_id=alert_id)
    with uow:
        alert = safeguarding_service.get_alert(uow.session, actor, alert_id)
        deliveries = safeguarding_service.deliveries_for(uow.session, [alert.id])[alert.id]
    return AlertDetail(
        **AlertRead.model_validate(alert).model_dump(exclude={"deliveries"}),
        deliveries=deliveries,
        history=[HistoryRead.model_validate(h) for h in steps],
    )


class AcknowledgedRead(AlertRead):
    acknowledgement_note: str | None


@router.post("/alerts/{alert_id}/acknowledge", response_model=AcknowledgedRead)
def acknowledge(
    alert_id: UUID, body: AcknowledgeBody, uow: UowDep, actor: ActorDep, now: NowDep
) -> object:
    """Take ownership of an alert: escalation stops; who, when and the note are kept."""
    return safeguarding_service.acknowledge(
        uow, actor=actor, alert_id=alert_id, note=body.note, now=now
    )
