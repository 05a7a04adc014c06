"""The OpenAPI schema says what the server does: regressions for what schemathesis found
(tests/test_schemathesis*.py), each pinned by a plain test."""

from __future__ import annotations

import re
from typing import Any
from uuid import uuid4

import pytest

from app.clock import FixedClock
from tests.builders import MONDAY, at, prescribe
from tests.factories import World, unique

API = "/api/v1"
# What `\s` matches in a JSON Schema (ECMA-262) pattern: no U+0085, unlike Python and Rust.
ECMA_WHITESPACE = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"


def openapi(world: World) -> dict[str, Any]:
    return dict(world.client.get("/openapi.json").json())


def test_the_fhir_export_is_documented_with_the_media_type_it_is_sent_with(
    world: World, clock: FixedClock
) -> None:
    operation = openapi(world)["paths"][f"{API}/patients/{{patient_id}}/fhir"]["get"]
    assert set(operation["responses"]["200"]["content"]) == {"application/fhir+json"}
    patient = world.patient()
    prescribe(world, patient["id"])
    clock.set(at(MONDAY))
    response = world.get(f"{API}/patients/{patient['id']}/fhir")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].split(";")[0] == "application/fhir+json"


def _pharmacy(open_weekdays: list[Any]) -> dict[str, Any]:
    return {
        "name": "P",
        "ods_code": unique("F")[:8],
        "address": "A",
        "phone": "01632 960000",
        "open_weekdays": open_weekdays,
    }


def test_a_weekday_written_as_a_whole_json_number_is_read_like_the_integer(world: World) -> None:
    """JSON Schema's `integer` includes 3.0; "3", true and 3.5 stay refused."""
    created = world.post(f"{API}/pharmacies", _pharmacy([3.0, 1, 5.0]), role="admin")
    assert created.status_code == 201, created.text
    assert created.json()["open_weekdays"] == [1, 3, 5]
    pharmacy_id = created.json()["id"]
    moved = world.client.put(
        f"{API}/pharmacies/{pharmacy_id}/opening-days",
        json={"open_weekdays": [0.0, 2]},
        headers=world.home.headers("admin"),
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["open_weekdays"] == [0, 2]
    for bad in (["3"], [True], [3.5]):
        refused = world.post(f"{API}/pharmacies", _pharmacy(bad), role="admin")
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.json()["errors"][0]["rule"] == "int_type"


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", f"{API}/pharmacies"), ("put", f"{API}/pharmacies/{{pharmacy_id}}/opening-days")],
)
def test_each_weekday_at_most_once_is_in_the_schema_and_enforced(
    world: World, method: str, path: str
) -> None:
    body = openapi(world)["paths"][path][method]["requestBody"]["content"]["application/json"]
    ref = body["schema"]["$ref"].rsplit("/", 1)[-1]
    days = openapi(world)["components"]["schemas"][ref]["properties"]["open_weekdays"]
    assert days["uniqueItems"] is True
    url = path.format(pharmacy_id=world.home.pharmacy_id)
    payload = _pharmacy([1, 1]) if method == "post" else {"open_weekdays": [1, 1]}
    refused = world.client.request(method, url, json=payload, headers=world.home.headers("admin"))
    assert refused.status_code == 422, refused.text
    assert [(e["field"], e["rule"]) for e in refused.json()["errors"]] == [
        ("open_weekdays", "value_error")
    ]


def test_the_signed_acknowledgement_form_declares_its_signature_required_and_non_empty(
    world: World,
) -> None:
    """An empty form field reaches the app as missing: the schema says at least one character."""
    operation = openapi(world)["paths"]["/alerts/{alert_id}/ack"]["post"]
    form = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    ref = form["$ref"].rsplit("/", 1)[-1]
    sig = openapi(world)["components"]["schemas"][ref]["properties"]["sig"]
    assert sig["minLength"] == 1


def test_an_email_with_a_next_line_character_is_refused_by_the_schema_as_by_the_server(
    world: World,
) -> None:
    """JSON Schema's `\\s` (ECMA-262) leaves out U+0085, the server's includes it: spelled out."""
    email = openapi(world)["components"]["schemas"]["ContactCreate"]["properties"]["email"]
    pattern = next(branch["pattern"] for branch in email["anyOf"] if "pattern" in branch)
    # Read the pattern as JSON Schema does: ECMA-262's `\s` is this class, without U+0085.
    ecma = pattern.replace("\\s", ECMA_WHITESPACE)
    assert re.fullmatch(ecma, "a@example.org")
    assert re.fullmatch(ecma, "\x85a@example.org") is None
    refused = world.post(
        f"{API}/contacts",
        {"name": "N", "organisation": "O", "kind": "social_worker", "email": "\x85a@example.org"},
        role="admin",
    )
    assert refused.status_code == 422, refused.text
    # Refused by the rule every text field has (no control characters), which the pattern states.
    assert refused.json()["errors"][0]["rule"] == "control_characters"


@pytest.mark.parametrize("method", ["get", "post"])
def test_an_acknowledgement_link_with_a_non_ascii_signature_is_refused_not_a_server_error(
    world: World, method: str
) -> None:
    """hmac.compare_digest raises TypeError on non-ASCII text: the link is simply not valid."""
    link = f"/alerts/{uuid4()}/ack"
    fields = {"contact": str(uuid4()), "expires": "4102444800", "sig": "À±é"}
    if method == "get":
        response = world.client.get(link, params=fields)
    else:
        response = world.client.post(link, data=fields)
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("text/html")
