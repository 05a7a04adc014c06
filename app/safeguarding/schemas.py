"""Request and response bodies of the alerts and concerns API (safeguarding)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, Field

from app.http.schemas import In, IsoDate, Out
from app.safeguarding import alert_vocabulary, concern_alerts, concerns, rules


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


class RouteRead(BaseModel):
    kind: str
    roles: list[str] | None = Field(
        description="Recipient roles as configured; null: as the alert rule proposes"
    )


class RoutingRead(BaseModel):
    items: list[RouteRead]
    escalation: list[str] = Field(
        description="Who hears of an alert nobody acknowledged in time, level by level"
    )


class AcknowledgedRead(AlertRead):
    acknowledgement_note: str | None


class ConcernBody(In):
    patient_id: UUID | None = Field(default=None, description="The patient it is about")
    household_id: UUID | None = Field(
        default=None, description="The household (the patient's, if only the patient is named)"
    )
    category: concern_alerts.ConcernCategory
    severity: alert_vocabulary.Severity = Field(
        description="urgent: someone must act today (a child at risk now)"
    )
    seen: Annotated[str, Field(max_length=2000)] = Field(
        description="What you saw or were told, in your words (kept in the record, not sent)"
    )
    shared_with: Annotated[str, Field(max_length=500)] = Field(
        default="", description="Who else you told outside Dosekeeper, how and when"
    )
    lawful_basis: concerns.LawfulBasis = Field(description="Why sharing it is lawful")
    recipients: Annotated[list[rules.Recipient], Field(min_length=1, max_length=5)] = Field(
        description="Who is told through Dosekeeper (roles relative to the patient)"
    )
    follow_up_on: IsoDate | None = Field(
        default=None, description="When to check it was acted on (within 90 days)"
    )


class ConcernRead(Out):
    id: UUID
    pharmacy_id: UUID | None
    patient_id: UUID | None
    household_id: UUID | None
    category: str
    severity: str
    seen: str
    shared_with: str
    lawful_basis: str
    recipients: list[str]
    follow_up_on: IsoDate | None
    alert_id: UUID | None
    raised_by_id: UUID | None
    raised_at: datetime
