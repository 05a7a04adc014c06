"""Screenshots of every page, for the README: `.venv/bin/python scripts/screenshots.py`.

Starts the same server the browser tests use (a throwaway database seeded with the demo data,
served by uvicorn on 127.0.0.1), signs in as each role in Debian's Chromium and saves 1280x800
full-page PNGs to docs/screenshots/ (or the folder given as the first argument).
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Locator, Page, expect, sync_playwright  # noqa: E402

from tests.web.browser import counter_ready, new_context, open_patient, sign_in  # noqa: E402
from tests.web.live import LiveServer, launch_chromium, start_live_server  # noqa: E402


def shoot(page: Page, folder: Path, name: str) -> None:
    page.mouse.move(0, 0)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True, animations="disabled", caret="hide")
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    sys.stdout.write(f"wrote {shown}\n")


def due_row(page: Page, name: str) -> Locator:
    return page.locator("#due-list tr").filter(has=page.get_by_role("button", name=name))


def take(live: LiveServer, browser: object, folder: Path) -> None:
    morgan = live.patient("Morgan", "Marsh")
    casey = live.patient("Casey", "Marsh")
    blocked = live.add_blocked_patient("Blake", "Ashdown")

    def fresh() -> Page:
        return new_context(browser, live).new_page()

    page = fresh()
    page.goto("/login")
    shoot(page, folder, "login")
    page.context.close()

    # The counter: the Marsh take-home refused for want of a lockable box.
    page = fresh()
    sign_in(page, "pharmacist")
    counter_ready(page)
    open_patient(page, casey.card_code, "Casey Marsh")
    page.get_by_label("I have checked: the patient is not intoxicated").check()
    page.get_by_role("button", name=re.compile("^Hand over take-home")).click()
    expect(page.locator("#action-status .banner.red")).to_contain_text("lockable box")
    shoot(page, folder, "counter-take-home-refused")

    # Morgan's supervised dose: recorded; nothing goes home, so no label is printed.
    open_patient(page, morgan.card_code, "Morgan Marsh")
    page.get_by_label("I have checked: the patient is not intoxicated").check()
    page.get_by_role("button", name="Record supervised dose").click()
    expect(page.locator('#patient-panel li[data-code="already_recorded"]')).to_be_visible()
    expect(due_row(page, "Morgan Marsh")).to_contain_text("supervised")
    expect(page.locator("#action-status")).to_contain_text("Recorded")
    shoot(page, folder, "counter-supervised")

    # Casey's box is seen, the take-home goes, and the label preview shows what was printed.
    open_patient(page, casey.card_code, "Casey Marsh")
    page.get_by_role("button", name="Record box").click()
    expect(page.locator("#action-status")).to_contain_text("Lockable box recorded")
    for warning in page.locator('#patient-panel input[name="ack"]').all():
        warning.check()
    page.get_by_label("I have checked: the patient is not intoxicated").check()
    page.get_by_label(re.compile("A measuring device .* goes with the")).check()
    page.get_by_role("button", name=re.compile("^Hand over take-home")).click()
    expect(page.get_by_label("Label preview")).to_be_visible()
    expect(page.locator('#patient-panel li[data-code="already_recorded"]')).to_be_visible()
    expect(due_row(page, "Casey Marsh")).to_contain_text("collected")
    shoot(page, folder, "counter-take-home-label")
    page.context.close()

    page = fresh()
    sign_in(page, "safeguarding")
    expect(page.locator("#alerts")).to_be_visible()
    shoot(page, folder, "safeguarding-inbox")
    page.locator("#alerts tbody tr a[href^='/alerts/']").first.click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    shoot(page, folder, "alert")
    page.goto("/households")
    expect(page.get_by_role("heading", level=1)).to_have_text("Households")
    shoot(page, folder, "households")
    page.goto(f"/households/{morgan.household_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Household")
    shoot(page, folder, "household")
    page.context.close()

    # Patients: a search with several matches, one patient, the card, the household's forms.
    page = fresh()
    sign_in(page, "pharmacist")
    page.goto("/patients?q=Marsh")
    expect(page.locator("#results")).to_contain_text("Marsh, Morgan")
    shoot(page, folder, "patients-search")
    page.goto(f"/patients/{morgan.id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Morgan Marsh")
    shoot(page, folder, "patient")
    page.goto(f"/patients/{morgan.id}/card")
    expect(page.locator("#card-code")).to_have_text(morgan.card_code)
    shoot(page, folder, "patient-card")
    page.goto(f"/patients/{morgan.id}/concerns")
    form = page.locator("#concern-form")
    form.get_by_label("About").select_option("child_unwell_or_unsupervised")
    form.get_by_label("What you saw or were told").fill(
        "Casey (3) waited alone in the car outside for ten minutes while Morgan collected."
    )
    form.get_by_label("Who else you told, how and when").fill(
        "Phoned the duty social worker at 10:20"
    )
    form.get_by_role("button", name="Record the concern and tell them").click()
    expect(page.locator("#concerns tbody tr")).to_have_count(1)
    shoot(page, folder, "patient-concerns")
    page.goto(f"/households/{morgan.household_id}")
    page.get_by_text("Add a child who lives here (or is expected)").click()
    shoot(page, folder, "household-pharmacist")
    page.context.close()

    page = fresh()
    sign_in(page, "prescriber")
    expect(page.locator(f'li[data-patient="{blocked.id}"]')).to_be_visible()
    shoot(page, folder, "prescriber-caseload")
    page.goto(f"/prescriber/patients/{blocked.id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(blocked.given_name)
    shoot(page, folder, "prescriber-patient")
    page.context.close()

    page = fresh()
    sign_in(page, "admin")
    shoot(page, folder, "admin")
    page.context.close()
    take_prescriptions_and_register(live, browser, folder)


def take_prescriptions_and_register(live: LiveServer, browser: object, folder: Path) -> None:
    morgan = live.patient("Morgan", "Marsh")

    def fresh() -> Page:
        return new_context(browser, live).new_page()

    # Intake: an FP10MDA with most of it left out, every finding beside its field.
    page = fresh()
    sign_in(page, "pharmacist")
    page.goto(f"/patients/{morgan.id}/prescriptions/new")
    page.get_by_label("Daily dose in figures (mg)").fill("fifty")
    page.get_by_role("button", name="Save as pending check").click()
    expect(page.locator("#intake-summary")).to_contain_text("Not saved")
    shoot(page, folder, "prescription-intake-findings")
    page.goto("/register")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Controlled drugs register")
    shoot(page, folder, "register")
    page.goto("/counter/sheet")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Dosing sheet for")
    shoot(page, folder, "dosing-sheet")
    page.context.close()

    # The second pharmacist's check: the form beside the schedule built from it.
    _, pending = live.add_pending_prescription("Jordan")
    page = fresh()
    sign_in(page, "pharmacist2")
    page.goto("/prescriptions")
    expect(page.locator("#pending")).to_be_visible()
    shoot(page, folder, "prescriptions-pending")
    page.goto(f"/prescriptions/{pending}")
    expect(page.locator("#schedule")).to_be_visible()
    shoot(page, folder, "prescription-check")
    page.context.close()


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        live = start_live_server(Path(tmp))
        try:
            with sync_playwright() as playwright:
                browser = launch_chromium(playwright)
                try:
                    take(live, browser, folder.resolve())
                finally:
                    browser.close()
        finally:
            live.stop()


if __name__ == "__main__":
    main()
