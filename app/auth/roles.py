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
    # An out-of-hours, hospital or custody clinician: the last-dose look-up and nothing else
    # (app/lookup; every other route refuses the role in `app.auth.deps.get_actor`).
    CLINICIAN = "clinician"
