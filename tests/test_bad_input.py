"""Bad input is refused with a problem document that names the field and the rule, and nothing
is written: no row in any table, no audit event."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, inspect, select, table, text

from tests.factories import NOW, World, nhs_number, unique

TODAY = NOW.date()
BIG = "x" * 10_000


@dataclass
class Ctx:
    world: World
    household: dict[str, Any]
    patient: dict[str, Any]
    foreign_household: dict[str, Any]
    foreign_patient: dict[str, Any]

    def patient_body(self, **overrides: Any) -> dict[str, Any]:
        return {
            "given_name": "Bad",
            "family_name": unique("Input"),
            "date_of_birth": "1985-02-03",
            "nhs_number": nhs_number(),
            "pharmacy_id": str(self.world.home.pharmacy_id),
            **overrides,
        }


@pytest.fixture
def ctx(world: World) -> Ctx:
    household = world.household()
    patient = world.patient(household["id"])
    response = world.post(
        "/api/v1/households", {"address": "1 Far Away", "postcode": "FA1 1AA"}, branch=world.away
    )
    assert response.status_code == 201, response.text
    foreign_household = response.json()
    foreign_patient = world.patient(
        foreign_household["id"], branch=world.away, key_worker_id=None, prescriber_id=None
    )
    return Ctx(world, household, patient, foreign_household, foreign_patient)


def row_counts(world: World) -> dict[str, int]:
    """Rows in every table the database has (whatever the models say).

    A 403 or 404 appends one `access.refused` audit event (failed authorisation is logged);
    that record of the attempt is the only thing a refusal may write, so it is counted apart.
    """
    with world.uow:
        session = world.uow.session
        names = inspect(session.connection()).get_table_names()
        counts = {
            name: session.scalar(select(func.count()).select_from(table(name))) or 0
            for name in names
        }
        counts["audit_events"] -= (
            session.scalar(
                select(func.count())
                .select_from(table("audit_events"))
                .where(text("action = 'access.refused'"))
            )
            or 0
        )
        return counts


@dataclass
class Case:
    id: str
    method: str
    path: Callable[[Ctx], str]
    body: Callable[[Ctx], Any] | None
    status: int
    code: str
    errors: tuple[tuple[str, str], ...] = ()  # (field, rule) pairs that must be reported
    role: str = "pharmacist"


def run(ctx: Ctx, case: Case, subtests: pytest.Subtests) -> None:
    world = ctx.world
    with subtests.test(case.id):
        before = row_counts(world)
        url = "/api/v1" + case.path(ctx)
        headers = world.home.headers(case.role)
        body = case.body(ctx) if case.body else None
        if case.method == "GET":
            response = world.client.get(url, headers=headers)
        elif isinstance(body, bytes | str):
            response = world.client.post(
                url, content=body, headers={**headers, "Content-Type": "application/json"}
            )
        else:
            response = world.client.post(url, json=body, headers=headers)

        assert response.status_code == case.status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["code"] == case.code
        assert problem["status"] == case.status
        assert problem["type"].endswith("/" + case.code)
        if case.status == 422:
            reported = {(e["field"], e["rule"]) for e in problem["errors"]}
            assert set(case.errors) <= reported, problem["errors"]
            assert all(e["message"] for e in problem["errors"])
        assert row_counts(world) == before, "a refused request wrote something"


def patients(
    cid: str, status: int, code: str, errors: tuple[tuple[str, str], ...] = (), **overrides: Any
) -> Case:
    return Case(
        cid,
        "POST",
        lambda c: "/patients",
        lambda c: c.patient_body(**overrides),
        status,
        code,
        errors,
    )


def patient_without(field: str) -> Case:
    def body(c: Ctx) -> dict[str, Any]:
        b = c.patient_body()
        del b[field]
        return b

    return Case(
        f"missing {field}",
        "POST",
        lambda c: "/patients",
        body,
        422,
        "invalid_input",
        ((field, "missing"),),
    )


PATIENT_CASES = [
    patients(
        "nhs number with a wrong check digit",
        422,
        "invalid_input",
        (("nhs_number", "not_registrable"),),
        nhs_number="9434765871",
    ),
    patients(
        "nhs number 0000000000",
        422,
        "invalid_input",
        (("nhs_number", "not_registrable"),),
        nhs_number="0000000000",
    ),
    patients(
        "nhs number in fullwidth digits",
        422,
        "invalid_input",
        (("nhs_number", "not_registrable"),),
        nhs_number="９４３４７６５９１９",
    ),
    patients(
        "nhs number with letters",
        422,
        "invalid_input",
        (("nhs_number", "not_registrable"),),
        nhs_number="943476591X",
    ),
    patients(
        "nhs number too short",
        422,
        "invalid_input",
        (("nhs_number", "string_too_short"),),
        nhs_number="943476",
    ),
    patients(
        "nhs number too long",
        422,
        "invalid_input",
        (("nhs_number", "string_too_long"),),
        nhs_number="9" * 15,
    ),
    patients(
        "nhs number as a number",
        422,
        "invalid_input",
        (("nhs_number", "string_type"),),
        nhs_number=9434765919,
    ),
    patients(
        "date of birth as dd/mm/yyyy",
        422,
        "invalid_input",
        (("date_of_birth", "date_from_datetime_parsing"),),
        date_of_birth="17/05/1980",
    ),
    patients(
        "date of birth 30 February",
        422,
        "invalid_input",
        (("date_of_birth", "date_from_datetime_parsing"),),
        date_of_birth="1980-02-30",
    ),
    patients(
        "date of birth in the future",
        422,
        "invalid_input",
        (("date_of_birth", "not_in_future"),),
        date_of_birth=(TODAY + timedelta(days=1)).isoformat(),
    ),
    patients(
        "date of birth 121 years ago",
        422,
        "invalid_input",
        (("date_of_birth", "plausible"),),
        date_of_birth="1900-01-01",
    ),
    patients(
        "given name as a number",
        422,
        "invalid_input",
        (("given_name", "string_type"),),
        given_name=123,
    ),
    patients(
        "given name blank",
        422,
        "invalid_input",
        (("given_name", "string_too_short"),),
        given_name="   ",
    ),
    patients(
        "family name of 10 000 characters",
        422,
        "invalid_input",
        (("family_name", "string_too_long"),),
        family_name=BIG,
    ),
    patients(
        "pregnant as maybe", 422, "invalid_input", (("pregnant", "bool_parsing"),), pregnant="maybe"
    ),
    patients(
        "pharmacy id not a uuid",
        422,
        "invalid_input",
        (("pharmacy_id", "uuid_parsing"),),
        pharmacy_id="pharmacy-1",
    ),
    patients(
        "an unknown field", 422, "invalid_input", (("is_admin", "extra_forbidden"),), is_admin=True
    ),
    patient_without("nhs_number"),
    patient_without("date_of_birth"),
    patient_without("pharmacy_id"),
    Case(
        "prescriber naming a key worker contact",
        "POST",
        lambda c: "/patients",
        lambda c: c.patient_body(prescriber_id=str(c.world.key_worker_id)),
        422,
        "invalid_input",
        (("prescriber_id", "contact_kind"),),
    ),
    Case(
        "a list instead of an object",
        "POST",
        lambda c: "/patients",
        lambda c: [1, 2],
        422,
        "invalid_input",
        (("body", "model_attributes_type"),),
    ),
    Case(
        "malformed json",
        "POST",
        lambda c: "/patients",
        lambda c: b'{"given_name": ',
        422,
        "invalid_input",
    ),
]


def child(
    cid: str,
    status: int,
    code: str,
    errors: tuple[tuple[str, str], ...] = (),
    foreign: bool = False,
    **body: Any,
) -> Case:
    return Case(
        cid,
        "POST",
        lambda c: f"/households/{(c.foreign_household if foreign else c.household)['id']}/children",
        lambda c: {"name": "E.F.", "date_of_birth": "2021-04-04", **body},
        status,
        code,
        errors,
    )


def birthday(years: int, days: int = 0) -> str:
    return (TODAY.replace(year=TODAY.year - years) + timedelta(days=days)).isoformat()


HOUSEHOLD_CASES = [
    child(
        "child born tomorrow",
        422,
        "invalid_input",
        (("date_of_birth", "not_in_future"),),
        date_of_birth=(TODAY + timedelta(days=1)).isoformat(),
    ),
    child(
        "child 18 today",
        422,
        "invalid_input",
        (("date_of_birth", "under_18"),),
        date_of_birth=birthday(18),
    ),
    child(
        "child aged 40",
        422,
        "invalid_input",
        (("date_of_birth", "under_18"),),
        date_of_birth=birthday(40),
    ),
    child(
        "child with an unknown protection status",
        422,
        "invalid_input",
        (("protection_status", "enum"),),
        protection_status="at_risk",
    ),
    child(
        "child date of birth malformed",
        422,
        "invalid_input",
        (("date_of_birth", "date_from_datetime_parsing"),),
        date_of_birth="yesterday",
    ),
    child(
        "child name of 10 000 characters",
        422,
        "invalid_input",
        (("name", "string_too_long"),),
        name=BIG,
    ),
    child(
        "child with an unknown social worker",
        404,
        "not_found",
        social_worker_id=str(uuid.uuid4()),
        protection_status="child_in_need",
    ),
    child(
        "child with a key worker as social worker",
        404,
        "not_found",
        social_worker_id="$key_worker",
        protection_status="child_in_need",
    ),
    child("child in another pharmacy's household", 404, "not_found", foreign=True),
    Case(
        "child in an unknown household",
        "POST",
        lambda c: f"/households/{uuid.uuid4()}/children",
        lambda c: {"name": "G.H.", "date_of_birth": "2021-04-04"},
        404,
        "not_found",
    ),
    Case(
        "household with a malformed postcode",
        "POST",
        lambda c: "/households",
        lambda c: {"address": "1 Road", "postcode": "NOT A POSTCODE"},
        422,
        "invalid_input",
        (("postcode", "string_pattern_mismatch"),),
    ),
    Case(
        "household address of 10 000 characters",
        "POST",
        lambda c: "/households",
        lambda c: {"address": BIG, "postcode": "TT1 1AA"},
        422,
        "invalid_input",
        (("address", "string_too_long"),),
    ),
    Case(
        "household notes of 10 000 characters",
        "POST",
        lambda c: "/households",
        lambda c: {"address": "1 Road", "postcode": "TT1 1AA", "notes": BIG},
        422,
        "invalid_input",
        (("notes", "string_too_long"),),
    ),
    Case(
        "household in another pharmacy",
        "POST",
        lambda c: "/households",
        lambda c: {
            "address": "1 Road",
            "postcode": "TT1 1AA",
            "pharmacy_id": str(c.world.away.pharmacy_id),
        },
        404,
        "not_found",
    ),
    Case(
        "household in an unknown pharmacy",
        "POST",
        lambda c: "/households",
        lambda c: {"address": "1 Road", "postcode": "TT1 1AA", "pharmacy_id": str(uuid.uuid4())},
        404,
        "not_found",
        role="admin",
    ),
    Case(
        "confirmation dated tomorrow",
        "POST",
        lambda c: f"/households/{c.household['id']}/confirmations",
        lambda c: {"confirmed_on": (TODAY + timedelta(days=1)).isoformat()},
        422,
        "invalid_input",
        (("confirmed_on", "not_in_future"),),
    ),
    Case(
        "confirmation of another pharmacy's household",
        "POST",
        lambda c: f"/households/{c.foreign_household['id']}/confirmations",
        lambda c: {},
        404,
        "not_found",
    ),
]

OTHER_CASES = [
    Case(
        "contact of an unknown kind",
        "POST",
        lambda c: "/contacts",
        lambda c: {"name": "N", "organisation": "O", "kind": "plumber", "email": "n@example.org"},
        422,
        "invalid_input",
        (("kind", "enum"),),
    ),
    Case(
        "contact with a malformed email",
        "POST",
        lambda c: "/contacts",
        lambda c: {"name": "N", "organisation": "O", "kind": "mash", "email": "not-an-email"},
        422,
        "invalid_input",
        (("email", "string_pattern_mismatch"),),
    ),
    Case(
        "contact with neither email nor webhook",
        "POST",
        lambda c: "/contacts",
        lambda c: {"name": "N", "organisation": "O", "kind": "mash"},
        422,
        "invalid_input",
        (("email", "required"),),
    ),
    Case(
        "contact webhook at an internal address",
        "POST",
        lambda c: "/contacts",
        lambda c: {
            "name": "N",
            "organisation": "O",
            "kind": "mash",
            "webhook_url": "https://10.0.0.1/hook",
        },
        422,
        "invalid_input",
        (("webhook_url", "internal_address"),),
    ),
    Case(
        "user with an unknown role",
        "POST",
        lambda c: "/users",
        lambda c: {
            "username": unique("u"),
            "password": "long enough password",
            "role": "superuser",
            "display_name": "U",
        },
        422,
        "invalid_input",
        (("role", "enum"),),
        role="admin",
    ),
    Case(
        "user with a short password",
        "POST",
        lambda c: "/users",
        lambda c: {
            "username": unique("u"),
            "password": "short",
            "role": "admin",
            "display_name": "U",
        },
        422,
        "invalid_input",
        (("password", "string_too_short"),),
        role="admin",
    ),
    Case(
        "user with an unknown pharmacy",
        "POST",
        lambda c: "/users",
        lambda c: {
            "username": unique("u"),
            "password": "long enough password",
            "role": "technician",
            "display_name": "U",
            "pharmacy_id": str(uuid.uuid4()),
        },
        404,
        "not_found",
        role="admin",
    ),
    Case(
        "pharmacy with the same weekday twice",
        "POST",
        lambda c: "/pharmacies",
        lambda c: {
            "name": "P",
            "ods_code": "FZZ99",
            "address": "A",
            "phone": "01632 960000",
            "open_weekdays": [1, 1],
        },
        422,
        "invalid_input",
        (("open_weekdays", "value_error"),),
        role="admin",
    ),
    Case(
        "pharmacy open on day 7",
        "POST",
        lambda c: "/pharmacies",
        lambda c: {
            "name": "P",
            "ods_code": "FZZ99",
            "address": "A",
            "phone": "01632 960000",
            "open_weekdays": [7],
        },
        422,
        "invalid_input",
        (("open_weekdays.0", "less_than_equal"),),
        role="admin",
    ),
    Case(
        "patient id not a uuid",
        "GET",
        lambda c: "/patients/1",
        None,
        422,
        "invalid_input",
        (("patient_id", "uuid_parsing"),),
    ),
    Case(
        "page size of zero",
        "GET",
        lambda c: "/patients?limit=0",
        None,
        422,
        "invalid_input",
        (("limit", "greater_than_equal"),),
    ),
    Case(
        "page size as words",
        "GET",
        lambda c: "/patients?limit=ten",
        None,
        422,
        "invalid_input",
        (("limit", "int_parsing"),),
    ),
    Case(
        "cursor that is not a number",
        "GET",
        lambda c: "/patients?cursor=abc",
        None,
        422,
        "invalid_input",
        (("cursor", "string_pattern_mismatch"),),
    ),
    Case(
        "search text of 10 000 characters",
        "GET",
        lambda c: f"/patients?q={BIG}",
        None,
        422,
        "invalid_input",
        (("q", "string_too_long"),),
    ),
    Case("unknown patient", "GET", lambda c: f"/patients/{uuid.uuid4()}", None, 404, "not_found"),
    Case(
        "unknown household", "GET", lambda c: f"/households/{uuid.uuid4()}", None, 404, "not_found"
    ),
    Case(
        "unknown pharmacy", "GET", lambda c: f"/pharmacies/{uuid.uuid4()}", None, 404, "not_found"
    ),
    Case("unknown contact", "GET", lambda c: f"/contacts/{uuid.uuid4()}", None, 404, "not_found"),
    Case(
        "another pharmacy's patient",
        "GET",
        lambda c: f"/patients/{c.foreign_patient['id']}",
        None,
        404,
        "not_found",
    ),
    Case(
        "another pharmacy's household",
        "GET",
        lambda c: f"/households/{c.foreign_household['id']}",
        None,
        404,
        "not_found",
    ),
]

UNKNOWN_REFERENCE_CASES = [
    Case(
        f"patient naming an unknown {field}",
        "POST",
        lambda c, f=field: "/patients",
        lambda c, f=field: c.patient_body(**{f: str(uuid.uuid4())}),
        404,
        "not_found",
        role="admin",
    )
    for field in ("pharmacy_id", "household_id", "key_worker_id", "prescriber_id")
] + [
    Case(
        "patient in another pharmacy",
        "POST",
        lambda c: "/patients",
        lambda c: c.patient_body(pharmacy_id=str(c.world.away.pharmacy_id)),
        404,
        "not_found",
    ),
    Case(
        "patient in another pharmacy's household",
        "POST",
        lambda c: "/patients",
        lambda c: c.patient_body(household_id=c.foreign_household["id"]),
        404,
        "not_found",
    ),
    Case(
        "patient with an NHS number already registered",
        "POST",
        lambda c: "/patients",
        lambda c: c.patient_body(nhs_number=c.patient["nhs_number"]),
        409,
        "duplicate_nhs_number",
    ),
    Case(
        "patient with a registered NHS number typed with spaces",
        "POST",
        lambda c: "/patients",
        lambda c: c.patient_body(
            nhs_number=" ".join(
                (
                    c.patient["nhs_number"][:3],
                    c.patient["nhs_number"][3:6],
                    c.patient["nhs_number"][6:],
                )
            )
        ),
        409,
        "duplicate_nhs_number",
    ),
    Case(
        # Refused exactly as an invalid number: never confirms another branch holds it.
        "patient with another pharmacy's registered NHS number",
        "POST",
        lambda c: "/patients",
        lambda c: c.patient_body(nhs_number=c.foreign_patient["nhs_number"]),
        422,
        "invalid_input",
        (("nhs_number", "not_registrable"),),
    ),
]


def resolve(case: Case, ctx: Ctx) -> Case:
    """Fill placeholders that need the world (the key worker contact's id)."""
    if case.body is None:
        return case
    original = case.body

    def body(c: Ctx) -> Any:
        value = original(c)
        if isinstance(value, dict):
            return {
                k: str(c.world.key_worker_id) if v == "$key_worker" else v for k, v in value.items()
            }
        return value

    return Case(
        case.id, case.method, case.path, body, case.status, case.code, case.errors, case.role
    )


@pytest.mark.parametrize(
    "cases",
    [
        pytest.param(PATIENT_CASES, id="patients"),
        pytest.param(HOUSEHOLD_CASES, id="households and children"),
        pytest.param(OTHER_CASES, id="contacts users pharmacies queries and ids"),
        pytest.param(UNKNOWN_REFERENCE_CASES, id="references and duplicates"),
    ],
)
def test_bad_input_is_a_problem_naming_the_field_and_nothing_is_written(
    ctx: Ctx, subtests: pytest.Subtests, cases: list[Case]
) -> None:
    for case in cases:
        run(ctx, resolve(case, ctx), subtests)


def test_a_child_just_under_18_is_accepted_and_one_aged_18_is_not(ctx: Ctx) -> None:
    path = f"/api/v1/households/{ctx.household['id']}/children"
    young = ctx.world.post(path, {"name": "J.K.", "date_of_birth": birthday(18, days=1)})
    grown = ctx.world.post(path, {"name": "L.M.", "date_of_birth": birthday(18)})

    assert young.status_code == 201, young.text
    assert grown.status_code == 422, grown.text


def test_a_child_born_today_is_accepted(ctx: Ctx) -> None:
    response = ctx.world.post(
        f"/api/v1/households/{ctx.household['id']}/children",
        {"name": "N.O.", "date_of_birth": TODAY.isoformat()},
    )
    assert response.status_code == 201, response.text
    assert response.json()["date_of_birth"] == date.isoformat(TODAY)


def test_an_nhs_number_typed_with_spaces_is_stored_as_ten_digits(ctx: Ctx) -> None:
    number = nhs_number()
    response = ctx.world.post(
        "/api/v1/patients", ctx.patient_body(nhs_number=f"{number[:3]} {number[3:6]}-{number[6:]}")
    )

    assert response.status_code == 201, response.text
    assert response.json()["nhs_number"] == number
