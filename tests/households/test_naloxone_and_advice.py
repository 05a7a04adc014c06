"""Take-home naloxone and safe-storage advice (issue 20 §4), replayed day by day with a fixed
clock through the API and the pages: the counter prompts for them when a take-home goes into a
home with children or after a dose withheld for intoxication; recording them clears the prompt;
naloxone past its expiry brings it back; the household page and the conference report show
both; another pharmacy sees nothing; the records are the database's to keep."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError

from app.clock import FixedClock
from app.households.models import NaloxoneSupply, StorageAdvice
from tests.builders import API, MONDAY, at, prescribe, twice_weekly_take_home
from tests.databases import Database
from tests.factories import World
from tests.register.support import withhold

THURSDAY = MONDAY + timedelta(days=3)
ALL_TOPICS = [
    "lockable_box",
    "out_of_reach",
    "original_container",
    "return_unused",
    "naloxone",
    "child_swallowed",
]


def prompts(world: World, patient_id: str) -> list[str]:
    response = world.get(f"{API}/counter/prompts/{patient_id}")
    assert response.status_code == 200, response.text
    return [p["code"] for p in response.json()["prompts"]]


def naloxone(household_id: str, expires_on: date, **overrides: Any) -> dict[str, Any]:
    return {
        "product": "nyxoid_nasal",
        "batch": "NX2291",
        "expires_on": expires_on.isoformat(),
        "trained": True,
        "recipient": "household_adult",
        "recipient_name": "Jo Carer",
        **overrides,
    }


def family_on_take_homes(world: World) -> tuple[dict[str, Any], dict[str, Any]]:
    """A mother collecting take-homes on Monday and Thursday, with a four-year-old at home."""
    household = world.household()
    world.child(household["id"], name="L.M.", date_of_birth="2022-06-01")
    patient = world.patient(household["id"], given_name="Mia", family_name="Storrow")
    prescribe(world, patient["id"], **twice_weekly_take_home(20))
    return household, patient


@pytest.mark.hazard("H-34.1", "H-34.2")
def test_the_first_take_home_into_a_home_with_children_prompts_until_recorded(
    world: World, clock: FixedClock
) -> None:
    household, patient = family_on_take_homes(world)
    clock.set(at(MONDAY, 9))

    assert prompts(world, patient["id"]) == ["offer_naloxone", "give_storage_advice"]
    page = world.get("/counter")
    assert page.status_code == 200, page.text
    assert "Naloxone and safe storage" in page.text
    assert "Mia Storrow" in page.text
    assert "First take-home into a home with children" in page.text
    assert "nobody there has naloxone on record" in page.text

    advice = world.post(
        f"{API}/households/{household['id']}/storage-advice",
        {"topics": ALL_TOPICS, "patient_id": patient["id"]},
        role="technician",
    )
    assert advice.status_code == 201, advice.text
    assert advice.json()["given_to"] == "Mia Storrow"
    assert prompts(world, patient["id"]) == ["offer_naloxone"]
    supplied = world.post(
        f"{API}/households/{household['id']}/naloxone",
        naloxone(
            household["id"],
            MONDAY + timedelta(days=2),
            recipient="patient",
            recipient_name=None,
            patient_id=patient["id"],
        ),
    )
    assert supplied.status_code == 201, supplied.text
    assert supplied.json()["recipient_name"] == "Mia Storrow"
    assert supplied.json()["product_name"] == "Nyxoid 1.8 mg nasal spray"
    assert prompts(world, patient["id"]) == []
    assert "Mia Storrow" not in world.get("/counter").text

    # Thursday's collection: the kit expired on Wednesday, so naloxone is offered again; the
    # advice given on Monday still stands.
    clock.set(at(THURSDAY, 9))
    assert prompts(world, patient["id"]) == ["offer_naloxone"]
    response = world.get(f"{API}/counter/prompts/{patient['id']}").json()
    assert "the naloxone recorded has expired" in response["prompts"][0]["message"]
    listed = world.get(f"{API}/households/{household['id']}/naloxone").json()
    assert listed["in_date"] is False
    assert [i["in_date"] for i in listed["items"]] == [False]

    renewed = world.post(
        f"{API}/households/{household['id']}/naloxone",
        naloxone(household["id"], date(2028, 5, 31), product="prenoxad_injection"),
    )
    assert renewed.status_code == 201, renewed.text
    assert prompts(world, patient["id"]) == []


@pytest.mark.hazard("H-34.2")
def test_a_box_confirmed_prompts_for_storage_advice_again(world: World, clock: FixedClock) -> None:
    household, patient = family_on_take_homes(world)
    clock.set(at(MONDAY, 9))
    world.post(
        f"{API}/households/{household['id']}/storage-advice",
        {"topics": ALL_TOPICS, "given_to": "Mia Storrow"},
    )
    world.post(
        f"{API}/households/{household['id']}/naloxone", naloxone(household["id"], date(2028, 1, 1))
    )
    assert prompts(world, patient["id"]) == []

    clock.set(at(THURSDAY, 9))
    box = world.post(
        f"{API}/patients/{patient['id']}/box-confirmations",
        {"seen_on": THURSDAY.isoformat(), "method": "shown_at_pharmacy"},
    )
    assert box.status_code == 201, box.text
    found = world.get(f"{API}/counter/prompts/{patient['id']}").json()["prompts"]
    assert [p["code"] for p in found] == ["give_storage_advice"]
    assert found[0]["message"].startswith("A lockable box was confirmed")

    # Advice covering only part of it leaves the rest asked for.
    world.post(
        f"{API}/households/{household['id']}/storage-advice",
        {"topics": ["lockable_box"], "patient_id": patient["id"]},
    )
    found = world.get(f"{API}/counter/prompts/{patient['id']}").json()["prompts"]
    assert found[0]["topics"] == ALL_TOPICS[1:]
    world.post(
        f"{API}/households/{household['id']}/storage-advice",
        {"topics": ALL_TOPICS[1:], "patient_id": patient["id"]},
    )
    assert prompts(world, patient["id"]) == []


@pytest.mark.hazard("H-34.1")
def test_a_dose_withheld_for_intoxication_prompts_for_naloxone(
    world: World, clock: FixedClock
) -> None:
    household = world.household()  # no children: the prompt is the patient's own risk
    patient = world.patient(household["id"], given_name="Ray", family_name="Holloway")
    prescribe(world, patient["id"])
    clock.set(at(MONDAY, 9))
    assert prompts(world, patient["id"]) == []

    withhold(world, clock, patient["id"], MONDAY, reason_text="slurred speech, unsteady")

    found = world.get(f"{API}/counter/prompts/{patient['id']}").json()["prompts"]
    assert [p["code"] for p in found] == ["offer_naloxone"]
    assert "withheld on Mon 30 Nov 2026 because the patient was intoxicated" in found[0]["message"]
    assert "Ray Holloway" in world.get("/counter").text
    # Naloxone supplied before the intoxication does not answer it; a kit supplied after does.
    clock.set(at(MONDAY + timedelta(days=1), 9))
    assert prompts(world, patient["id"]) == ["offer_naloxone"]
    world.post(
        f"{API}/households/{household['id']}/naloxone",
        naloxone(household["id"], date(2028, 1, 1), recipient="patient", patient_id=patient["id"]),
    )
    assert prompts(world, patient["id"]) == []


@pytest.mark.hazard("H-34.3")
def test_the_household_page_and_the_conference_report_show_both(
    world: World, clock: FixedClock
) -> None:
    household, patient = family_on_take_homes(world)
    clock.set(at(MONDAY, 9))
    world.post(
        f"{API}/households/{household['id']}/storage-advice",
        {"topics": ALL_TOPICS, "patient_id": patient["id"]},
    )
    world.post(
        f"{API}/households/{household['id']}/naloxone",
        naloxone(household["id"], date(2028, 3, 31)),
    )
    clock.set(at(THURSDAY, 10))

    view = world.get(f"{API}/households/{household['id']}").json()
    assert view["naloxone_in_date"] is True
    assert [(n["recipient_name"], n["in_date"]) for n in view["naloxone"]] == [("Jo Carer", True)]
    assert [a["given_to"] for a in view["storage_advice"]] == ["Mia Storrow"]
    page = world.get(f"/households/{household['id']}")
    assert page.status_code == 200, page.text
    assert "Naloxone in date is held in this home." in page.text
    assert "Nyxoid 1.8 mg nasal spray" in page.text
    assert "Safe-storage advice given to Mia Storrow" in page.text  # the 30-day chronology

    report = world.get(
        f"{API}/households/{household['id']}/conference-report",
        params={"from": MONDAY.isoformat(), "to": THURSDAY.isoformat()},
    ).json()
    kinds = [e["kind"] for e in report["chronology"]]
    assert "naloxone_supplied" in kinds
    assert "storage_advice" in kinds
    assert report["home_safety"]["naloxone_in_date"] is True
    assert report["home_safety"]["last_storage_advice"]["given_to"] == "Mia Storrow"
    html = world.get(
        f"{API}/households/{household['id']}/conference-report.html",
        params={"from": MONDAY.isoformat(), "to": THURSDAY.isoformat()},
    ).text
    assert "Take-home naloxone in date is held in the home." in html
    assert "Safe-storage advice given to Mia Storrow" in html


@pytest.mark.hazard("H-34.4")
def test_another_pharmacy_gets_404_and_the_records_are_append_only(
    world: World, clock: FixedClock, database: Database
) -> None:
    household, patient = family_on_take_homes(world)
    clock.set(at(MONDAY, 9))
    path = f"{API}/households/{household['id']}"
    for suffix, body in (
        ("naloxone", naloxone(household["id"], date(2028, 1, 1))),
        ("storage-advice", {"topics": ALL_TOPICS, "given_to": "Jo Carer"}),
    ):
        away = world.post(f"{path}/{suffix}", body, branch=world.away)
        assert away.status_code == 404, away.text
        assert world.get(f"{path}/{suffix}", branch=world.away).status_code == 404
        assert world.post(f"{path}/{suffix}", body, role="key_worker").status_code == 403
        made = world.post(f"{path}/{suffix}", body)
        assert made.status_code == 201, made.text
    assert world.get(f"{API}/counter/prompts/{patient['id']}", branch=world.away).status_code == 404

    mine = uuid.UUID(household["id"])
    with database.engine.connect() as conn:
        for table, column in (
            (NaloxoneSupply.__table__, "batch"),
            (StorageAdvice.__table__, "given_to"),
        ):
            ours = table.c.household_id == mine
            for statement in (
                update(table).where(ours).values({column: "x"}),
                delete(table).where(ours),
            ):
                with pytest.raises(DBAPIError, match="append-only"):
                    conn.execute(statement)
                conn.rollback()


def test_what_cannot_be_right_is_refused_by_its_field(world: World, clock: FixedClock) -> None:
    household, patient = family_on_take_homes(world)
    stranger = world.patient()
    clock.set(at(MONDAY, 9))
    path = f"{API}/households/{household['id']}/naloxone"
    cases = [
        (naloxone(household["id"], MONDAY - timedelta(days=1)), "expires_on"),
        (naloxone(household["id"], date(2040, 1, 1)), "expires_on"),
        (naloxone(household["id"], date(2028, 1, 1), product="other"), "product_name"),
        (naloxone(household["id"], date(2028, 1, 1), recipient_name=None), "recipient_name"),
        (naloxone(household["id"], date(2028, 1, 1), recipient="patient"), "patient_id"),
        (naloxone(household["id"], date(2028, 1, 1), patient_id=stranger["id"]), "patient_id"),
        (
            naloxone(household["id"], date(2028, 1, 1), supplied_on="2026-12-01"),
            "supplied_on",
        ),
    ]
    for body, field in cases:
        refused = world.post(path, body)
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["field"] == field, refused.text
    advice = f"{API}/households/{household['id']}/storage-advice"
    refused = world.post(advice, {"topics": ["naloxone"]})
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["field"] == "given_to"
    assert world.get(path).json()["items"] == []
