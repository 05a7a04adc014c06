"""Patients are found the way a pharmacist writes them (issue 17): "Family, Given" as on a
register or a prescription, a date of birth as dd/mm/yyyy, an NHS number with spaces."""

from __future__ import annotations

import pytest

from tests.factories import World, nhs_number, unique

API = "/api/v1"


def found(world: World, q: str) -> list[str]:
    response = world.get(f"{API}/patients", params={"q": q})
    assert response.status_code == 200, response.text
    return [p["id"] for p in response.json()["items"]]


def test_family_comma_given_matches_both_names_by_their_beginnings(world: World) -> None:
    family = unique("Quarry")
    jo = world.patient(given_name="Joanne", family_name=family)
    james = world.patient(given_name="James", family_name=family)
    other = world.patient(given_name="Joanne", family_name=unique("Other"))

    assert found(world, f"{family}, Joanne") == [jo["id"]]
    assert found(world, f"{family.lower()},jo") == [jo["id"]]
    assert sorted(found(world, f"{family},")) == sorted([jo["id"], james["id"]])
    assert other["id"] not in found(world, f"{family}, J")


def test_a_date_of_birth_written_the_uk_way_finds_the_patient(world: World) -> None:
    patient = world.patient(date_of_birth="1979-02-03")

    for q in ("03/02/1979", "3/2/1979", "03.02.1979", "03-02-1979", "1979-02-03"):
        assert patient["id"] in found(world, q), q


def test_an_impossible_day_is_refused_in_words(world: World) -> None:
    response = world.get(f"{API}/patients", params={"q": "31/02/1980"})

    assert response.status_code == 422
    assert response.json()["errors"][0] == {
        "field": "q",
        "rule": "date",
        "message": "is not a real date (write a date of birth as dd/mm/yyyy)",
    }


@pytest.mark.parametrize("spacing", ["{0} {1} {2}", "{0}-{1}-{2}", "{0}{1}{2}"])
def test_an_nhs_number_with_spaces_or_hyphens_finds_the_patient(world: World, spacing: str) -> None:
    number = nhs_number()
    patient = world.patient(nhs_number=number)

    q = spacing.format(number[:3], number[3:6], number[6:])
    assert found(world, q) == [patient["id"]]
