"""Entering an outage sheet in the browser: the lines typed from paper, a missing time shown
beside its line, and after entering, what the record made of each line in words, a supply the
counter would have refused named as such; no serious accessibility violation."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.web.browser import describe, serious_violations, sign_in
from tests.web.live import LiveServer

pytestmark = pytest.mark.browser


@pytest.mark.hazard("H-25.2")
def test_a_pharmacist_enters_the_sheet_and_sees_the_block_ignored(
    page: Page, live: LiveServer
) -> None:
    patient = live.add_blocked_patient("Papyrus")
    name = f"{patient.family_name}, {patient.given_name}"
    sign_in(page, "pharmacist")
    page.goto("/counter/paper-doses")
    expect(page.locator("h1")).to_contain_text("Doses given on paper")
    assert serious_violations(page) == [], describe(serious_violations(page))
    if live.today.weekday() == 6:  # the demo pharmacy is closed: nobody is due to enter
        expect(page.locator(f'tr[data-patient="{patient.id}"]')).to_have_count(0)
        return

    row = page.locator(f'tr[data-patient="{patient.id}"]')
    row.get_by_label(f"What the sheet says for {name}").select_option("supervised")
    row.get_by_label(f"Initials for {name}").fill("JS")
    page.get_by_label("Sheet reference").fill("DS-browser-test")
    page.get_by_role("button", name="Enter these doses").click()
    expect(row.locator('.field-error[data-field="given_at"]')).not_to_be_empty()
    expect(page.locator("#paper-status")).to_contain_text("Nothing was entered")

    row.get_by_label(f"Time given to {name}").fill("00:00")
    page.get_by_role("button", name="Enter these doses").click()
    entered = page.locator("#paper-entered")
    expect(entered).to_contain_text(name)
    expect(entered).to_contain_text("Given although the counter would have refused it")
    expect(entered).to_contain_text("days without a dose reached the threshold")
    assert serious_violations(page) == [], describe(serious_violations(page))
