"""Request bodies of the counter API (a scan at the counter)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import Field

from app.http.schemas import BARCODE, In


class ScanBody(In):
    code: Annotated[str, BARCODE, Field(min_length=1, max_length=500)]
    symbology: Annotated[str, Field(max_length=4)] | None = None
    patient_id: UUID | None = Field(
        default=None, description="The patient at the counter, to check a label belongs to them"
    )
