"""Alerts reach real receivers on 127.0.0.1, signed, and escalate when nobody owns them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from app.clock import FixedClock
from app.config import NotifySettings, Settings
from app.safeguarding.delivery import alert_worker
from tests.builders import prescribe as active
from tests.factories import World, make_contact
from tests.notify.receivers import MailReceiver, WebhookReceiver


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hook = WebhookReceiver().start()
    yield hook
    hook.stop()


@pytest.fixture
def mail() -> Iterator[MailReceiver]:
    smtp = MailReceiver().start()
    yield smtp
    smtp.stop()


def notify_settings(settings: Settings, smtp_url: str) -> Settings:
    return settings.model_copy(
        update={
            "smtp_url": smtp_url,
            "notify": NotifySettings(
                retry_delays_seconds=(1, 2),
                retry_for_seconds=30,
                sla_seconds={"info": 60, "warning": 60, "urgent": 60},
            ),
        }
    )


@pytest.mark.hazard("H-07.1")
def test_a_withheld_dose_reaches_the_key_worker_by_signed_webhook_and_email(
    world: World, clock: FixedClock, receiver: WebhookReceiver, mail: MailReceiver
) -> None:
    created = world.post(
        "/api/v1/contacts",
        {
            "name": "KW",
            "organisation": "Drug service",
            "kind": "key_worker",
            "email": "kw@drugservice.example",
            "webhook_url": "http://127.0.0.1:1/placeholder",
        },
    )
    assert created.status_code == 201, created.text
    patient = world.patient()
    # The patient's key worker is the world's; give that contact a webhook for this test.
    hook_contact = make_contact(world.uow, "key_worker", webhook_url=receiver.url)
    from app.contacts.models import Contact

    with world.uow as uow:
        contact = uow.session.get(Contact, hook_contact)
        assert contact is not None
        receiver.secret = contact.webhook_secret or ""
    patient = world.patient(key_worker_id=str(hook_contact))
    active(world, patient["id"])
    from datetime import UTC, datetime

    clock.set(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    withheld = world.post(
        "/api/v1/counter/withhold",
        {"patient_id": patient["id"], "date": "2026-11-30", "reason": "intoxicated"},
    )
    assert withheld.status_code == 201, withheld.text
    worker = alert_worker(
        world.client.app.state.session_factory,  # type: ignore[attr-defined]
        notify_settings(world.settings, mail.url),
        clock,
        name="test",
    )
    try:
        assert worker.run_once() >= 2
    finally:
        worker.close()
    assert receiver.received
    assert all(r.verified for r in receiver.received)
    event = receiver.payloads()[0]
    assert event["specversion"] == "1.0"
    assert event["data"]["kind"] == "dose_withheld_intoxicated"
    assert patient["family_name"] not in receiver.received[0].body.decode()
    assert mail.messages, "the key worker's email was not delivered"
    assert patient["family_name"] not in mail.messages[0].as_string()
    clock.advance(timedelta(seconds=1))
