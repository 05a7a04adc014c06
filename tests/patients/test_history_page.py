"""A change history reads as people write: a moved patient's households by address, a new key
worker by name, dates as 01/03/2022 and flags as yes/no, never a UUID or an ISO date; and a
household the pharmacist may not see is named only as that."""

from __future__ import annotations

import re
from datetime import date
from uuid import UUID

from app.actor import SYSTEM
from app.http.templates import history_value
from app.patients import service as patients_service
from tests.builders import signed_in
from tests.factories import NOW, World, nhs_number

API = "/api/v1"


def test_the_patient_history_names_households_and_contacts(world: World) -> None:
    before = world.household(address="1 Old Road, Testtown", postcode="TT1 1AA")
    after = world.household(address="9 New Street, Testtown", postcode="TT9 9ZZ")
    patient = world.patient(before["id"])
    moved = world.client.patch(
        f"{API}/patients/{patient['id']}",
        json={"household_id": after["id"], "reason": "Moved in with her sister"},
        headers=world.home.headers(),
    )
    assert moved.status_code == 200, moved.text

    text = signed_in(world, "pharmacist").page(f"/patients/{patient['id']}").text
    history = text[text.index('id="history"') :]
    assert "1 Old Road, Testtown, TT1 1AA" in history
    assert "9 New Street, Testtown, TT9 9ZZ" in history
    assert before["id"] not in history
    assert after["id"] not in history


def test_a_household_at_another_pharmacy_is_not_named_in_the_history(world: World) -> None:
    theirs = world.post(
        f"{API}/households", {"address": "7 Far Lane", "postcode": "FA7 7AA"}, branch=world.away
    ).json()
    # A household registered at another branch may hold one of ours (members use different
    # pharmacies); an import links it, as this pharmacy's own staff could not.
    registered = patients_service.register_patient(
        world.uow,
        actor=SYSTEM,
        given_name="Kit",
        family_name="Across",
        date_of_birth=date(1988, 1, 2),
        nhs_number=nhs_number(),
        pharmacy_id=world.home.pharmacy_id,
        household_id=UUID(theirs["id"]),
        key_worker_id=None,
        prescriber_id=None,
        today=NOW.date(),
        now=NOW,
    )
    patient = {"id": str(registered.id)}
    left = world.client.patch(
        f"{API}/patients/{patient['id']}",
        json={"household_id": None, "reason": "Left the household"},
        headers=world.home.headers(),
    )
    assert left.status_code == 200, left.text
    text = signed_in(world, "pharmacist").page(f"/patients/{patient['id']}").text
    history = text[text.index('id="history"') :]
    assert "7 Far Lane" not in history
    assert "a household registered at another pharmacy" in history


def test_stored_values_are_shown_as_people_read_them() -> None:
    assert history_value("2022-03-01") == "01/03/2022"
    assert history_value("True") == "yes"
    assert history_value("False") == "no"
    assert history_value(None) == "-"
    assert history_value("abc", {"abc": "Sam Keyworker (Drug service)"}) == (
        "Sam Keyworker (Drug service)"
    )
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", history_value("2022-02-30"))  # not a day: as is
