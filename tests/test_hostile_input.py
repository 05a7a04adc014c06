"""Hostile and careless input through HTTP (issue 16 items 4 and 8): control characters and
bidirectional overrides in any text, dates at the ends of the calendar and malformed URLs are
refused with a 422 naming the field, never a 500, and never stored. And the one 500 that may
still happen (a bug) does not take the client's keep-alive connection down with it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.auth.models import LoginAttempt
from app.clock import FixedClock
from app.config import Settings
from app.main import create_app
from app.patients.models import Patient
from tests.factories import World, nhs_number, unique
from tests.notify.receivers import free_port

API = "/api/v1"


def refused(response: Any, field: str, rule: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "invalid_input"
    assert (field, rule) in {(e["field"], e["rule"]) for e in problem["errors"]}, problem


# --- item 4: control characters -----------------------------------------------------------


@pytest.mark.parametrize("username", ["ab\x00c", "ab\nc", "ab\x1bc"])
def test_a_control_character_in_a_username_is_refused_before_sign_in(
    world: World, username: str
) -> None:
    before = attempts(world)

    response = world.client.post(
        f"{API}/auth/token", data={"username": username, "password": "whatever it is"}
    )

    refused(response, "username", "control_characters")
    assert attempts(world) == before, "the refused username reached the database"


def attempts(world: World) -> int:
    """Sign-in attempts on record (the NUL itself cannot be a query parameter on PostgreSQL)."""
    with world.uow as uow:
        return uow.session.scalar(select(func.count()).select_from(LoginAttempt)) or 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("given_name", "Ann\x00"),
        ("family_name", "Smith\u202egnirts"),  # right-to-left override: reads "Smithstring"
        ("family_name", "Smith\nJones"),
        ("given_name", "Ann\x85"),  # NEL
    ],
)
def test_a_control_character_or_bidi_override_in_a_name_is_refused_and_nothing_is_stored(
    world: World, field: str, value: str
) -> None:
    number = nhs_number()
    body = {
        "given_name": "Ann",
        "family_name": unique("Safe"),
        "date_of_birth": "1980-01-01",
        "nhs_number": number,
        "pharmacy_id": str(world.home.pharmacy_id),
        field: value,
    }

    refused(world.post(f"{API}/patients", body), field, "control_characters")
    with world.uow as uow:
        assert uow.session.scalar(select(Patient).where(Patient.nhs_number == number)) is None


def test_free_text_keeps_its_line_breaks_but_not_a_nul(world: World) -> None:
    ok = world.post(
        f"{API}/households", {"address": "1 Road\nTown", "postcode": "TT1 1AA", "notes": "a\r\nb"}
    )
    nul = world.post(
        f"{API}/households", {"address": "1 Road", "postcode": "TT1 1AA", "notes": "a\x00b"}
    )

    assert ok.status_code == 201, ok.text
    assert ok.json()["notes"] == "a\r\nb"
    refused(nul, "notes", "control_characters")


@pytest.mark.parametrize("q", ["\x00", "ab\x00", "\u202e"])
def test_a_control_character_in_a_search_is_refused(world: World, q: str) -> None:
    refused(world.get(f"{API}/patients", params={"q": q}), "q", "control_characters")


def test_a_nul_in_a_list_of_codes_is_refused(world: World) -> None:
    response = world.post(
        f"{API}/counter/handover",
        {
            "patient_id": str(world.patient()["id"]),
            "date": "2026-11-28",
            "outcome": "supervised",
            "collector": "patient",
            "id_checked": True,
            "intoxicated": False,
            "acknowledged": ["dose_changed\x00"],
        },
    )

    refused(response, "acknowledged", "control_characters")


def test_a_scan_may_carry_the_gs1_separator_but_not_a_nul(world: World) -> None:
    gs1 = world.post(f"{API}/counter/scan", {"code": "0105012345678900\x1d10ABC"})
    nul = world.post(f"{API}/counter/scan", {"code": "DKP-\x00"})

    assert gs1.status_code == 200, gs1.text
    refused(nul, "code", "control_characters")


def _strings(schema: Any, components: dict[str, Any], path: str) -> Iterator[tuple[str, Any]]:
    """Every string schema under `schema`, with where it is."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        yield from _strings(components[name], components, f"{path}<{name}>")
        return
    if schema.get("type") == "string":
        yield path, schema
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, ()):
            yield from _strings(option, components, path)
    if isinstance(schema.get("items"), dict):
        yield from _strings(schema["items"], components, f"{path}[]")
    for name, prop in schema.get("properties", {}).items():
        yield from _strings(prop, components, f"{path}.{name}")


