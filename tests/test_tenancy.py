"""Who may call what, on whose records: an authorization matrix generated from ONE table
(OWASP Authorization Testing Automation; reliability.md §4.5).

Each row is a route and a scope: "own" targets the caller's pharmacy (a household and a patient
there that name the home key worker and prescriber), "foreign" targets another pharmacy's,
"any" is a route with no tenant record. Each column is the answer for one role:

    OK      200 with the target record in the body (a list includes it)
    MADE    201, created where asked
    EMPTY   200, and the target record is nowhere in the body (lists)
    DENIED  403 permission_denied: the role may never do this, whatever the id
    HIDDEN  404 not_found, exactly as for an id that does not exist

A foreign id never answers with the record, and never with anything that differs from what a
random id gets: DENIED is allowed for a foreign id only when the role is DENIED on its own
pharmacy too (checked below), so a 403 never confirms that another pharmacy's record exists.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select

from app.actor import SYSTEM
from app.auth import service as auth_service
from app.auth.models import User
from app.clock import FixedClock
from app.main import API
from app.pharmacies.models import Pharmacy
from tests.builders import MONDAY, at, prescribe
from tests.factories import NOW, PASSWORD, ROLES, Branch, World, nhs_number, unique

OK, MADE, EMPTY, DENIED, HIDDEN = "OK", "MADE", "EMPTY", "DENIED", "HIDDEN"
STATUS = {OK: 200, MADE: 201, EMPTY: 200, DENIED: 403, HIDDEN: 404}

# fmt: off
MATRIX: list[tuple[str, str, tuple[str, ...]]] = [
    # route                                      scope      pharmacist technician prescriber key_worker safeguarding_lead admin
    ("GET /pharmacies/{pharmacy_id}",            "own",     (OK,     OK,     HIDDEN, HIDDEN, OK,     OK)),
    ("GET /pharmacies/{pharmacy_id}",            "foreign", (HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN, OK)),
    ("GET /pharmacies",                          "own",     (OK,     OK,     EMPTY,  EMPTY,  OK,     OK)),
    ("GET /pharmacies",                          "foreign", (EMPTY,  EMPTY,  EMPTY,  EMPTY,  EMPTY,  OK)),
    ("POST /pharmacies",                         "any",     (DENIED, DENIED, DENIED, DENIED, DENIED, MADE)),
    ("PUT /pharmacies/{pharmacy_id}/opening-days", "own",   (DENIED, DENIED, DENIED, DENIED, DENIED, OK)),
    ("PUT /pharmacies/{pharmacy_id}/opening-days", "foreign", (DENIED, DENIED, DENIED, DENIED, DENIED, OK)),
    # A pharmacy's contacts are its own (issue 16 item 10: webhook URLs carry API keys); the
    # area directory (contacts an administrator adds, with no pharmacy) is every branch's.
    # The contact here is one a branch's pharmacist added; prescribers and key workers, who
    # belong to no pharmacy, see the area directory only.
    ("POST /contacts",                           "any",     (MADE,   DENIED, DENIED, DENIED, MADE,   MADE)),
    ("GET /contacts",                            "own",     (OK,     OK,     EMPTY,  EMPTY,  OK,     OK)),
    ("GET /contacts",                            "foreign", (EMPTY,  EMPTY,  EMPTY,  EMPTY,  EMPTY,  OK)),
    ("GET /contacts/{contact_id}",               "own",     (OK,     OK,     HIDDEN, HIDDEN, OK,     OK)),
    ("GET /contacts/{contact_id}",               "foreign", (HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN, OK)),
    ("POST /contacts/{contact_id}/test",         "own",     (OK,     DENIED, DENIED, DENIED, OK,     OK)),
    ("POST /contacts/{contact_id}/test",         "foreign", (HIDDEN, DENIED, DENIED, DENIED, HIDDEN, OK)),
    ("POST /households",                         "own",     (MADE,   MADE,   DENIED, DENIED, MADE,   MADE)),
    ("POST /households",                         "foreign", (HIDDEN, HIDDEN, DENIED, DENIED, HIDDEN, MADE)),
    ("GET /households/{household_id}",           "own",     (OK,     OK,     OK,     OK,     OK,     OK)),
    ("GET /households/{household_id}",           "foreign", (HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN, OK)),
    ("POST /households/{household_id}/children", "own",     (MADE,   MADE,   DENIED, DENIED, MADE,   MADE)),
    ("POST /households/{household_id}/children", "foreign", (HIDDEN, HIDDEN, DENIED, DENIED, HIDDEN, MADE)),
    ("POST /households/{household_id}/confirmations", "own",     (MADE,   MADE,   DENIED, DENIED, MADE,   MADE)),
    ("POST /households/{household_id}/confirmations", "foreign", (HIDDEN, HIDDEN, DENIED, DENIED, HIDDEN, MADE)),
    ("PATCH /households/{household_id}",         "own",     (OK,     OK,     DENIED, DENIED, OK,     OK)),
    ("PATCH /households/{household_id}",         "foreign", (HIDDEN, HIDDEN, DENIED, DENIED, HIDDEN, OK)),
    ("PATCH /households/{household_id}/children/{child_id}", "own",     (OK,     OK,     DENIED, DENIED, OK,     OK)),
    ("PATCH /households/{household_id}/children/{child_id}", "foreign", (HIDDEN, HIDDEN, DENIED, DENIED, HIDDEN, OK)),
    # Naloxone supplied and storage advice given (issue 20 §4): the pharmacy team records them.
    ("POST /households/{household_id}/naloxone", "own",     (MADE,   MADE,   DENIED, DENIED, DENIED, DENIED)),
    ("POST /households/{household_id}/naloxone", "foreign", (HIDDEN, HIDDEN, DENIED, DENIED, DENIED, DENIED)),
    ("GET /households/{household_id}/naloxone",  "own",     (OK,     OK,     OK,     OK,     OK,     OK)),
    ("GET /households/{household_id}/naloxone",  "foreign", (HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN, OK)),
    ("POST /households/{household_id}/storage-advice", "own",     (MADE,   MADE,   DENIED, DENIED, DENIED, DENIED)),
    ("POST /households/{household_id}/storage-advice", "foreign", (HIDDEN, HIDDEN, DENIED, DENIED, DENIED, DENIED)),
    ("GET /households/{household_id}/storage-advice",  "own",     (OK,     OK,     OK,     OK,     OK,     OK)),
    ("GET /households/{household_id}/storage-advice",  "foreign", (HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN, OK)),
    ("GET /patients/{patient_id}",               "own",     (OK,     OK,     OK,     OK,     OK,     OK)),
    ("GET /patients/{patient_id}",               "foreign", (HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN, OK)),
    ("PATCH /patients/{patient_id}",             "own",     (OK,     OK,     DENIED, DENIED, DENIED, OK)),
    ("PATCH /patients/{patient_id}",             "foreign", (HIDDEN, HIDDEN, DENIED, DENIED, DENIED, OK)),
    ("POST /patients/{patient_id}/card/reissue", "own",     (OK,     OK,     DENIED, DENIED, DENIED, OK)),
    ("POST /patients/{patient_id}/card/reissue", "foreign", (HIDDEN, HIDDEN, DENIED, DENIED, DENIED, OK)),
    ("GET /patients/{patient_id}/history",       "own",     (OK,     OK,     OK,     OK,     OK,     OK)),
    ("GET /patients/{patient_id}/history",       "foreign", (HIDDEN, HIDDEN, HIDDEN, HIDDEN, HIDDEN, OK)),
    ("GET /patients",                            "own",     (OK,     OK,     OK,     OK,     OK,     OK)),
    ("GET /patients",                            "foreign", (EMPTY,  EMPTY,  EMPTY,  EMPTY,  EMPTY,  OK)),
    ("POST /patients",                           "own",     (MADE,   MADE,   DENIED, DENIED, DENIED, MADE)),
    ("POST /patients",                           "foreign", (HIDDEN, HIDDEN, DENIED, DENIED, DENIED, MADE)),
    ("POST /users",                              "own",     (DENIED, DENIED, DENIED, DENIED, DENIED, MADE)),
    ("POST /users",                              "foreign", (DENIED, DENIED, DENIED, DENIED, DENIED, MADE)),
    ("GET /users",                               "any",     (DENIED, DENIED, DENIED, DENIED, DENIED, OK)),
    ("POST /users/{user_id}/disable",            "own",     (DENIED, DENIED, DENIED, DENIED, DENIED, OK)),
    ("POST /users/{user_id}/disable",            "foreign", (DENIED, DENIED, DENIED, DENIED, DENIED, OK)),
    ("POST /users/{user_id}/enable",             "own",     (DENIED, DENIED, DENIED, DENIED, DENIED, OK)),
    ("POST /users/{user_id}/enable",             "foreign", (DENIED, DENIED, DENIED, DENIED, DENIED, OK)),
    ("GET /me",                                  "any",     (OK,     OK,     OK,     OK,     OK,     OK)),
]
# fmt: on


PUBLIC = {"POST /auth/token"}  # the only API route that needs no caller
# Routes whose records every branch shares (none left: contacts are scoped since issue 16).
SHARED: set[str] = set()


@dataclass
class Side:
    """One pharmacy's records, and the values that must never leak to another pharmacy."""

    branch: Branch
    pharmacy_id: UUID
    household_id: str
    patient_id: str
    patient_nhs: str
    contact_id: str
    child_id: str
    user_id: UUID  # a second pharmacist: an account to disable and enable
    secrets: list[str] = field(default_factory=list)


