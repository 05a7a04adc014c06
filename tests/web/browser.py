"""What a person does in the browser, shared by the browser tests and scripts/screenshots.py."""

from __future__ import annotations

import re
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Page, Response, expect

from tests.web.live import PASSWORD, VIEWPORT, LiveServer

HOME = {
    "pharmacist": "/counter",
    "pharmacist2": "/counter",
    "technician": "/counter",
    "hillside": "/counter",
    "prescriber": "/prescriber",
    "keyworker": "/prescriber",
    "safeguarding": "/safeguarding",
    "admin": "/admin",
}
SERIOUS = ("serious", "critical")


def new_context(browser: Any, live: LiveServer) -> BrowserContext:
    """A fresh browser profile: no cookies, British English, London time, 1280x800."""
    context: BrowserContext = browser.new_context(
        base_url=live.url, viewport=VIEWPORT, locale="en-GB", timezone_id="Europe/London"
    )
    context.set_default_timeout(10_000)
    return context


def sign_in(page: Page, username: str, *, home: str | None = None) -> None:
    """Sign in through the form, as a person does, and land on the role's home page."""
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    target = home or HOME.get(username, "/")
    expect(page).to_have_url(re.compile(re.escape(target) + r"$"))


def counter_ready(page: Page) -> None:
    """The counter has loaded its due list and printer status."""
    expect(page.locator("#due-list")).not_to_contain_text("Loading")
    expect(page.locator("#printer-status")).not_to_contain_text("Checking")


def scan(page: Page, code: str) -> None:
    """Type a code into the scan box and press Enter, as a keyboard-wedge scanner does."""
    box = page.get_by_label("Patient card, label barcode, NHS number or name")
    box.click()
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def open_patient(page: Page, card_code: str, name: str) -> None:
    scan(page, card_code)
    expect(page.locator("#patient-heading")).to_have_text(name)


def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings on the page as it stands."""
    results = Axe().run(page)
    return [v for v in results.response["violations"] if v["impact"] in SERIOUS]


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        targets = "; ".join(", ".join(n["target"]) for n in v["nodes"][:5])
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} -> {targets}")
    return "\n".join(lines)


# The pages every check visits: (name, who signs in, how to reach it and wait for it).
PAGES = (
    "login",
    "counter",
    "safeguarding",
    "alert",
    "household",
    "prescriber",
    "prescriber-patient",
    "admin",
    "patients",
    "patient",
    "patient-card",
    "patient-concerns",
    "households",
    "household-forms",
    "prescription-intake",
    "prescriptions-pending",
    "prescription-check",
    "register",
    "dosing-sheet",
)


def visit(page: Page, live: LiveServer, name: str) -> Response:
    """Sign in as the page's user, go to the page, and wait until its scripts have filled it."""
    morgan = live.patient("Morgan", "Marsh")
    if name == "login":
        response = page.goto("/login")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    elif name == "counter":
        sign_in(page, "pharmacist")
        response = page.goto("/counter")
        counter_ready(page)
        casey = live.patient("Casey", "Marsh")
        open_patient(page, casey.card_code, "Casey Marsh")
        expect(page.locator("#household")).to_contain_text("Lockable box")
    elif name == "safeguarding":
        sign_in(page, "safeguarding")
        response = page.goto("/safeguarding")
        expect(page.locator("#alerts")).to_be_visible()
    elif name == "alert":
        sign_in(page, "safeguarding")
        href = page.locator("#alerts tbody tr a[href^='/alerts/']").first.get_attribute("href")
        assert href is not None
        response = page.goto(href)
        expect(page.get_by_role("heading", name="Who owns it")).to_be_visible()
    elif name == "household":
        sign_in(page, "safeguarding")
        response = page.goto(f"/households/{morgan.household_id}")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Household")
    elif name == "prescriber":
        sign_in(page, "prescriber")
        response = page.goto("/prescriber")
        expect(page.get_by_role("heading", level=1)).to_contain_text("My patients")
    elif name == "prescriber-patient":
        sign_in(page, "prescriber")
        response = page.goto(f"/prescriber/patients/{morgan.id}")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Morgan Marsh")
    elif name == "admin":
        sign_in(page, "admin")
        response = page.goto("/admin")
        expect(page.get_by_role("heading", level=1)).to_have_text("Administration")
    elif name == "patients":
        sign_in(page, "pharmacist")
        response = page.goto("/patients?q=nobody-by-this-name")
        expect(page.locator("#results")).to_contain_text("No patient found")
    elif name == "patient":
        sign_in(page, "pharmacist")
        response = page.goto(f"/patients/{morgan.id}")
        expect(page.get_by_role("heading", level=1)).to_have_text("Morgan Marsh")
    elif name == "patient-concerns":
        sign_in(page, "pharmacist")
        response = page.goto(f"/patients/{morgan.id}/concerns")
        expect(page.locator("#concern-form")).to_be_visible()
    elif name == "patient-card":
        sign_in(page, "pharmacist")
        response = page.goto(f"/patients/{morgan.id}/card")
        expect(page.locator("#card-code")).to_have_text(morgan.card_code)
    elif name == "households":
        sign_in(page, "pharmacist")
        response = page.goto("/households")
        expect(page.get_by_role("heading", level=1)).to_have_text("Households")
    elif name == "household-forms":
        # The household as counter staff see it: every form open.
        sign_in(page, "pharmacist")
        response = page.goto(f"/households/{morgan.household_id}")
        for summary in page.locator("summary").all():
            summary.click()
        expect(page.locator("#member-add")).to_be_visible()
    elif name == "prescription-intake":
        sign_in(page, "pharmacist")
        response = page.goto(f"/patients/{morgan.id}/prescriptions/new")
        expect(page.get_by_role("heading", level=1)).to_contain_text("New prescription")
    elif name == "prescriptions-pending":
        sign_in(page, "pharmacist2")
        response = page.goto("/prescriptions")
        expect(page.get_by_role("heading", level=1)).to_contain_text("waiting for a check")
    elif name == "prescription-check":
        sign_in(page, "pharmacist")
        response = page.goto(f"/prescriptions/{live.prescription_of(morgan.id)}")
        expect(page.locator("#schedule")).to_be_visible()
    elif name == "register":
        sign_in(page, "pharmacist")
        response = page.goto("/register")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Controlled drugs register")
    elif name == "dosing-sheet":
        sign_in(page, "pharmacist")
        response = page.goto("/counter/sheet")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Dosing sheet for")
    else:
        raise ValueError(name)
    assert response is not None
    return response
