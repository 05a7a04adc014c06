"""The steps around every line a register use case writes: its author (`stamp_author`), its
audit event (`audit_entry`), and a refusal in the rules' own words (`refuse`).

Shared by supplies, receipts, balance checks and corrections, so each writes a line the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit_service
from app.errors import Refused
from app.register import rules
from app.register.models import RegisterEntry


def stamp_author(entry: RegisterEntry, actor: Actor, now: datetime) -> None:
    entry.author_id = actor.id
    entry.author_name = actor.name
    entry.created_at = now


def refuse(findings: Sequence[rules.Finding]) -> None:
    if findings:
        first = findings[0]
        raise Refused(
            first.message,
            code=str(first.code),
            blocks=[
                {"code": str(f.code), "message": f.message, "source": f.source, "field": f.field}
                for f in findings
            ],
        )


def audit_entry(
    session: Session, actor: Actor, action: str, entry: RegisterEntry, now: datetime, **facts: Any
) -> None:
    audit_service.record(
        session,
        actor,
        action,
        entity="register_entry",
        entity_id=entry.id,
        at=now,
        pharmacy_id=entry.pharmacy_id,
        facts={
            "product": entry.product,
            "line": entry.line,
            "change_ml": entry.change_ml,
            **facts,
        },
    )
