"""Every read of personal data is in the audit log (issue 16 item 5): the patient's prescription
list, a label, the prescriber's caseload page and the safeguarding inbox were not logged, and a
patient search recorded only a count. And `q=%` or `q=_` listed the whole pharmacy: LIKE
wildcards are letters in a search, and a name search needs two characters."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.clock import FixedClock
from tests.builders import FROM_SATURDAY, SUNDAY_LABEL_DAY, take_home
from tests.builders import prescribe as active
from tests.factories import World, unique
from tests.notify.helpers import raise_missed

API = "/api/v1"


def reads(world: World, action: str, patient_id: str, actor_id: Any) -> list[AuditEvent]:
    with world.uow as uow:
        return list(
            uow.session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == action,
                    AuditEvent.entity == "patient",
                    AuditEvent.entity_id == patient_id,
                    AuditEvent.actor_id == actor_id,
                )
            )
        )


@pytest.mark.hazard("H-10.2")
def test_reading_a_patients_prescriptions_is_logged(world: World) -> None:
    patient = world.patient()

    response = world.get(f"{API}/patients/{patient['id']}/prescriptions")

    assert response.status_code == 200, response.text
    (event,) = reads(
        world, "patient.prescriptions_viewed", patient["id"], world.home.users["pharmacist"]
    )
    assert event.chain == str(world.home.pharmacy_id)


def test_reading_a_label_is_logged(world: World, clock: FixedClock) -> None:
    patient = world.patient()
    active(world, patient["id"], **FROM_SATURDAY)
    clock.set(SUNDAY_LABEL_DAY)
    label_id = take_home(world, patient).json()["label"]["jobs"][0]["label_id"]

    response = world.get(f"{API}/labels/{label_id}", role="technician")

    assert response.status_code == 200, response.text
    (event,) = reads(world, "label.viewed", patient["id"], world.home.users["technician"])
    assert event.facts == {"label_id": label_id}


@pytest.mark.hazard("H-10.2")
def test_a_search_logs_which_patients_it_returned(world: World) -> None:
    surname = unique("Searchable")
    found = [world.patient(family_name=surname), world.patient(family_name=surname)]
    world.patient(family_name=unique("Other"))

    response = world.get(f"{API}/patients", params={"q": surname.lower()})

    assert sorted(p["id"] for p in response.json()["items"]) == sorted(p["id"] for p in found)
    pharmacist = world.home.users["pharmacist"]
    with world.uow as uow:
        searched = uow.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "patient.searched", AuditEvent.actor_id == pharmacist)
            .order_by(AuditEvent.seq.desc())
        ).first()
    assert searched is not None
    assert sorted(searched.facts["patient_ids"]) == sorted(p["id"] for p in found)


def test_the_prescribers_caseload_page_logs_each_patient_it_names(world: World) -> None:
    patient = world.patient()  # names the home prescriber contact, linked to the user
    active(world, patient["id"])

    response = world.get("/prescriber", role="prescriber")

    assert response.status_code == 200, response.text
    assert patient["family_name"] in response.text
    assert reads(world, "patient.listed", patient["id"], world.home.users["prescriber"])


@pytest.mark.hazard("H-10.2")
def test_the_safeguarding_inbox_logs_each_patient_it_names(world: World, clock: FixedClock) -> None:
    patient = world.patient()
    raise_missed(world, patient["id"], day=clock.now().date(), now=clock.now())

    response = world.get("/safeguarding", role="safeguarding_lead")

    assert response.status_code == 200, response.text
    assert patient["family_name"] in response.text
    assert reads(world, "patient.listed", patient["id"], world.home.users["safeguarding_lead"])


@pytest.mark.parametrize("q", ["%", "_", " % "])
def test_a_one_character_search_is_refused(world: World, q: str) -> None:
    world.patient()
    response = world.get(f"{API}/patients", params={"q": q})

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "q"
    # The schema's minLength, or (for spaces around it) the rule after stripping.
    assert response.json()["errors"][0]["rule"] in ("string_too_short", "min_length")


@pytest.mark.parametrize("q", ["%%", "__", "%_%", "\\\\%"])
def test_wildcards_in_a_search_match_only_themselves(world: World, q: str) -> None:
    world.patient()
    world.patient()

    response = world.get(f"{API}/patients", params={"q": q})

    assert response.status_code == 200, response.text
    assert response.json()["items"] == []


def test_a_name_with_an_underscore_is_still_found_by_it(world: World) -> None:
    patient = world.patient(family_name=unique("Under_"))

    response = world.get(f"{API}/patients", params={"q": patient["family_name"][:8]})

    assert [p["id"] for p in response.json()["items"]] == [patient["id"]]
