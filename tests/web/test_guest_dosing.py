"""Guest dosing in the browser (issue 19 §2): the home pharmacist grants another pharmacy the
days of a stay on the prescription page; the guest pharmacist scans the patient's card at
their own counter, sees who the patient is, the home pharmacy to phone and the household facts
the checks use (never the address or the other members), and supplies the dose. No serious
accessibility violation on either page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.web.browser import (
    counter_ready,
    describe,
    new_context,
    open_patient,
    serious_violations,
    sign_in,
)
from tests.web.live import LiveServer

pytestmark = pytest.mark.browser


@pytest.mark.hazard("H-28.1")
def test_the_home_pharmacist_grants_a_stay_and_the_guest_supplies_at_its_counter(
    page: Page, live: LiveServer, browser: Any
) -> None:
    guest_user, _ = live.add_pharmacy()
    guest_ods = f"FL{guest_user.removeprefix('lake')}".upper()
    patient = live.add_supervised_patient("Wanderer")
    name = f"{patient.given_name} {patient.family_name}"
    prescription_id = live.prescription_of(patient.id)

    sign_in(page, "pharmacist")
    page.goto(f"/prescriptions/{prescription_id}")
    assert serious_violations(page) == [], describe(serious_violations(page))
    grant = page.get_by_role("button", name="Grant guest dosing")
    page.get_by_label("The other pharmacy's ODS code").fill("ZZZ999")
    page.get_by_label("First day there").fill(live.today.strftime("%d/%m/%Y"))
    page.get_by_label("Last day there").fill((live.today + timedelta(days=2)).strftime("%d/%m/%Y"))
    page.get_by_label("About the stay").fill("A long weekend with her brother")
    grant.click()
    expect(page.locator("#err-guest_ods_code")).to_contain_text(
        "The ODS code is not a pharmacy using Dosekeeper"
    )
    page.get_by_label("The other pharmacy's ODS code").fill(guest_ods)
    grant.click()
    expect(page.locator("#guest-grants")).to_contain_text("Lakeside Pharmacy")
    expect(page.locator("#guest-grants")).to_contain_text("dosing there now")
    assert serious_violations(page) == [], describe(serious_violations(page))
    if live.today.weekday() == 6:  # the demo pharmacy is closed: no supervised dose today
        return

    guest = new_context(browser, live)
    try:
        counter = guest.new_page()
        sign_in(counter, guest_user, home="/counter")
        counter.goto("/guest-patients")
        expect(counter.locator("#guest-patients")).to_contain_text(patient.family_name)
        expect(counter.locator("#guest-patients")).to_contain_text("dosing here")
        assert serious_violations(counter) == [], describe(serious_violations(counter))
        counter.goto("/counter")
        counter_ready(counter)
        open_patient(counter, patient.card_code, name)
        expect(counter.locator("#guest-banner")).to_contain_text("Guest patient of")
        panel = counter.locator("#patient-panel")
        expect(panel.locator(".banner.green")).to_have_text("OK TO SUPPLY")
        counter.get_by_label("I have checked: the patient is not intoxicated").check()
        counter.get_by_role("button", name="Record supervised dose").click()
        expect(counter.locator("#action-status")).to_have_text("Recorded: 1 day(s), 40 mg.")
        assert serious_violations(counter) == [], describe(serious_violations(counter))
    finally:
        guest.close()


@pytest.mark.hazard("H-28.3")
def test_a_patient_transferred_on_the_patient_page_arrives_with_the_handover_note(
    page: Page, live: LiveServer, browser: Any
) -> None:
    new_user, _ = live.add_pharmacy()
    new_ods = f"FL{new_user.removeprefix('lake')}".upper()
    patient = live.add_supervised_patient("Mover")
    sign_in(page, "pharmacist")
    page.goto(f"/patients/{patient.id}")
    transfer = page.get_by_role("button", name="Transfer the patient")
    page.get_by_label("The new pharmacy's ODS code").fill(new_ods)
    page.get_by_label("Handover note").fill("short")
    transfer.click()
    expect(page.locator("#err-handover_note")).to_contain_text("The handover note")
    page.get_by_label("Handover note").fill(
        "40 mg daily supervised; moving to Lakeside, lives alone."
    )
    transfer.click()
    expect(page.locator("#transferred")).to_contain_text("Transferred to Lakeside Pharmacy")
    assert serious_violations(page) == [], describe(serious_violations(page))

    arrived = new_context(browser, live)
    try:
        there = arrived.new_page()
        sign_in(there, new_user, home="/counter")
        there.goto(f"/patients/{patient.id}")
        expect(there.locator("#transfers")).to_contain_text(
            "40 mg daily supervised; moving to Lakeside, lives alone."
        )
        assert serious_violations(there) == [], describe(serious_violations(there))
    finally:
        arrived.close()
