"""A concern a person records, with an owner (issue 19 §3). Replayed over two days through the
HTTP API: on Monday the pharmacist sees the toddler left alone in a car while the mother collects,
phones the duty social worker, and records it; the alert goes to the social worker and the key
worker, is closed only with the action taken, and the conference report tells the whole story
(what was seen, who else was told and why that was lawful, what was done)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from app.clock import FixedClock
from tests.builders import MONDAY
from tests.factories import World
from tests.register.support import API, at

TUESDAY = MONDAY + timedelta(days=1)
SEEN = "Toddler left alone in a car outside for ten minutes while mum collected; crying."


def concern(world: World, **overrides: Any) -> Any:
    role = overrides.pop("role", "pharmacist")
    branch = overrides.pop("branch", None)
    body = {
        "category": "child_unwell_or_unsupervised",
        "severity": "urgent",
        "seen": SEEN,
        "shared_with": "Phoned the duty social worker at 10:20",
        "lawful_basis": "safeguarding",
        "recipients": ["social_worker", "key_worker"],
        "follow_up_on": (MONDAY + timedelta(days=2)).isoformat(),
        **overrides,
    }
    return world.post(f"{API}/concerns", body, role=role, branch=branch)


def marsh_household(world: World) -> tuple[dict[str, Any], dict[str, Any]]:
    household = world.household()
    world.child(
        household["id"],
        name="C.M.",
        date_of_birth="2024-06-01",
        protection_status="child_protection_plan",
        social_worker_id=str(world.social_worker_id),
    )
    return household, world.patient(household["id"])


@pytest.mark.hazard("H-24.1")
def test_a_concern_is_told_owned_and_in_the_conference_report(
    world: World, clock: FixedClock
) -> None:
    household, mother = marsh_household(world)
    clock.set(at(MONDAY, 10, 25))
    recorded = concern(world, patient_id=mother["id"])
    assert recorded.status_code == 201, recorded.text
    body = recorded.json()
    assert body["household_id"] == household["id"]  # the patient's household, named for them

    alert = world.get(f"{API}/alerts/{body['alert_id']}").json()
    assert alert["kind"] == "pharmacist_concern"
    assert alert["severity"] == "urgent"
    assert set(alert["recipients"]) >= {"social_worker", "key_worker"}
    # What was seen stays in the record: the message (which may be emailed) says only the kind.
    assert "car" not in alert["message"]
    assert "a child seen unwell or unsupervised" in alert["message"]
    assert {d["channel"] for d in alert["deliveries"]}  # delivered like every alert

    # A second concern the same day is its own alert, answered on its own.
    clock.set(at(MONDAY, 10, 40))
    second = concern(
        world,
        patient_id=mother["id"],
        severity="warning",
        category="disclosure",
        seen="Said her partner has started using again",
        recipients=["key_worker"],
    )
    assert second.status_code == 201, second.text
    assert second.json()["alert_id"] != body["alert_id"]

    # Tuesday: acknowledged only with what was done, whatever the severity.
    clock.set(at(TUESDAY, 9))
    for alert_id in (body["alert_id"], second.json()["alert_id"]):
        bare = world.post(
            f"{API}/alerts/{alert_id}/acknowledge", {"note": "seen"[:2]}, role="safeguarding_lead"
        )
        assert bare.status_code == 422, bare.text
        assert bare.json()["errors"][0]["field"] == "note"
    owned = world.post(
        f"{API}/alerts/{body['alert_id']}/acknowledge",
        {"note": "Home visit with the health visitor this afternoon; strategy discussion booked"},
        role="safeguarding_lead",
    )
    assert owned.status_code == 200, owned.text

    log = world.get(f"{API}/concerns", params={"patient_id": mother["id"]}).json()["items"]
    assert [c["category"] for c in log] == ["disclosure", "child_unwell_or_unsupervised"]
    assert log[1]["shared_with"] == "Phoned the duty social worker at 10:20"
    assert log[1]["lawful_basis"] == "safeguarding"

    report = world.get(
        f"{API}/households/{household['id']}/conference-report",
        params={"from": MONDAY.isoformat(), "to": TUESDAY.isoformat()},
    )
    assert report.status_code == 200, report.text
    text = str(report.json())
    assert SEEN in text
    assert "Phoned the duty social worker at 10:20" in text
    assert "safeguarding children or individuals at risk" in text
    assert "Home visit with the health visitor this afternoon" in text
    assert "No action recorded yet" in text  # the disclosure: still nobody has acted


@pytest.mark.hazard("H-24.1")
def test_a_concern_is_refused_without_its_facts_and_never_about_another_pharmacys_patient(
    world: World, clock: FixedClock
) -> None:
    _, mother = marsh_household(world)
    clock.set(at(MONDAY, 11))
    assert concern(world, patient_id=mother["id"], role="technician").status_code == 201
    assert concern(world, patient_id=mother["id"], role="admin").status_code == 403
    for field, bad in (
        ("recipients", []),
        ("seen", ""),
        ("lawful_basis", "because"),
        ("follow_up_on", (MONDAY - timedelta(days=1)).isoformat()),
    ):
        refused = concern(world, patient_id=mother["id"], **{field: bad})
        assert refused.status_code == 422, (field, refused.text)
        assert refused.json()["errors"][0]["field"] == field
    nobody = concern(world)
    assert nobody.status_code == 422, nobody.text
    theirs = world.patient(branch=world.away, key_worker_id=None, prescriber_id=None)
    guessed = concern(world, patient_id=theirs["id"])
    assert guessed.status_code == 404, guessed.text
    assert world.get(f"{API}/concerns", params={"patient_id": theirs["id"]}).status_code == 404
