"""Who hears about an alert, resolved against the real database: each role to its contacts, the
pharmacy's own safeguarding lead and MASH before the area's, never another pharmacy's; only the
social workers of children living in the household that day; one delivery per contact, under
the first role that named it; and the escalation ladder's two rungs and its end.

The delivery tests (test_delivery.py, test_escalation.py) prove that these contacts are then
told; these tests pin down the choice itself, so that a changed comparison or a dropped filter in
app/safeguarding/routing.py fails here (docs/safety/mutation-testing.md, target alert-routing)."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from app.safeguarding.routing import (
    DELIVERY_FAILED,
    Target,
    effective_table,
    escalation_targets,
    resolve,
    roles_for,
)
from app.safeguarding.rules import EventKind, Recipient
from tests.factories import World, make_contact

# The worker-wide database: every query here is scoped to this test's own pharmacies, except the
# area's contacts (no pharmacy), which each test reads only through a pharmacy of its own.
SHARED_DATABASE = True

TODAY = date(2026, 12, 1)


def named(targets: list[Target]) -> list[tuple[UUID, str]]:
    return [(t.contact.id, t.reason) for t in targets]


def who(world: World, roles: list[str], **subject: UUID | None) -> list[tuple[UUID, str]]:
    with world.uow as uow:
        return named(
            resolve(
                uow.session,
                roles,
                pharmacy_id=subject.get("pharmacy_id", world.home.pharmacy_id),
                patient_id=subject.get("patient_id"),
                household_id=subject.get("household_id"),
                today=TODAY,
            )
        )


def ladder(world: World, level: int, pharmacy_id: UUID | None) -> list[tuple[UUID, str]]:
    with world.uow as uow:
        return named(escalation_targets(uow.session, level, pharmacy_id=pharmacy_id, today=TODAY))


def own_contact(world: World, kind: str, role: str = "pharmacist") -> UUID:
    body = {"name": f"Own {kind}", "organisation": "Test Org", "kind": kind}
    body["email"] = f"{kind}@example.org"
    response = world.post("/api/v1/contacts", body, role=role)
    assert response.status_code == 201, response.text
    return UUID(response.json()["id"])


def test_the_policy_replaces_what_the_rule_proposes_kind_by_kind() -> None:
    proposed = [Recipient.KEY_WORKER, Recipient.SOCIAL_WORKER]
    assert roles_for("missed_dose", proposed, {}) == proposed
    assert roles_for("missed_dose", proposed, {"missed_dose": ["mash"]}) == ["mash"]
    # An empty list is a choice (nobody), not "as proposed".
    assert roles_for("missed_dose", proposed, {"missed_dose": []}) == []
    assert roles_for("missed_dose", proposed, {"intoxicated": ["mash"]}) == proposed
    assert isinstance(roles_for("x", ("a", "b"), {}), list)


def test_the_admin_table_lists_every_kind_and_marks_what_is_configured() -> None:
    table = effective_table({"missed_dose": ("mash", "key_worker")})
    assert set(table) == {str(k) for k in EventKind} | {DELIVERY_FAILED}
    assert table["missed_dose"] == ["mash", "key_worker"]
    assert isinstance(table["missed_dose"], list)
    assert table[DELIVERY_FAILED] is None
    assert all(v is None for k, v in table.items() if k != "missed_dose")


def test_the_patients_key_worker_and_prescriber_each_under_their_role(world: World) -> None:
    patient = UUID(world.patient()["id"])
    assert who(world, [Recipient.KEY_WORKER], patient_id=patient) == [
        (world.key_worker_id, "key_worker")
    ]
    assert who(world, [Recipient.PRESCRIBER], patient_id=patient) == [
        (world.prescriber_id, "prescriber")
    ]
    assert who(world, [Recipient.PRESCRIBER, Recipient.KEY_WORKER], patient_id=patient) == [
        (world.prescriber_id, "prescriber"),
        (world.key_worker_id, "key_worker"),
    ]
    # No patient (a household or pharmacy alert): no key worker, no prescriber.
    assert who(world, [Recipient.KEY_WORKER, Recipient.PRESCRIBER]) == []


def test_a_patient_without_a_key_worker_or_prescriber_names_nobody_for_them(
    world: World,
) -> None:
    # In a household whose child has a social worker: the social worker is not told in the
    # key worker's place.
    household = world.household()["id"]
    world.child(
        household,
        protection_status="child_protection_plan",
        social_worker_id=str(world.social_worker_id),
    )
    patient = UUID(
        world.patient(household_id=household, key_worker_id=None, prescriber_id=None)["id"]
    )
    assert who(world, [Recipient.KEY_WORKER, Recipient.PRESCRIBER], patient_id=patient) == []


def test_one_contact_named_twice_is_told_once(world: World) -> None:
    patient = UUID(world.patient()["id"])
    assert who(world, [Recipient.KEY_WORKER, Recipient.KEY_WORKER], patient_id=patient) == [
        (world.key_worker_id, "key_worker")
    ]


def test_only_the_social_workers_of_children_living_there_today(world: World) -> None:
    household = world.household()["id"]
    home = UUID(household)
    on_plan = make_contact(world.uow, "social_worker")
    moved_out = make_contact(world.uow, "social_worker")
    not_yet = make_contact(world.uow, "social_worker")
    world.child(household, protection_status="child_protection_plan", social_worker_id=str(on_plan))
    world.child(household, protection_status="child_in_need", social_worker_id=str(on_plan))
    world.child(household)  # no social worker
    left = world.child(
        household, protection_status="child_protection_plan", social_worker_id=str(moved_out)
    )
    response = world.client.patch(
        f"/api/v1/households/{household}/children/{left['id']}",
        json={"lives_to": "2026-11-27", "reason": "Moved to her grandmother's"},
        headers=world.home.headers(),
    )
    assert response.status_code == 200, response.text
    world.child(
        household,
        protection_status="child_protection_plan",
        social_worker_id=str(not_yet),
        lives_from="2026-12-02",
    )
    patient = UUID(world.patient(household_id=household)["id"])

    expected = [(on_plan, "social_worker")]
    assert who(world, [Recipient.SOCIAL_WORKER], household_id=home) == expected
    # The household is found from the patient when the alert names only the patient.
    assert who(world, [Recipient.SOCIAL_WORKER], patient_id=patient) == expected
    # A patient with no household has no children's social worker to tell.
    alone = UUID(world.patient()["id"])
    assert who(world, [Recipient.SOCIAL_WORKER], patient_id=alone) == []


def test_a_household_without_social_workers_names_nobody(world: World) -> None:
    household = world.household()["id"]
    world.child(household)
    assert who(world, [Recipient.SOCIAL_WORKER], household_id=UUID(household)) == []


def test_the_pharmacys_own_lead_and_mash_before_the_areas(world: World) -> None:
    area_lead = make_contact(world.uow, "safeguarding_lead")
    area_mash = make_contact(world.uow, "mash")
    # The home pharmacy has none of its own yet: the area's, which are every area contact of
    # that kind (other tests' too), include this test's.
    leads = who(world, [Recipient.SAFEGUARDING_LEAD])
    assert (area_lead, "safeguarding_lead") in leads
    assert all(reason == "safeguarding_lead" for _, reason in leads)
    # Only contacts of that kind: the area's key worker is no safeguarding lead.
    assert world.key_worker_id not in {contact for contact, _ in leads}
    assert world.social_worker_id not in {contact for contact, _ in who(world, [Recipient.MASH])}
    assert (area_mash, "mash") in who(world, [Recipient.MASH])

    own_lead = own_contact(world, "safeguarding_lead")
    own_mash = own_contact(world, "mash")
    assert who(world, [Recipient.SAFEGUARDING_LEAD]) == [(own_lead, "safeguarding_lead")]
    assert who(world, [Recipient.MASH]) == [(own_mash, "mash")]
    # Another pharmacy never hears of this one's alerts through its own contacts.
    assert (own_lead, "safeguarding_lead") not in who(
        world, [Recipient.SAFEGUARDING_LEAD], pharmacy_id=world.away.pharmacy_id
    )
    assert (area_lead, "safeguarding_lead") in who(
        world, [Recipient.SAFEGUARDING_LEAD], pharmacy_id=world.away.pharmacy_id
    )


def test_an_unknown_role_names_nobody(world: World) -> None:
    patient = UUID(world.patient()["id"])
    assert who(world, ["the_pope"], patient_id=patient) == []


def test_the_escalation_ladder_is_the_lead_then_the_mash_then_nobody(world: World) -> None:
    lead = own_contact(world, "safeguarding_lead")
    mash = own_contact(world, "mash")
    home = world.home.pharmacy_id
    assert ladder(world, 0, home) == []
    assert ladder(world, -1, home) == []
    assert ladder(world, 1, home) == [(lead, "escalation_1_safeguarding_lead")]
    assert ladder(world, 2, home) == [(mash, "escalation_2_mash")]
    assert ladder(world, 3, home) == []
