"""Who is acting: a signed-in user, or the system (worker, CLI, scheduled job).

At the foundation, beside the clock and the errors, because everything below the HTTP layer
records who did what: the audit log (which auth itself writes to when someone signs in), every
use case, and the tenancy policy in `app.auth.policy`. Defined in auth, it would make audit and
auth import each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

__all__ = ["SYSTEM", "Actor"]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it: a signed-in user, or the system (worker, CLI, scheduled job)."""

    id: UUID | None
    name: str
    role: str
    pharmacy_id: UUID | None = None
    contact_id: UUID | None = None


SYSTEM = Actor(id=None, name="system", role="system")
