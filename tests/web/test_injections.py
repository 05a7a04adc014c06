"""The long-acting injection page in the browser: a pharmacist starts a weekly course, is
told by the field what is wrong with a dose that is not one of the product's strengths, with a
dose given tomorrow and with one missing its batch and expiry, records the dose given here and
reads when the next is due in words; a course starting tomorrow shows on the counter as due
tomorrow. No serious accessibility violation in any state."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect

from app.injections.rules import day_words
from tests.web.browser import counter_ready, describe, serious_violations, sign_in
from tests.web.live import LiveServer

pytestmark = pytest.mark.browser


def no_serious_violation(page: Page) -> None:
    violations = serious_violations(page)
    assert violations == [], describe(violations)


def uk(day: date) -> str:
    return f"{day:%d/%m/%Y}"


def test_a_pharmacist_starts_a_weekly_course_and_records_a_dose_given_here(
    page: Page, live: LiveServer
) -> None:
    patient = live.add_registered_patient("Ines")
    today = live.today
    sign_in(page, "pharmacist")
    page.goto(f"/patients/{patient.id}/injections")
    expect(page.get_by_role("heading", name="Start a course")).to_be_visible()
    expect(page.locator("#administrations")).to_have_count(0)
    no_serious_violation(page)

    # Not one of the weekly product's strengths: refused, in words, by the dose.
    course = page.locator("#course-form")
    course.get_by_label("Product").select_option("buvidal-weekly")
    course.get_by_label("Dose (mg)").fill("10")
    expect(course.get_by_label("First dose due")).to_have_value(uk(today))
    course.get_by_role("button", name="Start the course").click()
    expect(course.locator('.field-error[data-field="dose_mg"]')).to_have_text(
        "The dose must be one of 8, 16, 24, 32 mg for Buvidal weekly (buprenorphine "
        "prolonged-release injection)."
    )
    expect(course.get_by_label("Dose (mg)")).to_have_attribute("aria-invalid", "true")
    no_serious_violation(page)

    course.get_by_label("Dose (mg)").fill("16")
    course.get_by_role("button", name="Start the course").click()
    status = page.locator("#injection-status")
    expect(status).to_have_text("The first dose is due today.")
    expect(page.locator("#next-due")).to_have_text(uk(today))
    expect(page.locator("#last-given")).to_have_text("Not yet given")
    no_serious_violation(page)

    # Given tomorrow: not yet. Without a batch and expiry: each named by its field.
    given = page.locator("#administration")
    expect(given.get_by_label("Here, by me (a pharmacist)")).to_be_checked()
    given.get_by_label("Date given").fill(uk(today + timedelta(days=1)))
    given.get_by_label("Time").fill("09:00")
    given.get_by_label("Batch").fill("BX2041")
    given.get_by_label("Expiry").fill(uk(today + timedelta(days=200)))
    given.get_by_role("button", name="Record the dose").click()
    expect(given.locator('.field-error[data-field="given_at"]')).to_have_text(
        "The date and time given must not be in the future."
    )
    given.get_by_label("Date given").fill(uk(today))
    given.get_by_label("Batch").fill("")
    given.get_by_label("Expiry").fill("")
    given.get_by_role("button", name="Record the dose").click()
    expect(given.locator('.field-error[data-field="batch"]')).to_have_text("The batch is required.")
    expect(given.locator('.field-error[data-field="expires_on"]')).to_have_text(
        "The expiry date is required."
    )
    expect(given.locator('.field-error[data-field="given_at"]')).to_be_empty()
    assert "{" not in given.inner_text()  # never the raw problem
    no_serious_violation(page)

    # Given here this morning: the next is due a week later, said in words.
    given.get_by_label("Batch").fill("BX2041")
    given.get_by_label("Expiry").fill(uk(today + timedelta(days=200)))
    given.get_by_label("Site").select_option("thigh")
    given.get_by_role("button", name="Record the dose").click()
    due = today + timedelta(days=7)
    expect(status).to_have_text(
        f"The next dose is due {day_words(due)} "
        f"(it may be given from {day_words(due - timedelta(days=2))})."
    )
    expect(page.locator("#next-due")).to_have_text(uk(due))
    expect(page.locator("#last-given")).to_contain_text(f"{uk(today)} (16 mg, ")
    log = page.locator("#administrations tbody tr")
    expect(log).to_have_count(1)
    expect(log).to_contain_text(f"{uk(today)} 09:00")
    expect(log).to_contain_text("BX2041")
    expect(log).to_contain_text("this pharmacy")
    no_serious_violation(page)


def test_a_course_starting_tomorrow_is_due_tomorrow_on_the_counter(
    page: Page, live: LiveServer
) -> None:
    patient = live.add_registered_patient("Orla")
    name = f"Orla {patient.family_name}"
    tomorrow = live.today + timedelta(days=1)
    sign_in(page, "pharmacist")
    page.goto(f"/patients/{patient.id}/injections")
    course = page.locator("#course-form")
    course.get_by_label("Dose (mg)").fill("8")
    course.get_by_label("First dose due").fill(uk(tomorrow))
    course.get_by_role("button", name="Start the course").click()
    expect(page.locator("#injection-status")).to_have_text("The first dose is due tomorrow.")

    page.goto("/counter")
    counter_ready(page)
    reminder = page.locator("#injections-due li").filter(has_text=name)
    expect(reminder).to_contain_text(f"Injection due tomorrow: {name}, Buvidal weekly")
    expect(reminder.get_by_role("link", name=name)).to_have_attribute(
        "href", f"/patients/{patient.id}/injections"
    )
    no_serious_violation(page)
