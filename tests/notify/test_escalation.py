"""Nobody owns an alert within its SLA: it escalates to the pharmacy's safeguarding lead, then to
the MASH, each step with deliveries and history; acknowledging it (by API or by the signed link)
stops the ladder. The link's GET only shows a form; a tampered or expired link is refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from uuid import UUID

import pytest
from sqlalchemy import select

from app.actor import SYSTEM
from app.audit.models import AuditEvent
from app.clock import FixedClock
from app.notify.worker import Worker
from app.patients.models import Patient
from app.safeguarding import rules
from app.safeguarding import service as safeguarding_service
from tests.factories import World
from tests.notify.helpers import (
    API,
    alert_row,
    deliveries,
    drain,
    history,
    hooked_contact,
    raise_missed,
)
from tests.notify.receivers import WebhookReceiver

SLA = 600  # warning, in the test settings (urgent: 300)


def ladder(
    world: World, hooks: Callable[..., WebhookReceiver]
) -> tuple[
    WebhookReceiver,
    WebhookReceiver,
    WebhookReceiver,
    dict[str, Any],
    dict[str, Any],
    dict[str, Any],
]:
    """Key worker, the pharmacy's safeguarding lead and its MASH, each with a webhook."""
    kw_hook, lead_hook, mash_hook = hooks(), hooks(), hooks()
    kw = hooked_contact(world, kw_hook)
    lead = hooked_contact(world, lead_hook, "safeguarding_lead")
    mash = hooked_contact(world, mash_hook, "mash")
    return kw_hook, lead_hook, mash_hook, kw, lead, mash


def levels(hook: WebhookReceiver) -> list[tuple[str, int]]:
    return [(p["data"]["alert_id"], p["data"]["escalation_level"]) for p in hook.payloads()]


@pytest.mark.hazard("H-07.5")
def test_an_unacknowledged_alert_escalates_to_the_lead_then_the_mash(
    world: World,
    clock: FixedClock,
    hooks: Callable[..., WebhookReceiver],
    workers: Callable[..., Worker],
) -> None:
    kw_hook, lead_hook, mash_hook, kw, lead, mash = ladder(world, hooks)
    patient = world.patient(key_worker_id=kw["id"])
    raised_at = clock.now()
    alert_id = raise_missed(world, patient["id"], day=raised_at.date(), now=raised_at)
    worker = workers()
    drain(worker)
    assert levels(kw_hook) == [(str(alert_id), 0)]
    assert alert_row(world, alert_id).next_escalation_at == raised_at + timedelta(seconds=SLA)

    clock.advance(timedelta(seconds=SLA - 1))
    drain(worker)
    assert alert_row(world, alert_id).escalation_level == 0
    assert lead_hook.received == []
    assert mash_hook.received == []

    clock.set(raised_at + timedelta(seconds=SLA))
    drain(worker)
    first = alert_row(world, alert_id)
    assert (first.state, first.escalation_level) == ("escalated", 1)
    assert first.next_escalation_at == clock.now() + timedelta(seconds=SLA)
    assert levels(lead_hook) == [(str(alert_id), 1)]
    assert mash_hook.received == []
    lead_deliveries = [d for d in deliveries(world, alert_id) if d.escalation_level == 1]
    assert [(d.contact_id, d.reason, d.state) for d in lead_deliveries] == [
        (UUID(lead["id"]), "escalation_1_safeguarding_lead", "delivered")
    ]

    clock.advance(timedelta(seconds=SLA))
    drain(worker)
    second = alert_row(world, alert_id)
    assert (second.state, second.escalation_level) == ("escalated", 2)
    assert second.next_escalation_at is None  # the top of the ladder
    assert levels(mash_hook) == [(str(alert_id), 2)]
    mash_deliveries = [d for d in deliveries(world, alert_id) if d.escalation_level == 2]
    assert [(d.contact_id, d.reason, d.state) for d in mash_deliveries] == [
        (UUID(mash["id"]), "escalation_2_mash", "delivered")
    ]

    clock.advance(timedelta(days=2))
    drain(worker)
    assert len(kw_hook.received) == len(lead_hook.received) == len(mash_hook.received) == 1
    assert alert_row(world, alert_id).escalation_level == 2

    steps = [h.action for h in history(world, alert_id)]
    assert steps == ["raised", "queued", "escalated", "escalated"]
    detail = world.get(f"{API}/alerts/{alert_id}").json()
    assert [h["action"] for h in detail["history"]] == steps
    assert sorted(d["escalation_level"] for d in detail["deliveries"]) == [0, 1, 2]
    with world.uow as uow:
        audited = list(
            uow.session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "alert.escalated", AuditEvent.entity_id == str(alert_id)
                )
            )
        )
    assert len(audited) == 2


