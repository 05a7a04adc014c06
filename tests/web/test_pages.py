"""Every page as its user sees it once its scripts have run: the security headers, a console
with no refusals or errors, and axe-core with no serious or critical violations."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.web.browser import PAGES, describe, serious_violations, visit
from tests.web.conftest import BrowserLog
from tests.web.live import LiveServer

pytestmark = pytest.mark.browser


def csp_directives(header: str) -> dict[str, list[str]]:
    parts = (directive.split() for directive in header.split(";"))
    return {words[0]: words[1:] for words in parts if words}


@pytest.mark.parametrize("name", PAGES)
def test_each_page_is_locked_down_and_accessible(
    page: Page, live: LiveServer, browser_log: BrowserLog, name: str
) -> None:
    response = visit(page, live, name)

    assert response.status == 200
    headers = response.all_headers()
    csp = csp_directives(headers["content-security-policy"])
    assert csp["default-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]
    for sources in csp.values():
        assert "'unsafe-inline'" not in sources
        assert "'unsafe-eval'" not in sources
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["content-type"] == "text/html; charset=utf-8"
    # The page works under that policy: no refused script, style or request, no failed call.
    assert browser_log.console == []

    violations = serious_violations(page)
    assert violations == [], describe(violations)
