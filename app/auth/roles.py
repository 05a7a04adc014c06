"""The roles a person can hold. A vocabulary, apart from the tables, so that pages, policy and
use cases name a role without importing auth's models."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Role"]


class Role(StrEnum):
    PHARMACIST = "pharmacist"
    TECHNICIAN = "technician"
    PRESCRIBER = "prescriber"
    KEY_WORKER = "key_worker"
    SAFEGUARDING_LEAD = "safeguarding_lead"
    ADMIN = "admin"
