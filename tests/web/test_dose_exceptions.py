"""The dose-exception pages in the browser: a take-home handed over today is reported lost on
the patient's page; the replacement without the prescriber's authorisation is refused with a
sentence by the field, and with it the replacement is recorded; tomorrow's dose, brought back
unused, goes in the patient returns record. A technician records an exception but is given no
replacement form. No serious accessibility violation in any state."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.web.browser import describe, serious_violations, sign_in
from tests.web.live import LiveServer

pytestmark = pytest.mark.browser


def no_serious_violation(page: Page) -> None:
    violations = serious_violations(page)
    assert violations == [], describe(violations)


def test_a_pharmacist_reports_a_take_home_lost_replaces_it_and_records_a_return(
    page: Page, live: LiveServer
) -> None:
    # A pharmacy of its own: the supplies here leave the demo pharmacy's register alone.
    pharmacist, _ = live.add_pharmacy()
    patient = live.add_take_home_patient("Lorna", pharmacist=pharmacist, checker=f"{pharmacist}b")
    name = f"{patient.family_name}, {patient.given_name}"
    sign_in(page, pharmacist, home="/counter")
    page.goto(f"/patients/{patient.id}/dose-exceptions")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Dose exceptions: {name}")
    expect(page.locator("#list-h + p")).to_have_text("No exceptions recorded.")
    no_serious_violation(page)

    # Today's take-home, reported lost: recorded against the day it was for.
    page.get_by_label("What happened").select_option("lost")
    expect(page.get_by_label("The dose's day")).to_have_value(live.today.isoformat())
    page.get_by_label("Note").fill("Left on the bus")
    page.get_by_role("button", name="Record the exception").click()
    recorded = page.locator("#exceptions > li")
    expect(recorded).to_have_count(1)
    expect(recorded).to_contain_text(f"Reported lost on {live.today:%d/%m/%Y}")
    expect(recorded).to_contain_text("10 mL (10 mg)")
    expect(recorded).to_contain_text("Left on the bus")

    # No replacement without the prescriber's authorisation: a sentence by the field.
    form = page.locator("form.replacement-form")
    form.get_by_role("button", name="Supply the replacement").click()
    refusal = form.locator('.field-error[data-field="authorised_by"]')
    expect(refusal).to_have_text(
        "A replacement is supplied only on the prescriber's authorisation: record who "
        "authorised it, when and how (phone, written, in person or email)."
    )
    expect(form.get_by_label("Authorised by")).to_have_attribute("aria-invalid", "true")
    expect(form.get_by_label("Authorised by")).to_have_accessible_description(
        re.compile("^A replacement is supplied only on the prescriber's authorisation")
    )
    assert "{" not in form.inner_text()  # never the raw problem
    no_serious_violation(page)

    # Authorised by phone this morning: the replacement is recorded beside the exception.
    form.get_by_label("Authorised by").fill("Dr Alex Prescriber")
    form.get_by_label("When").fill(f"{live.today.isoformat()}T09:00")
    form.get_by_label("How").select_option("phone")
    form.get_by_role("button", name="Supply the replacement").click()
    expect(recorded).to_contain_text(
        f"Replaced on {live.today:%d/%m/%Y}: 10 mg taken home, authorised by "
        "Dr Alex Prescriber by phone."
    )
    expect(page.locator("form.replacement-form")).to_have_count(0)
    no_serious_violation(page)

    # Tomorrow's dose, brought back unused: the volume is asked for, then recorded.
    tomorrow = live.today + timedelta(days=1)
    page.get_by_label("What happened").select_option("returned")
    page.get_by_label("The dose's day").fill(tomorrow.isoformat())
    page.get_by_role("button", name="Record the exception").click()
    expect(page.locator('#exception-form .field-error[data-field="volume_ml"]')).to_have_text(
        "Give the volume returned, in mL."
    )
    no_serious_violation(page)
    page.get_by_label("Volume returned, mL").fill("12")
    page.get_by_role("button", name="Record the exception").click()
    expect(page.locator('#exception-form .field-error[data-field="volume_ml"]')).to_have_text(
        "The volume returned is more than the 10 mL supplied for those days."
    )
    page.get_by_label("Volume returned, mL").fill("7.5")
    page.get_by_role("button", name="Record the exception").click()
    expect(recorded).to_have_count(2)
    expect(recorded.filter(has_text="Returned unused")).to_contain_text("7.5 mL (7.5 mg)")

    # The returns record has it, apart from the CD register; its destruction is witnessed.
    page.get_by_role("link", name="Patient returns record").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Patient returns record")
    row = page.locator("#returns tbody tr").filter(has_text=name)
    expect(row).to_contain_text("7.5 mL (7.5 mg)")
    expect(row).to_contain_text(f"{tomorrow:%d/%m/%Y}")
    no_serious_violation(page)
    row.get_by_role("button", name="Record destruction").click()
    expect(row.locator('.field-error[data-field="method"]')).to_have_text(
        "How it was destroyed is required."
    )
    expect(row.get_by_label("Witness")).to_have_accessible_description("The witness is required.")
    row.get_by_label("How").fill("Denaturing kit")
    row.get_by_label("Witness").fill("Pat Pharmacist")
    row.get_by_role("button", name="Record destruction").click()
    row = page.locator("#returns tbody tr").filter(has_text=name)
    expect(row).to_contain_text(
        f"{live.today:%d/%m/%Y}: Denaturing kit, witnessed by Pat Pharmacist"
    )
    no_serious_violation(page)


def test_a_technician_records_an_exception_but_is_given_no_replacement_form(
    page: Page, live: LiveServer
) -> None:
    patient = live.add_take_home_patient("Tamsin")
    sign_in(page, "technician")
    page.goto(f"/patients/{patient.id}/dose-exceptions")
    page.get_by_label("What happened").select_option("stolen")
    page.get_by_label("Police reference").fill("CAD 1234")
    page.get_by_role("button", name="Record the exception").click()
    recorded = page.locator("#exceptions > li")
    expect(recorded).to_contain_text("Reported stolen")
    expect(recorded).to_contain_text("police reference CAD 1234")
    # A replacement is a pharmacist's safety act: no form for it here.
    expect(page.locator("form.replacement-form")).to_have_count(0)
    expect(page.get_by_role("button", name="Supply the replacement")).to_have_count(0)
    no_serious_violation(page)
