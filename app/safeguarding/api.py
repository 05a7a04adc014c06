from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import Field

from app.http.deps import ActorDep, NowDep, SettingsDep, UowDep
from app.http.schemas import In, Out, Paged
from app.safeguarding import service as safeguarding_service
from app.safeguarding.models import AlertState

router = APIRouter(tags=["alerts"])


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
    uow: UowDep, actor: ActorDep, settings: SettingsDep,
    state: AlertState | None = None,
    kind: Annotated[str | None, Query(max_length=64)] = None,
    severity: Annotated[str | None, Query(pattern="^(info|warning|urgent)$")] = None,
    pharmacy_id: UUID | None = None, patient_id: UUID | None = None,
    household_id: UUID | None = None,
    cursor: Annotated[str | None, Query(pattern=r"^\d{1,7}$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> object:
    """The alert feed the caller may see, newest first, with filters."""
    offset = int(cursor or 0)
    limit = min(limit, settings.max_page_size)
    rows, more = safeguarding_service.list_alerts(
        uow, actor=actor, state=state, kind=kind, severity=severity, pharmacy_id=pharmacy_id,
        patient_id=patient_id, household_id=household_id, offset=offset, limit=limit)
    return {"items": rows, "next": str(offset + limit) if more else None}


@router.get("/alerts/{alert_id}", response_model=AlertDetail)
def get_alert(alert_id: UUID, uow: UowDep, actor: ActorDep) -> AlertDetail:
    steps = safeguarding_service.history(uow, actor=actor, alert_id=alert_id)
    with uow:
        alert = safeguarding_service.get_alert(uow.session, actor, alert_id)
    return AlertDetail(**AlertRead.model_validate(alert).model_dump(),
                       history=[HistoryRead.model_validate(h) for h in steps])


class AcknowledgedRead(AlertRead):
    acknowledgement_note: str | None


@router.post("/alerts/{alert_id}/acknowledge", response_model=AcknowledgedRead)
def acknowledge(alert_id: UUID, body: AcknowledgeBody, uow: UowDep, actor: ActorDep,
                now: NowDep) -> object:
    """Take ownership of an alert: escalation stops; who, when and the note are kept."""
    return safeguarding_service.acknowledge(uow, actor=actor, alert_id=alert_id, note=body.note,
                                            now=now)

