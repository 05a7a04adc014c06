"""CSRF, as a browser meets it: the synchronizer token, SameSite=Strict and the Origin check."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, Route, expect

from tests.web.browser import counter_ready, sign_in
from tests.web.live import PASSWORD, LiveServer

pytestmark = pytest.mark.browser

ELSEWHERE = "http://elsewhere.example"
FETCH = """async ({path, body, token}) => {
  const headers = {"Content-Type": "application/json", Accept: "application/json"};
  if (token !== null) headers["X-CSRF-Token"] = token;
  const r = await fetch(path, {method: "POST", credentials: "same-origin", headers,
                               body: JSON.stringify(body)});
  return {status: r.status, body: await r.json()};
}"""


def due_state(page: Page, name: str) -> Any:
    row = page.locator("#due-list tr").filter(has=page.get_by_role("button", name=name))
    return row.locator(".tag")


def test_a_script_post_without_the_csrf_token_is_refused(page: Page, live: LiveServer) -> None:
    avery = live.patient("Avery", "Dale")
    sign_in(page, "pharmacist")
    counter_ready(page)
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert token
    withhold = {
        "patient_id": str(avery.id),
        "date": live.today.isoformat(),
        "reason": "other",
        "reason_text": "forged",
        "children_present": [],
    }

    for supplied in (None, "not-the-token"):
        result = page.evaluate(
            FETCH, {"path": "/api/v1/counter/withhold", "body": withhold, "token": supplied}
        )
        assert result["status"] == 403, result
        assert result["body"]["code"] == "csrf_failed"

    # The same session with the page's token is served: the token is what was missing.
    checked = page.evaluate(
        FETCH,
        {"path": "/api/v1/counter/check", "body": {"patient_id": str(avery.id)}, "token": token},
    )
    assert checked["status"] == 200, checked
    page.reload()
    counter_ready(page)
    expect(due_state(page, "Avery Dale")).to_have_text("due")  # nothing was withheld


def test_forms_posted_from_another_site_are_refused(
    page: Page, context: BrowserContext, live: LiveServer
) -> None:
    avery = live.patient("Avery", "Dale")
    sign_in(page, "pharmacist")
    forged = f"""<!doctype html><html lang="en"><head><title>Win a prize</title></head><body>
      <form id="withhold" method="post" action="{live.url}/api/v1/counter/withhold">
        <input name="patient_id" value="{avery.id}"><input name="date" value="{live.today}">
        <input name="reason" value="other"><input name="reason_text" value="forged">
        <button>Withhold</button></form>
      <form id="logout" method="post" action="{live.url}/logout">
        <input name="csrf" value="guess"><button>Sign out</button></form>
      <form id="login" method="post" action="{live.url}/login">
        <input name="username" value="pharmacist"><input name="password" value="{PASSWORD}">
        <input name="csrf" value="guess"><button>Sign in</button></form>
    </body></html>"""

    def elsewhere(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html", body=forged)

    context.route(f"{ELSEWHERE}/**", elsewhere)
    refused = {}
    for form in ("withhold", "logout", "login"):
        page.goto(f"{ELSEWHERE}/prize")
        with page.expect_navigation() as navigation:
            page.locator(f"#{form} button").click()
        response = navigation.value
        assert response is not None
        refused[form] = response.status
    # SameSite=Strict keeps the session cookie off cross-site requests, and the Origin check
    # refuses what reaches the server anyway (login CSRF: signing the victim in as someone).
    assert refused["withhold"] in (401, 403), refused
    assert refused["login"] == 403, refused
    # A person sees a page saying why, not a JSON document.
    assert "Cross-site request refused" in page.content()

    # Still signed in (the forged sign-out did nothing), and nothing was withheld.
    page.goto("/counter")
    expect(page).to_have_url(re.compile(r"/counter$"))
    counter_ready(page)
    expect(due_state(page, "Avery Dale")).to_have_text("due")


def test_a_request_from_another_origin_is_refused_even_with_cookie_and_token(
    page: Page, context: BrowserContext, live: LiveServer
) -> None:
    """What a browser without SameSite would send: the Origin check still refuses it."""
    avery = live.patient("Avery", "Dale")
    sign_in(page, "pharmacist")
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert token
    for headers in (
        {"Origin": ELSEWHERE},
        {"Sec-Fetch-Site": "cross-site"},
        {"Origin": ELSEWHERE, "Sec-Fetch-Site": "cross-site"},
    ):
        response = context.request.post(
            "/api/v1/counter/check",
            data={"patient_id": str(avery.id)},
            headers={"X-CSRF-Token": token, **headers},
        )
        assert response.status == 403, (headers, response.text())
        assert response.json()["code"] == "csrf_failed"
    same = context.request.post(
        "/api/v1/counter/check",
        data={"patient_id": str(avery.id)},
        headers={"X-CSRF-Token": token, "Origin": live.url, "Sec-Fetch-Site": "same-origin"},
    )
    assert same.status == 200, same.text()
