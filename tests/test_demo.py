"""The demo seed: what a first-time visitor sees after `dosekeeper serve --demo`, and the pages
that prove the app is alive (health, API docs)."""

from __future__ import annotations

import re
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, inspect, select, table

from app.auth.models import User
from app.config import AuthSettings, Settings
from app.db import UnitOfWork, make_session_factory
from app.demo import DEMO_PASSWORD, seed
from app.households.models import Child, Household
from app.main import create_app
from app.patients.models import Patient
from app.pharmacies.models import Pharmacy
from tests.databases import Database, build_database, drop_database
from tests.factories import ROLES


def demo_settings(database: Database) -> Settings:
    """The demo's settings, with a data folder of its own (closing a day writes anchors)."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        database_url=database.url,
        data_dir=Path(tempfile.mkdtemp(prefix="dk-demo-")),
        auth=AuthSettings(password_profile="cheapest"),
    )


@pytest.fixture(scope="module")
def demo_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """One seeded database for the module: seeding is the slow part, and no test here changes
    it (seeding again must not, and that is what one test checks)."""
    db = build_database(f"dk_demo_{uuid.uuid4().hex[:10]}", tmp_path_factory.mktemp("demo"))
    seed(UnitOfWork(make_session_factory(db.engine)), demo_settings(db))
    yield db
    db.engine.dispose()
    drop_database(db.url)


@pytest.fixture
def demo(demo_database: Database) -> tuple[UnitOfWork, Settings]:
    return UnitOfWork(make_session_factory(demo_database.engine)), demo_settings(demo_database)


@pytest.fixture
def demo_client(demo: tuple[UnitOfWork, Settings], demo_database: Database) -> Iterator[TestClient]:
    _, settings = demo
    app = create_app(settings, make_session_factory(demo_database.engine))  # the real clock
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def row_counts(uow: UnitOfWork) -> dict[str, int]:
    """Rows in every table the database has (whatever the models say)."""
    with uow:
        session = uow.session
        names = inspect(session.connection()).get_table_names()
        return {
            name: session.scalar(select(func.count()).select_from(table(name))) or 0
            for name in names
        }


def test_the_demo_seed_creates_a_small_complete_world(demo: tuple[UnitOfWork, Settings]) -> None:
    uow, _ = demo
    with uow:
        session = uow.session
        pharmacies = session.scalar(select(func.count()).select_from(Pharmacy))
        roles = Counter(session.scalars(select(User.role)))
        patients = list(session.scalars(select(Patient)))
        households = session.scalar(select(func.count()).select_from(Household))
        statuses = Counter(session.scalars(select(Child.protection_status)))

    assert pharmacies == 2
    assert set(roles) == {*ROLES, "clinician"}  # the look-up's account too
    assert len(patients) == 12
    assert households == 8
    assert len({p.household_id for p in patients}) == 8
    assert statuses["child_protection_plan"] >= 1
    per_household = Counter(p.household_id for p in patients)
    assert max(per_household.values()) >= 2  # two patients on methadone in one household
    assert all(p.nhs_number.startswith("999") for p in patients)  # never-issued test range


def test_running_the_demo_seed_again_changes_nothing(demo: tuple[UnitOfWork, Settings]) -> None:
    uow, settings = demo
    before = row_counts(uow)

    assert seed(uow, settings) == "demo data already present"
    assert seed(uow, settings, only_if_empty=True) == "database already has data; demo seed skipped"

    assert row_counts(uow) == before


def test_the_demo_seed_is_refused_in_production(demo: tuple[UnitOfWork, Settings]) -> None:
    uow, settings = demo
    settings = settings.model_copy(update={"environment": "production"})
    before = row_counts(uow)

    with pytest.raises(SystemExit, match="refused in production"):
        seed(uow, settings)

    assert row_counts(uow) == before


DEMO_ACCOUNTS = {  # username: patients they see
    "pharmacist": 12,
    "pharmacist2": 12,
    "technician": 12,
    "keyworker": 12,
    "prescriber": 12,
    "safeguarding": 12,
    "admin": 12,
    "hillside": 0,  # a pharmacist at the other demo pharmacy
}


def test_every_demo_account_signs_in_through_the_api_and_sees_its_patients(
    demo_client: TestClient, subtests: pytest.Subtests
) -> None:
    for username, patients in DEMO_ACCOUNTS.items():
        with subtests.test(username):
            token = demo_client.post(
                "/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD}
            )
            assert token.status_code == 200, token.text

            response = demo_client.get(
                "/api/v1/patients",
                headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            )

            assert response.status_code == 200, response.text
            assert len(response.json()["items"]) == patients


def test_health_answers_200_at_the_migration_head(client: TestClient) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["reachable"] is True
    assert body["database"]["at_head"] is True
    assert body["database"]["revision"] == body["database"]["head"]


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
def test_the_api_documentation_is_served(client: TestClient, path: str) -> None:
    response = client.get(path)

    assert response.status_code == 200, response.text


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_api_documentation_works_offline(client: TestClient, path: str) -> None:
    """A counter terminal often cannot reach a CDN: every script and style is served here."""
    page = client.get(path).text

    for external in ("http://", "https://", "//cdn"):
        assert external not in page
    for asset in re.findall(r'(?:src|href)="(/[^"]+)"', page):
        assert client.get(asset).status_code == 200, asset


def test_the_openapi_document_describes_the_api(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()

    assert spec["info"]["title"] == "Dosekeeper"
    assert "/api/v1/patients" in spec["paths"]
    assert "/api/v1/auth/token" in spec["paths"]
