"""The test receivers refuse what they cannot verify, as a real receiver must: a webhook with a
wrong or missing signature is answered 401, our sender sees a failed delivery (to retry), and
no test can read an unverified payload as if it had arrived."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from app.notify.channels import WebhookSender
from tests.load.receiver import HookSink
from tests.notify.receivers import WebhookReceiver, assert_all_verified

SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
OTHER_SECRET = "whsec_" + "WllYV1ZVVFNSUVBPTk1MS0pJSEdGRURD"
BODY = b'{"specversion":"1.0","id":"evt_1","data":{"kind":"missed_dose"}}'


def signed(secret: str, body: bytes = BODY) -> dict[str, str]:
    msg_id, now = f"msg_{uuid.uuid4().hex}", datetime.now(UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, now, body),
        "content-type": "application/json",
    }


def test_a_correctly_signed_webhook_is_accepted_and_read(
    hooks: Callable[..., WebhookReceiver],
) -> None:
    receiver = hooks(secret=SECRET)
    response = httpx.post(receiver.url, content=BODY, headers=signed(SECRET))
    assert response.status_code == 204
    [got] = receiver.received
    assert (got.verified, got.status) == (True, 204)
    assert receiver.payloads() == [
        {"specversion": "1.0", "id": "evt_1", "data": {"kind": "missed_dose"}}
    ]


@pytest.mark.unsigned_webhooks
@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda: signed(OTHER_SECRET), id="another-secret"),
        pytest.param(lambda: {**signed(SECRET), "webhook-id": "msg_replayed"}, id="id-changed"),
        pytest.param(lambda: {"content-type": "application/json"}, id="unsigned"),
    ],
)
def test_a_webhook_that_does_not_verify_is_refused_401_and_never_read(
    hooks: Callable[..., WebhookReceiver], headers: Callable[[], dict[str, str]]
) -> None:
    receiver = hooks(secret=SECRET, script=[(204, {})])
    response = httpx.post(receiver.url, content=BODY, headers=headers())
    assert response.status_code == 401
    [got] = receiver.received
    assert (got.verified, got.payload, got.status) == (False, None, 401)
    assert receiver.script == [(204, {})], "a refused request used up a scripted answer"
    with pytest.raises(AssertionError, match="failed signature verification"):
        receiver.payloads()


@pytest.mark.unsigned_webhooks
def test_our_sender_signing_with_the_wrong_secret_is_a_failed_delivery(
    hooks: Callable[..., WebhookReceiver],
) -> None:
    receiver = hooks(secret=SECRET)
    sender = WebhookSender(timeout=5, allowed_hosts={"127.0.0.1"})
    try:
        result = sender.send(receiver.url, OTHER_SECRET, event_id="evt_1", body=BODY)
    finally:
        sender.close()
    assert (result.outcome, result.status_code) == ("retry", 401)
    assert [r.verified for r in receiver.received] == [False]


@pytest.mark.unsigned_webhooks
def test_an_unverified_webhook_left_behind_fails_the_check_every_delivery_test_ends_with(
    hooks: Callable[..., WebhookReceiver],
) -> None:
    checked, forgotten = hooks(secret=SECRET), hooks(secret=SECRET)
    httpx.post(checked.url, content=BODY, headers=signed(SECRET))
    assert_all_verified([checked, forgotten])
    httpx.post(forgotten.url, content=BODY, headers=signed(OTHER_SECRET))
    with pytest.raises(AssertionError, match="failed signature verification"):
        assert_all_verified([checked, forgotten])


@pytest.fixture
def sink() -> Iterator[HookSink]:
    started = HookSink().start()
    started.register("kw", SECRET)
    yield started
    started.stop()


def test_the_load_run_receiver_refuses_what_it_cannot_verify(sink: HookSink) -> None:
    good = httpx.post(sink.url_for("kw"), content=BODY, headers=signed(SECRET))
    wrong = httpx.post(sink.url_for("kw"), content=BODY, headers=signed(OTHER_SECRET))
    unknown = httpx.post(sink.url_for("nobody"), content=BODY, headers=signed(SECRET))
    assert [good.status_code, wrong.status_code, unknown.status_code] == [204, 401, 401]
    assert [h.verified for h in sink.snapshot()] == [True, False, False]
