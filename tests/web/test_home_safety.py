"""Naloxone and safe-storage prompts on the counter page in Chromium (issue 20 §4): a patient of
their own takes methadone home today for the first time to a child and nothing is on record, so
the counter asks for both; one click records the storage advice and that prompt goes, the
naloxone one stays. (The patient is the test's own: the demo's take-home patients may already
have collected in an earlier browser test.)"""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from app.households.models import StorageAdvice
from tests.builders import count
from tests.web.browser import describe, serious_violations, sign_in
from tests.web.live import LiveServer

pytestmark = pytest.mark.browser


@pytest.mark.hazard("H-34.2")
def test_storage_advice_is_recorded_from_the_counter_prompt(page: Page, live: LiveServer) -> None:
    casey = live.add_take_home_patient(
        "Robin", child_born=live.today - timedelta(days=3 * 365), hand_over=False
    )
    sign_in(page, "pharmacist")
    page.goto("/counter")
    card = page.locator(f'article.home-safety-patient[data-patient="{casey.id}"]')
    # The box was seen when the take-home began: the storage prompt says so.
    expect(card).to_contain_text("go over safe storage with the patient")
    expect(card).to_contain_text("nobody there has naloxone on record")
    violations = serious_violations(page)
    assert violations == [], describe(violations)

    card.get_by_role("button", name="Record storage advice given").click()

    expect(card.locator('li[data-code="give_storage_advice"]')).to_have_count(0)
    expect(card.locator('li[data-code="offer_naloxone"]')).to_have_count(1)
    query = select(func.count()).where(StorageAdvice.household_id == casey.household_id)
    assert count(live, query) == 1
