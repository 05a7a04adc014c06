"""The register page as the server renders it: the latest lines by default, the whole register
one link away, corrections shown under the line they correct."""

from __future__ import annotations

import pytest

from app.register import pages as register_pages
from tests.builders import signed_in
from tests.factories import NOW, World
from tests.register.support import API, receipt


def test_the_page_shows_the_latest_lines_and_links_to_the_whole_register(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(register_pages, "SHOWN_LINES", 2)
    today = NOW.date()
    first, _, _ = (
        receipt(world, today, quantity, invoice_ref=f"INV-{n}")
        for n, quantity in enumerate(("100", "200", "300"), start=1)
    )
    assert first.status_code == 201, first.text
    browser = signed_in(world, "pharmacist")

    latest = browser.page("/register")
    assert latest.status_code == 200, latest.text
    assert "INV-1" not in latest.text
    assert "INV-2" in latest.text
    assert "INV-3" in latest.text
    assert "the balance before them was 100.00 mL" in latest.text
    assert "Show all 3 lines" in latest.text
    assert 'Running balance: <span id="balance">600.00</span>' in latest.text

    whole = browser.page("/register?all=1")
    assert "INV-1" in whole.text
    assert "Opening balance 0.00 mL" in whole.text


def test_a_correction_shows_under_the_line_it_corrects(world: World) -> None:
    entry = receipt(world, NOW.date(), "500", invoice_ref="INV-9")
    assert entry.status_code == 201, entry.text
    corrected = world.post(
        f"{API}/register/corrections",
        {"corrects_id": entry.json()["id"], "change_ml": "-10", "reason": "Invoice says 490"},
    )
    assert corrected.status_code == 201, corrected.text
    page = signed_in(world, "pharmacist").page(f"/register?corrects={entry.json()['id']}")
    assert page.status_code == 200, page.text
    assert "(line 2): Invoice says 490" in page.text
    assert f'<option value="{entry.json()["id"]}" selected>' in page.text
