"""Helpers shared by the delivery tests: contacts through the API, alerts through the real use
cases (or, for bulk, the one service they all call), and reading back the outbox."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.actor import SYSTEM
from app.config import NotifySettings, Settings
from app.db import UnitOfWork
from app.notify.models import Delivery, DeliveryAttempt
from app.notify.worker import Worker
from app.patients.models import Patient
from app.safeguarding import repository as alert_repository
from app.safeguarding import rules
from app.safeguarding import service as safeguarding_service
from app.safeguarding.models import Alert, AlertHistory
from tests.builders import prescribe as active
from tests.factories import Branch, World
from tests.notify.receivers import WebhookReceiver

API = "/api/v1"
# Monday 30 November 2026, 09:00 London (GMT): the first day of the fp10mda schedule.
MONDAY_9AM = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)

# Short, test-sized schedule: retries after ~10 s, ~60 s, then every ~300 s for an hour.
TEST_NOTIFY = NotifySettings(
    retry_delays_seconds=(10, 60, 300),
    retry_for_seconds=3600,
    retry_jitter=0.2,
    webhook_timeout_seconds=5,
    sla_seconds={"info": 600, "warning": 600, "urgent": 300},
    lease_seconds=60,
    worker_poll_seconds=0.01,
)


def with_notify(settings: Settings, smtp_url: str, **notify: Any) -> Settings:
    return settings.model_copy(
        update={"smtp_url": smtp_url, "notify": TEST_NOTIFY.model_copy(update=notify)}
    )


def add_contact(
    world: World,
    kind: str,
    *,
    email: str | None = None,
    webhook_url: str | None = None,
    branch: Branch | None = None,
    role: str = "pharmacist",
) -> dict[str, Any]:
    """POST /api/v1/contacts (the contact belongs to the caller's pharmacy)."""
    body: dict[str, Any] = {"name": f"Test {kind}", "organisation": "Test Org", "kind": kind}
    if email:
        body["email"] = email
    if webhook_url:
        body["webhook_url"] = webhook_url
    response = world.post(f"{API}/contacts", body, role=role, branch=branch)
    assert response.status_code == 201, response.text
    return dict(response.json())


def hooked_contact(
    world: World,
    hook: WebhookReceiver,
    kind: str = "key_worker",
    *,
    email: str | None = None,
    branch: Branch | None = None,
) -> dict[str, Any]:
    """A contact whose webhook is `hook`; the receiver learns the secret shown once."""
    created = add_contact(world, kind, email=email, webhook_url=hook.url, branch=branch)
    assert created["webhook_secret"].startswith("whsec_")
    hook.secret = created["webhook_secret"]
    return created


def raise_missed(
    world: World,
    patient_id: str | UUID,
    *,
    day: date,
    now: datetime,
    streak: int = 2,
    threshold: int = 99,
) -> UUID:
    """A missed-dose warning for the patient's key worker only (or, at the threshold, an urgent
    alert for the prescriber and key worker), through the service every use case calls
    (`raise_alert`), in its own transaction; returns the alert id."""
    (event,) = rules.missed_dose_events(
        days_without_dose=streak, children=(), policy_missed_threshold=threshold
    )
    with world.uow as uow:
        patient = uow.session.get(Patient, UUID(str(patient_id)))
        assert patient is not None
        alert = safeguarding_service.raise_alert(
            uow.session,
            event,
            actor=SYSTEM,
            pharmacy_id=patient.pharmacy_id,
            patient_id=patient.id,
            household_id=patient.household_id,
            day=day,
            now=now,
            routing={},
        )
        uow.commit()
        return alert.id


def deliveries(world: World, alert_id: UUID | str | None = None) -> list[Delivery]:
    with world.uow as uow:
        query = select(Delivery).order_by(Delivery.created_at, Delivery.channel, Delivery.id)
        if alert_id is not None:
            query = query.where(Delivery.alert_id == UUID(str(alert_id)))
        return list(uow.session.scalars(query))


def attempts(world: World, delivery_id: UUID) -> list[DeliveryAttempt]:
    with world.uow as uow:
        return list(
            uow.session.scalars(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.delivery_id == delivery_id)
                .order_by(DeliveryAttempt.at, DeliveryAttempt.id)
            )
        )


def alert_row(world: World, alert_id: UUID | str) -> Alert:
    with world.uow as uow:
        alert = uow.session.get(Alert, UUID(str(alert_id)))
        assert alert is not None
        return alert


def history(world: World, alert_id: UUID | str) -> list[AlertHistory]:
    """The alert's steps in the order the service (and the API) gives them."""
    return alert_repository.history(world.uow, actor=SYSTEM, alert_id=UUID(str(alert_id)))


def alerts_of_kind(world: World, kind: str, pharmacy_id: UUID | None = None) -> list[Alert]:
    """Every alert of a kind (in the pharmacy, when given: on a shared database)."""
    with world.uow as uow:
        query = select(Alert).where(Alert.kind == kind).order_by(Alert.created_at)
        if pharmacy_id is not None:
            query = query.where(Alert.pharmacy_id == pharmacy_id)
        return list(uow.session.scalars(query))


def drain(worker: Worker, passes: int = 20) -> int:
    """Run passes until one finds nothing due; returns the deliveries attempted."""
    total = 0
    for _ in range(passes):
        done = worker.run_once()
        total += done
        if not done:
            return total
    raise AssertionError(f"still busy after {passes} passes")


def by_id(received: list[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in received:
        counts[item.headers["webhook-id"]] = counts.get(item.headers["webhook-id"], 0) + 1
    return counts


def withhold(
    world: World,
    clock: Any,
    patient_id: str,
    *,
    children_present: tuple[str, ...] = (),
    reason_text: str = "",
) -> dict[str, Any]:
    """Give the patient an active prescription and withhold Monday's dose (intoxicated): the
    counter's own use case raises the alerts and writes their deliveries."""
    active(world, patient_id)
    if clock.now() < MONDAY_9AM:
        clock.set(MONDAY_9AM)
    response = world.post(
        f"{API}/counter/withhold",
        {
            "patient_id": patient_id,
            "date": clock.now().date().isoformat(),
            "reason": "intoxicated",
            "reason_text": reason_text,
            "children_present": list(children_present),
        },
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def drain_together(
    session_factory: sessionmaker[Session],
    pool: Sequence[Worker],
    step: Callable[[Worker], int],
    *,
    passes: int,
) -> None:
    """Start every worker at once, each calling `step` (a pass: `run_once` or `drain`) until it
    finds nothing and no delivery is left undelivered; fails if one is still busy after
    `passes` or raised."""
    start = threading.Barrier(len(pool))
    errors: list[BaseException] = []

    def remaining() -> int:
        with UnitOfWork(session_factory) as uow:  # a unit of work per thread
            return int(
                uow.session.scalar(
                    select(func.count()).select_from(Delivery).where(Delivery.state != "delivered")
                )
                or 0
            )

    def run(worker: Worker) -> None:
        try:
            start.wait()
            for _ in range(passes):
                if not step(worker) and not remaining():
                    return
            raise AssertionError(f"{worker.name} still busy")
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in pool]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
