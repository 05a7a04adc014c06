"""The administrator's day in the browser: closures added and removed with what they re-planned,
opening days that would strand doses, contacts with their once-shown secrets, and disabling an
account only when confirmed. Every change is put back: the live server is shared."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.factories import unique
from tests.web.browser import sign_in
from tests.web.live import LiveServer

pytestmark = pytest.mark.browser


def status(page: Page) -> object:
    return expect(page.locator("#admin-status"))


def test_a_closure_is_added_then_removed_saying_what_it_re_planned(
    page: Page, live: LiveServer
) -> None:
    day = live.today + timedelta(days=8)
    while day.weekday() == 6:
        day += timedelta(days=1)
    sign_in(page, "admin")
    riverside = page.locator("section.card").filter(has_text="Riverside")
    riverside.get_by_label("Closed on").fill(day.isoformat())
    riverside.get_by_label("Reason").fill("Staff training")
    riverside.get_by_role("button", name="Add closure (re-plans schedules)").dblclick()

    expect(page.locator("#admin-status")).to_contain_text(
        re.compile(r"Closure added: \d+ instalment days? re-planned; \d+ alerts? raised")
    )
    expect(riverside.locator("ul.closures")).to_contain_text("Staff training")

    removal = riverside.locator("form.remove-closure").filter(has_text=str(day.day))
    removal.get_by_label("Why open after all").fill("Training moved to January")
    removal.get_by_role("button", name=re.compile("^Remove closure on")).click()
    expect(page.locator("#admin-status")).to_contain_text(
        re.compile(r"Closure removed: \d+ instalment days? re-planned")
    )
    expect(riverside.locator("ul.closures")).not_to_contain_text("Staff training")


def test_closing_saturdays_names_the_schedules_and_saves_only_when_confirmed(
    page: Page, live: LiveServer
) -> None:
    sign_in(page, "admin")
    riverside = page.locator("section.card").filter(has_text="Riverside")
    saturday = riverside.get_by_label("Sat", exact=True)
    asked: list[str] = []

    def decline(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", decline)
    saturday.uncheck()
    riverside.get_by_role("button", name="Save opening days").click()
    # The preview reads every schedule the change would touch before it asks: on a loaded
    # 2-core CI machine (the PostgreSQL leg) that has taken longer than the default 5 s.
    expect(page.locator("#admin-status")).to_contain_text("Not saved.", timeout=20_000)
    assert "Morgan Marsh" in asked[0]
    page.reload()
    expect(riverside.get_by_label("Sat", exact=True)).to_be_checked()  # nothing changed

    page.once("dialog", lambda dialog: dialog.accept())
    riverside.get_by_label("Sat", exact=True).uncheck()
    riverside.get_by_role("button", name="Save opening days").click()
    expect(page.locator("#admin-status")).to_have_text("Opening days saved.")

    riverside.get_by_label("Sat", exact=True).check()  # put back: opening more affects nobody
    riverside.get_by_role("button", name="Save opening days").click()
    expect(page.locator("#admin-status")).to_have_text("Opening days saved.")


def test_a_new_contact_joins_the_table_shows_its_feed_once_and_a_duplicate_is_refused(
    page: Page, live: LiveServer
) -> None:
    sign_in(page, "admin")
    email = f"{unique('sw')}@childrens.example"
    name = unique("Robin Social ")

    def add(who: str) -> None:
        page.get_by_label("Name", exact=True).fill(who)
        page.get_by_label("Organisation").fill("Demotown Children's Services")
        page.get_by_label("Kind").select_option("social_worker")
        page.get_by_label("Email").fill(email)
        page.get_by_role("button", name="Add contact").click()

    add(name)
    expect(page.locator("#admin-status")).to_have_text(f"Contact {name} added.")
    expect(page.locator("#contacts-body")).to_contain_text(name)
    expect(page.get_by_label("Feed URL")).to_have_value(re.compile(r"/feeds/"))
    page.get_by_role("button", name="Copy feed url").click()
    expect(page.locator("#admin-status")).to_have_text("Feed url copied.")

    add(name + " again")
    expect(page.locator("#admin-status")).to_contain_text(
        f"{name} is already a contact of this kind"
    )
    page.get_by_label("Email").fill(f"{unique('sw')}@childrens.example")
    page.get_by_label("Name", exact=True).fill(unique("Alex Social "))
    page.get_by_label("Organisation").fill("Demotown Children's Services")
    page.get_by_label("Kind").select_option("social_worker")
    page.get_by_role("button", name="Add contact").click()
    expect(page.locator("#admin-status")).not_to_contain_text("already")  # no stale error


def test_disabling_an_account_needs_a_confirmation(page: Page, live: LiveServer) -> None:
    sign_in(page, "admin")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Disable technician").click()
    page.reload()
    expect(page.get_by_role("button", name="Disable technician")).to_be_visible()