def contact_of(world: World, branch: Branch, role: str) -> UUID:
    with world.uow:
        contact_id = world.uow.session.scalar(
            select(User.contact_id).where(User.id == branch.users[role])
        )
    assert contact_id is not None
    return contact_id


def build_side(world: World, branch: Branch) -> Side:
    """A household with a patient (naming the branch's own key worker and prescriber users) and
    a contact, all created through the API by the branch's pharmacist."""
    address = f"{unique('')} Secret Lane, Hometown"
    household = world.post(
        "/api/v1/households", {"address": address, "postcode": "SE1 7PB"}, branch=branch
    )
    assert household.status_code == 201, household.text
    patient = world.patient(
        household.json()["id"],
        branch=branch,
        family_name=unique("Secretname"),
        key_worker_id=str(contact_of(world, branch, "key_worker")),
        prescriber_id=str(contact_of(world, branch, "prescriber")),
    )
    contact = world.post(
        "/api/v1/contacts",
        {
            "name": unique("Contact "),
            "organisation": "Org",
            # MASH: a kind the factories never create, so the list below stays short.
            "kind": "mash",
            "email": f"{unique('mash')}@example.org",
            # Nothing listens on port 9 here: a test send is refused at once.
            "webhook_url": f"http://127.0.0.1:9/{unique('hook')}",
        },
        branch=branch,
    )
    assert contact.status_code == 201, contact.text
    renamed = world.client.patch(  # one history row, so the history has something to show
        f"/api/v1/patients/{patient['id']}",
        json={"given_name": "Tess", "reason": "Spelling"},
        headers=branch.headers(),
    )
    assert renamed.status_code == 200, renamed.text
    child = world.post(
        f"/api/v1/households/{household.json()['id']}/children",
        {"name": "E.F.", "date_of_birth": "2018-02-02"},
        branch=branch,
    )
    assert child.status_code == 201, child.text
    with world.uow:
        pharmacy = world.uow.session.get(Pharmacy, branch.pharmacy_id)
        assert pharmacy is not None
        pharmacy_secrets = [pharmacy.name, pharmacy.ods_code]
    return Side(
        branch,
        branch.pharmacy_id,
        household.json()["id"],
        patient["id"],
        patient["nhs_number"],
        contact.json()["id"],
        child.json()["id"],
        branch.users["pharmacist2"],
        secrets=[
            address,
            patient["family_name"],
            patient["nhs_number"],
            patient["card_code"],
            *pharmacy_secrets,
        ],
    )


