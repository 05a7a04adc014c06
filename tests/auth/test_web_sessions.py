"""Web sessions without a browser: fixation, revocation, idle and absolute time-outs, cookie flags
and CSRF (reliability.md §4.3, §4.4; checklist rows 33-35), through the TestClient on a real
database and the fixed clock.

The TestClient talks plain http:// and a `Secure` cookie is never sent over http, so `Browser`
keeps each browser's cookies by hand: a test can also plant any cookie it likes.

There is no password-change feature (passwords are set when an account is created), so "a new
password revokes the other sessions" has nothing to test; disabling the account is the way to end
them all, and is tested here. tests/web/test_sign_in.py proves the same in Chromium.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEvent
from app.auth.models import AuthSession
from app.auth.service import token_hash
from app.clock import FixedClock
from app.config import AuthSettings, Settings
from app.db import UnitOfWork
from app.households.models import Household
from tests.builders import (
    ME,
    OWN_ORIGIN,
    PAGE,
    SESSION,
    Browser,
    Response,
    signed_in,
)
from tests.factories import NOW, PASSWORD, World, unique

LOGIN_CSRF = "__Host-login-csrf"


def with_cookie(world: World, value: str) -> Browser:
    """A browser holding a cookie somebody copied (or planted)."""
    return Browser(world.client, jar={SESSION: value})


def assert_signed_in_as(browser: Browser, world: World, role: str) -> None:
    me = browser.whoami()
    assert me.status_code == 200, me.text
    assert me.json()["username"] == world.home.usernames[role]


def assert_refused(browser: Browser) -> None:
    """The API answers 401 and a page sends the person to sign in again."""
    me = browser.whoami()
    assert me.status_code == 401, me.text
    assert me.json()["code"] == "not_authenticated"
    page = browser.page("/counter")
    assert page.status_code == 303, page.text
    assert page.headers["location"] == "/login?next=/counter"


def stored(uow: UnitOfWork, token: str) -> AuthSession | None:
    with uow:
        return uow.session.scalar(
            select(AuthSession).where(AuthSession.token_hash == token_hash(token))
        )


# --- 1. Session fixation ---------------------------------------------------------------------


class TestFixation:
    @pytest.mark.parametrize("planted", ["garbage", "another_users", "revoked"])
    def test_a_cookie_planted_before_sign_in_is_never_adopted(
        self, world: World, uow: UnitOfWork, planted: str
    ) -> None:
        if planted == "garbage":
            value = "A" * 43
        else:
            other = signed_in(world, "technician")
            assert other.session is not None
            value = other.session
            if planted == "revoked":
                assert other.sign_out().status_code == 303
        victim = with_cookie(world, value)

        response = victim.sign_in(world.home.usernames["pharmacist"])

        assert response.status_code == 303, response.text
        assert victim.session is not None
        assert victim.session != value
        assert_signed_in_as(victim, world, "pharmacist")
        # Whoever planted the value holds nothing: it does not open the pharmacist's session.
        assert_refused(with_cookie(world, value))
        row = stored(uow, victim.session)
        assert row is not None
        assert row.user_id == world.home.users["pharmacist"]
        assert row.created_at == NOW

    def test_every_sign_in_issues_a_fresh_session_id_and_csrf_token(
        self, world: World, uow: UnitOfWork
    ) -> None:
        browsers = [signed_in(world) for _ in range(3)]
        sessions = [b.session for b in browsers]
        tokens = [b.csrf_token() for b in browsers]

        assert len(set(sessions)) == 3
        assert len(set(tokens)) == 3
        for browser, token in zip(browsers, tokens, strict=True):
            assert browser.session is not None
            assert len(browser.session) >= 43  # 256 random bits, url-safe base64
            row = stored(uow, browser.session)
            assert row is not None
            assert row.kind == "web"
            assert row.csrf_token == token
        with uow:  # only a hash of the id is kept
            hashes = set(uow.session.scalars(select(AuthSession.token_hash)))
        assert not hashes & set(sessions)

    @pytest.mark.hazard("H-14.3")
    @pytest.mark.parametrize("second", ["pharmacist", "technician"], ids=["same_user", "next_user"])
    def test_signing_in_over_a_live_session_replaces_and_revokes_it(
        self, world: World, uow: UnitOfWork, second: str
    ) -> None:
        terminal = signed_in(world, "technician")
        first = terminal.session
        first_csrf = terminal.csrf_token()
        assert first is not None

        response = terminal.sign_in(world.home.usernames[second])

        assert response.status_code == 303, response.text
        assert terminal.session not in (None, first)
        assert terminal.csrf_token() != first_csrf
        assert_signed_in_as(terminal, world, second)
        # A copy of the earlier cookie is dead on the server, not just overwritten in this jar.
        assert_refused(with_cookie(world, first))
        old = stored(uow, first)
        assert old is not None
        assert old.revoked_at == NOW
        with uow:
            event = uow.session.scalars(
                select(AuditEvent)
                .where(
                    AuditEvent.action == "auth.signed_in",
                    AuditEvent.entity_id == str(world.home.users[second]),
                )
                .order_by(AuditEvent.seq.desc())
            ).first()
        assert event is not None
        assert event.facts == {"kind": "web", "replaced_session": str(old.id)}

    def test_a_failed_sign_in_neither_adopts_nor_replaces_the_cookie(self, world: World) -> None:
        terminal = signed_in(world, "technician")
        before = terminal.session

        refused = terminal.sign_in(world.home.usernames["pharmacist"], "wrong password")

        assert refused.status_code == 401
        assert terminal.session == before
        assert_signed_in_as(terminal, world, "technician")


# --- 2. Revocation ---------------------------------------------------------------------------


class TestRevocation:
    @pytest.mark.hazard("H-14.4")
    def test_signing_out_revokes_the_session_on_the_server(
        self, world: World, uow: UnitOfWork
    ) -> None:
        browser = signed_in(world, "technician")
        copied = browser.session
        copied_csrf = browser.csrf_token()
        assert copied is not None

        response = browser.sign_out()

        assert response.status_code == 303
        assert response.headers["location"] == "/login"
        assert browser.session is None  # the cookie is deleted in the browser...
        thief = with_cookie(world, copied)
        assert_refused(thief)  # ...and a copy of it is worthless
        write = thief.api(
            "POST",
            "/api/v1/households",
            json={"address": "1 Replay Road", "postcode": "TT1 1AA"},
            headers={"X-CSRF-Token": copied_csrf, **OWN_ORIGIN},
        )
        assert write.status_code == 401, write.text
        row = stored(uow, copied)
        assert row is not None
        assert row.revoked_at == NOW

    def test_signing_out_ends_only_that_session(self, world: World) -> None:
        one, two = signed_in(world), signed_in(world)

        assert one.sign_out().status_code == 303

        assert_refused(one)
        assert_signed_in_as(two, world, "pharmacist")

    def test_disabling_a_user_kills_every_session_and_token_at_once(
        self, world: World, uow: UnitOfWork, clock: FixedClock
    ) -> None:
        user_id = world.home.users["technician"]
        one, two = signed_in(world, "technician"), signed_in(world, "technician")
        token = world.client.post(
            "/api/v1/auth/token",
            data={"username": world.home.usernames["technician"], "password": PASSWORD},
        ).json()["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        for browser in (one, two):
            assert_signed_in_as(browser, world, "technician")
        assert world.client.get(ME, headers=bearer).status_code == 200
        clock.advance(timedelta(minutes=1))

        disabled = world.post(f"/api/v1/users/{user_id}/disable", {}, role="admin")

        assert disabled.status_code == 200, disabled.text
        assert disabled.json()["active"] is False
        assert_refused(one)
        assert_refused(two)
        assert world.client.get(ME, headers=bearer).status_code == 401
        with uow:
            revoked = set(
                uow.session.scalars(
                    select(AuthSession.revoked_at).where(AuthSession.user_id == user_id)
                )
            )
        assert revoked == {clock.now()}  # one UPDATE: every row, the same instant

        # Enabling the account again does not bring any of them back.
        enabled = world.post(f"/api/v1/users/{user_id}/enable", {}, role="admin")
        assert enabled.status_code == 200, enabled.text
        assert_refused(one)
        assert_refused(two)
        assert world.client.get(ME, headers=bearer).status_code == 401
        assert_signed_in_as(signed_in(world, "technician"), world, "technician")


# --- 3. Time-outs ----------------------------------------------------------------------------


class TestIdleTimeout:
    @pytest.mark.hazard("H-14.1")
    def test_an_idle_session_needs_signing_in_again(
        self, world: World, clock: FixedClock, settings: Settings
    ) -> None:
        idle = timedelta(seconds=settings.web_idle_seconds)
        browser = signed_in(world)

        clock.advance(idle - timedelta(seconds=1))
        assert_signed_in_as(browser, world, "pharmacist")
        clock.advance(idle)  # idle again for exactly the limit
        assert_refused(browser)

        assert browser.sign_in(world.home.usernames["pharmacist"]).status_code == 303
        assert_signed_in_as(browser, world, "pharmacist")

    @pytest.mark.hazard("H-14.1")
    def test_activity_within_the_idle_window_keeps_the_session_going(
        self, world: World, clock: FixedClock, settings: Settings
    ) -> None:
        idle = timedelta(seconds=settings.web_idle_seconds)
        browser = signed_in(world)

        for _ in range(4):  # four idle periods in all, never one of them whole
            clock.advance(idle - timedelta(seconds=1))
            page = browser.page("/counter")
            assert page.status_code == 200, page.text
        assert_signed_in_as(browser, world, "pharmacist")

    def test_the_idle_limit_applies_to_web_sessions_not_bearer_tokens(
        self, world: World, clock: FixedClock, settings: Settings
    ) -> None:
        browser = signed_in(world)

        clock.advance(timedelta(seconds=settings.web_idle_seconds + 1))

        assert_refused(browser)
        assert world.get(ME).status_code == 200  # API tokens end at their absolute lifetime

    def test_a_bearer_token_is_not_a_session_cookie(self, world: World) -> None:
        assert_refused(with_cookie(world, world.home.tokens["pharmacist"]))


class TestAbsoluteLifetime:
    """A session ends `token_ttl_seconds` after sign-in (8 h by default) however busy it is."""

    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        production = AuthSettings().token_ttl_seconds
        auth = settings.auth.model_copy(update={"token_ttl_seconds": production})
        return settings.model_copy(update={"auth": auth})

    def test_the_default_is_one_counter_shift(self, settings: Settings) -> None:
        assert settings.auth.token_ttl_seconds == 8 * 3600
        assert settings.web_idle_seconds < settings.auth.token_ttl_seconds

    @pytest.mark.hazard("H-14.2")
    def test_even_an_active_session_ends_at_its_absolute_lifetime(
        self, world: World, clock: FixedClock, settings: Settings, uow: UnitOfWork
    ) -> None:
        lifetime = timedelta(seconds=settings.auth.token_ttl_seconds)
        step = timedelta(seconds=settings.web_idle_seconds // 2)
        browser = signed_in(world)
        assert browser.session is not None
        cookie = next(c for c in browser.seen if c.name == SESSION)
        assert cookie.attributes["max-age"] == str(settings.auth.token_ttl_seconds)
        row = stored(uow, browser.session)
        assert row is not None
        assert row.expires_at == NOW + lifetime

        while clock.now() + step < NOW + lifetime:
            clock.advance(step)
            assert_signed_in_as(browser, world, "pharmacist")
        clock.set(NOW + lifetime - timedelta(seconds=1))
        assert_signed_in_as(browser, world, "pharmacist")  # active a second ago...

        clock.advance(timedelta(seconds=1))

        assert_refused(browser)  # ...and still over

    def test_after_the_lifetime_signing_in_again_starts_a_new_one(
        self, world: World, clock: FixedClock, settings: Settings
    ) -> None:
        browser = signed_in(world)
        old = browser.session
        clock.advance(timedelta(seconds=settings.auth.token_ttl_seconds))
        assert_refused(browser)

        assert browser.sign_in(world.home.usernames["pharmacist"]).status_code == 303

        assert browser.session != old
        assert_signed_in_as(browser, world, "pharmacist")


# --- 4. Cookie flags -------------------------------------------------------------------------


def test_every_set_cookie_is_host_only_secure_httponly_and_strict(
    world: World, settings: Settings
) -> None:
    browser = Browser(world.client)
    assert browser.sign_in(world.home.usernames["pharmacist"], "wrong password").status_code == 401
    assert browser.sign_in(world.home.usernames["pharmacist"]).status_code == 303
    assert browser.page("/counter").status_code == 200
    assert browser.whoami().status_code == 200
    assert browser.sign_out().status_code == 303

    names = [cookie.name for cookie in browser.seen]
    assert set(names) == {SESSION, LOGIN_CSRF}
    assert names.count(SESSION) == 2  # set at sign-in, deleted at sign-out
    for cookie in browser.seen:
        assert cookie.name.startswith("__Host-")
        assert "secure" in cookie.attributes, cookie
        assert "httponly" in cookie.attributes, cookie
        assert cookie.attributes.get("samesite", "").lower() == "strict", cookie
        assert cookie.attributes.get("path") == "/", cookie
        assert "domain" not in cookie.attributes, cookie
    issued, deleted = (c for c in browser.seen if c.name == SESSION)
    assert issued.attributes["max-age"] == str(settings.auth.token_ttl_seconds)
    assert deleted.attributes["max-age"] == "0"
    assert deleted.value in ("", '""')
    assert LOGIN_CSRF not in browser.jar  # dropped once it has been used


# --- 5. CSRF ---------------------------------------------------------------------------------


def households_at(uow: UnitOfWork, address: str) -> int:
    with uow:
        count = uow.session.scalar(
            select(func.count()).select_from(Household).where(Household.address == address)
        )
        return int(count or 0)


class TestCsrf:
    def test_a_cookie_authenticated_write_needs_this_sessions_token_from_this_site(
        self, world: World, uow: UnitOfWork
    ) -> None:
        browser = signed_in(world)
        token = browser.csrf_token()
        same_user_other_session = signed_in(world).csrf_token()
        other_user = signed_in(world, "technician").csrf_token()
        address = f"{unique('')} CSRF Close"
        body = {"address": address, "postcode": "TT1 1AA"}

        def post(headers: dict[str, str]) -> Response:
            return browser.api("POST", "/api/v1/households", json=body, headers=headers)

        refusals = {
            "no token": OWN_ORIGIN,
            "another session's token": {"X-CSRF-Token": same_user_other_session, **OWN_ORIGIN},
            "another user's token": {"X-CSRF-Token": other_user, **OWN_ORIGIN},
            "cross-site": {"X-CSRF-Token": token, "Sec-Fetch-Site": "cross-site"},
            "same-site": {"X-CSRF-Token": token, "Sec-Fetch-Site": "same-site"},
            "another origin": {"X-CSRF-Token": token, "Origin": "http://elsewhere.example"},
        }
        for case, headers in refusals.items():
            refused = post(headers)
            assert refused.status_code == 403, (case, refused.text)
            assert refused.json()["code"] == "csrf_failed", case
        assert households_at(uow, address) == 0

        made = post({"X-CSRF-Token": token, **OWN_ORIGIN})

        assert made.status_code == 201, made.text
        assert households_at(uow, address) == 1
        # A script that sends neither header (an older browser) is served on the token alone.
        assert post({"X-CSRF-Token": token}).status_code == 201

    def test_sign_out_needs_this_sessions_token_from_this_site(self, world: World) -> None:
        browser = signed_in(world)
        other = signed_in(world).csrf_token()

        for csrf, headers in (
            ("", {}),
            ("guess", {}),
            (other, {}),
            (browser.csrf_token(), {"Sec-Fetch-Site": "cross-site"}),
        ):
            refused = browser.sign_out(csrf, **headers)
            assert refused.status_code == 403, refused.text
            assert_signed_in_as(browser, world, "pharmacist")
        no_field = browser.send("POST", "/logout", headers={**PAGE, **OWN_ORIGIN})
        assert no_field.status_code == 403, no_field.text
        assert_signed_in_as(browser, world, "pharmacist")

        assert browser.sign_out().status_code == 303
        assert_refused(browser)

    def test_sign_in_needs_the_login_forms_token_from_this_site(self, world: World) -> None:
        """Login CSRF: another site must not sign the victim's browser in as somebody."""
        form = {"username": world.home.usernames["pharmacist"], "password": PASSWORD}
        browser = Browser(world.client)
        browser.page("/login")
        issued = browser.jar[LOGIN_CSRF]

        for csrf, headers in (
            ("", OWN_ORIGIN),
            ("guess", OWN_ORIGIN),
            (issued, {"Sec-Fetch-Site": "cross-site"}),
            (issued, {"Origin": "http://elsewhere.example"}),
        ):
            refused = browser.send(
                "POST", "/login", data={**form, "csrf": csrf}, headers={**PAGE, **headers}
            )
            assert refused.status_code == 403, refused.text
            assert SESSION not in browser.jar
        no_field = browser.send("POST", "/login", data=form, headers={**PAGE, **OWN_ORIGIN})
        assert no_field.status_code == 403, no_field.text
        no_cookie = Browser(world.client).send(
            "POST", "/login", data={**form, "csrf": issued}, headers={**PAGE, **OWN_ORIGIN}
        )
        assert no_cookie.status_code == 403
        assert SESSION not in browser.jar

    def test_no_state_changing_route_answers_a_get(self, world: World) -> None:
        """Every write is a POST (ASVS 3.5.3): a GET (a link, an <img>) on a write path is a
        405 even with a live session cookie, so no state changes through it."""
        browser = signed_in(world, "admin")
        paths = world.client.app.openapi()["paths"]  # type: ignore[attr-defined]
        writes = sorted(
            path
            for path, operations in paths.items()
            if {"post", "put", "patch", "delete"} & set(operations) and "get" not in operations
        )
        assert "/api/v1/counter/withhold" in writes  # the list is not empty by accident
        for path in [*writes, "/logout"]:
            concrete = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)
            for headers in ({}, PAGE):
                response = browser.send("GET", concrete, headers=headers)
                assert response.status_code == 405, (path, response.status_code)
        assert_signed_in_as(browser, world, "admin")
