"""The household page in Chromium (issue 17): add and change children, re-confirm who lives
there, record a lockable box, add and remove members, correct the address; every change is in
the history with who and why, a double click records it once, and refusals are sentences next
to their fields."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from playwright.sync_api import Locator, Page, expect
from sqlalchemy import func, select

from app.households.models import (
    BoxConfirmation,
    Child,
    HouseholdChange,
    HouseholdConfirmation,
)
from app.patients.models import Patient
from tests.builders import count, household, register, spaced, uk
from tests.web.browser import sign_in
from tests.web.live import LiveServer

pytestmark = pytest.mark.browser


def open_details(page: Page, summary: str) -> Locator:
    page.get_by_text(summary, exact=True).click()
    return page.locator("details[open]").filter(has=page.get_by_text(summary, exact=True))


def test_a_pharmacist_keeps_the_household_up_to_date(page: Page, live: LiveServer) -> None:
    home = household(live, f"{uuid.uuid4().hex[:4]} Orchard Close, Demotown")
    member = register(
        live, f"Hearth{uuid.uuid4().hex[:6]}", household_id=home.id, born=date(1985, 5, 5)
    )
    joining = register(live, f"Joiner{uuid.uuid4().hex[:6]}", born=date(1991, 9, 9))
    sign_in(page, "pharmacist")
    page.goto(f"/households/{home.id}")
    status = page.locator("#page-status")

    # A child who lives here: added once, though the button was clicked twice.
    form = open_details(page, "Add a child who lives here (or is expected)")
    form.get_by_label("Name or initials").fill("T.H.")
    form.get_by_label("Date of birth (or expected date if unborn)").fill("14/02/2020")
    form.get_by_role("button", name="Add child").dblclick()
    expect(status).to_have_text("T.H. added. Confirm who lives here before the next take-home.")
    expect(page.locator("#children")).to_contain_text("T.H., born 14/02/2020")
    assert count(live, select(func.count()).where(Child.household_id == home.id)) == 1

    # Their protection status changes, with a reason kept in the history.
    form = open_details(page, "Change T.H.'s details")
    form.get_by_role("button", name="Save T.H.'s details").click()
    expect(form.locator(".status")).to_have_text("Nothing was saved: no detail was changed.")
    form.get_by_label("Protection status").select_option("child_protection_plan")
    form.get_by_label("Why (kept in the history)").fill("Conference on Monday")
    form.get_by_role("button", name="Save T.H.'s details").dblclick()
    expect(status).to_have_text("T.H.: changes saved.")
    expect(page.locator("#children")).to_contain_text("child protection plan")
    history = page.locator("#household-history")
    expect(history).to_contain_text("Conference on Monday")
    expect(history).to_contain_text("Priya Pharmacist")

    # Who lives here, re-confirmed today: one confirmation, by whom.
    page.get_by_label("How it was confirmed").fill("Asked at the counter")
    page.get_by_role("button", name="Confirm who lives here today").dblclick()
    expect(status).to_have_text("Confirmed who lives here: 1 child(ren).")
    expect(page.locator("#confirmed")).to_contain_text(uk(live.today))
    expect(page.locator("#confirmations")).to_contain_text("Priya Pharmacist")
    confirmations = select(func.count()).where(HouseholdConfirmation.household_id == home.id)
    assert count(live, confirmations) == 1

    # The lockable box, seen today.
    form = open_details(page, f"Record {member.given_name}'s lockable box as seen")
    form.get_by_role("button", name=f"Record box seen for {member.given_name}").dblclick()
    expect(status).to_have_text("Lockable box recorded as seen.")
    expect(page.locator("#boxes")).to_contain_text(uk(live.today))
    assert count(live, select(func.count()).where(BoxConfirmation.patient_id == member.id)) == 1

    # Someone moves in (found by NHS number, typed with spaces) and the first member moves out.
    page.get_by_label("NHS number of a patient who lives here").fill(spaced(joining.nhs_number))
    page.locator("#member-add").get_by_label("Why (kept in the history)").fill("Moved in")
    page.get_by_role("button", name="Add to this household").dblclick()
    expect(status).to_have_text(f"Rowan {joining.family_name} now lives here.")
    expect(page.locator("#members")).to_contain_text(joining.family_name)
    form = open_details(page, f"Record that {member.given_name} {member.family_name} has moved out")
    form.get_by_label("Why (kept in the history)").fill("Moved to a hostel")
    form.get_by_role("button", name=f"Record that {member.given_name} no longer lives here").click()
    expect(status).to_have_text(f"Rowan {member.family_name} no longer recorded as living here.")
    expect(page.locator("#members")).not_to_contain_text(member.family_name)
    with live.uow:
        assert live.uow.session.get(Patient, joining.id).household_id == home.id  # type: ignore[union-attr]

    # The address is corrected, with a reason.
    form = open_details(page, "Change the address or notes")
    form.get_by_label("Postcode").fill("ls2 7ab")
    form.get_by_label("Why (kept in the history)").fill("Typo at registration")
    form.get_by_role("button", name="Save the household").dblclick()
    expect(status).to_have_text("Household details saved.")
    expect(page.get_by_role("heading", level=1)).to_contain_text("LS2 7AB")
    changes = select(func.count()).where(
        HouseholdChange.household_id == home.id, HouseholdChange.field == "postcode"
    )
    assert count(live, changes) == 1


def test_household_refusals_are_sentences_next_to_their_fields(
    page: Page, live: LiveServer
) -> None:
    home = household(live, f"{uuid.uuid4().hex[:4]} Mill Lane, Demotown")
    sign_in(page, "pharmacist")
    page.goto(f"/households/{home.id}")

    form = open_details(page, "Add a child who lives here (or is expected)")
    form.get_by_role("button", name="Add child").click()
    expect(form.locator("#add-date_of_birth-error")).to_have_text(
        "Date of birth (or expected date if unborn) is required: write it as dd/mm/yyyy."
    )
    form.get_by_label("Date of birth (or expected date if unborn)").fill(
        uk(live.today + timedelta(days=30))
    )
    form.get_by_role("button", name="Add child").click()
    expect(form.locator("#add-name-error")).to_have_text("Name or initials is required.")
    form.get_by_label("Name or initials").fill("<script>alert(1)</script>")
    form.get_by_role("button", name="Add child").click()
    # A born child cannot have a date of birth in the future: said in words, in the form.
    expect(form.locator(".status, .field-error").filter(has_text="future")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text('"errors"')

    page.get_by_label("NHS number of a patient who lives here").fill("12345")
    page.get_by_role("button", name="Add to this household").click()
    expect(page.locator("#member-nhs_number-error")).to_have_text(
        "NHS number of a patient who lives here must be the patient's 10-digit NHS number."
    )
    assert count(live, select(func.count()).where(Child.household_id == home.id)) == 0

    page.goto("/households")
    form = page.locator("#household-form")
    form.get_by_label("Postcode").fill("12345")
    form.get_by_role("button", name="Register household").click()
    expect(form.locator("#h-address-error")).to_have_text("Address is required.")
    expect(form.locator("#h-postcode-error")).to_have_text(
        "Postcode is not a UK postcode (for example LS1 4AB)."
    )


def test_the_safeguarding_lead_is_offered_only_the_forms_they_may_submit(
    page: Page, live: LiveServer
) -> None:
    home = household(live, f"{uuid.uuid4().hex[:4]} Brook Street, Demotown")
    register(live, f"Lead{uuid.uuid4().hex[:6]}", household_id=home.id, born=date(1980, 1, 1))
    sign_in(page, "safeguarding")
    page.goto(f"/households/{home.id}")

    expect(page.locator("#child-add")).to_be_attached()
    expect(page.locator("#confirm-form")).to_be_visible()
    assert page.locator("#member-add").count() == 0
    assert page.locator("form.box-form").count() == 0
    assert page.locator("form.member-leave").count() == 0


def test_an_unborn_child_is_born_and_later_moves_out(page: Page, live: LiveServer) -> None:
    home = household(live, f"{uuid.uuid4().hex[:4]} Cradle Walk, Demotown")
    expected = live.today + timedelta(days=60)
    born = live.today - timedelta(days=1)
    sign_in(page, "pharmacist")
    page.goto(f"/households/{home.id}")
    status = page.locator("#page-status")

    form = open_details(page, "Add a child who lives here (or is expected)")
    form.get_by_label("Name or initials").fill("Baby C.")
    form.get_by_label("Date of birth (or expected date if unborn)").fill(uk(expected))
    form.get_by_label("Not born yet").check()
    form.get_by_label("Protection status").select_option("child_protection_plan")
    form.get_by_role("button", name="Add child").click()
    expect(status).to_contain_text("Baby C. added.")
    expect(page.locator("#children")).to_contain_text(f"Baby C., unborn (expected {uk(expected)})")
    expect(page.locator("#children")).to_contain_text("(pre-birth)")

    form = open_details(page, "Change Baby C.'s details")
    form.get_by_label("Born on").fill(uk(born))
    form.get_by_label("Why (kept in the history)").fill("Born at the General")
    form.get_by_role("button", name="Save Baby C.'s details").click()
    expect(status).to_have_text("Baby C.: changes saved.")
    expect(page.locator("#children")).to_contain_text(f"Baby C., born {uk(born)}, age 0")

    form = open_details(page, "Change Baby C.'s details")
    form.get_by_label("Moved out on").fill(uk(live.today))
    form.get_by_label("Why (kept in the history)").fill("Placed with grandparents")
    form.get_by_role("button", name="Save Baby C.'s details").click()
    expect(status).to_have_text("Baby C.: changes saved.")
    expect(page.locator("#children")).to_contain_text(
        f"moves out on {uk(live.today)} (counted as living here that day)"
    )
    expect(page.locator("#household-history")).to_contain_text("Placed with grandparents")
