"""Signing in, tokens, disabled accounts, login rate limiting and account creation, through the
API on a real database (reliability.md §4.2, §4.3, §4.6)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.actor import Actor
from app.auth import service as auth_service
from app.auth.models import AuthSession, User
from app.auth.passwords import hash_password, verify_password
from app.clock import FixedClock
from app.config import Settings
from app.db import UnitOfWork
from app.errors import PermissionDenied
from tests.factories import NOW, PASSWORD, World, unique

TOKEN = "/api/v1/auth/token"
ME = "/api/v1/me"


def sign_in(client: TestClient, username: str, password: str) -> Any:
    return client.post(TOKEN, data={"username": username, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_unauthenticated(response: Any) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.json()["code"] == "not_authenticated"


def admin_actor(world: World) -> Actor:
    return Actor(id=world.home.users["admin"], name=world.home.usernames["admin"], role="admin")


class TestSignIn:
    def test_the_oauth2_password_form_issues_a_bearer_token_that_works(
        self, world: World, settings: Settings
    ) -> None:
        response = sign_in(world.client, world.home.usernames["technician"], PASSWORD)

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["token_type"] == "bearer"
        assert body["expires_at"].startswith(
            (NOW + timedelta(seconds=settings.auth.token_ttl_seconds)).strftime("%Y-%m-%dT%H:%M")
        )
        me = world.client.get(ME, headers=bearer(body["access_token"]))
        assert me.status_code == 200, me.text
        assert me.json()["role"] == "technician"

    def test_the_username_is_not_case_sensitive(self, world: World) -> None:
        response = sign_in(world.client, world.home.usernames["pharmacist"].upper(), PASSWORD)
        assert response.status_code == 200, response.text

    def test_only_a_hash_of_the_token_is_stored(self, world: World, uow: UnitOfWork) -> None:
        token = sign_in(world.client, world.home.usernames["pharmacist"], PASSWORD).json()[
            "access_token"
        ]
        with uow:
            stored = uow.session.scalars(select(AuthSession.token_hash)).all()
        assert token not in stored
        assert hashlib.sha256(token.encode()).hexdigest() in stored

    def test_a_wrong_password_is_a_401_problem(self, world: World) -> None:
        assert_unauthenticated(sign_in(world.client, world.home.usernames["pharmacist"], "wrong"))

    def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password(self, world: World) -> None:
        wrong = sign_in(world.client, world.home.usernames["pharmacist"], "wrong password")
        unknown = sign_in(world.client, unique("nobody"), "wrong password")

        assert_unauthenticated(unknown)
        assert unknown.json() == wrong.json()

    def test_an_absurd_username_is_bad_credentials_not_an_error(self, world: World) -> None:
        # "İ" lower-cases to two characters: 64 of them must not overflow the 64-character column.
        assert_unauthenticated(sign_in(world.client, "İ" * 64, "x"))
        assert_unauthenticated(sign_in(world.client, "x" * 5000, "y" * 5000))

    def test_a_missing_form_field_is_a_422_naming_it(self, world: World) -> None:
        response = world.client.post(TOKEN, data={"username": "someone"})
        assert response.status_code == 422
        assert {"field": "password", "rule": "missing"}.items() <= response.json()["errors"][
            0
        ].items()


class TestTokens:
    def test_a_disabled_user_cannot_sign_in_and_their_tokens_stop_working(
        self, world: World, uow: UnitOfWork
    ) -> None:
        username = world.home.usernames["technician"]
        token = sign_in(world.client, username, PASSWORD).json()["access_token"]
        assert world.client.get(ME, headers=bearer(token)).status_code == 200

        auth_service.set_active(
            uow,
            actor=admin_actor(world),
            user_id=world.home.users["technician"],
            active=False,
            now=NOW,
        )

        assert_unauthenticated(world.client.get(ME, headers=bearer(token)))
        assert_unauthenticated(world.get("/api/v1/patients", role="technician"))
        refused = sign_in(world.client, username, PASSWORD)
        assert_unauthenticated(refused)
        # Same words as a wrong password: the answer does not say the account exists.
        assert refused.json() == sign_in(world.client, username, "wrong password").json()

    def test_a_re_enabled_user_signs_in_again_but_old_tokens_stay_revoked(
        self, world: World, uow: UnitOfWork
    ) -> None:
        user_id = world.home.users["technician"]
        auth_service.set_active(
            uow, actor=admin_actor(world), user_id=user_id, active=False, now=NOW
        )
        auth_service.set_active(
            uow, actor=admin_actor(world), user_id=user_id, active=True, now=NOW
        )

        assert_unauthenticated(world.get(ME, role="technician"))
        assert (
            sign_in(world.client, world.home.usernames["technician"], PASSWORD).status_code == 200
        )

    def test_only_an_admin_may_disable_an_account(self, world: World, uow: UnitOfWork) -> None:
        pharmacist = Actor(
            id=world.home.users["pharmacist"],
            name="p",
            role="pharmacist",
            pharmacy_id=world.home.pharmacy_id,
        )
        with pytest.raises(PermissionDenied):
            auth_service.set_active(
                uow, actor=pharmacist, user_id=world.home.users["technician"], active=False, now=NOW
            )
        assert world.get(ME, role="technician").status_code == 200

    def test_a_token_expires_after_its_lifetime(
        self, world: World, clock: FixedClock, settings: Settings
    ) -> None:
        clock.advance(timedelta(seconds=settings.auth.token_ttl_seconds - 1))
        assert world.get(ME).status_code == 200

        clock.advance(timedelta(seconds=1))
        assert_unauthenticated(world.get(ME))

    @pytest.mark.parametrize(
        "authorization",
        ["Bearer garbage", "Bearer ", "Bearer " + "A" * 43, "Basic dXNlcjpwYXNz", "garbage"],
    )
    def test_a_garbage_token_is_401(self, world: World, authorization: str) -> None:
        assert_unauthenticated(world.client.get(ME, headers={"Authorization": authorization}))

    def test_no_token_at_all_is_401(self, world: World) -> None:
        assert_unauthenticated(world.client.get("/api/v1/patients"))


class TestLoginRateLimiting:
    def test_repeated_failures_for_one_user_are_slowed_with_retry_after_then_allowed_again(
        self, world: World, clock: FixedClock, settings: Settings
    ) -> None:
        username = world.home.usernames["pharmacist"]
        for _ in range(settings.auth.login_free_failures):
            assert_unauthenticated(sign_in(world.client, username, "wrong password"))

        slowed = sign_in(world.client, username, PASSWORD)  # even the right password waits

        assert slowed.status_code == 429, slowed.text
        assert slowed.headers["content-type"] == "application/problem+json"
        assert slowed.json()["code"] == "too_many_attempts"
        delay = int(slowed.headers["Retry-After"])
        assert delay >= 1
        assert slowed.json()["retry_after"] == delay

        clock.advance(timedelta(seconds=delay - 1))
        assert sign_in(world.client, username, PASSWORD).status_code == 429
        clock.advance(timedelta(seconds=1))
        assert sign_in(world.client, username, PASSWORD).status_code == 200

    def test_the_delay_doubles_with_each_further_failure(
        self, world: World, clock: FixedClock, settings: Settings
    ) -> None:
        username = world.home.usernames["pharmacist"]
        delays = []
        for _ in range(settings.auth.login_free_failures):
            sign_in(world.client, username, "wrong password")
        for _ in range(3):
            delay = int(sign_in(world.client, username, "wrong password").headers["Retry-After"])
            delays.append(delay)
            clock.advance(timedelta(seconds=delay))
            assert_unauthenticated(sign_in(world.client, username, "wrong password"))
        assert delays == [2, 4, 8]

    def test_failures_from_one_client_address_across_usernames_are_slowed(
        self, world: World, settings: Settings
    ) -> None:
        for _ in range(settings.auth.login_address_free_failures):
            assert_unauthenticated(sign_in(world.client, unique("guess"), "password1"))

        slowed = sign_in(world.client, world.home.usernames["technician"], PASSWORD)

        assert slowed.status_code == 429, slowed.text
        assert "Retry-After" in slowed.headers

    def test_failures_for_one_user_do_not_slow_another(
        self, world: World, settings: Settings
    ) -> None:
        for _ in range(settings.auth.login_free_failures - 1):
            sign_in(world.client, world.home.usernames["pharmacist"], "wrong password")
        assert (
            sign_in(world.client, world.home.usernames["technician"], PASSWORD).status_code == 200
        )

    def test_every_failed_sign_in_is_audited(self, world: World, uow: UnitOfWork) -> None:
        from app.audit.models import AuditEvent

        def failures() -> int:
            with uow:
                return uow.session.scalar(
                    select(func.count()).where(AuditEvent.action == "auth.sign_in_failed")
                )

        before = failures()
        sign_in(world.client, world.home.usernames["pharmacist"], "wrong password")
        sign_in(world.client, unique("nobody"), "wrong password")
        assert failures() == before + 2


class TestPasswords:
    def test_verification_takes_the_password_first_and_the_hash_second(self) -> None:
        stored = hash_password("correct horse battery", profile="cheapest")

        assert verify_password("correct horse battery", stored, profile="cheapest") is True
        assert verify_password("wrong horse battery", stored, profile="cheapest") is False
        # The reversed order (argon2-cffi's verify(hash, password)) must never pass.
        assert verify_password(stored, "correct horse battery", profile="cheapest") is False

    def test_a_hash_that_is_not_argon2_is_a_failed_check_not_an_error(self) -> None:
        assert verify_password("secret", "$2b$12$notargon", profile="cheapest") is False
        assert verify_password("secret", "", profile="cheapest") is False

    def test_passwords_are_stored_as_argon2id(self, world: World, uow: UnitOfWork) -> None:
        with uow:
            stored = uow.session.get(User, world.home.users["pharmacist"]).password_hash
        assert stored.startswith("$argon2id$")
        assert PASSWORD not in stored


class TestCreateUsers:
    def body(self, **overrides: Any) -> dict[str, Any]:
        return {
            "username": unique("newuser"),
            "password": "long enough password",
            "role": "technician",
            "display_name": "New User",
            **overrides,
        }

    def test_an_admin_creates_an_account_that_can_sign_in(self, world: World) -> None:
        body = self.body(pharmacy_id=str(world.home.pharmacy_id))

        response = world.post("/api/v1/users", body, role="admin")

        assert response.status_code == 201, response.text
        created = response.json()
        assert created["role"] == "technician"
        assert created["active"] is True
        assert "password" not in response.text
        assert "password_hash" not in created
        assert sign_in(world.client, body["username"], body["password"]).status_code == 200

    @pytest.mark.parametrize("field", ["pharmacy_id", "contact_id"])
    def test_an_account_naming_a_pharmacy_or_contact_that_does_not_exist_is_a_404(
        self, world: World, field: str
    ) -> None:
        """Checked through the foreign key users declare (auth sits below pharmacies and
        contacts): nothing is written, and the problem names what was not found."""
        body = self.body(**{"pharmacy_id": str(world.home.pharmacy_id), field: str(uuid4())})

        response = world.post("/api/v1/users", body, role="admin")

        assert response.status_code == 404, response.text
        assert field.removesuffix("_id") in response.json()["detail"]
        assert sign_in(world.client, body["username"], body["password"]).status_code == 401

    @pytest.mark.parametrize(
        "role", ["pharmacist", "technician", "prescriber", "key_worker", "safeguarding_lead"]
    )
    def test_only_an_admin_may_create_accounts(self, world: World, role: str) -> None:
        body = self.body(pharmacy_id=str(world.home.pharmacy_id))

        response = world.post("/api/v1/users", body, role=role)

        assert response.status_code == 403, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "permission_denied"
        assert sign_in(world.client, body["username"], body["password"]).status_code == 401

    @pytest.mark.parametrize("spelling", [str.lower, str.upper], ids=["same", "capitalised"])
    def test_a_duplicate_username_is_a_409_problem(self, world: World, spelling: Any) -> None:
        body = self.body(
            username=spelling(world.home.usernames["pharmacist"]),
            pharmacy_id=str(world.home.pharmacy_id),
        )

        response = world.post("/api/v1/users", body, role="admin")

        assert response.status_code == 409, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "duplicate_username"
        # The original account is untouched.
        assert (
            sign_in(world.client, world.home.usernames["pharmacist"], PASSWORD).status_code == 200
        )

    def test_an_unknown_role_is_a_422_naming_the_field(self, world: World) -> None:
        response = world.post("/api/v1/users", self.body(role="superuser"), role="admin")

        assert response.status_code == 422, response.text
        assert response.json()["code"] == "invalid_input"
        assert [e["field"] for e in response.json()["errors"]] == ["role"]
        assert response.json()["errors"][0]["rule"] == "enum"

    def test_a_pharmacist_without_a_pharmacy_is_a_422_naming_the_field(self, world: World) -> None:
        response = world.post("/api/v1/users", self.body(role="pharmacist"), role="admin")

        assert response.status_code == 422, response.text
        assert response.json()["errors"] == [
            {
                "field": "pharmacy_id",
                "rule": "required",
                "message": "a pharmacist must belong to a pharmacy",
            }
        ]

    def test_an_unknown_contact_is_a_404_not_a_duplicate_username(self, world: World) -> None:
        body = self.body(role="prescriber", contact_id=str(uuid.uuid4()))

        response = world.post("/api/v1/users", body, role="admin")

        assert response.status_code == 404, response.text
        assert response.json()["code"] == "not_found"


def test_the_last_active_administrator_cannot_be_disabled(world: World, uow: UnitOfWork) -> None:
    """Issue 17: the only admin could disable themselves in one click and lock everyone out."""
    with uow:
        admins = list(
            uow.session.scalars(select(User).where(User.role == "admin", User.active.is_(True)))
        )
    me = world.home.users["admin"]
    for other in admins:  # leave this test's admin as the only active one
        if other.id != me:
            world.post(f"/api/v1/users/{other.id}/disable", {}, role="admin")
    refused = world.post(f"/api/v1/users/{me}/disable", {}, role="admin")
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "last_admin"
    assert "last active administrator" in refused.json()["detail"]
    for other in admins:
        if other.id != me:
            assert (
                world.post(f"/api/v1/users/{other.id}/enable", {}, role="admin").status_code == 200
            )
