"""What goes on the wire: Standard Webhooks signatures (the spec's own vector, and every real
delivery verified by the `standardwebhooks` library), the CloudEvents envelope, and email with a
Message-ID that stays the same across retries (reliability.md §1.3–1.5)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from uuid import UUID

import pytest
import standardwebhooks.webhooks
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.clock import FixedClock
from app.notify import channels
from app.notify.channels import WebhookSender
from app.notify.worker import Worker
from tests.factories import World
from tests.notify.helpers import (
    attempts,
    deliveries,
    drain,
    hooked_contact,
    raise_missed,
    withhold,
)
from tests.notify.receivers import MailReceiver, WebhookReceiver

VECTOR_KEY = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


class _FrozenDatetime(datetime):
    """`datetime` whose now() is the test vector's instant (the sender reads the real clock)."""

    @classmethod
    def now(cls, tz=None):  # type: ignore[no-untyped-def,override]
        return datetime.fromtimestamp(VECTOR_TS, UTC)


def test_the_spec_test_vector_passes_through_our_sender(
    receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (
        Webhook(VECTOR_KEY).sign(
            VECTOR_ID, datetime.fromtimestamp(VECTOR_TS, UTC), VECTOR_BODY.decode()
        )
        == VECTOR_SIGNATURE
    )
    receiver.secret = VECTOR_KEY
    monkeypatch.setattr(channels, "datetime", _FrozenDatetime)
    # The receiver checks the 2021 timestamp against the same frozen clock, so it verifies the
    # vector as it does any delivery (and would answer 401 if it did not).
    monkeypatch.setattr(standardwebhooks.webhooks, "datetime", _FrozenDatetime)
    sender = WebhookSender(timeout=5, allowed_hosts={"127.0.0.1"})
    try:
        result = sender.send(receiver.url, VECTOR_KEY, event_id=VECTOR_ID, body=VECTOR_BODY)
    finally:
        sender.close()
    assert result.outcome == "delivered", result
    (got,) = receiver.received
    assert got.verified
    assert got.body == VECTOR_BODY  # the exact bytes that were signed
    assert got.headers["webhook-id"] == VECTOR_ID
    assert got.headers["webhook-timestamp"] == str(VECTOR_TS)
    assert got.headers["webhook-signature"] == VECTOR_SIGNATURE


def test_our_sender_verifies_with_the_library_and_tampering_does_not(
    receiver: WebhookReceiver,
) -> None:
    secret = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"  # 24 bytes
    receiver.secret = secret
    body = b'{"specversion":"1.0","id":"evt_1"}'
    sender = WebhookSender(timeout=5, allowed_hosts={"127.0.0.1"})
    before = datetime.now(UTC)
    try:
        assert sender.send(receiver.url, secret, event_id="evt_1", body=body).outcome == "delivered"
    finally:
        sender.close()
    (got,) = receiver.received
    assert got.verified, "the receiver's standardwebhooks check failed"
    stamp = int(got.headers["webhook-timestamp"])
    assert int(before.timestamp()) - 1 <= stamp <= int(datetime.now(UTC).timestamp()) + 1
    headers = dict(got.headers)
    assert Webhook(secret).verify(got.body, headers) == {"specversion": "1.0", "id": "evt_1"}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(got.body.replace(b"evt_1", b"evt_2"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "WllYV1ZVVFNSUVBPTk1MS0pJSEdGRURD").verify(got.body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(got.body, {**headers, "webhook-id": "evt_other"})
    stale = {**headers, "webhook-timestamp": str(stamp - 301)}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(got.body, stale)


REQUIRED = {"id", "source", "specversion", "type"}
DATA_KEYS = {
    "alert_id",
    "kind",
    "severity",
    "pharmacy_ods",
    "escalation_level",
    "link",
    "acknowledge_link",
}


def test_a_withheld_dose_arrives_as_a_signed_cloudevent_and_a_thin_email(
    world: World,
    clock: FixedClock,
    receiver: WebhookReceiver,
    mail: MailReceiver,
    workers: Callable[..., Worker],
) -> None:
    contact = hooked_contact(world, receiver, email="kw@drugservice.example")
    patient = world.patient(key_worker_id=contact["id"])
    raised = withhold(world, clock, patient["id"])
    assert raised["alerts"], raised
    assert drain(workers()) >= 2

    alert_id = raised["alerts"][0]
    webhook = next(d for d in deliveries(world, alert_id) if d.channel == "webhook")
    assert webhook.state == "delivered"
    (got,) = receiver.received
    assert got.verified
    assert got.headers["content-type"].startswith("application/cloudevents+json")
    event = json.loads(got.body)
    assert set(event) >= REQUIRED
    assert event["specversion"] == "1.0"
    assert event["id"] == got.headers["webhook-id"] == str(webhook.event_id)
    assert event["type"] == "uk.dosekeeper.safeguarding.alert.v1"
    with world.uow as uow:
        from app.pharmacies.models import Pharmacy

        pharmacy = uow.session.get(Pharmacy, world.home.pharmacy_id)
        assert pharmacy is not None
        ods = pharmacy.ods_code
    assert event["source"] == f"/pharmacies/{ods}"
    assert event["subject"] == f"alerts/{alert_id}"
    assert event["dataclassification"] == "restricted"
    assert event["dataregulation"] == "UKGDPR"
    assert event["datacategory"] == "special-category"
    assert set(event["data"]) == DATA_KEYS  # references and the kind, nothing clinical
    assert event["data"]["alert_id"] == alert_id
    assert event["data"]["kind"] == "dose_withheld_intoxicated"
    # The source + id pair is unique per event (CloudEvents): one id per delivery.
    assert len({str(d.event_id) for d in deliveries(world)}) == len(deliveries(world))

    email_delivery = next(
        d
        for d in deliveries(world, alert_id)
        if d.channel == "email" and d.contact_id == UUID(contact["id"])
    )
    mine = [m for m in mail.messages if m["To"] == "kw@drugservice.example"]
    assert len(mine) == 1
    assert mine[0]["Message-ID"] == f"<{email_delivery.event_id}@dosekeeper.invalid>"
    assert mine[0]["X-Dosekeeper-Alert"] == alert_id


def test_an_email_retried_after_a_temporary_failure_keeps_its_message_id(
    world: World,
    clock: FixedClock,
    mail: MailReceiver,
    workers: Callable[..., Worker],
) -> None:
    patient = world.patient()  # the world's key worker: email only
    alert_id = raise_missed(world, patient["id"], day=clock.now().date(), now=clock.now())
    (delivery,) = deliveries(world, alert_id)
    assert delivery.channel == "email"
    mail.refuse = 1  # 451: try again later
    worker = workers()
    assert worker.run_once() == 1
    (after_first,) = deliveries(world, alert_id)
    assert after_first.state == "pending"
    assert after_first.last_error
    clock.advance(timedelta(seconds=13))  # past the first retry (10 s ± 20%)
    assert worker.run_once() == 1
    (after_second,) = deliveries(world, alert_id)
    assert after_second.state == "delivered"
    assert len(mail.raw) == 2
    assert len(mail.messages) == 1
    ids = {message_from_bytes(raw)["Message-ID"] for raw in mail.raw}
    assert ids == {f"<{delivery.event_id}@dosekeeper.invalid>"}
    assert [a.outcome for a in attempts(world, delivery.id)] == ["retry", "delivered"]
