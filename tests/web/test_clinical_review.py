"""The people behind the counter, in a real browser: a prescriber releasing a blocked patient,
and the safeguarding lead seeing an alert arrive live and owning it."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.web.browser import counter_ready, new_context, open_patient, sign_in
from tests.web.live import PASSWORD, LiveServer

pytestmark = pytest.mark.browser


def test_a_prescriber_releases_a_blocked_patient_and_the_counter_may_supply_again(
    page: Page, live: LiveServer, browser: Any
) -> None:
    patient = live.add_blocked_patient("Blair")
    name = f"{patient.given_name} {patient.family_name}"
    sign_in(page, "prescriber")
    expect(page.get_by_role("heading", level=1)).to_contain_text("My patients")
    blocked = page.locator(f'li[data-patient="{patient.id}"]')
    expect(blocked).to_contain_text(
        re.compile(rf"{name}:\s+\d+ consecutive days without a dose taken\.")
    )
    caseload_row = page.locator("table tr").filter(has=page.get_by_role("link", name=name))
    expect(caseload_row).to_contain_text("blocked")

    blocked.get_by_label("Review note").fill("Seen in clinic today; continue at 50 mg")
    blocked.get_by_role("button", name="Release: supply may resume").click()

    expect(page.locator("#prescriber-status")).to_have_text(
        "Released. The review is recorded and the counter may supply again."
    )
    expect(blocked).to_contain_text("released: the pharmacy may supply again")
    page.reload()
    expect(page.locator(f'li[data-patient="{patient.id}"]')).to_have_count(0)
    expect(caseload_row).not_to_contain_text("blocked")

    # At the counter the block has gone.
    counter = new_context(browser, live)
    try:
        at_counter = counter.new_page()
        sign_in(at_counter, "pharmacist")
        counter_ready(at_counter)
        open_patient(at_counter, patient.card_code, name)
        panel = at_counter.locator("#patient-panel")
        expect(panel.locator(".banner")).to_have_text("OK TO SUPPLY")
        expect(panel.locator('li[data-code="missed_threshold_reached"]')).to_have_count(0)
    finally:
        counter.close()


def withhold_by_api(live: LiveServer, patient_id: str) -> list[str]:
    """A pharmacist at another terminal withholds a dose: the API the counter page uses."""
    with httpx.Client(base_url=live.url) as client:
        token = client.post(
            "/api/v1/auth/token", data={"username": "pharmacist", "password": PASSWORD}
        )
        assert token.status_code == 200, token.text
        withheld = client.post(
            "/api/v1/counter/withhold",
            json={
                "patient_id": patient_id,
                "date": live.today.isoformat(),
                "reason": "intoxicated",
                "reason_text": "Slurred speech",
                "children_present": [],
            },
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        )
        assert withheld.status_code == 201, withheld.text
        return list(withheld.json()["alerts"])


def test_the_safeguarding_lead_sees_a_new_alert_arrive_live_and_acknowledges_it(
    page: Page, live: LiveServer
) -> None:
    quinn = live.patient("Quinn", "Brook")
    sign_in(page, "safeguarding")
    expect(page.get_by_role("heading", level=1)).to_have_text("Safeguarding alerts")
    rows_before = page.locator("#alerts tbody tr").count()

    (alert_id,) = withhold_by_api(live, str(quinn.id))

    row = page.locator(f'#alerts tbody tr.new[data-alert="{alert_id}"]')  # added by the stream
    expect(row).to_be_visible(timeout=10_000)
    expect(row).to_contain_text("dose withheld intoxicated")
    expect(row.locator(".tag").first).to_have_text("warning")
    expect(page.locator("#inbox-status")).to_have_text(
        "New warning alert: dose withheld intoxicated."
    )
    expect(page.locator("#alerts tbody tr").first).to_have_attribute("data-alert", alert_id)
    assert page.locator("#alerts tbody tr").count() == rows_before + 1

    row.get_by_label("Note").fill("Rang the key worker; welfare visit booked")
    row.get_by_role("button", name="Acknowledge").click()
    expect(page.locator("#inbox-status")).to_have_text(
        "Acknowledged: you own this alert now; escalation has stopped."
    )
    expect(row).to_contain_text(
        "acknowledged by you just now: “Rang the key worker; welfare visit booked”"
    )
    expect(row.locator("time")).not_to_contain_text("-")  # no negative age (terminal clock)
    expect(row.get_by_role("button", name="Acknowledge")).to_have_count(0)

    page.reload()  # the acknowledgement is on the server, not only on the page
    stored = page.locator(f'#alerts tbody tr[data-alert="{alert_id}"]')
    expect(stored.locator(".tag.acknowledged")).to_have_text("acknowledged")
    expect(stored.get_by_role("button", name="Acknowledge")).to_have_count(0)
    expect(stored).to_contain_text(  # who owns it, and what they said, for everyone who looks
        re.compile(r"acknowledged by Pat Lead, \d+ \w{3} \d\d:\d\d: “Rang the key worker")
    )