Call = Callable[[World, str, Side], Any]


def call_route(route: str) -> Call:
    """How to call each route against a target side; the body is valid for a permitted role."""

    def send(method: str, path: str, body: dict[str, Any] | None = None, **params: Any) -> Call:
        def run(world: World, role: str, side: Side) -> Any:
            url = API + path.format(**params_for(side))
            if method == "GET":
                return world.get(url, role=role, params=params_query(side, params))
            if method in ("PUT", "PATCH"):
                return world.client.request(
                    method, url, json=body_for(side, body or {}), headers=world.home.headers(role)
                )
            return world.post(url, body_for(side, body or {}), role=role)

        return run

    table: dict[str, Call] = {
        "GET /pharmacies/{pharmacy_id}": send("GET", "/pharmacies/{pharmacy_id}"),
        "GET /pharmacies": send("GET", "/pharmacies"),
        "PUT /pharmacies/{pharmacy_id}/opening-days": send(
            "PUT", "/pharmacies/{pharmacy_id}/opening-days", {"open_weekdays": [0, 1, 2, 3, 4, 5]}
        ),
        "POST /pharmacies": send(
            "POST",
            "/pharmacies",
            {
                "name": "$unique_name",
                "ods_code": "$unique_ods",
                "address": "2 High Street",
                "phone": "01632 960999",
                "open_weekdays": [0, 1, 2, 3, 4],
            },
        ),
        "POST /contacts": send(
            "POST",
            "/contacts",
            {
                "name": "$unique_name",
                "organisation": "Org",
                "kind": "key_worker",
                "email": "$unique_email",  # one contact per kind and address
            },
        ),
        "GET /contacts": send("GET", "/contacts", kind="mash"),
        "GET /contacts/{contact_id}": send("GET", "/contacts/{contact_id}"),
        "POST /contacts/{contact_id}/test": send("POST", "/contacts/{contact_id}/test"),
        "POST /households": send(
            "POST",
            "/households",
            {"address": "3 New Road", "postcode": "NE1 1AA", "pharmacy_id": "$pharmacy_id"},
        ),
        "GET /households/{household_id}": send("GET", "/households/{household_id}"),
        "POST /households/{household_id}/children": send(
            "POST",
            "/households/{household_id}/children",
            {"name": "A.B.", "date_of_birth": "2020-01-01"},
        ),
        "POST /households/{household_id}/confirmations": send(
            "POST", "/households/{household_id}/confirmations", {"note": ""}
        ),
        "PATCH /households/{household_id}": send(
            "PATCH", "/households/{household_id}", {"notes": "Checked", "reason": "tenancy check"}
        ),
        "PATCH /households/{household_id}/children/{child_id}": send(
            "PATCH",
            "/households/{household_id}/children/{child_id}",
            {"name": "G.H.", "reason": "tenancy check"},
        ),
        "POST /households/{household_id}/naloxone": send(
            "POST",
            "/households/{household_id}/naloxone",
            {
                "product": "nyxoid_nasal",
                "batch": "NX1",
                "expires_on": "2028-01-31",
                "trained": True,
                "recipient": "household_adult",
                "recipient_name": "A. Adult",
            },
        ),
        "GET /households/{household_id}/naloxone": send(
            "GET", "/households/{household_id}/naloxone"
        ),
        "POST /households/{household_id}/storage-advice": send(
            "POST",
            "/households/{household_id}/storage-advice",
            {"topics": ["lockable_box", "out_of_reach"], "given_to": "A. Adult"},
        ),
        "GET /households/{household_id}/storage-advice": send(
            "GET", "/households/{household_id}/storage-advice"
        ),
        "GET /patients/{patient_id}": send("GET", "/patients/{patient_id}"),
        "PATCH /patients/{patient_id}": send(
            "PATCH", "/patients/{patient_id}", {"given_name": "Renamed", "reason": "tenancy check"}
        ),
        "POST /patients/{patient_id}/card/reissue": send(
            "POST", "/patients/{patient_id}/card/reissue", {"reason": "tenancy check"}
        ),
        "GET /patients/{patient_id}/history": send("GET", "/patients/{patient_id}/history"),
        "GET /patients": send("GET", "/patients", q="$patient_nhs"),
        "POST /patients": send(
            "POST",
            "/patients",
            {
                "given_name": "New",
                "family_name": "$unique_name",
                "date_of_birth": "1990-01-01",
                "nhs_number": "$nhs_number",
                "pharmacy_id": "$pharmacy_id",
            },
        ),
        "POST /users": send(
            "POST",
            "/users",
            {
                "username": "$unique_username",
                "password": "long enough password",
                "role": "technician",
                "display_name": "New",
                "pharmacy_id": "$pharmacy_id",
            },
        ),
        "GET /users": send("GET", "/users"),
        "POST /users/{user_id}/disable": send("POST", "/users/{user_id}/disable"),
        "POST /users/{user_id}/enable": send("POST", "/users/{user_id}/enable"),
        "GET /me": send("GET", "/me"),
    }
    return table[route]


