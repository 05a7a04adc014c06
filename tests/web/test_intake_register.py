"""Prescription intake, the second pharmacist's check and the CD register, in a real browser:
every finding shown next to its field, a double click sends one action, and axe finds nothing
serious on each page."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from app.actor import SYSTEM
from app.patients.models import Patient
from app.prescriptions.words import number_to_words
from app.safeguarding import rules as safeguarding_rules
from app.safeguarding import service as safeguarding_service
from tests.web.browser import describe, new_context, serious_violations, sign_in
from tests.web.live import PASSWORD, LiveServer

pytestmark = pytest.mark.browser

GS1_PACK = "]d2" + "0105012345678900" + "17280331" + "10B4TCH7"  # the demo pack table's GTIN


@pytest.fixture
def browser_page(browser: Any, live: LiveServer) -> Iterator[Callable[[str], Page]]:
    """Another person at another terminal: a page of their own, signed in."""
    contexts = []

    def open_as(username: str) -> Page:
        context = new_context(browser, live)
        contexts.append(context)
        other = context.new_page()
        sign_in(other, username)
        return other

    yield open_as
    for context in contexts:
        context.close()


def new_patient(live: LiveServer) -> Patient:
    """A patient of the demo pharmacy with no prescription yet."""
    pharmacy_id = live.user("pharmacist").pharmacy_id
    assert pharmacy_id is not None
    return live._register("Indy", f"Intake{uuid.uuid4().hex[:4]}", pharmacy_id, on=live.today)


def posts_to(page: Page, path: str) -> list[str]:
    """Every POST the page sends to `path` from now on."""
    sent: list[str] = []
    page.on(
        "request",
        lambda request: (
            sent.append(request.url)
            if request.method == "POST" and request.url.endswith(path)
            else None
        ),
    )
    return sent


def no_serious_violations(page: Page) -> None:
    violations = serious_violations(page)
    assert violations == [], describe(violations)


def error(page: Page, field: str) -> Locator:
    return page.locator(f"#err-{field}")


def uk(day: date) -> str:
    """A date as the pages ask for it."""
    return day.strftime("%d/%m/%Y")


def fill_intake(page: Page, start: date, *, mg: int = 30) -> None:
    """An FP10MDA for 14 days from `start`, typed in the order the form reads."""
    page.get_by_label("Medicine, form and strength").select_option("methadone-1mg-ml")
    page.get_by_label("Daily dose in figures (mg)").fill(str(mg))
    page.get_by_label("Dose and instalment direction as written (words)").fill(
        f"{number_to_words(mg).capitalize()} milligrams ({mg} mL) daily, supervised on "
        "collection days"
    )
    page.get_by_label("Total in words").fill(number_to_words(mg * 14))
    page.get_by_label("Total in figures (mL for liquids, tablets for tablets)").fill(str(mg * 14))
    for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"):
        page.locator("fieldset", has_text="Supervised consumption on").get_by_label(day).check()
    page.get_by_label("Start date").fill(uk(start))
    page.get_by_label("Last dose date").fill(uk(start + timedelta(days=13)))
    page.get_by_label("Instalments due on days when the pharmacy is closed", exact=False).check()
    page.get_by_label("Supervised consumption of daily dose on collection days.").check()
    page.get_by_label("Date signed by the prescriber").fill(uk(start))
    page.get_by_label("Who confirmed it").select_option("induction")


def test_intake_lists_every_finding_at_its_field_then_saves_one_pending_prescription(
    page: Page, live: LiveServer
) -> None:
    patient = new_patient(live)
    sign_in(page, "pharmacist")
    page.goto(f"/patients/{patient.id}/prescriptions/new")
    expect(page.get_by_role("heading", level=1)).to_contain_text("New prescription for Indy")
    no_serious_violations(page)
    sent = posts_to(page, "/api/v1/prescriptions")
    save = page.get_by_role("button", name="Save as pending check")

    # Nothing but the preset form type and days (no medicine is preset: sugar free and
    # standard are easily confused, H-31): every missing element at once.
    save.click()
    summary = page.locator("#intake-summary")
    expect(summary).to_contain_text("Not saved")
    for field in ("product", "daily_dose_mg", "total_quantity_words", "start_on", "written_on"):
        expect(error(page, field)).not_to_be_empty()
    expect(page.locator("#daily_dose_mg")).to_have_attribute("aria-invalid", "true")
    no_serious_violations(page)  # the findings as shown, too

    # Wrong type and a script tag: sentences next to the fields, never raw JSON.
    page.get_by_label("Daily dose in figures (mg)").fill("fifty")
    page.get_by_label("Dose and instalment direction as written (words)").fill(
        "<script>alert(1)</script>"
    )
    page.get_by_label("Start date").fill("31/02/2026")
    save.click()
    expect(error(page, "daily_dose_mg")).to_have_text("The daily dose in figures must be a number.")
    expect(error(page, "start_on")).to_have_text(
        "The start date is not a date: write it as DD/MM/YYYY, for example 04/12/2026."
    )
    expect(summary).not_to_contain_text("{")

    # The form as written.
    fill_intake(page, live.today)
    sent.clear()
    save.dblclick()

    expect(summary).to_contain_text("Saved as pending check.")
    assert len(sent) == 1, sent
    expect(page.locator(".field-error .finding.red")).to_have_count(0)
    summary.get_by_role("link", name="Open the check screen").click()
    expect(page.locator("#status")).to_have_text("pending check")
    expect(page.locator("#schedule tbody tr")).to_have_count(14)


def test_a_second_pharmacist_checks_and_the_first_is_told_why_they_may_not(
    page: Page, live: LiveServer, browser_page: Callable[[str], Page]
) -> None:
    patient, prescription_id = live.add_pending_prescription("Indy")

    sign_in(page, "pharmacist")
    page.goto(f"/prescriptions/{prescription_id}")
    expect(page.locator("#verify")).to_contain_text("a different pharmacist must check it")
    page.get_by_role("button", name="Verify: the transcription matches the form").click()
    expect(page.locator("#check-status")).to_have_text(
        "A different pharmacist must check the transcription."
    )

    other = browser_page("pharmacist2")
    other.goto("/prescriptions")
    expect(other.get_by_role("heading", level=1)).to_have_text("Prescriptions waiting for a check")
    no_serious_violations(other)
    name = f"{patient.given_name} {patient.family_name}"
    other.get_by_role("link", name=f"Check the prescription for {name}").click()
    expect(other.locator("#schedule")).to_be_visible()
    no_serious_violations(other)
    sent = posts_to(other, f"/api/v1/prescriptions/{prescription_id}/verify")
    other.get_by_role("button", name="Verify: the transcription matches the form").dblclick()
    expect(other.locator("#check-status")).to_contain_text("Verified: the prescription is active")
    assert len(sent) == 1, sent
    other.reload()
    expect(other.locator("#status")).to_have_text("active")
    expect(other.locator("#checked-by")).to_contain_text("Owen Secondcheck")


def test_a_replacement_supersedes_and_a_cancel_needs_a_reason(page: Page, live: LiveServer) -> None:
    patient, prescription_id = live.add_pending_prescription("Indy")
    sign_in(page, "pharmacist")
    page.goto(f"/prescriptions/{prescription_id}")

    # A new form for the same days, without saying it replaces the first: refused, with a way on.
    page.goto(f"/patients/{patient.id}/prescriptions/new")
    fill_intake(page, live.today, mg=35)
    page.get_by_role("button", name="Save as pending check").click()
    expect(page.locator("#intake-summary")).to_contain_text(
        "Another prescription for this medicine covers some of the same days"
    )
    page.locator("#intake-summary").get_by_role("link", name="the other prescription").click()

    page.get_by_role("link", name="Replace it with a new prescription (supersede)").click()
    expect(page.locator("#replacing")).to_contain_text("This replaces the prescription")
    fill_intake(page, live.today, mg=110)
    sent = posts_to(page, "/api/v1/prescriptions")
    page.get_by_role("button", name="Save as pending check").dblclick()
    expect(page.locator("#intake-summary")).to_contain_text("Saved as pending check.")
    assert len(sent) == 1, sent
    # A warning for the checker, in the summary and beside the dose.
    expect(error(page, "daily_dose_mg").locator(".finding.amber").first).to_contain_text(
        "110 mg a day is above 100 mg, where the QT interval should be monitored"
    )
    page.goto(f"/prescriptions/{prescription_id}")

    sent = posts_to(page, f"/api/v1/prescriptions/{prescription_id}/cancel")
    cancel = page.get_by_role("button", name="Cancel the prescription")
    cancel.click()
    expect(error(page, "reason")).to_have_text("The reason is required.")
    # The field stops typing at 500 characters; past that (a pasted form, an old browser) the
    # server's refusal is still a sentence beside the field.
    page.locator("#cancel-reason").evaluate("field => field.removeAttribute('maxlength')")
    page.get_by_label("Reason for cancelling").fill("x" * 501)
    cancel.click()
    expect(error(page, "reason")).to_have_text("The reason must be at most 500 characters.")
    page.get_by_label("Reason for cancelling").fill("Prescriber phoned: new form follows")
    sent.clear()
    cancel.dblclick()
    expect(page.locator("#check-status")).to_contain_text("Cancelled")
    assert len(sent) == 1, sent
    page.reload()
    expect(page.locator("#cancelled-by")).to_contain_text("Prescriber phoned: new form follows")


def test_the_register_records_a_scanned_receipt_a_witnessed_count_and_a_correction(
    page: Page, live: LiveServer
) -> None:
    sign_in(page, "pharmacist")
    page.goto("/register")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Methadone 1mg/mL")
    no_serious_violations(page)
    status = page.locator("#register-status")

    # Nothing filled in: each missing field says so beside itself.
    receipt = page.locator("#receipt")
    receipt.get_by_role("button", name="Record the receipt").click()
    expect(error(page, "supplier_name")).not_to_be_empty()
    expect(error(page, "quantity_ml")).not_to_be_empty()
    expect(page.locator("main")).not_to_contain_text('"errors"')
    no_serious_violations(page)

    page.get_by_label("Scan the pack (GS1 barcode)").fill(GS1_PACK)
    page.get_by_label("Supplier name").fill("Demo Wholesale <script>x</script>")
    page.get_by_label("Supplier address").fill("1 Depot Way, Demotown")
    page.get_by_label("Quantity received (mL)").fill("500")
    page.get_by_label("Invoice reference").fill("INV-1001")
    sent = posts_to(page, "/api/v1/register/receipts")
    receipt.get_by_role("button", name="Record the receipt").dblclick()
    expect(status).to_contain_text("Receipt recorded on line")
    assert len(sent) == 1, sent
    last = page.locator("#register tbody tr:not(.note)").last
    expect(last).to_contain_text("Demo Wholesale <script>x</script>")  # shown as text
    expect(last).to_contain_text("B4TCH7")  # the batch read from the scan
    expect(last).to_contain_text("31/03/2028")  # its expiry, in UK format

    balance = page.locator("#balance").inner_text()
    page.get_by_label("Counted (mL)").fill(balance)
    page.get_by_label("Witness's username").fill("pharmacist2")
    page.get_by_label("Witness's password (they type it)").fill("wrong password")
    check = page.get_by_role("button", name="Record the balance check")
    check.click()
    expect(page.locator("#balance-check .finding")).not_to_have_count(0)
    page.get_by_label("Witness's password (they type it)").fill(PASSWORD)
    sent = posts_to(page, "/api/v1/register/balance-checks")
    check.dblclick()
    expect(status).to_contain_text("Balance check recorded on line")
    assert len(sent) == 1, sent

    line = page.locator("#register tbody tr", has_text="INV-1001")
    line.get_by_role("link", name="Correct line").click()
    expect(page.get_by_label("Line to correct")).not_to_have_value("")
    page.get_by_label("Change to the balance", exact=False).fill("-10")
    sent = posts_to(page, "/api/v1/register/corrections")
    correct = page.get_by_role("button", name="Record the correction")
    correct.click()
    expect(error(page, "reason")).not_to_be_empty()
    assert len(sent) == 1
    page.get_by_label("Reason").fill("Receipt entered 10 mL too high: the invoice says 490")
    sent.clear()
    correct.dblclick()
    expect(status).to_contain_text("Correction recorded on line")
    assert len(sent) == 1, sent
    # Other browser tests share this live server and may have corrected a line of their own.
    expect(page.locator("#register tr.note").filter(has_text="the invoice says 490")).to_have_count(
        1
    )
    expect(page.get_by_role("link", name="Print this register")).to_have_attribute(
        "href", "/api/v1/register/print?product=methadone-1mg-ml"
    )
    csv = page.request.get("/api/v1/register/export.csv?product=methadone-1mg-ml")
    assert csv.status == 200
    assert "INV-1001" in csv.text()


def negative_balance_alert(live: LiveServer) -> uuid.UUID:
    """The alert a supply below zero raises: its message asks for a receipt or a correction."""
    (event,) = safeguarding_rules.register_negative_balance_events(
        product="methadone-1mg-ml", balance_ml="-50.00"
    )
    pharmacy_id = live.user("pharmacist").pharmacy_id
    with live.uow:
        alert = safeguarding_service.raise_alert(
            live.uow.session,
            event,
            actor=SYSTEM,
            pharmacy_id=pharmacy_id,
            patient_id=None,
            household_id=None,
            day=live.today,
            now=live.clock.now(),
            routing=live.settings.policy.alert_routing,
        )
        live.uow.commit()
        return alert.id


def test_a_register_alert_that_asks_for_a_correction_links_to_the_register(
    page: Page, live: LiveServer, browser_page: Callable[[str], Page]
) -> None:
    alert_id = negative_balance_alert(live)
    sign_in(page, "pharmacist")
    page.goto(f"/alerts/{alert_id}")
    expect(page.locator("main")).to_contain_text("enter the receipt or a correction")
    page.get_by_role("link", name="Open the register to enter the receipt or a correction").click()
    expect(page.get_by_role("heading", name="Correct an entry")).to_be_visible()

    # The safeguarding lead reads the same register, and is offered no form.
    lead = browser_page("safeguarding")
    row = lead.locator(f'#alerts tr[data-alert="{alert_id}"]')
    expect(
        row.get_by_role("link", name="Open the register (receipt or correction)")
    ).to_be_visible()
    lead.goto(f"/alerts/{alert_id}")
    lead.get_by_role("link", name="Open the register").click()
    expect(lead.get_by_role("heading", level=1)).to_contain_text("Methadone 1mg/mL")
    expect(lead.locator("#read-only")).to_be_visible()
    expect(lead.locator("form#receipt, form#balance-check, form#correction")).to_have_count(0)
    no_serious_violations(lead)
