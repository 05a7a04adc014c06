"""The longest text each body accepts fits the column it is written to.

PostgreSQL enforces `VARCHAR(n)`; SQLite does not. A body that accepts more than its column holds
answers 201 on SQLite and a 500 on PostgreSQL ("nothing was recorded", but the pharmacist lost
the form). Found by the schemathesis run: a 2,000-character reason for a patient's change went
into a 500-character history column. Each case sends the longest value the contract allows and
asserts it is stored whole, on both databases.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import select

from app.clock import FixedClock
from app.households.models import HouseholdChange
from tests.builders import API, MONDAY, at, prescribe
from tests.factories import World


def longest(n: int) -> str:
    return ("Long reason " * (n // 12 + 1))[:n].strip().ljust(n, "x")


def test_a_patient_change_with_the_longest_reason_is_kept_whole(world: World) -> None:
    patient = world.patient()
    reason = longest(500)
    changed = world.client.patch(
        f"{API}/patients/{patient['id']}",
        json={"given_name": "Renamed", "reason": reason},
        headers=world.home.headers(),
    )
    assert changed.status_code == 200, changed.text
    history = world.get(f"{API}/patients/{patient['id']}/history").json()["items"]
    assert [row["reason"] for row in history] == [reason]
    too_long = world.client.patch(
        f"{API}/patients/{patient['id']}",
        json={"given_name": "Again", "reason": reason + "y"},
        headers=world.home.headers(),
    )
    assert too_long.status_code == 422, too_long.text
    assert too_long.json()["errors"][0]["field"] == "reason"


def test_household_notes_of_the_longest_length_change_with_their_history(world: World) -> None:
    household = world.household(notes=longest(2000))
    notes = longest(1999) + "!"
    changed = world.client.patch(
        f"{API}/households/{household['id']}",
        json={"notes": notes, "reason": longest(500)},
        headers=world.home.headers(),
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["notes"] == notes
    with world.uow:
        row = world.uow.session.scalars(
            select(HouseholdChange).where(HouseholdChange.household_id == UUID(household["id"]))
        ).one()
        assert (row.old_value, row.new_value) == (longest(2000), notes)


def test_a_withhold_with_the_longest_explanation_is_recorded(
    world: World, clock: FixedClock
) -> None:
    patient = world.patient()
    prescribe(world, patient["id"])
    clock.set(at(MONDAY))
    body: dict[str, Any] = {
        "patient_id": patient["id"],
        "date": MONDAY.isoformat(),
        "reason": "other",
        "reason_text": longest(480),
    }
    response = world.post(f"{API}/counter/withhold", body)
    assert response.status_code == 201, response.text
