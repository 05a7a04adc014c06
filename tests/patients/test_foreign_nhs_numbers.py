"""Another pharmacy's patient is invisible at the scanner and at registration (issue 16 item 3):
the scanner answered "No patient with id <uuid> is available to you" for an NHS number held at
another branch (distinguishable from a number nobody holds), and registering that number answered
409 `duplicate_nhs_number`. Now both answer exactly as for a number that is not theirs to know:
the scan as a number nobody holds, the registration as a number that fails its check
(docs/decisions.md, "Registration")."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.patients.cards import new_card_code
from app.patients.models import Patient
from tests.factories import ROLES, World, nhs_number, unique

API = "/api/v1"
STAFF = [role for role in ROLES if role in ("pharmacist", "technician")]


def same_answer(a: Any, b: Any) -> None:
    """The same status, body and headers (but the request id, new on every response)."""
    assert a.status_code == b.status_code
    assert a.json() == b.json()
    strip = {"x-request-id", "content-length"}
    assert {k: v for k, v in a.headers.items() if k not in strip} == {
        k: v for k, v in b.headers.items() if k not in strip
    }


@pytest.mark.parametrize("role", STAFF)
def test_scanning_another_pharmacys_nhs_number_answers_as_a_number_nobody_holds(
    world: World, role: str
) -> None:
    theirs = world.patient(branch=world.away)
    nobodys = nhs_number()

    foreign = world.post(f"{API}/counter/scan", {"code": theirs["nhs_number"]}, role=role)
    unknown = world.post(f"{API}/counter/scan", {"code": nobodys}, role=role)

    assert foreign.status_code == 404, foreign.text
    same_answer(foreign, unknown)
    assert theirs["id"] not in foreign.text


def test_scanning_another_pharmacys_patient_card_answers_as_a_card_nobody_holds(
    world: World,
) -> None:
    theirs = world.patient(branch=world.away)
    nobodys = new_card_code()

    foreign = world.post(f"{API}/counter/scan", {"code": theirs["card_code"]})
    unknown = world.post(f"{API}/counter/scan", {"code": nobodys})

    assert foreign.status_code == unknown.status_code == 404, foreign.text
    assert foreign.json()["detail"] == unknown.json()["detail"]
    assert theirs["id"] not in foreign.text


def body(world: World, number: str) -> dict[str, Any]:
    return {
        "given_name": "Dana",
        "family_name": unique("Dup"),
        "date_of_birth": "1982-04-04",
        "nhs_number": number,
        "pharmacy_id": str(world.home.pharmacy_id),
    }


@pytest.mark.parametrize("role", STAFF)
def test_registering_another_pharmacys_nhs_number_answers_as_an_invalid_number(
    world: World, role: str
) -> None:
    theirs = world.patient(branch=world.away)
    wrong_check_digit = theirs["nhs_number"][:9] + str((int(theirs["nhs_number"][9]) + 1) % 10)

    collides = world.post(f"{API}/patients", body(world, theirs["nhs_number"]), role=role)
    invalid = world.post(f"{API}/patients", body(world, wrong_check_digit), role=role)

    assert collides.status_code == 422, collides.text
    same_answer(collides, invalid)
    assert collides.json()["errors"] == [
        {
            "field": "nhs_number",
            "rule": "not_registrable",
            "message": collides.json()["errors"][0]["message"],
        }
    ]
    assert "duplicate" not in collides.text
    assert theirs["id"] not in collides.text
    with world.uow as uow:
        holders = uow.session.scalar(
            select(func.count()).where(Patient.nhs_number == theirs["nhs_number"])
        )
        # The attempt is on the record (the caller's pharmacy's chain) for an administrator.
        refused = uow.session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "access.refused", AuditEvent.entity_id == theirs["id"]
            )
        ).all()
    assert holders == 1
    assert [e.facts["code"] for e in refused] == ["nhs_number_held_elsewhere"]
    assert refused[0].chain == str(world.home.pharmacy_id)


def test_registering_a_number_already_at_ones_own_pharmacy_still_says_so(world: World) -> None:
    ours = world.patient()

    again = world.post(f"{API}/patients", body(world, ours["nhs_number"]))

    assert again.status_code == 409, again.text
    assert again.json()["code"] == "duplicate_nhs_number"


def test_an_admin_who_sees_every_pharmacy_is_told_of_the_duplicate(world: World) -> None:
    theirs = world.patient(branch=world.away)

    again = world.post(f"{API}/patients", body(world, theirs["nhs_number"]), role="admin")

    assert again.status_code == 409, again.text
    assert again.json()["code"] == "duplicate_nhs_number"
