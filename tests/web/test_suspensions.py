"""Suspending and resuming a prescription in the browser: the pharmacist's words, every
finding beside its field, the history on the page, and no serious accessibility violation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.web.browser import describe, serious_violations, sign_in
from tests.web.live import LiveServer

pytestmark = pytest.mark.browser


def test_a_pharmacist_suspends_for_a_hospital_stay_and_resumes_with_no_dose_confirmed(
    page: Page, live: LiveServer
) -> None:
    patient = live.add_supervised_patient("Sunny")
    prescription_id = live.prescription_of(patient.id)
    sign_in(page, "pharmacist")
    page.goto(f"/prescriptions/{prescription_id}")
    expect(page.locator("#status")).to_have_text("active")
    assert serious_violations(page) == [], describe(serious_violations(page))

    suspend = page.get_by_role("button", name="Suspend the prescription")
    page.get_by_label("Suspended from").fill((live.today + timedelta(days=1)).strftime("%d/%m/%Y"))
    suspend.click()
    expect(page.locator("#err-from_date")).to_contain_text(
        "The date it is suspended from must be today or a day already past"
    )
    page.get_by_label("Suspended from").fill(live.today.strftime("%d/%m/%Y"))
    page.get_by_label("Why").select_option("hospital")
    page.get_by_label("Note").fill("Admitted to ward 7 this morning")
    suspend.click()

    expect(page.locator("#status")).to_have_text("suspended")
    expect(page.locator("#suspensions")).to_contain_text(
        f"Suspended from {live.today.strftime('%d/%m/%Y')} (admitted to hospital): "
        "Admitted to ward 7 this morning."
    )
    assert serious_violations(page) == [], describe(serious_violations(page))

    page.get_by_role("button", name="Resume the prescription today").click()
    expect(page.locator("#status")).to_have_text("active")
    expect(page.locator("#suspensions")).to_contain_text(
        "with no dose confirmed elsewhere: days without a dose count toward the threshold"
    )


def test_a_pharmacist_suspends_all_of_a_patients_prescriptions_from_the_patient_page(
    page: Page, live: LiveServer
) -> None:
    patient = live.add_supervised_patient("Robin")
    sign_in(page, "pharmacist")
    page.goto(f"/patients/{patient.id}")
    form = page.locator("#suspend")  # the patient page has other forms with a "Why"
    suspend = page.get_by_role("button", name="Suspend all of this patient's prescriptions")
    form.get_by_label("Suspended from").fill((live.today + timedelta(days=1)).strftime("%d/%m/%Y"))
    suspend.click()
    expect(page.locator("#err-from_date")).to_contain_text(
        "The date it is suspended from must be today or a day already past"
    )
    form.get_by_label("Suspended from").fill(live.today.strftime("%d/%m/%Y"))
    form.get_by_label("Why").select_option("custody")
    form.get_by_label("Note").fill("Remanded this morning")
    suspend.click()

    expect(page.locator("#suspensions")).to_contain_text(
        f"suspended from {live.today.strftime('%d/%m/%Y')} (in police custody or prison): "
        "Remanded this morning."
    )
    assert serious_violations(page) == [], describe(serious_violations(page))
    page.get_by_role("button", name="Resume all of this patient's prescriptions today").click()
    expect(page.locator("#suspensions")).to_contain_text(
        "with no dose confirmed elsewhere: days without a dose count toward the threshold"
    )
    expect(
        page.get_by_role("button", name="Suspend all of this patient's prescriptions")
    ).to_be_visible()
