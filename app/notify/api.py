"""Notify over HTTP: the test send to a contact's webhook (its path and tag are the contacts
API's; it lives here because sending is notify's and contacts sit below it)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from app.auth.deps import ActorDep
from app.contacts import service as contacts_service
from app.http import problems
from app.http.deps import NowDep, SettingsDep, UowDep
from app.notify.test_send import send_test_event

router = APIRouter(tags=["contacts"], responses=problems.API_ERRORS)


@router.post("/contacts/{contact_id}/test", responses=problems.problem_responses(429))
def test_send(
    contact_id: UUID, uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> dict[str, object]:
    """Send a signed test event to the contact's webhook now and report what came back."""
    target = contacts_service.record_test_send(uow, actor=actor, contact_id=contact_id, now=now)
    result = send_test_event(
        target,
        now=now,
        timeout=settings.notify.webhook_timeout_seconds,
        allowed_hosts=settings.webhook_allowed_hosts,
    )
    return {"outcome": result.outcome, "status_code": result.status_code, "detail": result.detail}
