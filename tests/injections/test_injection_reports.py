"""Long-acting injections in the reports: each dose given is a FHIR `MedicationAdministration`
(valid R4, with the dose, site, route, batch and who gave it), and a line of the household's
conference chronology."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import fhir.resources.R4B as resources  # a dev dependency: missing is an error, not a skip

from app.clock import FixedClock
from tests.builders import API, MONDAY, at
from tests.factories import World


def given_twice(world: World, clock: FixedClock) -> tuple[dict[str, Any], dict[str, Any]]:
    """A household member on weekly injections: one dose here, the next at the clinic."""
    household = world.household()
    patient = world.patient(household["id"])
    clock.set(at(MONDAY + timedelta(days=8), 12))
    course = world.post(
        f"{API}/patients/{patient['id']}/injections",
        {"product": "buvidal-weekly", "dose_mg": 24, "started_on": MONDAY.isoformat()},
    )
    assert course.status_code == 201, course.text
    path = f"{API}/patients/{patient['id']}/injections/{course.json()['id']}/administrations"
    for day, extra in (
        (MONDAY, {"place": "here", "site": "upper_arm"}),
        (
            MONDAY + timedelta(days=7),
            {
                "place": "elsewhere",
                "site": "thigh",
                "place_name": "Demotown Drug Service clinic",
                "given_by": "N. Nurse",
                "given_by_role": "nurse",
            },
        ),
    ):
        body = {
            "given_at": at(day, 10).isoformat(),
            "dose_mg": 24,
            "batch": f"B{day.day:02d}",
            "expires_on": "2027-03-31",
            **extra,
        }
        given = world.post(path, body)
        assert given.status_code == 201, given.text
    return household, patient


def test_each_dose_given_is_a_valid_fhir_medication_administration(
    world: World, clock: FixedClock
) -> None:
    _, patient = given_twice(world, clock)
    params = {"from": MONDAY.isoformat(), "to": (MONDAY + timedelta(days=8)).isoformat()}
    response = world.get(f"{API}/patients/{patient['id']}/fhir", params=params)
    assert response.status_code == 200, response.text
    injections = [
        e["resource"]
        for e in response.json()["entry"]
        if e["resource"]["resourceType"] == "MedicationAdministration"
        and "injection" in e["resource"]["identifier"][0]["system"]
    ]
    assert len(injections) == 2
    for resource in injections:
        model = resources.get_fhir_model_class("MedicationAdministration")
        parsed = model.model_validate(resource)
        assert model.model_validate_json(parsed.model_dump_json()) == parsed
        assert resource["status"] == "completed"
        assert resource["dosage"]["dose"] == {
            "value": 24,
            "unit": "mg",
            "system": "http://unitsofmeasure.org",
            "code": "mg",
        }
        assert resource["dosage"]["route"]["coding"][0]["code"] == "34206005"
    here, clinic = injections
    assert here["effectiveDateTime"] == "2026-11-30T10:30:00Z"
    assert here["dosage"]["site"] == {"text": "upper arm"}
    assert "this pharmacy" in here["dosage"]["text"]
    assert clinic["performer"] == [{"actor": {"display": "N. Nurse (nurse)"}}]
    assert "Demotown Drug Service clinic" in clinic["dosage"]["text"]
    assert clinic["note"] == [{"text": "Batch B07, expiry 2027-03-31"}]
    # The same export twice gives the same ids.
    again = world.get(f"{API}/patients/{patient['id']}/fhir", params=params).json()
    assert {e["resource"]["id"] for e in again["entry"]} >= {r["id"] for r in injections}


def test_the_conference_chronology_lists_each_dose_given(world: World, clock: FixedClock) -> None:
    household, patient = given_twice(world, clock)
    params = {"from": MONDAY.isoformat(), "to": (MONDAY + timedelta(days=8)).isoformat()}
    response = world.get(
        f"{API}/households/{household['id']}/conference-report",
        role="safeguarding_lead",
        params=params,
    )
    assert response.status_code == 200, response.text
    given = [e for e in response.json()["chronology"] if e["kind"] == "injection_given"]
    assert [e["day"] for e in given] == [
        MONDAY.isoformat(),
        (MONDAY + timedelta(days=7)).isoformat(),
    ]
    assert "at this pharmacy" in given[0]["summary"]
    assert "at Demotown Drug Service clinic" in given[1]["summary"]
