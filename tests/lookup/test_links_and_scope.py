"""Who may look up, and whom: a link works for its pharmacy's patients until it expires or is
revoked; another pharmacy's patient answers exactly as a number nobody holds; a clinician
account may look up anyone and do nothing else (issue 19 §4; H-27)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from app.auth.deps import get_actor
from app.clock import FixedClock
from tests.builders import API, MONDAY, at
from tests.factories import World, nhs_number
from tests.lookup.helpers import clinician_token, issue_link, link_token, look_up, ward

THURSDAY = MONDAY + timedelta(days=3)


def _without_request_id(headers: Any) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() != "x-request-id"}


@pytest.mark.hazard("H-27.1")
def test_a_link_from_pharmacy_a_cannot_find_pharmacy_bs_patient(
    world: World, clock: FixedClock
) -> None:
    clock.set(at(THURSDAY, 1))
    theirs = world.patient(branch=world.away)
    token = link_token(world)

    foreign = look_up(world, token, theirs["nhs_number"])
    unknown = look_up(world, token, nhs_number())

    assert foreign.status_code == unknown.status_code == 404
    assert foreign.json() == unknown.json()
    assert _without_request_id(foreign.headers) == _without_request_id(unknown.headers)
    assert theirs["family_name"] not in foreign.text
    # The other pharmacy is shown the attempt on its own patient; the asker's pharmacy sees
    # that its link asked for somebody it does not hold, never who.
    away_log = world.get(f"{API}/lookups", branch=world.away).json()["items"]
    assert [(i["patient_id"], i["outside_scope"]) for i in away_log] == [(theirs["id"], True)]
    home_log = world.get(f"{API}/lookups").json()["items"]
    assert {i["patient_id"] for i in home_log} == {None}
    assert len(home_log) == 2


@pytest.mark.hazard("H-27.1")
def test_a_clinician_account_may_look_up_any_pharmacys_patient(
    world: World, clock: FixedClock
) -> None:
    theirs = world.patient(branch=world.away)

    response = look_up(world, clinician_token(world), theirs["nhs_number"])

    assert response.status_code == 200, response.text
    assert response.json()["patient"]["family_name"] == theirs["family_name"]


@pytest.mark.hazard("H-27.2")
def test_an_expired_a_revoked_and_a_forged_link_are_refused(
    world: World, clock: FixedClock
) -> None:
    patient = world.patient()
    clock.set(at(THURSDAY, 1, 0))
    expiring = link_token(world)
    contact = ward(world)
    revoked = issue_link(world, contact)
    assert look_up(world, revoked["token"], patient["nhs_number"]).status_code == 200

    gone = world.post(f"{API}/lookup/links/{revoked['id']}/revoke", {})
    assert gone.status_code == 200, gone.text
    assert gone.json()["state"] == "revoked"
    clock.set(at(THURSDAY, 13, 1))  # twelve hours and a minute after the first was issued
    answers = {
        "link_revoked": look_up(world, revoked["token"], patient["nhs_number"]),
        "link_expired": look_up(world, expiring, patient["nhs_number"]),
        "link_not_valid": look_up(world, expiring[:-4] + "AAAA", patient["nhs_number"]),
    }

    for code, response in answers.items():
        assert response.status_code == 401, (code, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == code
        assert patient["family_name"] not in response.text
    states = {i["id"]: i["state"] for i in world.get(f"{API}/lookup/links").json()["items"]}
    assert states[revoked["id"]] == "revoked"
    assert "expired" in states.values()


def test_a_link_only_goes_to_a_contact_the_pharmacy_may_see_with_an_email(
    world: World,
) -> None:
    theirs = ward(world, world.away)
    refused = world.post(f"{API}/lookup/links", {"contact_id": theirs})
    assert refused.status_code == 404, refused.text
    technician = world.post(f"{API}/lookup/links", {"contact_id": ward(world)}, role="technician")
    assert technician.status_code == 403, technician.text


@pytest.mark.hazard("H-27.1")
def test_a_clinician_is_refused_every_route_but_the_look_up(world: World) -> None:
    """Every route that names its caller through `ActorDep` refuses a clinician before it reads
    an id or a body; the routes that do not are the public ones, listed here on purpose."""
    token = clinician_token(world)
    headers = {"Authorization": f"Bearer {token}"}
    guarded, unguarded = [], set()
    # FastAPI 0.165 keeps included routers as such: walk the routes they contribute.
    for context in iter_route_contexts(world.client.app.routes):  # type: ignore[attr-defined]
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        if _depends_on(route.dependant, get_actor):
            guarded.append((context.path, route))
        else:
            unguarded |= {f"{m} {context.path}" for m in route.methods}
    assert unguarded == {
        "POST /api/v1/auth/token",
        "POST /api/v1/lookup",
        "GET /",
        "GET /login",
        "POST /login",
        "POST /logout",
        "GET /lookup",
        "GET /healthz",
        "GET /readyz",
        "GET /livez",
        "GET /metrics",
        "GET /alerts/{alert_id}/ack",
        "POST /alerts/{alert_id}/ack",
        "GET /feeds/alerts.atom",
        "GET /docs",
        "GET /redoc",
    }, sorted(unguarded)
    assert len(guarded) > 80
    for template, route in guarded:
        path = template
        for name in route.param_convertors:
            path = path.replace("{" + name + "}", str(uuid.uuid4()))
        for method in sorted(route.methods - {"HEAD"}):
            response = world.client.request(method, path, headers=headers)
            assert response.status_code == 403, (method, route.path, response.text)
            assert response.json()["code"] == "permission_denied"


def _depends_on(dependant: Any, call: Any) -> bool:
    return any(d.call is call or _depends_on(d, call) for d in dependant.dependencies)
