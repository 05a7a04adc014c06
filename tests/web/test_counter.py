"""The counter in a real browser: scan, supply, refuse, record a box, withhold, close the day."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.web.browser import counter_ready, open_patient, scan, sign_in
from tests.web.live import LiveServer

pytestmark = pytest.mark.browser


def due_row(page: Page, name: str) -> object:
    return page.locator("#due-list tr").filter(has=page.get_by_role("button", name=name))


@pytest.mark.hazard("H-01.1")
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
    expect(panel.locator(".dose")).to_have_text("60 mg (60 mL) a day")
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
    # The daily dose is the headline; the instalment is "days x daily dose", never a bare total.
    expect(panel.locator(".dose")).to_have_text(re.compile(r"^\d+ mg \(\d+ mL\) a day$"))
    expect(panel.locator("#instalment")).to_contain_text(re.compile(r"\d days × \d+ mg = \d+ mg"))
    expect(panel.locator("#last-dose")).to_contain_text("Last dose taken:")
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
    # The days go home in one bottle: without a measure the handover is refused.
    page.get_by_role("button", name=re.compile("^Hand over take-home")).click()
    expect(page.locator("#action-status")).to_contain_text("supply a measuring device")
    page.get_by_label(re.compile("A measuring device .* goes with the")).check()
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

    # The page says what happened: the alert the withhold raised, not who it might reach.
    expect(page.locator("#action-status")).to_have_text(
        f"Withheld: {live.today.isoformat()}. 1 alert(s) raised."
    )
    panel = page.locator("#patient-panel")
    expect(panel.locator(".banner.red")).to_contain_text("DO NOT SUPPLY")
    expect(panel.locator('li[data-code="withheld_today"]')).to_contain_text("withheld")
    # Back sober later: a pharmacist records the reassessment, and the dose may be given.
    panel.get_by_label("What you saw when you reassessed them").fill(
        "Came back at 3pm: steady, clear speech"
    )
    panel.get_by_label("I have reassessed the patient: they are not intoxicated now").check()
    panel.get_by_role("button", name="Record the reassessment").click()
    expect(page.locator("#action-status")).to_contain_text("Reassessment recorded")
    expect(panel.locator('li[data-code="withheld_today"]')).to_have_count(0)
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


def tab_to(page: Page, target: Locator, *, limit: int = 60) -> None:
    """Press Tab until `target` has the focus, as a pharmacist without a mouse does."""
    for _ in range(limit):
        if target.evaluate("element => element === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {target}")


def test_the_counter_works_from_the_keyboard_alone(page: Page, live: LiveServer) -> None:
    """Scan, attest and hand over without touching the mouse: the wedge scanner types the
    card and Enter, Tab reaches the attestation (Space ticks it) and the button (Enter)."""
    riley = live.patient("Riley", "Thorn")
    sign_in(page, "pharmacist")
    counter_ready(page)
    expect(page.get_by_label("Patient card, label barcode, NHS number or name")).to_be_focused()

    page.keyboard.type(riley.card_code)
    page.keyboard.press("Enter")
    expect(page.locator("#patient-heading")).to_have_text("Riley Thorn")
    expect(page.locator("#patient-panel .banner.green")).to_have_text("OK TO SUPPLY")

    attestation = page.get_by_label("I have checked: the patient is not intoxicated")
    tab_to(page, attestation)
    page.keyboard.press("Space")
    expect(attestation).to_be_checked()
    record = page.get_by_role("button", name="Record supervised dose")
    tab_to(page, record)
    page.keyboard.press("Enter")

    expect(page.locator("#action-status")).to_have_text("Recorded: 1 day(s), 80 mg.")
    expect(due_row(page, "Riley Thorn")).to_contain_text("supervised")
    expect(page.get_by_label("Patient card, label barcode, NHS number or name")).to_be_focused()


def test_a_pharmacist_corrects_a_day_marked_missed_for_a_patient_who_came_late(
    page: Page, live: LiveServer
) -> None:
    patient = live.add_blocked_patient("Lately")
    name = f"{patient.given_name} {patient.family_name}"
    sign_in(page, "pharmacist")
    counter_ready(page)
    open_patient(page, patient.card_code, name)
    expect(page.locator("#patient-panel .banner.red")).to_contain_text("DO NOT SUPPLY")

    page.get_by_text("Correct a day marked missed: the patient came after close of day").click()
    yesterday = (live.today - timedelta(days=1)).isoformat()
    page.get_by_label("Day marked missed").select_option(yesterday)
    page.get_by_label("Time they swallowed it").fill("18:45")
    page.get_by_label("Why the day was marked missed").fill("Close of day ran before I recorded it")
    page.get_by_label("The patient was not intoxicated when I gave the dose").check()
    page.get_by_role("button", name="Record the late dose").dblclick()

    status = page.locator("#action-status")
    if (live.today - timedelta(days=1)).weekday() == 6:  # the closed Sunday was a take-home day
        expect(status).to_have_text(
            "This patient has no supervised dose marked missed on that day to correct"
        )
        return
    expect(status).to_contain_text("is recorded as supervised, with your reason")
    expect(page.locator("#patient-panel div.banner.green")).to_have_text("OK TO SUPPLY")
    expect(page.locator("#last-dose")).to_contain_text("yesterday")


@pytest.mark.hazard("H-09.6")
def test_a_pharmacist_moves_a_dose_recorded_against_the_wrong_patient(
    page: Page, live: LiveServer
) -> None:
    picked = live.add_supervised_patient("Picked")
    taker = live.add_supervised_patient("Taker")
    picked_name = f"{picked.given_name} {picked.family_name}"
    sign_in(page, "pharmacist")
    counter_ready(page)
    open_patient(page, picked.card_code, picked_name)
    if live.today.weekday() == 6:  # Sunday's dose goes home on Saturday: nothing supervised
        expect(page.locator("#patient-panel")).not_to_contain_text("Today: supervised")
        return
    # The taker swallows their 40 mg; the pharmacist records it against the wrong name.
    page.get_by_label("I have checked: the patient is not intoxicated").check()
    page.get_by_role("button", name="Record supervised dose").click()
    expect(page.locator("#action-status")).to_have_text("Recorded: 1 day(s), 40 mg.")
    expect(page.locator('li[data-code="already_recorded"]')).to_be_visible()

    page.get_by_text("Recorded against the wrong patient?").click()
    page.get_by_label("Who swallowed the dose").select_option(str(taker.id))
    page.get_by_label("How it came to be recorded wrongly").fill("Picked the wrong name")
    page.get_by_label(re.compile("^The dose I gave was that patient's own")).check()
    page.get_by_label("That patient was not intoxicated when I gave the dose").check()
    page.get_by_role("button", name="Move the dose").dblclick()

    expect(page.locator("#action-status")).to_contain_text(
        f"Moved: today's dose is recorded for {taker.family_name}, {taker.given_name}"
    )
    expect(page.locator("#patient-panel div.banner.green")).to_have_text("OK TO SUPPLY")
    expect(due_row(page, f"{taker.given_name} {taker.family_name}")).to_contain_text("supervised")
    expect(due_row(page, picked_name)).to_contain_text("due")