def test_every_text_a_client_sends_has_a_rule_in_the_schema(world: World) -> None:
    """Request bodies and query parameters: every string is an enum, a format (uuid, date) or
    has a pattern, which for free text is the no-control-characters rule. The one exception is
    the password at sign-in: it is only hashed and compared, never stored or queried, and a
    password set before this rule must still work."""
    spec = world.client.app.openapi()  # type: ignore[attr-defined]
    components = spec["components"]["schemas"]
    loose = []
    for route, operations in spec["paths"].items():
        for method, operation in operations.items():
            places = [
                (f"{method} {route} ?{p['name']}", p["schema"])
                for p in operation.get("parameters", ())
                if p["in"] == "query"
            ]
            for media in operation.get("requestBody", {}).get("content", {}).values():
                places.append((f"{method} {route} body", media["schema"]))
            for where, schema in places:
                for path, string in _strings(schema, components, where):
                    if not any(k in string for k in ("pattern", "format", "enum", "const")):
                        loose.append(path)
    token_form = "Body_issue_token_api_v1_auth_token_post"
    assert loose == [f"post /api/v1/auth/token body<{token_form}>.password"]


# --- item 8: edge input ---------------------------------------------------------------------


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1899-12-31", "2101-01-01"])
def test_the_due_list_for_a_date_at_the_end_of_the_calendar_is_refused(
    world: World, day: str
) -> None:
    response = world.get(f"{API}/counter/due", params={"date": day})

    refused(response, "date", "date_out_of_range")


def test_a_check_for_year_one_is_refused(world: World) -> None:
    patient = world.patient()
    response = world.post(
        f"{API}/counter/check", {"patient_id": patient["id"], "date": "0001-01-01"}
    )

    refused(response, "date", "date_out_of_range")


def test_a_commissioner_report_for_year_9999_is_refused(world: World) -> None:
    response = world.get(
        f"{API}/reports/commissioner",
        role="admin",
        params={"from": "9999-12-31", "to": "9999-12-31"},
    )

    refused(response, "from", "date_out_of_range")


def test_a_closure_in_9999_and_a_child_living_there_from_9999_are_refused(world: World) -> None:
    closure = world.post(
        f"{API}/pharmacies/{world.home.pharmacy_id}/closures",
        {"date": "9999-12-31", "reason": "End of days"},
    )
    household = world.household()
    child = world.post(
        f"{API}/households/{household['id']}/children",
        {"name": "A.B.", "date_of_birth": "2020-01-01", "lives_from": "9999-01-01"},
    )

    refused(closure, "date", "date_out_of_range")
    refused(child, "lives_from", "date_out_of_range")


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("https://[::1:9443/h", "url"),
        ("https://hooks.example.org:99999/h", "url"),
        ("https://hooks.example.org:-1/h", "url"),
        ("https://hooks.example.org:0/h", "port"),
        ("http://127.0.0.1./h", "internal_address"),  # not the allow-listed spelling
        ("https://hooks.example.org./h", "host"),
        ("https://hooks..example.org/h", "host"),
    ],
)
def test_a_malformed_webhook_url_is_refused_naming_it(world: World, url: str, rule: str) -> None:
    response = world.post(
        f"{API}/contacts",
        {"name": "N", "organisation": "O", "kind": "mash", "webhook_url": url},
    )

    refused(response, "webhook_url", rule)


def test_a_500_does_not_close_the_keep_alive_connection(
    settings: Settings, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    """A real server on 127.0.0.1; two requests on one connection, the first failing."""
    app: FastAPI = create_app(settings, session_factory, clock)

    @app.get("/boom", include_in_schema=False)
    def boom() -> None:
        raise RuntimeError("a bug")

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            first = _exchange(conn, "/boom")
            second = _exchange(conn, "/healthz")
    finally:
        server.should_exit = True
        thread.join(timeout=10)

    assert first.startswith(b"HTTP/1.1 500"), first[:200]
    assert b"application/problem+json" in first
    assert b"internal_error" in first
    assert b"connection: close" not in first.lower()
    assert second.startswith(b"HTTP/1.1 "), "the server closed the connection after the 500"


def _exchange(conn: socket.socket, path: str) -> bytes:
    conn.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body