def test_the_sla_follows_the_severity(
    world: World,
    clock: FixedClock,
    hooks: Callable[..., WebhookReceiver],
    workers: Callable[..., Worker],
) -> None:
    kw_hook, lead_hook, _, kw, _, _ = ladder(world, hooks)
    patient = world.patient(key_worker_id=kw["id"])
    other = world.patient(key_worker_id=kw["id"])
    day, now = clock.now().date(), clock.now()
    urgent = raise_missed(world, patient["id"], day=day, now=now, streak=3, threshold=3)
    warning = raise_missed(world, other["id"], day=day, now=now)
    assert alert_row(world, urgent).severity == "urgent"
    worker = workers()
    drain(worker)
    clock.advance(timedelta(seconds=300))  # the urgent SLA, half the warning one
    drain(worker)
    assert alert_row(world, urgent).escalation_level == 1
    assert alert_row(world, warning).escalation_level == 0
    assert levels(lead_hook) == [(str(urgent), 1)]


@pytest.mark.hazard("H-07.5")
def test_acknowledged_by_api_the_alert_never_escalates(
    world: World,
    clock: FixedClock,
    hooks: Callable[..., WebhookReceiver],
    workers: Callable[..., Worker],
) -> None:
    kw_hook, lead_hook, mash_hook, kw, _, _ = ladder(world, hooks)
    patient = world.patient(key_worker_id=kw["id"])
    alert_id = raise_missed(world, patient["id"], day=clock.now().date(), now=clock.now())
    worker = workers()
    drain(worker)
    clock.advance(timedelta(seconds=SLA // 2))
    acked = world.post(f"{API}/alerts/{alert_id}/acknowledge", {"note": "Phoned the key worker"})
    assert acked.status_code == 200, acked.text
    assert acked.json()["state"] == "acknowledged"
    assert acked.json()["acknowledged_by_id"] == str(world.home.users["pharmacist"])
    again = world.post(
        f"{API}/alerts/{alert_id}/acknowledge", {"note": "twice"}, role="pharmacist2"
    )
    assert again.status_code == 409
    assert again.json()["code"] == "already_acknowledged"
    clock.advance(timedelta(seconds=SLA * 5))
    drain(worker)
    row = alert_row(world, alert_id)
    assert (row.state, row.escalation_level, row.next_escalation_at) == ("acknowledged", 0, None)
    assert lead_hook.received == []
    assert mash_hook.received == []
    assert [h.action for h in history(world, alert_id)] == ["raised", "queued", "acknowledged"]


@pytest.mark.hazard("H-07.5")
def test_acknowledged_after_the_first_escalation_the_mash_is_never_told(
    world: World,
    clock: FixedClock,
    hooks: Callable[..., WebhookReceiver],
    workers: Callable[..., Worker],
) -> None:
    kw_hook, lead_hook, mash_hook, kw, lead, _ = ladder(world, hooks)
    patient = world.patient(key_worker_id=kw["id"])
    alert_id = raise_missed(world, patient["id"], day=clock.now().date(), now=clock.now())
    worker = workers()
    drain(worker)
    clock.advance(timedelta(seconds=SLA))
    drain(worker)
    assert levels(lead_hook) == [(str(alert_id), 1)]
    # The lead (a contact, not a user) acknowledges with the link their message carried.
    link = urlsplit(lead_hook.received[0].payload["data"]["acknowledge_link"])  # type: ignore[index]
    query = {k: v[0] for k, v in parse_qs(link.query).items()}
    assert query["contact"] == lead["id"]
    clock.advance(timedelta(minutes=1))
    done = world.client.post(link.path, data={**query, "note": "Strategy meeting booked"})
    assert done.status_code == 200, done.text
    clock.advance(timedelta(seconds=SLA * 5))
    drain(worker)
    row = alert_row(world, alert_id)
    assert (row.state, row.escalation_level) == ("acknowledged", 1)
    assert mash_hook.received == []
    assert history(world, alert_id)[-1].actor == f"contact:{lead['id']}"


def test_the_signed_link_shows_a_form_and_only_its_post_acknowledges(
    world: World,
    clock: FixedClock,
    hooks: Callable[..., WebhookReceiver],
    workers: Callable[..., Worker],
) -> None:
    kw_hook, lead_hook, _, kw, _, _ = ladder(world, hooks)
    patient = world.patient(key_worker_id=kw["id"])
    alert_id = raise_missed(world, patient["id"], day=clock.now().date(), now=clock.now())
    other_id = raise_missed(
        world, patient["id"], day=clock.now().date() + timedelta(days=1), now=clock.now()
    )
    worker = workers()
    drain(worker)
    mine = next(p for p in kw_hook.payloads() if p["data"]["alert_id"] == str(alert_id))
    link = urlsplit(mine["data"]["acknowledge_link"])
    assert link.path == f"/alerts/{alert_id}/ack"
    query = {k: v[0] for k, v in parse_qs(link.query).items()}
    assert set(query) == {"contact", "expires", "sig"}
    assert query["contact"] == kw["id"]

    def state() -> str:
        return alert_row(world, alert_id).state

    for _ in range(2):  # a mail scanner following the link acknowledges nothing
        page = world.client.get(f"{link.path}?{link.query}")
        assert page.status_code == 200, page.text
        assert '<form method="post"' in page.text
        assert state() == "open"

    flipped = query["sig"][:-1] + ("0" if query["sig"][-1] != "0" else "1")
    refused = [
        (link.path, {**query, "sig": flipped}),
        (link.path, {**query, "sig": ""}),
        (link.path, {**query, "expires": str(int(query["expires"]) + 86400)}),
        (link.path, {**query, "contact": str(world.key_worker_id)}),
        (f"/alerts/{other_id}/ack", query),
    ]
    for path, params in refused:
        page = world.client.get(f"{path}?{urlencode(params)}")
        assert page.status_code in (403, 422), (params, page.status_code)
        assert "<form" not in page.text
        posted = world.client.post(path, data=params)
        assert posted.status_code in (403, 422), (params, posted.status_code)
    assert state() == "open"
    assert alert_row(world, other_id).state == "open"

    issued = clock.now()
    clock.advance(timedelta(days=15))  # the link lasts 14 days
    assert world.client.get(f"{link.path}?{link.query}").status_code == 403
    assert world.client.post(link.path, data=query).status_code == 403
    assert state() == "open"
    clock.set(issued + timedelta(minutes=5))  # back within the link's life

    done = world.client.post(link.path, data={**query, "note": "Visited today"})
    assert done.status_code == 200, done.text
    row = alert_row(world, alert_id)
    assert row.state == "acknowledged"
    assert row.acknowledgement_note == "Visited today"
    assert row.acknowledged_by_id is None  # a contact, not a user
    last = history(world, alert_id)[-1]
    assert (last.action, last.actor) == ("acknowledged", f"contact:{kw['id']}")
    assert world.client.post(link.path, data=query).status_code == 409
    clock.advance(timedelta(seconds=SLA * 3))
    drain(worker)
    # Only the alert nobody acknowledged escalated.
    assert [p["data"]["alert_id"] for p in lead_hook.payloads()] == [str(other_id)]


@pytest.mark.hazard("H-07.4")
def test_an_alert_for_a_role_nobody_holds_goes_to_the_lead_at_once(
    world: World,
    clock: FixedClock,
    hooks: Callable[..., WebhookReceiver],
    workers: Callable[..., Worker],
) -> None:
    """A patient with no key worker on file: the missed-dose warning meant for the key worker
    reaches nobody, so it does not wait out its SLA unowned; the worker's next pass escalates it
    to the safeguarding lead, and the history says why."""
    _, lead_hook, mash_hook, _, lead, _ = ladder(world, hooks)
    patient = world.patient(key_worker_id=None)
    raised_at = clock.now()
    alert_id = raise_missed(world, patient["id"], day=raised_at.date(), now=raised_at)
    assert deliveries(world, alert_id) == []
    steps = {h.action: h.note for h in history(world, alert_id)}
    assert "key_worker" in steps["no_recipient"]

    drain(workers())
    escalated = alert_row(world, alert_id)
    assert (escalated.state, escalated.escalation_level) == ("escalated", 1)
    assert levels(lead_hook) == [(str(alert_id), 1)]
    assert mash_hook.received == []
    (to_lead,) = deliveries(world, alert_id)
    assert (to_lead.contact_id, to_lead.state) == (UUID(lead["id"]), "delivered")


def test_a_kind_routed_to_nobody_on_purpose_waits_in_the_inbox(
    world: World, clock: FixedClock, workers: Callable[..., Worker], hooks: Callable[..., Any]
) -> None:
    """An operator who routes a kind to no one (the inbox only) chose that: no early escalation."""
    ladder(world, hooks)
    patient = world.patient()
    (event,) = rules.missed_dose_events(
        days_without_dose=2, children=(), policy_missed_threshold=99
    )
    with world.uow as uow:
        row = uow.session.get(Patient, UUID(patient["id"]))
        assert row is not None
        alert = safeguarding_service.raise_alert(
            uow.session,
            event,
            actor=SYSTEM,
            pharmacy_id=row.pharmacy_id,
            patient_id=row.id,
            household_id=None,
            day=clock.now().date(),
            now=clock.now(),
            routing={"missed_dose": []},
        )
        uow.commit()
        alert_id = alert.id
    drain(workers())
    assert alert_row(world, alert_id).escalation_level == 0
    assert "no_recipient" not in [h.action for h in history(world, alert_id)]
