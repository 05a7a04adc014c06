"""The counter in a real browser: scan, supply, refuse, record a box, withhold, close the day."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.web.browser import counter_ready, open_patient, scan, sign_in
from tests.web.live import LiveServer

pytestmark = pytest.mark.browser


def due_row(page: Page, name: str) -> object:
    return page.locator("#due-list tr").filter(has=page.get_by_role("button", name=name))


def test_a_pharmacist_scans_a_card_and_supplies_a_supervised_dose(
    page: Page, live: LiveServer
) -> None:
    morgan = live.patient("Morgan", "Marsh")
    sign_in(page, "pharmacist")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Counter")
    scan_box = page.get_by_label("Patient card, label barcode, NHS number or name")
    expect(scan_box).to_be_focused()  # a keyboard-wedge scanner types straight in
    counter_ready(page)

    page.keyboard.type(morgan.card_code)
    page.keyboard.press("Enter")

    panel = page.locator("#patient-panel")
    expect(page.locator("#patient-heading")).to_have_text("Morgan Marsh")
    expect(panel.locator(".dose")).to_have_text("60 mg = 60 mL")
    expect(panel).to_contain_text("Today: supervised")
    expect(panel.locator(".banner.green")).to_have_text("OK TO SUPPLY")
    expect(page.locator("#household")).to_contain_text("Casey Marsh")
    expect(page.locator("#household")).to_contain_text("child protection plan")

    page.get_by_label("I have checked: the patient is not intoxicated").check()
    page.get_by_role("button", name="Record supervised dose").click()

    expect(page.locator("#action-status")).to_have_text("Recorded: 1 day(s), 60 mg.")
    expect(page.locator("#label-preview")).to_have_text("No label: nothing went home.")
    expect(panel.locator(".banner.red")).to_contain_text("DO NOT SUPPLY")
    expect(panel.locator('li[data-code="already_recorded"]')).to_contain_text("Already recorded")
    expect(due_row(page, "Morgan Marsh")).to_contain_text("supervised")
    expect(scan_box).to_be_focused()  # ready for the next patient's card


def test_a_take_home_is_refused_without_a_lockable_box_then_supplied_once_one_is_seen(
    page: Page, live: LiveServer
) -> None:
    casey = live.patient("Casey", "Marsh")
    sign_in(page, "pharmacist")
    counter_ready(page)
    open_patient(page, casey.card_code, "Casey Marsh")
    panel = page.locator("#patient-panel")
    expect(panel).to_contain_text("Today: take-home")
    expect(panel.locator(".banner.red")).to_contain_text("DO NOT SUPPLY")
    reason = panel.locator('li[data-code="no_lockable_box"]')
    expect(reason).to_contain_text("no lockable box has been confirmed")
    expect(page.locator("#household")).to_contain_text("Lockable box: never seen")

    # Handing over anyway is refused, and the reason is shown where the pharmacist looks.
    page.get_by_label("I have checked: the patient is not intoxicated").check()
    page.get_by_role("button", name=re.compile("^Hand over take-home")).click()
    refusal = page.locator("#action-status .banner.red")
    expect(refusal).to_contain_text("no lockable box has been confirmed")
    expect(page.locator("#action-status")).to_be_focused()  # read out, and scrolled to
    expect(page.locator("#label-preview")).to_be_empty()

    # The patient shows the box: record it, and the take-home may go.
    page.get_by_label("Seen on", exact=True).fill(live.today.isoformat())
    page.get_by_label("How", exact=True).select_option("shown_at_pharmacy")
    page.get_by_role("button", name="Record box").click()
    valid_until = (live.today + timedelta(days=90)).isoformat()
    expect(page.locator("#action-status")).to_have_text(
        f"Lockable box recorded, valid until {valid_until}."
    )
    expect(panel.locator('li[data-code="no_lockable_box"]')).to_have_count(0)
    expect(page.locator("#household")).to_contain_text(f"valid to {valid_until}")

    for warning in panel.locator('input[name="ack"]').all():
        warning.check()  # each warning acknowledged, as the pharmacist must
    page.get_by_label("I have checked: the patient is not intoxicated").check()
    page.get_by_role("button", name=re.compile("^Hand over take-home")).click()

    expect(page.locator("#action-status")).to_contain_text(re.compile(r"^Recorded: \d day\(s\)"))
    label = page.get_by_label("Label preview")
    expect(label).to_contain_text("Casey Marsh")
    expect(page.locator("#label-preview .tag")).to_have_text("printed")
    expect(page.get_by_role("button", name="Reprint")).to_be_visible()
    expect(panel.locator('li[data-code="already_recorded"]')).to_contain_text("collected")
    expect(due_row(page, "Casey Marsh")).to_contain_text("collected")
    expect(page.locator("#household")).to_contain_text(
        re.compile(r"Methadone already at home: [1-9]\d* mg")
    )
    expect(page.get_by_label("Patient card, label barcode, NHS number or name")).to_be_focused()


def test_a_pharmacist_finds_a_patient_by_name_and_withholds_the_dose(
    page: Page, live: LiveServer
) -> None:
    sign_in(page, "pharmacist")
    counter_ready(page)
    scan(page, "Birch")
    expect(page.locator("#scan-status")).to_have_text("1 found: choose one.")
    page.get_by_role("button", name=re.compile(r"^Jordan Birch \(born")).click()
    expect(page.locator("#patient-heading")).to_have_text("Jordan Birch")

    page.get_by_label("Reason", exact=True).select_option("intoxicated")
    page.get_by_label("Details").fill("Unsteady, smelt of alcohol; asked to come back tomorrow")
    page.get_by_role("button", name="Withhold").click()

    expect(page.locator("#action-status")).to_have_text(
        f"Withheld: {live.today.isoformat()}. The key worker and prescriber are alerted."
    )
    panel = page.locator("#patient-panel")
    expect(panel.locator(".banner.red")).to_contain_text("DO NOT SUPPLY")
    expect(panel.locator('li[data-code="already_recorded"]')).to_contain_text("withheld")
    expect(due_row(page, "Jordan Birch")).to_contain_text("withheld")


def test_a_pharmacist_closes_the_day_and_what_was_not_collected_is_missed(
    page: Page, live: LiveServer
) -> None:
    username, patient = live.add_pharmacy()
    name = f"{patient.given_name} {patient.family_name}"
    sign_in(page, username, home="/counter")
    counter_ready(page)
    expect(due_row(page, name)).to_contain_text("due")

    questions: list[str] = []

    def answer(dialog: object, accept: bool) -> None:
        questions.append(dialog.message)  # type: ignore[attr-defined]
        dialog.accept() if accept else dialog.dismiss()  # type: ignore[attr-defined]

    # Thinking better of it changes nothing.
    page.once("dialog", lambda dialog: answer(dialog, False))
    page.get_by_role("button", name="Close the day").click()
    expect(page.locator("#eod-status")).to_be_empty()
    expect(due_row(page, name)).to_contain_text("due")

    page.once("dialog", lambda dialog: answer(dialog, True))
    page.get_by_role("button", name="Close the day").click()
    expect(page.locator("#eod-status")).to_have_text(
        "Day closed: 1 instalment day(s) missed for 1 patient(s); 0 alert(s) raised."
    )
    expect(due_row(page, name)).to_contain_text("missed")
    assert (
        questions
        == [
            "Close the day? Every instalment not recorded today becomes missed.",
        ]
        * 2
    )
