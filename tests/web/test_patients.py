"""The patients pages in Chromium (issue 17): register a household and a patient, find them the
way a pharmacist writes them, correct their details with a reason kept in the history, print
their card, and get every refusal back as a sentence next to the field."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from app.households.models import Household
from app.patients.models import Patient, PatientChange
from tests.builders import count, register, spaced, uk
from tests.factories import nhs_number
from tests.web.browser import sign_in
from tests.web.live import LiveServer

pytestmark = pytest.mark.browser


def test_a_pharmacist_registers_a_household_and_a_patient_and_finds_them_again(
    page: Page, live: LiveServer
) -> None:
    family = f"Quill{uuid.uuid4().hex[:6]}"
    address = f"{uuid.uuid4().hex[:4]} Lantern Row, Demotown"
    number = nhs_number()
    sign_in(page, "pharmacist")

    page.get_by_role("link", name="Patients").click()
    page.get_by_role("link", name="Households").click()
    page.wait_for_load_state()
    page.get_by_label("Address").fill(address)
    page.get_by_label("Postcode").fill("ls1 4ab")
    page.get_by_role("button", name="Register household").dblclick()
    expect(page.locator("#page-status")).to_have_text("Household registered.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("LS1 4AB")
    assert count(live, select(func.count()).where(Household.address == address)) == 1

    page.goto("/patients")
    form = page.locator("#register-form")
    form.get_by_label("Given name").fill("Riley")
    form.get_by_label("Family name").fill(family)
    form.get_by_label("Date of birth").fill("03/02/1979")
    form.get_by_label("NHS number").fill(spaced(number))
    form.get_by_label("Household").select_option(label=f"{address}, LS1 4AB")
    form.get_by_label("Key worker").select_option(str(live.contact_id("Sam Keyworker")))
    form.get_by_label("Prescriber").select_option(str(live.contact_id("Dr Alex Prescriber")))
    form.get_by_role("button", name="Register patient").dblclick()

    expect(page.locator("#page-status")).to_have_text(f"Riley {family} registered.")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Riley {family}")
    identity = page.locator("#identity")
    expect(identity).to_contain_text("03/02/1979")
    expect(identity).to_contain_text(spaced(number))
    expect(identity.get_by_role("link", name=f"{address}, LS1 4AB")).to_be_visible()
    expect(page.get_by_role("link", name="Enter a prescription")).to_have_attribute(
        "href", re.compile(r"^/patients/[0-9a-f-]{36}/prescriptions/new$")
    )
    assert count(live, select(func.count()).where(Patient.family_name == family)) == 1
    patient_url = page.url

    # A single match opens the patient at once: "Family, Given", and the NHS number with spaces.
    for q in (f"{family}, Riley", spaced(number)):
        page.goto("/patients")
        page.get_by_label("Name, date of birth or NHS number").fill(q)
        page.keyboard.press("Enter")
        expect(page).to_have_url(patient_url)
    # A date of birth as written in the UK lists everyone born that day.
    register(live, f"{family}b", born=date(1979, 2, 3))
    page.goto("/patients")
    page.get_by_label("Name, date of birth or NHS number").fill("03/02/1979")
    page.keyboard.press("Enter")
    expect(page.locator("#results")).to_contain_text(f"{family}, Riley")
    expect(page.locator("#results")).to_contain_text(f"{family}b, Rowan")


def test_a_pharmacist_corrects_a_patient_and_the_history_says_who_when_and_why(
    page: Page, live: LiveServer
) -> None:
    patient = register(live, f"Vale{uuid.uuid4().hex[:6]}", born=date(1990, 7, 14))
    expected = live.today + timedelta(days=120)
    sign_in(page, "pharmacist")
    page.goto(f"/patients/{patient.id}")

    form = page.locator("#edit-form")
    form.get_by_label("Pregnant").check()
    form.get_by_label("Expected date of delivery").fill(uk(expected))
    form.get_by_label("Why (kept in the history)").fill("Told us at the counter; midwife letter")
    form.get_by_role("button", name="Save changes").dblclick()

    expect(page.locator("#page-status")).to_have_text("Changes saved.")
    expect(page.locator("#identity")).to_contain_text(f"Yes, expected {uk(expected)}")
    history = page.locator("#history")
    expect(history).to_contain_text("Priya Pharmacist")
    expect(history).to_contain_text("Expected date of delivery")
    expect(history).to_contain_text("Told us at the counter; midwife letter")
    # Dates and flags as people read them, never the stored machine text.
    expect(history).to_contain_text(uk(expected))
    expect(history).not_to_contain_text(expected.isoformat())
    expect(history.locator("td", has_text=re.compile(r"^yes$"))).to_have_count(1)
    # One click's worth: a double click recorded each change once.
    changes = select(func.count()).where(PatientChange.patient_id == patient.id)
    assert count(live, changes) == 2


def test_refusals_are_sentences_next_to_their_fields(page: Page, live: LiveServer) -> None:
    patient = register(live, f"Wren{uuid.uuid4().hex[:6]}", born=date(1988, 1, 30))
    sign_in(page, "pharmacist")
    page.goto("/patients")
    form = page.locator("#register-form")

    # Empty: each required field says so, next to itself.
    form.get_by_role("button", name="Register patient").click()
    expect(form.locator("#r-date_of_birth-error")).to_have_text(
        "Date of birth is required: write it as dd/mm/yyyy."
    )
    form.get_by_label("Date of birth").fill("yesterday")
    form.get_by_role("button", name="Register patient").click()
    expect(form.locator("#r-date_of_birth-error")).to_have_text(
        "Date of birth is not a date: write it as dd/mm/yyyy, for example 09/06/1984."
    )
    # The server's refusals: an empty name, a number that fails its check.
    form.get_by_label("Date of birth").fill("09/06/1984")
    form.get_by_label("NHS number").fill("123 456 7890")
    form.get_by_role("button", name="Register patient").click()
    expect(form.locator("#r-given_name-error")).to_have_text("Given name is required.")
    expect(form.locator("#r-family_name-error")).to_have_text("Family name is required.")
    expect(form.get_by_label("Given name")).to_have_attribute("aria-invalid", "true")
    form.get_by_label("Given name").fill("Ash")
    form.get_by_label("Family name").fill("Wrongnumber")
    form.get_by_role("button", name="Register patient").click()
    expect(form.locator("#r-nhs_number-error")).to_contain_text(
        "NHS number cannot be registered: it is not a valid NHS number"
    )
    expect(form.locator("#r-given_name-error")).to_be_hidden()
    form.get_by_label("NHS number").fill(spaced(patient.nhs_number))
    form.get_by_role("button", name="Register patient").click()
    expect(form.locator("#r-nhs_number-error")).to_have_text(
        "NHS number is already registered here: search for it above."
    )
    expect(page.locator("body")).not_to_contain_text('"errors"')

    # A script in the search is text; an overlong search is refused in words, on a page.
    page.get_by_label("Name, date of birth or NHS number").fill("<script>alert(1)</script>")
    page.keyboard.press("Enter")
    expect(page.locator("#results")).to_have_text(
        'No patient found for "<script>alert(1)</script>".'
    )
    response = page.goto("/patients?q=" + "x" * 150)
    assert response is not None
    assert response.status == 422
    expect(page.locator("#q-error")).to_have_text("The search must be at most 100 characters.")
    page.goto("/patients?q=31/02/1980")
    expect(page.locator("#q-error")).to_have_text(
        "The search is not a real date (write a date of birth as dd/mm/yyyy)."
    )

    # A change with no reason, and an expected date that cannot be.
    page.goto(f"/patients/{patient.id}")
    edit = page.locator("#edit-form")
    edit.get_by_role("button", name="Save changes").click()
    expect(edit.locator(".status")).to_have_text("Nothing was saved: no detail was changed.")
    edit.get_by_label("Pregnant").check()
    edit.get_by_label("Expected date of delivery").fill(uk(live.today + timedelta(days=400)))
    edit.get_by_role("button", name="Save changes").click()
    expect(edit.locator("#e-reason-error")).to_have_text(
        "Why (kept in the history) must be at least 3 characters."
    )
    edit.get_by_label("Why (kept in the history)").fill("Midwife letter")
    edit.get_by_role("button", name="Save changes").click()
    expect(edit.locator("#e-expected_delivery_on-error")).to_have_text(
        "Expected date of delivery must be within 42 weeks from today (or a few weeks overdue)."
    )
    assert count(live, select(func.count()).where(PatientChange.patient_id == patient.id)) == 0


def test_the_card_carries_the_card_code_and_never_the_nhs_number(
    page: Page, live: LiveServer
) -> None:
    patient = register(live, f"Card{uuid.uuid4().hex[:6]}", born=date(1975, 3, 3))
    sign_in(page, "pharmacist")
    page.goto(f"/patients/{patient.id}")
    page.get_by_role("link", name="Print or reprint the patient card").click()

    card = page.locator("#patient-card")
    expect(card.locator("#card-code")).to_have_text(patient.card_code)
    expect(card.get_by_role("img")).to_have_accessible_name(
        f"Barcode of card code {patient.card_code}"
    )
    assert card.locator("svg rect").count() > 30
    html = page.content()
    assert patient.nhs_number not in html
    assert spaced(patient.nhs_number) not in html


def test_a_lost_card_is_replaced_and_the_old_code_stops_working(
    page: Page, live: LiveServer
) -> None:
    patient = register(live, f"Lost{uuid.uuid4().hex[:6]}", born=date(1979, 8, 8))
    sign_in(page, "pharmacist")
    page.goto(f"/patients/{patient.id}")
    page.once("dialog", lambda dialog: dialog.accept())
    form = page.locator("#card-reissue")
    form.get_by_label("Why a new card (kept in the history)").fill("Lost at the bus station")
    form.get_by_role("button", name="Issue a new card").click()

    expect(page.locator("#page-status")).to_have_text("A new card was issued: print it now.")
    new_code = page.locator("#card-code").inner_text()
    assert new_code != patient.card_code
    with live.uow:
        stored = live.uow.session.get(Patient, patient.id)
        assert stored is not None
        assert stored.card_code == new_code
    page.goto(f"/patients/{patient.id}")
    history = page.locator("#history")
    expect(history).to_contain_text("Patient card")
    expect(history).to_contain_text("Lost at the bus station")
    expect(history).not_to_contain_text(patient.card_code)


@pytest.mark.hazard("H-24.1")
def test_a_pharmacist_records_a_concern_and_its_alert_waits_for_an_owner(
    page: Page, live: LiveServer
) -> None:
    patient = register(live, f"Worry{uuid.uuid4().hex[:6]}", born=date(1991, 2, 2))
    sign_in(page, "pharmacist")
    page.goto(f"/patients/{patient.id}")
    page.get_by_role("link", name="Concerns and information shared").click()
    form = page.locator("#concern-form")
    form.get_by_label("About").select_option("child_unwell_or_unsupervised")
    form.get_by_label("How soon someone must act").select_option("urgent")
    form.get_by_label("What you saw or were told").fill("Toddler alone in a car outside")
    form.get_by_label("Who else you told, how and when").fill("Duty social worker by phone")
    form.get_by_label("Follow up by").fill(uk(live.today + timedelta(days=2)))
    form.get_by_role("button", name="Record the concern and tell them").dblclick()

    expect(page.locator("#page-status")).to_contain_text("Concern recorded")
    rows = page.locator("#concerns tbody tr")
    expect(rows).to_have_count(1)  # one click's worth
    expect(rows.first).to_contain_text("Toddler alone in a car outside")
    expect(rows.first).to_contain_text("Duty social worker by phone")
    rows.first.get_by_role("link", name="open").click()

    expect(page.locator("#concern")).to_contain_text("Toddler alone in a car outside")
    page.get_by_role("button", name="Acknowledge: I own this").click()
    expect(page.locator("input[name=note]:invalid")).to_have_count(1)  # the note is required


def test_roles_that_may_not_change_a_patient_are_not_offered_the_forms(
    page: Page, live: LiveServer
) -> None:
    morgan = live.patient("Morgan", "Marsh")
    sign_in(page, "safeguarding")
    page.goto(f"/patients/{morgan.id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Morgan Marsh")
    expect(page.locator("#history")).to_be_visible()
    assert page.locator("form#edit-form").count() == 0
    page.goto("/patients")
    assert page.locator("form#register-form").count() == 0

    page.context.clear_cookies()
    sign_in(page, "prescriber")
    response = page.goto("/patients")
    assert response is not None
    assert response.status == 403
    expect(page.locator("main")).to_contain_text("may not look up patients")
