"""A lost or stolen patient card is replaced: a new random code, and the old card stops selecting
the patient at once (it answers exactly as a card nobody holds). The history says a new card
was issued, by whom and why, without writing either code."""

from __future__ import annotations

from typing import Any

from devices import make_patient_card_code
from tests.factories import World

API = "/api/v1"


def reissue(world: World, patient_id: str, role: str = "pharmacist", **body: str) -> Any:
    return world.post(
        f"{API}/patients/{patient_id}/card/reissue",
        {"reason": "Card stolen with her bag on Tuesday", **body},
        role=role,
    )


def test_a_lost_card_stops_working_and_the_new_one_selects_the_patient(world: World) -> None:
    patient = world.patient()
    old = patient["card_code"]
    assert world.post(f"{API}/counter/scan", {"code": old}).status_code == 200

    response = reissue(world, patient["id"], role="technician")
    assert response.status_code == 200, response.text
    new = response.json()["card_code"]
    assert new != old

    nobodys = make_patient_card_code()  # a well-formed card nobody holds
    unknown = world.post(f"{API}/counter/scan", {"code": nobodys})
    lost = world.post(f"{API}/counter/scan", {"code": old})
    assert lost.status_code == unknown.status_code == 404, lost.text
    assert lost.json() == unknown.json() | {"instance": lost.json()["instance"]}
    scanned = world.post(f"{API}/counter/scan", {"code": new})
    assert scanned.status_code == 200, scanned.text
    assert patient["id"] in scanned.text, scanned.text

    history = world.get(f"{API}/patients/{patient['id']}/history").json()["items"]
    assert [(h["field"], h["reason"]) for h in history] == [
        ("card", "Card stolen with her bag on Tuesday")
    ]
    assert old not in str(history)
    assert new not in str(history)


def test_only_staff_of_the_pharmacy_may_issue_a_card_and_they_say_why(world: World) -> None:
    patient = world.patient()
    assert reissue(world, patient["id"], role="prescriber").status_code in (403, 404)
    assert reissue(world, patient["id"]).status_code == 200
    away = world.post(
        f"{API}/patients/{patient['id']}/card/reissue",
        {"reason": "Guessing another branch's ids"},
        branch=world.away,
    )
    assert away.status_code == 404, away.text
    short = reissue(world, patient["id"], reason="x")
    assert short.status_code == 422
    assert short.json()["errors"][0]["field"] == "reason"
