"""A contact an alert is routed to but who has no working channel (their webhook was disabled
after a 410 and they have no email, or nothing was ever recorded) is not merely a line in the
alert's history: it fails exactly as a delivery dead after its retries does. The delivery is
kept as dead with the reason, the safeguarding lead gets an urgent `delivery_failed`, and the
alert itself stays unowned and climbs the ladder to the lead and the MASH (docs/alerts.md).

Everything runs on the real stack: the API, the real worker, HTTP receivers and an SMTP server
on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.clock import FixedClock
from app.contacts.models import Contact
from app.notify.worker import Worker
from tests.factories import World
from tests.notify.helpers import (
    API,
    add_contact,
    alert_row,
    alerts_of_kind,
    attempts,
    deliveries,
    drain,
    history,
    hooked_contact,
    raise_missed,
)
from tests.notify.receivers import MailReceiver, WebhookReceiver

SLA_WARNING, SLA_URGENT = 600, 300  # the test settings


def disable_webhook(world: World, contact_id: str, at: datetime) -> None:
    """The state a 410 leaves a contact in (the 410 itself: test_retries)."""
    with world.uow as uow:
        contact = uow.session.get(Contact, UUID(contact_id))
        assert contact is not None
        contact.webhook_disabled_at = at
        uow.commit()


def kinds_at(hook: WebhookReceiver) -> list[tuple[str, str, int]]:
    """(alert id, kind, escalation level) of every verified webhook the receiver got."""
    return [
        (p["data"]["alert_id"], p["data"]["kind"], p["data"]["escalation_level"])
        for p in hook.payloads()
    ]


@pytest.mark.hazard("H-07.3")
def test_an_alert_for_a_contact_with_no_working_channel_fails_visibly_and_escalates(
    world: World,
    clock: FixedClock,
    hooks: Callable[..., WebhookReceiver],
    mail: MailReceiver,
    workers: Callable[..., Worker],
) -> None:
    kw_hook = hooks(script=[(410, {})])  # the key worker's endpoint is retired for good
    lead_hook, mash_hook = hooks(), hooks()
    key_worker = hooked_contact(world, kw_hook)  # webhook only, no email
    hooked_contact(world, lead_hook, "safeguarding_lead", email="lead@pharmacy.example")
    hooked_contact(world, mash_hook, "mash")
    patient = world.patient(key_worker_id=key_worker["id"])
    worker = workers()

    # Yesterday: the 410 disables the key worker's webhook (and the lead is told of that).
    yesterday = clock.now()
    first = raise_missed(world, patient["id"], day=yesterday.date(), now=yesterday)
    drain(worker)
    (earlier_failure,) = alerts_of_kind(world, "delivery_failed")
    acked = world.post(
        f"{API}/alerts/{earlier_failure.id}/acknowledge",
        {"note": "Phoned the drug service"},
        role="safeguarding_lead",
    )
    assert acked.status_code == 200, acked.text
    ack_first = world.post(f"{API}/alerts/{first}/acknowledge", {"note": "Seen"})
    assert ack_first.status_code == 200, ack_first.text

    # Today: a new alert is routed to the key worker, who can no longer be reached at all.
    clock.advance(timedelta(days=1))
    raised_at = clock.now()
    alert_id = raise_missed(world, patient["id"], day=raised_at.date(), now=raised_at)
    (unsent,) = deliveries(world, alert_id)
    assert (unsent.contact_id, unsent.channel, unsent.state) == (
        UUID(key_worker["id"]),
        "webhook",
        "pending",
    ), "the unreachable contact has a delivery in the outbox, written with the alert"
    steps = [(h.action, h.note) for h in history(world, alert_id)]
    assert [a for a, _ in steps] == ["raised", "no_channel"]
    assert key_worker["id"] in steps[1][1]

    before = len(kw_hook.received)
    worker.run_once()
    (unsent,) = deliveries(world, alert_id)
    assert unsent.state == "dead"
    assert unsent.last_error is not None
    assert "no working channel" in unsent.last_error
    assert "410 Gone" in unsent.last_error
    (tried,) = attempts(world, unsent.id)
    assert (tried.outcome, tried.status_code) == ("no_channel", None)
    assert len(kw_hook.received) == before, "a disabled endpoint was contacted"
    assert "delivery_dead" in [h.action for h in history(world, alert_id)]
    with world.uow as uow:
        (audited,) = uow.session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "delivery.dead", AuditEvent.entity_id == str(alert_id)
            )
        )
    assert audited.facts["cause"] == "no_channel"

    # The lead is told at once, by an urgent delivery_failed of its own for today.
    failed = [a for a in alerts_of_kind(world, "delivery_failed") if a.id != earlier_failure.id]
    assert len(failed) == 1, failed
    failure = failed[0]
    assert (failure.severity, failure.state, failure.patient_id) == (
        "urgent",
        "open",
        UUID(patient["id"]),
    )
    assert failure.facts == {
        "original_kind": "missed_dose",
        "channel": "webhook",
        "cause": "no_channel",
    }
    assert "no working webhook or email" in failure.message
    drain(worker)
    assert (str(failure.id), "delivery_failed", 0) in kinds_at(lead_hook)
    to_lead = [m for m in mail.messages if m["X-Dosekeeper-Alert"] == str(failure.id)]
    assert len(to_lead) == 1
    assert to_lead[0]["To"] == "lead@pharmacy.example"
    listed = world.get(
        f"{API}/alerts", role="safeguarding_lead", params={"kind": "delivery_failed"}
    ).json()["items"]
    assert str(failure.id) in [a["id"] for a in listed]

    # The lead's inbox shows both, and why the key worker was not told.
    inbox = world.get("/safeguarding", role="safeguarding_lead")
    assert inbox.status_code == 200, inbox.text
    assert f'data-alert="{failure.id}"' in inbox.text
    assert f'data-alert="{alert_id}"' in inbox.text
    assert "no working channel" in inbox.text

    # Nobody owns the original alert: it escalates to the lead, then the MASH.
    assert alert_row(world, alert_id).state == "open"
    clock.set(raised_at + timedelta(seconds=SLA_WARNING))
    drain(worker)
    assert (str(alert_id), "missed_dose", 1) in kinds_at(lead_hook)
    clock.advance(timedelta(seconds=SLA_WARNING))
    drain(worker)
    row = alert_row(world, alert_id)
    assert (row.state, row.escalation_level) == ("escalated", 2)
    assert (str(alert_id), "missed_dose", 2) in kinds_at(mash_hook)
    # …and so does the failure alert, until someone owns it.
    assert (str(failure.id), "delivery_failed", 2) in kinds_at(mash_hook)
    assert len(kw_hook.received) == before


def test_when_the_lead_is_unreachable_too_the_mash_still_hears_and_nothing_cascades(
    world: World,
    clock: FixedClock,
    hooks: Callable[..., WebhookReceiver],
    workers: Callable[..., Worker],
) -> None:
    kw_hook, lead_hook, mash_hook = hooks(), hooks(), hooks()
    key_worker = hooked_contact(world, kw_hook)
    lead = hooked_contact(world, lead_hook, "safeguarding_lead")
    hooked_contact(world, mash_hook, "mash")
    earlier = clock.now() - timedelta(days=3)
    disable_webhook(world, key_worker["id"], earlier)
    disable_webhook(world, lead["id"], earlier)
    patient = world.patient(key_worker_id=key_worker["id"])
    raised_at = clock.now()
    alert_id = raise_missed(world, patient["id"], day=raised_at.date(), now=raised_at)
    worker = workers()
    drain(worker)

    (failure,) = alerts_of_kind(world, "delivery_failed")  # one, never a failure of a failure
    (to_lead,) = deliveries(world, failure.id)
    assert (to_lead.contact_id, to_lead.state) == (UUID(lead["id"]), "dead")
    assert [a.outcome for a in attempts(world, to_lead.id)] == ["no_channel"]

    clock.set(raised_at + timedelta(seconds=SLA_URGENT))  # the failure alert's SLA
    drain(worker)
    clock.set(raised_at + timedelta(seconds=SLA_WARNING))
    drain(worker)
    clock.set(raised_at + timedelta(seconds=2 * SLA_WARNING))
    drain(worker)
    assert len(alerts_of_kind(world, "delivery_failed")) == 1
    got = kinds_at(mash_hook)
    assert (str(alert_id), "missed_dose", 2) in got
    assert (str(failure.id), "delivery_failed", 2) in got
    assert kw_hook.received == []
    assert lead_hook.received == []
    # Every delivery to the key worker and the lead is dead, and says why.
    for delivery in deliveries(world):
        if delivery.contact_id in (UUID(key_worker["id"]), UUID(lead["id"])):
            assert delivery.state == "dead"
            assert delivery.last_error
            assert "no working channel" in delivery.last_error


@pytest.mark.parametrize("has_email", [True, False])
def test_a_disabled_webhook_is_no_failure_when_email_still_works(
    world: World,
    clock: FixedClock,
    hooks: Callable[..., WebhookReceiver],
    workers: Callable[..., Worker],
    has_email: bool,
) -> None:
    """Reached by email, the contact is reached: no failure alert. With nothing at all (a
    contact whose details were removed from the database) it is the failure above."""
    lead_hook = hooks()
    hooked_contact(world, lead_hook, "safeguarding_lead")
    key_worker: dict[str, Any] = add_contact(world, "key_worker", email="kw@drugs.example")
    with world.uow as uow:
        contact = uow.session.get(Contact, UUID(key_worker["id"]))
        assert contact is not None
        contact.webhook_url = "http://127.0.0.1:9/hooks"
        contact.webhook_secret = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
        contact.webhook_disabled_at = clock.now() - timedelta(days=1)
        if not has_email:
            contact.email = None
            contact.webhook_url = None
        uow.commit()
    patient = world.patient(key_worker_id=key_worker["id"])
    alert_id = raise_missed(world, patient["id"], day=clock.now().date(), now=clock.now())
    drain(workers())
    (delivery,) = deliveries(world, alert_id)
    if has_email:
        assert (delivery.channel, delivery.state) == ("email", "delivered")
        assert alerts_of_kind(world, "delivery_failed") == []
        assert "no_channel" not in [h.action for h in history(world, alert_id)]
    else:
        assert (delivery.channel, delivery.state) == ("email", "dead")
        assert delivery.last_error
        assert "no email address and no working webhook" in (delivery.last_error)
        (failure,) = alerts_of_kind(world, "delivery_failed")
        assert failure.facts["cause"] == "no_channel"
        assert [k for _, k, _ in kinds_at(lead_hook)] == ["delivery_failed"]
