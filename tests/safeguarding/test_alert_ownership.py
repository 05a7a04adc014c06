"""Ownership made visible (issue 17): the alert page every link lands on, who acknowledged and
their note, urgent alerts needing a note, a prescriber's review resolving the threshold alert,
the signed acknowledgement page saying what is being acknowledged, and pages that answer a
person in sentences, never in JSON."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest

from app.clock import FixedClock
from app.notify import links
from tests.builders import MONDAY, alerts, close_day, prescribe, signed_in
from tests.factories import World
from tests.register.support import API, at


def threshold_alert(world: World, clock: FixedClock) -> tuple[dict[str, str], dict[str, str]]:
    """A patient who stayed away three days: the urgent threshold alert, and the prescription."""
    patient = world.patient(world.household()["id"])
    rx = prescribe(world, patient["id"])
    for offset in range(3):
        day = MONDAY + timedelta(days=offset)
        clock.set(at(day, 19))
        close_day(world, day)
    (alert,) = alerts(world, patient_id=patient["id"], kind="missed_threshold_reached")
    return alert, rx


@pytest.mark.hazard("H-07.6")
def test_an_urgent_alert_is_owned_only_with_a_note_and_the_owner_is_shown(
    world: World, clock: FixedClock
) -> None:
    alert, _ = threshold_alert(world, clock)
    path = f"{API}/alerts/{alert['id']}/acknowledge"
    bare = world.post(path, {"note": ""}, role="safeguarding_lead")
    assert bare.status_code == 422, bare.text
    assert bare.json()["errors"][0]["field"] == "note"
    owned = world.post(
        path, {"note": "Phoned the prescriber; review booked for 10:00"}, role="safeguarding_lead"
    )
    assert owned.status_code == 200, owned.text

    browser = signed_in(world, "safeguarding_lead")
    page = browser.page(f"/alerts/{alert['id']}")
    assert page.status_code == 200, page.text
    assert "Acknowledged by" in page.text
    assert "Phoned the prescriber; review booked for 10:00" in page.text
    assert "data-until" not in page.text  # owned: no escalation countdown
    inbox = browser.page("/safeguarding?state=&severity=&kind=")  # "any" in every dropdown
    assert inbox.status_code == 200, inbox.text
    assert "text/html" in inbox.headers["content-type"]
    assert re.search(r"acknowledged by <strong>[^<]+</strong>", inbox.text)
    assert f'href="/alerts/{alert["id"]}"' in inbox.text


def test_the_prescribers_review_resolves_the_threshold_alert_and_stops_its_escalation(
    world: World, clock: FixedClock
) -> None:
    alert, rx = threshold_alert(world, clock)
    clock.set(at(MONDAY + timedelta(days=3)))
    released = world.post(
        f"{API}/prescriptions/{rx['id']}/release",
        {"note": "Reviewed in clinic; restart at 30 mg"},
        role="prescriber",
    )
    assert released.status_code == 201, released.text
    detail = world.get(f"{API}/alerts/{alert['id']}", role="safeguarding_lead").json()
    assert detail["state"] == "resolved"
    assert detail["next_escalation_at"] is None
    assert detail["history"][-1]["action"] == "resolved"
    assert "Reviewed in clinic" in detail["history"][-1]["note"]


def test_the_signed_link_page_says_what_is_being_acknowledged(
    world: World, clock: FixedClock
) -> None:
    alert, _ = threshold_alert(world, clock)
    link = links.acknowledge_link(
        "http://testserver",
        world.settings.secret_key.get_secret_value(),
        alert_id=alert["id"],
        contact_id=world.key_worker_id,
        now=clock.now(),
    )
    query = {k: v[0] for k, v in parse_qs(urlparse(link).query).items()}
    page = world.client.get(urlparse(link).path, params=query)
    assert page.status_code == 200, page.text
    assert "missed threshold reached" in page.text
    assert "/static/app.css" in page.text  # styled like the rest
    assert re.search(r"<dt>Patient</dt><dd>\w\.\w\.</dd>", page.text)  # initials only
    without_note = world.client.post(
        urlparse(link).path, data={**query, "note": ""}, headers={"Accept": "text/html"}
    )
    assert without_note.status_code == 422
    assert "A note is needed" in without_note.text


def test_a_page_answers_bad_input_in_a_sentence_not_json(world: World) -> None:
    browser = signed_in(world, "safeguarding_lead")
    page = browser.page("/safeguarding?severity=loud")
    assert page.status_code == 422
    assert "text/html" in page.headers["content-type"]
    assert "Severity is not in the expected form." in page.text
    missing = browser.page("/no/such/page")
    assert missing.status_code == 404
    assert "text/html" in missing.headers["content-type"]
