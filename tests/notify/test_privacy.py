"""Nothing personal leaves the building in an alert: sentinel strings seeded into every personal
field (names, NHS number, dates of birth, address, postcode, notes, the child's name, free-text
reasons) never appear in any webhook (headers or body), any email (raw or decoded), the Atom
feed or the logs, through delivery, failure, dead-lettering and escalation (reliability.md
§1.3, §1.5, §4.7; checklist #18, #24, #32)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from email import message_from_bytes
from email.header import decode_header, make_header
from urllib.parse import urlsplit

import pytest

from app.clock import FixedClock
from app.notify.worker import Worker
from tests.factories import World, nhs_number
from tests.notify.helpers import (
    API,
    alerts_of_kind,
    drain,
    hooked_contact,
    withhold,
)
from tests.notify.receivers import MailReceiver, WebhookReceiver

SENTINELS = {
    "given_name": "Zebedeegivenxq",
    "family_name": "Quixotefamilyzz",
    "date_of_birth": "1953-07-14",
    "address": "77 Sentinelstreet Road, Privacytown",
    "postcode": "SW9 8QX",
    "notes": "Neighbourhoodnotesqq",
    "child_name": "Wilhelminachildqq",
    "child_date_of_birth": "2021-02-03",
    "reason_text": "Slurredspeechqq",
}


def _leaks(text: str, sentinels: dict[str, str]) -> list[str]:
    lowered = text.lower()
    found = []
    for field, value in sentinels.items():
        variants = {value, value.replace(" ", ""), value.replace("-", "")}
        if field == "date_of_birth" or field == "child_date_of_birth":
            y, m, d = value.split("-")
            variants |= {f"{d}/{m}/{y}", f"{d}-{m}-{y}", f"{d}{m}{y}"}
        if any(v.lower() in lowered for v in variants):
            found.append(field)
    return found


def _email_text(raw: bytes) -> str:
    message = message_from_bytes(raw)
    parts = [raw.decode("utf-8", "replace")]
    parts += [str(make_header(decode_header(v))) for v in message.values()]
    for part in message.walk():
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            parts.append(payload.decode("utf-8", "replace"))
    return "\n".join(parts)


@pytest.mark.hazard("H-10.3")
def test_no_personal_detail_in_any_webhook_email_feed_or_log(
    world: World,
    clock: FixedClock,
    hooks: Callable[..., WebhookReceiver],
    mail: MailReceiver,
    workers: Callable[..., Worker],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    sentinels = {**SENTINELS, "nhs_number": nhs_number()}
    kw_hook, sw_hook, lead_hook, mash_hook = hooks(), hooks(script=[(410, {})]), hooks(), hooks()
    kw = hooked_contact(world, kw_hook, email="kw@drugservice.example")
    social = hooked_contact(world, sw_hook, "social_worker", email="sw@council.example")
    lead = hooked_contact(world, lead_hook, "safeguarding_lead", email="lead@pharmacy.example")
    hooked_contact(world, mash_hook, "mash", email="mash@council.example")
    house = world.household(
        address=sentinels["address"], postcode=sentinels["postcode"], notes=sentinels["notes"]
    )
    child = world.child(
        house["id"],
        name=sentinels["child_name"],
        date_of_birth=sentinels["child_date_of_birth"],
        protection_status="child_protection_plan",
        social_worker_id=social["id"],
    )
    patient = world.patient(
        house["id"],
        key_worker_id=kw["id"],
        given_name=sentinels["given_name"],
        family_name=sentinels["family_name"],
        date_of_birth=sentinels["date_of_birth"],
        nhs_number=sentinels["nhs_number"],
    )
    # The sentinels really are stored, and the authenticated API shows them to staff.
    shown = world.get(f"{API}/patients/{patient['id']}").text
    assert {"given_name", "family_name", "nhs_number"} <= set(_leaks(shown, sentinels))

    raised = withhold(
        world,
        clock,
        patient["id"],
        children_present=(child["id"],),
        reason_text=sentinels["reason_text"],
    )
    assert len(raised["alerts"]) == 2  # withheld, and intoxicated with a child present
    worker = workers()
    drain(worker)  # to key worker, prescriber and social worker; the 410 kills one
    assert alerts_of_kind(world, "delivery_failed"), "the dead delivery raised nothing"
    drain(worker)
    clock.advance(timedelta(seconds=301))  # urgent SLA: escalate to the lead
    drain(worker)
    clock.advance(timedelta(seconds=601))  # and on to the MASH
    drain(worker)

    hooks_used = (kw_hook, sw_hook, lead_hook, mash_hook)
    payloads = [p for h in hooks_used for p in h.payloads()]
    kinds = {p["data"]["kind"] for p in payloads}
    assert {
        "dose_withheld_intoxicated",
        "intoxicated_with_child_present",
        "delivery_failed",
    } <= kinds
    assert {p["data"]["escalation_level"] for p in payloads} == {0, 1, 2}
    assert len(mail.raw) >= 6
    subjects = {message_from_bytes(raw)["Subject"] for raw in mail.raw}
    assert any("escalated" in s for s in subjects)

    captured: dict[str, str] = {}
    for index, item in enumerate(r for h in hooks_used for r in h.received):
        captured[f"webhook {index} headers"] = repr(item.headers)
        captured[f"webhook {index} body"] = item.body.decode("utf-8", "replace")
    for index, raw in enumerate(mail.raw):
        captured[f"email {index}"] = _email_text(raw)
    feed_url = urlsplit(lead["feed_url"])
    feed = world.client.get(f"{feed_url.path}?{feed_url.query}")
    assert feed.status_code == 200
    assert "<entry>" in feed.text
    captured["atom feed"] = feed.text
    assert caplog.records, "nothing was logged: the log check would prove nothing"
    captured["log text"] = caplog.text
    captured["log records"] = "\n".join(
        f"{r.name} {r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records
    )
    leaks = {where: found for where, text in captured.items() if (found := _leaks(text, sentinels))}
    assert leaks == {}
