"""A split and stepped prescription typed into the intake page and read on the check screen:
the parts that do not add up are named next to the split, and the schedule shows each day's
dose and its parts (issue 20 §2)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect

from app.patients.models import Patient
from tests.web.browser import describe, serious_violations, sign_in
from tests.web.live import LiveServer

pytestmark = pytest.mark.browser


def uk(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def new_patient(live: LiveServer) -> Patient:
    pharmacy_id = live.user("pharmacist").pharmacy_id
    assert pharmacy_id is not None
    return live._register("Sol", f"Split{uuid.uuid4().hex[:4]}", pharmacy_id, on=live.today)


@pytest.mark.hazard("H-32.2")
def test_a_split_and_stepped_prescription_is_entered_and_checked_in_the_pages(
    page: Page, live: LiveServer
) -> None:
    patient = new_patient(live)
    start = live.today
    sign_in(page, "pharmacist")
    page.goto(f"/patients/{patient.id}/prescriptions/new")
    page.get_by_label("Medicine, form and strength").select_option("methadone-1mg-ml")
    page.get_by_label("Daily dose in figures (mg)").fill("30")
    page.get_by_label("Dose and instalment direction as written (words)").fill(
        "30mg daily (20mg morning supervised, 10mg evening to take home), then 25mg daily "
        "(15mg morning supervised, 10mg evening) from day 8"
    )
    page.get_by_label("Part 1: time of day").fill("morning")
    page.get_by_label("part 1 dose (mg)").fill("20")
    page.locator("#part_supervised_1").check()
    page.get_by_label("Part 2: time of day").fill("evening")
    page.get_by_label("part 2 dose (mg)").fill("5")  # a slip: 20 + 5 is not 30
    page.get_by_label("Step 1 from").fill(uk(start + timedelta(days=7)))
    page.get_by_label("Step 1 from").press("Tab")
    page.locator("#step_mg_1").fill("25")
    page.get_by_label("Total in words").fill("three hundred and eighty-five")
    page.get_by_label("Total in figures (mL for liquids, tablets for tablets)").fill("385")
    for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"):
        page.locator("fieldset", has_text="Supervised consumption on").get_by_label(day).check()
    page.get_by_label("Start date").fill(uk(start))
    page.get_by_label("Last dose date").fill(uk(start + timedelta(days=13)))
    page.get_by_label("Instalments due on days when the pharmacy is closed", exact=False).check()
    page.get_by_label("Date signed by the prescriber").fill(uk(start))
    page.get_by_label("Who confirmed it").select_option("induction")
    save = page.get_by_role("button", name="Save as pending check")

    save.click()
    expect(page.locator("#err-dose_parts")).to_contain_text(
        "the parts (20 mg + 5 mg) do not add up to 30 mg"
    )
    violations = serious_violations(page)
    assert violations == [], describe(violations)

    page.get_by_label("part 2 dose (mg)").fill("10")
    save.click()
    summary = page.locator("#intake-summary")
    expect(summary).to_contain_text("Saved as pending check.")
    summary.get_by_role("link", name="Open the check screen").click()
    expect(page.locator("#dose-parts")).to_contain_text("evening: 10 mg, to take home")
    expect(page.locator("#dose-steps")).to_contain_text("25 mg a day")
    first = page.locator("#schedule tbody tr").first
    expect(first).to_contain_text("30 mg (morning 20, evening 10)")
    expect(page.locator("#schedule tbody tr").last).to_contain_text("25 mg")
    violations = serious_violations(page)
    assert violations == [], describe(violations)
