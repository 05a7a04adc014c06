"""Signing in and out in a real browser: the session cookie, idle time-out, revocation, and the
pharmacy boundary."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from devices import make_patient_card_code
from tests.web.browser import counter_ready, new_context, scan, sign_in
from tests.web.live import PASSWORD, LiveServer

pytestmark = pytest.mark.browser


def cookie(context: BrowserContext, name: str) -> dict[str, Any] | None:
    return next((c for c in context.cookies() if c["name"] == name), None)


def test_a_wrong_password_is_refused_and_the_right_one_signs_in(page: Page) -> None:
    page.goto("/counter")
    expect(page).to_have_url(re.compile(r"/login\?next=(%2F|/)counter$"))
    expect(page.get_by_label("Username")).to_be_focused()
    page.get_by_label("Username").fill("pharmacist")
    page.get_by_label("Password").fill("not-the-password")
    with page.expect_response("**/login") as refused:
        page.get_by_role("button", name="Sign in").click()
    assert refused.value.status == 401
    expect(page.get_by_role("alert")).to_have_text(
        "Wrong username or password, or the account is disabled"
    )

    page.get_by_label("Username").fill("pharmacist")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/counter$"))  # back where they were going
    expect(page.get_by_role("banner")).to_contain_text("Signed in as Priya Pharmacist (pharmacist)")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link")).to_have_text(
        ["Counter", "Patients", "Prescriptions", "Register", "Alerts", "Look-up links"]
    )


def test_the_cookies_are_host_only_secure_httponly_and_strict(
    page: Page, context: BrowserContext, live: LiveServer
) -> None:
    page.goto("/login")
    login_csrf = cookie(context, "__Host-login-csrf")
    assert login_csrf is not None
    sign_in(page, "pharmacist")

    session = cookie(context, "__Host-session")
    assert session is not None, "Chromium refused the __Host- cookie on http://127.0.0.1"
    for flags in (login_csrf, session):
        assert flags["secure"] is True
        assert flags["httpOnly"] is True
        assert flags["sameSite"] == "Strict"
        assert flags["path"] == "/"
        assert flags["domain"] == "127.0.0.1"  # host-only: no Domain attribute was sent
    assert len(session["value"]) >= 43  # 256 random bits, url-safe base64
    # Max-Age counts from the browser's own (real) clock, not the server's fixed test clock.
    lifetime = session["expires"] - time.time()
    assert 0 < lifetime <= live.settings.auth.token_ttl_seconds + 60
    assert cookie(context, "__Host-login-csrf") is None  # used once, then dropped
    assert page.evaluate("document.cookie") == ""  # no script can read the session


def test_signing_out_revokes_the_session_on_the_server(
    page: Page, context: BrowserContext, browser: Any, live: LiveServer
) -> None:
    sign_in(page, "technician")
    stolen = cookie(context, "__Host-session")
    assert stolen is not None
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    assert cookie(context, "__Host-session") is None

    # Someone who copied the cookie before sign-out gets nothing with it.
    other = new_context(browser, live)
    try:
        other.add_cookies([stolen])  # type: ignore[list-item]
        replay = other.new_page()
        replay.goto("/counter")
        expect(replay).to_have_url(re.compile(r"/login\?next=(%2F|/)counter$"))
        me = other.request.get("/api/v1/me")
        assert me.status == 401
        assert me.json()["code"] == "not_authenticated"
    finally:
        other.close()


def test_an_idle_session_ends_and_signing_in_again_returns_to_the_page(
    page: Page, live: LiveServer, clock: Any
) -> None:
    idle = timedelta(seconds=live.settings.web_idle_seconds)
    sign_in(page, "pharmacist2")
    counter_ready(page)

    clock.advance(idle - timedelta(seconds=5))
    page.reload()  # still within the idle time: the session carries on, and is refreshed
    expect(page).to_have_url(re.compile(r"/counter$"))
    counter_ready(page)

    clock.advance(idle + timedelta(seconds=1))
    page.reload()
    expect(page).to_have_url(re.compile(r"/login\?next=(%2F|/)counter$"))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Username").fill("pharmacist2")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/counter$"))


def test_another_pharmacys_pharmacist_cannot_reach_these_records(
    page: Page, live: LiveServer
) -> None:
    morgan = live.patient("Morgan", "Marsh")
    sign_in(page, "hillside")
    counter_ready(page)
    expect(page.locator("#due-list")).to_have_text("Nobody is due today.")

    # Morgan's card at Hillside's counter reads exactly like a card nobody issued.
    scan(page, make_patient_card_code())
    status = page.locator("#scan-status")
    expect(status).not_to_have_text(re.compile(r"^$|Looking up"))
    unknown = status.inner_text()
    scan(page, morgan.card_code)
    expect(status).to_have_text(unknown)
    expect(page.locator("#patient-heading")).to_have_text("Patient")
    scan(page, "Marsh")
    expect(status).to_have_text("No patient matches “Marsh”.")

    for path in (
        f"/households/{morgan.household_id}",
        f"/prescriber/patients/{morgan.id}",
        f"/prescriber/patients/{morgan.id}/adherence.csv",
    ):
        response = page.goto(path)
        assert response is not None
        assert response.status == 404, path
        body = page.content()
        assert "Marsh" not in body, path
        assert "L.M." not in body, path

    page.goto("/safeguarding")
    expect(page.locator("#no-alerts")).to_have_text("No alerts match.")
    expect(page.locator(f'a[href="/households/{morgan.household_id}"]')).to_have_count(0)
    api = page.request.get(f"/api/v1/patients/{morgan.id}")
    assert api.status == 404
    assert "Marsh" not in api.text()