def params_for(side: Side) -> dict[str, str]:
    return {
        "pharmacy_id": str(side.pharmacy_id),
        "household_id": side.household_id,
        "patient_id": side.patient_id,
        "contact_id": side.contact_id,
        "child_id": side.child_id,
        "user_id": str(side.user_id),
    }


def params_query(side: Side, params: dict[str, str]) -> dict[str, str]:
    return {k: side.patient_nhs if v == "$patient_nhs" else v for k, v in params.items()}


def body_for(side: Side, template: dict[str, Any]) -> dict[str, Any]:
    fill = {
        "$pharmacy_id": lambda: str(side.pharmacy_id),
        "$unique_name": lambda: unique("Name"),
        "$unique_ods": lambda: unique("Q")[:8].upper(),
        "$unique_username": lambda: unique("user"),
        "$unique_email": lambda: f"{unique('kw')}@example.org",
        "$nhs_number": nhs_number,
    }
    return {k: fill[v]() if isinstance(v, str) and v in fill else v for k, v in template.items()}


def target_id(route: str, side: Side) -> str:
    """The id of the record a route reads, so the body can be checked for it."""
    if "users" in route:
        return str(side.user_id)
    if "pharmacies" in route:
        return str(side.pharmacy_id)
    if "contacts" in route:
        return side.contact_id
    if "households" in route:
        return side.household_id
    return side.patient_id


