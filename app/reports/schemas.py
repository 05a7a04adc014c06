"""Response bodies of the reports API (a patient's adherence, day by day)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel

from app.http.schemas import IsoDate


class AdherenceDay(BaseModel):
    dose_date: IsoDate
    collect_on: IsoDate
    product: str
    mode: str
    dose_mg: str
    state: str


class AdherenceRead(BaseModel):
    patient_id: UUID
    days: list[AdherenceDay]
    summary: dict[str, Any]
