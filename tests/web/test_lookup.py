"""The last-dose look-up in the browser: the pharmacist makes a link for the ward, the ward
nurse opens it (no account), a mistyped NHS number is a sentence beside the field, and the
answer reads as the counter would say it; a clinician account lands on the look-up; no serious
accessibility violation on either page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.web.browser import describe, serious_violations, sign_in
from tests.web.live import LiveServer

pytestmark = pytest.mark.browser


def test_the_ward_opens_the_pharmacys_link_and_reads_the_last_dose(
    page: Page, live: LiveServer
) -> None:
    patient = live.add_supervised_patient("Lenny")
    sign_in(page, "pharmacist")
    page.goto("/lookup/links")
    assert serious_violations(page) == [], describe(serious_violations(page))
    page.get_by_label("Who it is for").select_option(
        label="Ward 7 (demo) (Demotown General Hospital)"
    )
    page.get_by_role("button", name="Make the link").click()
    link = page.get_by_label("The link")
    expect(link).to_be_visible()
    url = link.input_value()
    assert "/lookup#link=dkl1." in url
    fragment = url[url.index("#") :]

    ward = page.context.browser.new_context(base_url=live.url)  # type: ignore[union-attr]
    nurse = ward.new_page()
    try:
        nurse.goto("/lookup" + fragment)
        expect(nurse.locator("#link-status")).to_contain_text("Using the look-up link")
        assert "#link" not in nurse.url  # taken out of the address bar
        nurse.get_by_label("NHS number").fill("943 476 5918")
        nurse.get_by_role("button", name="Look up the last dose").click()
        expect(nurse.locator("#err-nhs_number")).to_contain_text(
            "The NHS number is not a valid NHS number: check the ten digits."
        )
        nurse.get_by_label("NHS number").fill(patient.nhs_number)
        nurse.get_by_role("button", name="Look up the last dose").click()
        answer = nurse.locator("#answer")
        expect(answer).to_contain_text(
            f"{patient.given_name} {patient.family_name}, born 09/06/1984"
        )
        expect(answer).to_contain_text("40 mg a day (40 mL)")
        expect(answer).to_contain_text("none — new to treatment")
        expect(answer).to_contain_text("Riverside Community Pharmacy (demo)")
        expect(nurse.locator("#err-nhs_number")).to_have_text("")
        assert serious_violations(nurse) == [], describe(serious_violations(nurse))
    finally:
        ward.close()

    page.goto("/counter")
    expect(page.locator("#lookups")).to_contain_text(f"{patient.given_name} {patient.family_name}")


def test_a_clinician_signs_in_to_the_look_up_and_nothing_else(page: Page, live: LiveServer) -> None:
    sign_in(page, "clinician", home="/lookup")
    expect(page.get_by_role("link", name="Last-dose look-up")).to_be_visible()
    assert serious_violations(page) == [], describe(serious_violations(page))
    response = page.goto("/counter")
    assert response is not None
    assert response.status == 403