@pytest.mark.parametrize(
    ("route", "scope", "row"), [pytest.param(*r, id=f"{r[0]} {r[1]}") for r in MATRIX]
)
@pytest.mark.hazard("H-10.1")
def test_the_route_answers_as_the_authorization_matrix_says(
    world: World, subtests: pytest.Subtests, route: str, scope: str, row: tuple[str, ...]
) -> None:
    home = build_side(world, world.home)
    away = build_side(world, world.away)
    side = away if scope == "foreign" else home

    for role, expected in zip(ROLES, row, strict=True):
        with subtests.test(role=role, expected=expected):
            response = call_route(route)(world, role, side)

            assert response.status_code == STATUS[expected], response.text
            body = response.json()
            if expected in (DENIED, HIDDEN):
                assert response.headers["content-type"] == "application/problem+json"
                assert body["code"] == {DENIED: "permission_denied", HIDDEN: "not_found"}[expected]
            if expected == OK and route.startswith("GET") and scope != "any":
                assert target_id(route, side) in response.text
            if expected == EMPTY:
                assert target_id(route, side) not in response.text
            if expected == MADE and "pharmacy_id" in body:
                assert body["pharmacy_id"] == str(side.pharmacy_id), "created somewhere else"
            if expected == MADE and body.get("household_id"):
                assert body["household_id"] == side.household_id, "added somewhere else"
            if role != "admin":
                for secret in away.secrets:
                    assert secret not in response.text, f"another pharmacy's {secret!r} leaked"


def test_the_matrix_covers_every_foundation_route(world: World) -> None:
    # Prescriptions, counter and alerts keep matrices of their own; these tags are this one's.
    foundation = {"auth", "pharmacies", "contacts", "households", "patients"}
    paths = world.client.app.openapi()["paths"]  # type: ignore[attr-defined]
    routes = {
        f"{method.upper()} {path.removeprefix(API)}"
        for path, operations in paths.items()
        for method, operation in operations.items()
        if path.startswith(API) and foundation & set(operation.get("tags", ()))
    }
    in_matrix = {route for route, _, _ in MATRIX}
    assert routes - PUBLIC == in_matrix, "add every new route to MATRIX"
    for route in in_matrix:
        scopes = {scope for r, scope, _ in MATRIX if r == route}
        assert scopes in ({"any"}, {"own", "foreign"}), route


@pytest.mark.parametrize("route", sorted({r for r, s, _ in MATRIX if s == "foreign"}))
def test_a_role_denied_a_foreign_record_is_denied_its_own_too(route: str) -> None:
    rows = {scope: row for r, scope, row in MATRIX if r == route}
    for role, own, foreign in zip(ROLES, rows["own"], rows["foreign"], strict=True):
        if foreign == DENIED:
            assert own == DENIED, f"{route} {role}: a 403 for a foreign id confirms it exists"
        if route not in SHARED:
            assert role == "admin" or foreign not in (OK, MADE), f"{route} {role} crosses tenants"


