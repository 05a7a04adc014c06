"""Steps the look-up tests share: a ward the pharmacy sends a link, a clinician account, and
a look-up by either."""

from __future__ import annotations

from typing import Any

from app.actor import SYSTEM
from app.auth import service as auth_service
from tests.builders import API
from tests.factories import NOW, PASSWORD, Branch, World, unique

# Exactly what a look-up may say (H-27.1): any other key is a leak.
ANSWER_KEYS = {
    "looked_up_at",
    "patient",
    "treatment",
    "last_dose",
    "blocked_today",
    "block_reasons",
    "suspension",
    "pharmacy",
}
PATIENT_KEYS = {"given_name", "family_name", "date_of_birth", "nhs_number"}
TREATMENT_KEYS = {
    "product",
    "product_name",
    "prescription_status",
    "daily_dose_mg",
    "daily_dose_ml",
}
LAST_DOSE_KEYS = {"taken_on", "mode", "source", "went_home", "text"}
PHARMACY_KEYS = {"name", "address", "phone"}


def ward(world: World, branch: Branch | None = None) -> str:
    """A hospital ward, registered by the branch's pharmacist as a care-service contact."""
    response = world.post(
        f"{API}/contacts",
        {
            "name": unique("Ward "),
            "organisation": "Demotown General Hospital",
            "kind": "care_service",
            "email": f"{unique('ward')}@hospital.example",
        },
        branch=branch,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def issue_link(world: World, contact_id: str, branch: Branch | None = None) -> dict[str, Any]:
    response = world.post(f"{API}/lookup/links", {"contact_id": contact_id}, branch=branch)
    assert response.status_code == 201, response.text
    return dict(response.json())


def link_token(world: World, branch: Branch | None = None) -> str:
    return str(issue_link(world, ward(world, branch), branch)["token"])


def clinician_token(world: World) -> str:
    """A clinician account (an A&E doctor), signed in for the API."""
    username = unique("clin")
    auth_service.add_user(
        world.uow,
        actor=SYSTEM,
        username=username,
        password=PASSWORD,
        role="clinician",
        display_name="Dr Casey Clinician",
        now=NOW,
        settings=world.settings.auth,
    )
    return auth_service.sign_in(
        world.uow,
        username=username,
        password=PASSWORD,
        client="test",
        kind="api",
        now=NOW,
        settings=world.settings.auth,
    ).token


def look_up(world: World, token: str, nhs_number: str) -> Any:
    return world.client.post(
        f"{API}/lookup",
        json={"nhs_number": nhs_number},
        headers={"Authorization": f"Bearer {token}"},
    )
