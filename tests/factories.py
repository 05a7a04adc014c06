"""Build a complete, valid world through the real services: a pharmacy with staff of every role
and tokens to call the API, plus a second "foreign" pharmacy for tenancy checks."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient

from app.actor import SYSTEM
from app.auth import service as auth_service
from app.config import Settings
from app.contacts import service as contacts_service
from app.db import UnitOfWork
from app.demo import test_range_nhs_number
from app.pharmacies import service as pharmacies_service

# Saturday 28 November 2026, 10:00 in London (GMT): the suite's "now" unless a test moves it.
NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"
ROLES = ("pharmacist", "technician", "prescriber", "key_worker", "safeguarding_lead", "admin")
# NHS numbers must be unique in the worker's database. Steps of 13 never collide, even when
# test_range_nhs_number skips a serial whose check digit would be 10 (it moves on by one).
_serial = iter(range(10_000 + secrets.randbelow(13 * 10_000), 1_000_000, 13))


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def nhs_number() -> str:
    return test_range_nhs_number(next(_serial))


@dataclass
class Branch:
    pharmacy_id: UUID
    tokens: dict[str, str] = field(default_factory=dict)
    users: dict[str, UUID] = field(default_factory=dict)
    usernames: dict[str, str] = field(default_factory=dict)

    def headers(self, role: str = "pharmacist") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@dataclass
class World:
    client: TestClient
    settings: Settings
    uow: UnitOfWork
    home: Branch
    away: Branch
    key_worker_id: UUID
    prescriber_id: UUID
    social_worker_id: UUID

    def post(
        self,
        path: str,
        body: dict[str, Any],
        role: str = "pharmacist",
        branch: Branch | None = None,
        **kw: Any,
    ) -> Any:
        return self.client.post(path, json=body, headers=(branch or self.home).headers(role), **kw)

    def put(
        self,
        path: str,
        body: dict[str, Any],
        role: str = "pharmacist",
        branch: Branch | None = None,
        **kw: Any,
    ) -> Any:
        return self.client.put(path, json=body, headers=(branch or self.home).headers(role), **kw)

    def get(
        self, path: str, role: str = "pharmacist", branch: Branch | None = None, **kw: Any
    ) -> Any:
        return self.client.get(path, headers=(branch or self.home).headers(role), **kw)

    def household(self, **overrides: Any) -> dict[str, Any]:
        body = {"address": "1 Test Street, Testtown", "postcode": "TT1 1AA", **overrides}
        response = self.post("/api/v1/households", body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def patient(
        self, household_id: str | None = None, branch: Branch | None = None, **overrides: Any
    ) -> dict[str, Any]:
        branch = branch or self.home
        body = {
            "given_name": "Test",
            "family_name": unique("Patient"),
            "date_of_birth": "1980-05-17",
            "nhs_number": nhs_number(),
            "pharmacy_id": str(branch.pharmacy_id),
            "household_id": household_id,
            "key_worker_id": str(self.key_worker_id),
            "prescriber_id": str(self.prescriber_id),
            **overrides,
        }
        response = self.post("/api/v1/patients", body, branch=branch)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def child(self, household_id: str, **overrides: Any) -> dict[str, Any]:
        body = {"name": "T.C.", "date_of_birth": "2022-03-01", **overrides}
        response = self.post(f"/api/v1/households/{household_id}/children", body)
        assert response.status_code == 201, response.text
        return dict(response.json())


def make_branch(
    uow: UnitOfWork,
    settings: Settings,
    *,
    contacts: dict[str, UUID],
    open_weekdays: tuple[int, ...] = (0, 1, 2, 3, 4, 5),
    closures: tuple[tuple[date, str], ...] = (),
    name: str | None = None,
    address: str = "1 High Street",
) -> Branch:
    pharmacy = pharmacies_service.create_pharmacy(
        uow,
        actor=SYSTEM,
        name=unique("Pharmacy ") if name is None else name,
        # Nine hex digits (the column holds ten): with eight, two of the few thousand pharmacies
        # one test database holds shared a code about once in a hundred runs.
        ods_code=unique("F")[:10].upper(),
        address=address,
        phone="01632 960123",
        open_weekdays=open_weekdays,
        closures=closures,
        now=NOW,
    )
    branch = Branch(pharmacy.id)
    for role in ROLES:
        username = unique(role[:4])
        contact_id = contacts.get(role)
        pharmacy_id = (
            pharmacy.id if role in ("pharmacist", "technician", "safeguarding_lead") else None
        )
        user = auth_service.add_user(
            uow,
            actor=SYSTEM,
            username=username,
            password=PASSWORD,
            role=role,
            pharmacy_id=pharmacy_id,
            contact_id=contact_id,
            now=NOW,
            settings=settings.auth,
        )
        branch.users[role] = user.id
        branch.usernames[role] = username
        issued = auth_service.sign_in(
            uow,
            username=username,
            password=PASSWORD,
            client="test",
            kind="api",
            now=NOW,
            settings=settings.auth,
        )
        branch.tokens[role] = issued.token
    # A second pharmacist, for second-person checks.
    username = unique("phb")
    user = auth_service.add_user(
        uow,
        actor=SYSTEM,
        username=username,
        password=PASSWORD,
        role="pharmacist",
        pharmacy_id=pharmacy.id,
        now=NOW,
        settings=settings.auth,
    )
    branch.users["pharmacist2"] = user.id
    branch.tokens["pharmacist2"] = auth_service.sign_in(
        uow,
        username=username,
        password=PASSWORD,
        client="test",
        kind="api",
        now=NOW,
        settings=settings.auth,
    ).token
    return branch


def make_contact(uow: UnitOfWork, kind: str, **kw: Any) -> UUID:
    contact, _ = contacts_service.create_contact(
        uow,
        actor=SYSTEM,
        name=unique(kind),
        organisation="Test Org",
        address="1 Clinic Road, Testtown TT1 2BB",
        kind=kind,
        email=kw.get("email", f"{unique(kind)}@example.org"),
        webhook_url=kw.get("webhook_url"),
        allowed_webhook_hosts=frozenset({"127.0.0.1"}),
        allow_http_webhooks=True,
        now=NOW,
    )
    return contact.id


def make_world(uow: UnitOfWork, settings: Settings, client: TestClient) -> World:
    key_worker = make_contact(uow, "key_worker")
    prescriber = make_contact(uow, "prescriber")
    social_worker = make_contact(uow, "social_worker")
    contacts = {"key_worker": key_worker, "prescriber": prescriber}
    home = make_branch(uow, settings, contacts=contacts)
    away = make_branch(
        uow,
        settings,
        contacts={
            "key_worker": make_contact(uow, "key_worker"),
            "prescriber": make_contact(uow, "prescriber"),
        },
    )
    return World(client, settings, uow, home, away, key_worker, prescriber, social_worker)