@pytest.mark.hazard("H-10.1")
@pytest.mark.parametrize("path", ["/pharmacies/{id}", "/households/{id}", "/patients/{id}"])
def test_a_foreign_id_gets_exactly_what_a_random_id_gets(
    world: World, subtests: pytest.Subtests, path: str
) -> None:
    away = build_side(world, world.away)
    foreign_id = {
        "/pharmacies/{id}": str(away.pharmacy_id),
        "/households/{id}": away.household_id,
        "/patients/{id}": away.patient_id,
    }[path]
    random_id = str(uuid.uuid4())

    for role in ROLES[:-1]:  # every role but admin, who sees every pharmacy
        with subtests.test(role=role):
            foreign = world.get(API + path.format(id=foreign_id), role=role)
            random = world.get(API + path.format(id=random_id), role=role)

            assert foreign.status_code == random.status_code == 404
            # Same headers but the request id, which is new on every response.
            assert _without_request_id(foreign.headers) == _without_request_id(random.headers)
            blank = {"instance": "", "detail": ""}
            assert foreign.json() | blank == random.json() | blank
            assert (
                foreign.json()["detail"].replace(foreign_id, random_id) == random.json()["detail"]
            )


def test_a_foreign_patient_searched_by_exact_nhs_number_returns_no_items(
    world: World, subtests: pytest.Subtests
) -> None:
    away = build_side(world, world.away)
    nhs = away.patient_nhs

    for role in ROLES:
        for q in (nhs, f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}"):
            with subtests.test(role=role, q=q):
                response = world.get("/api/v1/patients", role=role, params={"q": q})

                assert response.status_code == 200, response.text
                if role == "admin":
                    assert [p["id"] for p in response.json()["items"]] == [away.patient_id]
                else:
                    assert response.json() == {"items": [], "next": None}


def _without_request_id(headers: Any) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() != "x-request-id"}


@pytest.mark.hazard("H-27.1")
def test_a_clinician_account_is_denied_every_route_of_the_matrix(
    world: World, subtests: pytest.Subtests
) -> None:
    """The look-up's clinician (issue 19 §4) may look up a last dose and nothing else: every
    route here, with a body a permitted role would send, is 403 for own and foreign records
    alike (tests/lookup/test_links_and_scope.py walks every other route)."""
    username = unique("clin")
    auth_service.add_user(
        world.uow,
        actor=SYSTEM,
        username=username,
        password=PASSWORD,
        role="clinician",
        now=NOW,
        settings=world.settings.auth,
    )
    world.home.tokens["clinician"] = auth_service.sign_in(
        world.uow,
        username=username,
        password=PASSWORD,
        client="test",
        kind="api",
        now=NOW,
        settings=world.settings.auth,
    ).token
    home = build_side(world, world.home)
    away = build_side(world, world.away)
    for route, scope, _ in MATRIX:
        with subtests.test(route=route, scope=scope):
            response = call_route(route)(world, "clinician", away if scope == "foreign" else home)

            assert response.status_code == 403, response.text
            assert response.json()["code"] == "permission_denied"


@pytest.mark.hazard("H-28.2")
def test_a_guest_pharmacy_sees_every_matrix_route_as_any_other_pharmacy_does(
    world: World, subtests: pytest.Subtests, clock: FixedClock
) -> None:
    """Guest dosing (issue 19 §2) opens the counter and nothing else: while the home branch
    doses the other pharmacy's patient as a guest, every route of the matrix answers the home
    branch's staff about that patient, their household and their pharmacy exactly as the
    matrix's foreign column says, and leaks none of the other pharmacy's secrets."""
    clock.set(at(MONDAY, 8))
    away = build_side(world, world.away)
    rx = prescribe(world, away.patient_id, branch=world.away)
    with world.uow:
        home_ods = world.uow.session.get(Pharmacy, world.home.pharmacy_id).ods_code  # type: ignore[union-attr]
    granted = world.post(
        f"{API}/prescriptions/{rx['id']}/guest-grants",
        {
            "guest_ods_code": home_ods,
            "from_date": MONDAY.isoformat(),
            "to_date": (MONDAY + timedelta(days=4)).isoformat(),
            "note": "Staying near the home branch",
        },
        branch=world.away,
    )
    assert granted.status_code == 201, granted.text
    counter = world.post(f"{API}/counter/check", {"patient_id": away.patient_id})
    assert counter.status_code == 200, counter.text  # the grant is live: the counter opens

    for route, scope, row in MATRIX:
        if scope != "foreign":
            continue
        for role, expected in zip(ROLES, row, strict=True):
            if role == "admin":
                continue
            with subtests.test(route=route, role=role):
                response = call_route(route)(world, role, away)
                assert response.status_code == STATUS[expected], response.text
                if expected == EMPTY:
                    assert target_id(route, away) not in response.text
                for secret in away.secrets:
                    assert secret not in response.text, f"{route}: {secret!r} leaked"
