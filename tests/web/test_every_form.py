"""Every form on every page, filled with what a careless or hostile person types: nothing,
far too much, the wrong kind of value, and markup or SQL. The browser's own checks (required,
maxlength, type) are switched off first, so the server's answer is what is tested.

Whatever happens, the person sees a page with a sentence: never a raw JSON body, a stack
trace, a 500, a script that ran, or a page that says nothing. Its own live server: the forms
really submit, and what they create must not disturb the other browser tests."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Dialog, Page, Response
from playwright.sync_api import Error as PlaywrightError

from tests.web.browser import new_context, sign_in
from tests.web.live import LiveServer, start_live_server

pytestmark = pytest.mark.browser

NASTY = {
    "empty": "",
    "overlong": "x" * 5000,
    "wrong type": "not-a-number-or-date",
    "markup and SQL": "<script>alert('xss')</script><img src=x onerror=alert(1)>' OR 1=1; --",
}
# (who signs in, the page): every page with a form, for the role that may submit it
PAGES = [
    ("pharmacist", "/counter"),
    ("pharmacist", "/patients"),
    ("pharmacist", "/households"),
    ("pharmacist", "/households/{household}"),
    ("pharmacist", "/patients/{patient}"),
    ("pharmacist", "/patients/{patient}/concerns"),
    ("pharmacist", "/patients/{patient}/prescriptions/new"),
    ("pharmacist2", "/prescriptions/{prescription}"),
    ("pharmacist", "/register"),
    ("pharmacist", "/counter/paper-doses"),
    ("safeguarding", "/safeguarding"),
    ("prescriber", "/prescriber"),
    ("admin", "/admin"),
]
RAW = re.compile(r'\{\s*"(type|detail|title|status|errors)"|Traceback|Internal Server Error')


@pytest.fixture(scope="module")
def walker_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_live_server(tmp_path_factory.mktemp("forms"))
    server.add_blocked_patient("Walker")  # the prescriber's page has a release form to try
    yield server
    server.stop()


def disarm(page: Page, form_index: int) -> None:
    """Take away the browser's checks, so the value reaches the server as typed."""
    page.evaluate(
        """index => {
            const form = [...document.querySelectorAll('main form')][index];
            form.noValidate = true;
            form.querySelectorAll('input, textarea, select').forEach(field => {
                ['required', 'maxlength', 'minlength', 'pattern', 'min', 'max'].forEach(
                    name => field.removeAttribute(name));
                if (['date', 'number', 'email', 'url'].includes(field.type)) field.type = 'text';
            });
        }""",
        form_index,
    )


def fill(page: Page, form_index: int, value: str) -> int:
    """Put `value` into every field a person types into; returns how many there were."""
    return int(
        page.evaluate(
            """([index, value]) => {
                const form = [...document.querySelectorAll('main form')][index];
                let filled = 0;
                form.querySelectorAll('input, textarea').forEach(field => {
                    if (['checkbox', 'radio', 'hidden', 'submit', 'button', 'file'].includes(field.type)) return;
                    if (field.readOnly || field.disabled) return;
                    field.value = value;
                    field.dispatchEvent(new Event('input', { bubbles: true }));
                    filled += 1;
                });
                return filled;
            }""",
            [form_index, value],
        )
    )


def said(page: Page) -> str:
    """Everything the page says in its live regions and alerts, plus any field messages."""
    return str(
        page.evaluate(
            """() => [...document.querySelectorAll(
                '[aria-live], [role=alert], [role=status], .status, .field-error, .error, h1'
            )].map(e => e.innerText.trim()).filter(Boolean).join(' | ')"""
        )
    )


def test_every_form_answers_bad_input_with_a_sentence(
    browser: Any, walker_server: LiveServer
) -> None:
    live = walker_server
    morgan = live.patient("Morgan", "Marsh")
    paths = {
        "household": str(morgan.household_id),
        "patient": str(morgan.id),
        "prescription": str(live.prescription_of(morgan.id)),
    }
    problems: list[str] = []
    tried = 0
    for who, template in PAGES:
        path = template.format(**paths)
        context = new_context(browser, live)
        page = context.new_page()
        failures: list[str] = []
        page.on("pageerror", lambda error, f=failures: f.append(f"script error: {error}"))

        def refuse(dialog: Dialog, f: list[str] = failures) -> None:
            if dialog.type == "alert":  # a script we typed ran
                f.append(f"alert ran: {dialog.message}")
            dialog.dismiss()  # a confirmation: say no, the form must still answer

        page.on("dialog", refuse)

        def watch(response: Response, f: list[str] = failures) -> None:
            if response.status >= 500:
                f.append(f"{response.status} from {response.url}")

        page.on("response", watch)
        sign_in(page, who)

        def arrive(page: Page = page, path: str = path) -> None:
            page.goto(path)
            if path == "/counter":  # the counter's forms appear with a patient
                page.get_by_label("Patient card, label barcode, NHS number or name").fill(
                    morgan.card_code
                )
                page.keyboard.press("Enter")
                page.locator("#patient-heading").get_by_text("Morgan Marsh").wait_for()

        arrive()
        forms = page.locator("main form").count()
        for index in range(forms):
            for label, value in NASTY.items():
                arrive()  # afresh: the last submission may have changed or left the page
                if index >= page.locator("main form").count():
                    break
                disarm(page, index)
                if fill(page, index, value) == 0 and label != "empty":
                    break  # nothing to type into: one submission says enough
                try:
                    page.evaluate(
                        "i => [...document.querySelectorAll('main form')][i].requestSubmit()",
                        index,
                    )
                except PlaywrightError as navigated:  # a plain form loads a new page
                    if "Execution context was destroyed" not in str(navigated):
                        raise
                page.wait_for_load_state("networkidle")
                tried += 1
                body = page.locator("body").inner_text()
                where = f"{who} {path} form #{index} with {label}"
                if raw := RAW.search(body):
                    problems.append(f"{where}: raw error shown: {raw.group(0)}")
                if not said(page):
                    problems.append(f"{where}: the page says nothing")
        problems.extend(f"{who} {path}: {f}" for f in failures)
        context.close()

    assert tried > 40, tried
    assert problems == []
