"""Every error is an RFC 9457 problem document, and every API response carries the security
headers (reliability.md §4.8; ASVS 3.4, 14.3.2)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.factories import World


def assert_problem(response, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"https://dosekeeper.invalid/problems/{code}"
    assert body["title"]
    assert body["instance"] == response.request.url.path


@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/nothing-here", "/api/v2/patients"])
def test_an_unknown_route_is_a_404_problem(client: TestClient, path: str) -> None:
    assert_problem(client.get(path), 404, "not_found")


def test_an_unknown_route_says_the_same_to_a_signed_in_caller(world: World) -> None:
    assert_problem(world.get("/api/v1/nothing-here"), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/api/v1/patients"),
        ("PUT", "/api/v1/households"),
        ("PATCH", "/api/v1/pharmacies"),
        ("GET", "/api/v1/auth/token"),
        ("POST", "/healthz"),
    ],
)
def test_a_wrong_method_is_a_405_problem_with_allow(
    client: TestClient, method: str, path: str
) -> None:
    response = client.request(method, path)

    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["Allow"]


def test_no_credentials_is_a_401_problem_with_www_authenticate(client: TestClient) -> None:
    response = client.get("/api/v1/patients")

    assert_problem(response, 401, "not_authenticated")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_validation_error_is_a_422_problem_naming_fields(world: World) -> None:
    response = world.post("/api/v1/households", {"postcode": "nope"})

    assert_problem(response, 422, "invalid_input")
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"address", "postcode"}


def responses(world: World) -> dict[str, object]:
    return {
        "200": world.get("/api/v1/me"),
        "201": world.post("/api/v1/households", {"address": "1 Header Way", "postcode": "HW1 1AA"}),
        "401": world.client.get("/api/v1/me"),
        "403": world.post(
            "/api/v1/pharmacies",
            {
                "name": "P",
                "ods_code": "FHDR1",
                "address": "A",
                "phone": "01632 960000",
                "open_weekdays": [1],
            },
        ),
        "404": world.get("/api/v1/nothing-here"),
        "405": world.client.delete("/api/v1/patients"),
        "422": world.post("/api/v1/households", {}),
        "health": world.client.get("/healthz"),
    }


def test_security_headers_are_on_every_api_response(
    world: World, subtests: pytest.Subtests
) -> None:
    for kind, response in responses(world).items():
        with subtests.test(kind):
            headers = response.headers  # type: ignore[attr-defined]
            assert headers["X-Content-Type-Options"] == "nosniff"
            assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
            assert "object-src 'none'" in headers["Content-Security-Policy"]
            assert headers["Cache-Control"] == "no-store"
            assert headers["Referrer-Policy"] == "no-referrer"
            assert headers["Strict-Transport-Security"].startswith("max-age=")


def test_an_error_reveals_no_stack_trace_or_sql(world: World) -> None:
    response = world.post("/api/v1/patients", {"nhs_number": "'; DROP TABLE patients; --"})

    assert response.status_code == 422
    assert "Traceback" not in response.text
    assert "sqlalchemy" not in response.text.lower()
    assert "DROP TABLE" not in response.text
