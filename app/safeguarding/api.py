from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import StringConstraints

from app.actor import Actor
from app.auth.deps import ActorDep, still_signed_in
from app.clock import local_date
from app.db import UnitOfWork
from app.http import problems
from app.http.deps import NowDep, SettingsDep, UowDep
from app.http.schemas import SINGLE_LINE, Paged
from app.safeguarding import acknowledgement, concerns
from app.safeguarding import repository as alert_repository
from app.safeguarding import routing as alert_routing
from app.safeguarding.models import AlertState
from app.safeguarding.schemas import (
    AcknowledgeBody,
    AcknowledgedRead,
    AlertDetail,
    AlertRead,
    ConcernBody,
    ConcernRead,
    HistoryRead,
    RouteRead,
    RoutingRead,
)

router = APIRouter(tags=["alerts"], responses=problems.API_ERRORS)
# How often the event stream looks for new alerts (seconds).
POLL_SECONDS = 1.0


@router.get("/alerts", response_model=Paged[AlertRead])
def list_alerts(
    uow: UowDep,
    actor: ActorDep,
    settings: SettingsDep,
    state: AlertState | None = None,
    kind: Annotated[
        Annotated[str, StringConstraints(max_length=64), SINGLE_LINE] | None, Query()
    ] = None,
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
    rows, more = alert_repository.list_alerts(
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
        deliveries = alert_repository.deliveries_for(uow.session, [a.id for a in rows])
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
        # The session is checked again on every poll: a disabled account, an expired or revoked
        # token or an idle web session ends the stream (the client must sign in again).
        if not await run_in_threadpool(still_signed_in, request):
            yield b"event: signed_out\ndata: {}\n\n"
            return
        rows, _ = await run_in_threadpool(alert_repository.list_alerts, uow, actor=actor, limit=50)
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


@router.get("/alerts/routing", response_model=RoutingRead)
def routing(actor: ActorDep, settings: SettingsDep) -> RoutingRead:
    """Alert kind → recipient roles as configured (`DOSEKEEPER_POLICY__ALERT_ROUTING`), and the
    escalation ladder. Policy, not records: any signed-in caller may read it."""
    table = alert_routing.effective_table(settings.policy.alert_routing)
    return RoutingRead(
        items=[RouteRead(kind=kind, roles=roles) for kind, roles in table.items()],
        escalation=[str(role) for role in alert_routing.ESCALATION],
    )


# Declared after /alerts/routing (and /alerts/stream), which its pattern would otherwise take.
@router.get("/alerts/{alert_id}", response_model=AlertDetail)
def get_alert(alert_id: UUID, uow: UowDep, actor: ActorDep) -> AlertDetail:
    steps = alert_repository.history(uow, actor=actor, alert_id=alert_id)
    with uow:
        alert = alert_repository.get_alert(uow.session, actor, alert_id)
        deliveries = alert_repository.deliveries_for(uow.session, [alert.id])[alert.id]
    return AlertDetail(
        **AlertRead.model_validate(alert).model_dump(exclude={"deliveries"}),
        deliveries=deliveries,
        history=[HistoryRead.model_validate(h) for h in steps],
    )


@router.post("/alerts/{alert_id}/acknowledge", response_model=AcknowledgedRead)
def acknowledge(
    alert_id: UUID, body: AcknowledgeBody, uow: UowDep, actor: ActorDep, now: NowDep
) -> object:
    """Take ownership of an alert: escalation stops; who, when and the note are kept."""
    return acknowledgement.acknowledge(uow, actor=actor, alert_id=alert_id, note=body.note, now=now)


concern_router = APIRouter(tags=["concerns"], responses=problems.API_ERRORS)


@concern_router.post("/concerns", status_code=201, response_model=ConcernRead)
def record_concern(
    body: ConcernBody, uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> object:
    """Record a concern the rules cannot see (what was seen or told, who else was told and on
    what lawful basis, when to follow up). It raises an alert to the chosen recipients that is
    delivered, escalated and closed like any other, and only with a note of the action taken."""
    return concerns.record_concern(
        uow,
        actor=actor,
        concern=concerns.NewConcern(
            patient_id=body.patient_id,
            household_id=body.household_id,
            category=body.category,
            severity=body.severity,
            seen=body.seen,
            shared_with=body.shared_with,
            lawful_basis=body.lawful_basis,
            recipients=tuple(body.recipients),
            follow_up_on=body.follow_up_on,
        ),
        today=local_date(now, settings.timezone),
        now=now,
        policy=settings.policy,
    )


@concern_router.get("/concerns", response_model=Paged[ConcernRead])
def list_concerns(
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    patient_id: UUID | None = None,
    household_id: UUID | None = None,
) -> object:
    """The concerns about a patient (with their household's) or a household, newest first: the
    record of information shared (the read is logged)."""
    rows = concerns.concerns_about(
        uow, actor=actor, patient_id=patient_id, household_id=household_id, now=now
    )
    return {"items": rows, "next": None}
