"""Builders shared by the tests that drive the app: prescriptions, handovers, close-day, alerts,
adherence, audit read-backs, races between terminals, signed-in browsers without a browser, and
the rows the browser tests seed on a live server.

Everything here goes through the API (or, for the live server, the services an import would
use). The World and its branches are in tests/factories.py, databases in tests/databases.py,
and the pure rule builders, which must not bring in the database or the web framework, in
tests/rule_builders.py.

The suite's "now" is Saturday 28 November 2026; the home pharmacy opens Monday to Saturday.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.actor import SYSTEM
from app.audit.models import AuditEvent
from app.auth import service as auth_service
from app.auth.models import User
from app.dosing.models import InstalmentDay
from app.households import service as households_service
from app.households.models import Household
from app.patients import service as patients_service
from app.patients.models import Patient
from app.prescriptions.models import Prescription
from app.safeguarding.models import Alert
from tests.factories import PASSWORD, Branch, World, make_branch, nhs_number

if TYPE_CHECKING:
    from tests.web.live import LiveServer

API = "/api/v1"
MONDAY = date(2026, 11, 30)


def at(day: date, hour: int = 9, minute: int = 30) -> datetime:
    """`hour:minute` UTC on `day` (London is on GMT in November and December)."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


# --- prescriptions ----------------------------------------------------------------------------


def fp10mda(world: World, patient_id: str, **overrides: Any) -> dict[str, Any]:
    """60 mg daily for 14 days, supervised Monday–Saturday, Sunday at home, closed-day wording."""
    return {
        "patient_id": patient_id,
        "prescriber_id": str(world.prescriber_id),
        "product": "methadone-1mg-ml",
        "daily_dose_mg": "60",
        "form_type": "FP10MDA",
        "written_on": "2026-11-26",
        "start_on": MONDAY.isoformat(),
        "end_on": (MONDAY + timedelta(days=13)).isoformat(),
        "total_quantity_ml": "840",
        "total_quantity_words": "eight hundred and forty",
        "supervised_days": ["mon", "tue", "wed", "thu", "fri", "sat"],
        "collection_days": ["mon", "tue", "wed", "thu", "fri", "sat"],
        "wording": {"closed_day_prior": True, "supervise_on_collection": True},
        "direction_text": "60mg (60ml) daily. Supervised consumption Mon-Sat. "
        "Sunday dose to be collected on Saturday.",
        # A patient new to treatment: days without a dose count from the first dose day here.
        "last_dose": {"source": "induction"},
        **overrides,
    }


def prescribe(
    world: World, patient_id: str, branch: Branch | None = None, **overrides: Any
) -> dict[str, Any]:
    """Transcribe (pharmacist) and check (a second pharmacist): the schedule is the ledger."""
    created = world.post(
        f"{API}/prescriptions", fp10mda(world, patient_id, **overrides), branch=branch
    )
    assert created.status_code == 201, created.text
    checked = world.post(
        f"{API}/prescriptions/{created.json()['id']}/verify", {}, role="pharmacist2", branch=branch
    )
    assert checked.status_code == 200, checked.text
    return dict(checked.json())


def twice_weekly_take_home(mg: int = 40, start: date = MONDAY, days: int = 14) -> dict[str, Any]:
    """Collection Monday and Thursday, nothing supervised, with the closed-day wording."""
    return {
        "daily_dose_mg": str(mg),
        "start_on": start.isoformat(),
        "end_on": (start + timedelta(days=days - 1)).isoformat(),
        "total_quantity_ml": str(mg * days),
        "total_quantity_words": {
            560: "five hundred and sixty",
            280: "two hundred and eighty",
            420: "four hundred and twenty",
        }[mg * days],
        "supervised_days": [],
        "collection_days": ["mon", "thu"],
        "wording": {"closed_day_prior": True},
        "direction_text": f"{mg}mg ({mg}ml) daily. Collect Monday and Thursday for the days to "
        "the next collection. If the pharmacy is closed, supply on the prior open day.",
    }


def supervised_daily(mg: int = 60, start: date = MONDAY, days: int = 14) -> dict[str, Any]:
    every = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    return {
        "daily_dose_mg": str(mg),
        "start_on": start.isoformat(),
        "end_on": (start + timedelta(days=days - 1)).isoformat(),
        "total_quantity_ml": str(mg * days),
        "total_quantity_words": {
            840: "eight hundred and forty",
            360: "three hundred and sixty",
            180: "one hundred and eighty",
            600: "six hundred",
            420: "four hundred and twenty",
        }[mg * days],
        "supervised_days": every,
        "collection_days": every,
        "wording": {"supervise_on_collection": True},
        "direction_text": f"{mg}mg ({mg}ml) daily, supervised consumption every day.",
    }


# --- prescription intake: a form as written, its schedule, what it wrote ---------------------

ALL_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
MON_SAT = ALL_DAYS[:6]
DIRECTION = (
    "Methadone 1mg/ml oral solution. 60mg (60ml) daily. Supervised consumption Monday to "
    "Saturday. Dispense instalments due on pharmacy closed days on a prior suitable day."
)


def daily(world: World, patient_id: str, **overrides: Any) -> dict[str, Any]:
    """The issue's form: 60 mg daily for 14 days from Monday 30 November, supervised Monday to
    Saturday, Sunday's dose taken home; an instalment is due every day (seven collection days,
    docs/decisions.md), so the closed Sunday needs the closed-day wording, which it carries."""
    body = {
        "collection_days": ALL_DAYS,
        "supervised_days": MON_SAT,
        "wording": {"closed_day_prior": True},
        "direction_text": DIRECTION,
        **overrides,
    }
    return fp10mda(world, patient_id, **body)


def form(
    world: World,
    patient_id: str,
    start: date,
    days: int,
    dose_mg: int = 60,
    words: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """`daily()` moved to start on `start` and cover `days` days of `dose_mg` (1 mg/mL)."""
    return daily(
        world,
        patient_id,
        daily_dose_mg=str(dose_mg),
        start_on=start.isoformat(),
        end_on=(start + timedelta(days=days - 1)).isoformat(),
        total_quantity_ml=str(dose_mg * days),
        total_quantity_words=words or WORDS[dose_mg * days],
        **overrides,
    )


# Totals used by the tests, in words as a prescriber writes them.
WORDS = {
    60: "sixty",
    180: "one hundred and eighty",
    240: "two hundred and forty",
    420: "four hundred and twenty",
    560: "five hundred and sixty",
    600: "six hundred",
    840: "eight hundred and forty",
    900: "nine hundred",
    910: "nine hundred and ten",
    980: "nine hundred and eighty",
    1120: "one thousand one hundred and twenty",
    1260: "one thousand two hundred and sixty",
    1680: "one thousand six hundred and eighty",
}

# The schedule a pharmacist writes by hand for the form: every day supervised at the counter
# except Sunday, which goes home with Saturday's dose.
BY_HAND = [
    ("2026-11-30", "2026-11-30", "supervised"),
    ("2026-12-01", "2026-12-01", "supervised"),
    ("2026-12-02", "2026-12-02", "supervised"),
    ("2026-12-03", "2026-12-03", "supervised"),
    ("2026-12-04", "2026-12-04", "supervised"),
    ("2026-12-05", "2026-12-05", "supervised"),
    ("2026-12-06", "2026-12-05", "take_home"),
    ("2026-12-07", "2026-12-07", "supervised"),
    ("2026-12-08", "2026-12-08", "supervised"),
    ("2026-12-09", "2026-12-09", "supervised"),
    ("2026-12-10", "2026-12-10", "supervised"),
    ("2026-12-11", "2026-12-11", "supervised"),
    ("2026-12-12", "2026-12-12", "supervised"),
    ("2026-12-13", "2026-12-12", "take_home"),
]


def transcribe(world: World, body: dict[str, Any], role: str = "pharmacist") -> dict[str, Any]:
    response = world.post(f"{API}/prescriptions", body, role=role)
    assert response.status_code == 201, response.text
    return dict(response.json())


def verify(world: World, prescription_id: str, role: str = "pharmacist2") -> dict[str, Any]:
    response = world.post(f"{API}/prescriptions/{prescription_id}/verify", {}, role=role)
    assert response.status_code == 200, response.text
    return dict(response.json())


def active(world: World, body: dict[str, Any]) -> dict[str, Any]:
    """Transcribed by the pharmacist, checked by the second pharmacist.

    For any form body; `prescribe` does the same for the `fp10mda` form with overrides."""
    return verify(world, transcribe(world, body)["id"])


def rows(schedule: list[dict[str, Any]]) -> list[tuple[str, str, str, Decimal, str]]:
    """A schedule as (dose date, collect on, mode, mg, state): what a pharmacist writes down."""
    return [
        (d["dose_date"], d["collect_on"], d["mode"], Decimal(d["dose_mg"]), d["state"])
        for d in schedule
    ]


def ledger(world: World, patient_id: str) -> list[tuple[date, date, str, str, str]]:
    """The instalment days in the database for a patient: (dose, collect, mode, state, rx id)."""
    with world.uow:
        found = world.uow.session.execute(
            select(
                InstalmentDay.dose_date,
                InstalmentDay.collect_on,
                InstalmentDay.mode,
                InstalmentDay.state,
                InstalmentDay.prescription_id,
            )
            .where(InstalmentDay.patient_id == UUID(patient_id))
            .order_by(InstalmentDay.dose_date)
        ).all()
    return [(d, c, m, s, str(p)) for d, c, m, s, p in found]


def counts(world: World) -> dict[str, int]:
    """Rows in the tables a prescription writes (the worker's database is used by one test at
    a time, so any change is this test's)."""
    with world.uow:
        session = world.uow.session
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Prescription, InstalmentDay, Alert)
        }


def d(day: date) -> str:
    return day.isoformat()


# --- the audit trail --------------------------------------------------------------------------


def audit_actions(world: World, entity_id: str) -> list[str]:
    with world.uow:
        return list(
            world.uow.session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.entity_id == entity_id)
                .order_by(AuditEvent.seq)
            )
        )


def audit_facts(world: World, entity_id: str, action: str) -> list[dict[str, Any]]:
    with world.uow:
        return list(
            world.uow.session.scalars(
                select(AuditEvent.facts)
                .where(AuditEvent.entity_id == entity_id, AuditEvent.action == action)
                .order_by(AuditEvent.seq)
            )
        )


# --- the counter ------------------------------------------------------------------------------

# Guidance prompts the counter may show; a handover acknowledges the ones a test expects.
WARNINGS = [
    "household_methadone_high",
    "dose_changed",
    "prescription_ending",
    "high_dose",
    "young_child_take_home",
]


def handover(
    patient_id: str, day: date, outcome: str = "supervised", **overrides: Any
) -> dict[str, Any]:
    return {
        "patient_id": patient_id,
        "date": day.isoformat(),
        "outcome": outcome,
        "collector": "patient",
        "id_checked": True,
        "intoxicated": False,
        "children_present": [],
        # A multi-day bottle goes home with a measure; the counter refuses it without one.
        "measuring_device": outcome == "collected",
        **overrides,
    }


def hand_over_supervised(world: World, patient_id: str, day: date) -> None:
    """Record today's supervised dose at the counter.

    A variant of `handover` kept on purpose: it posts the bare body the intake tests were
    written against (no collector, ID check or measuring device), so a schedule test does not
    depend on the counter's fuller handover form."""
    body = {
        "patient_id": patient_id,
        "date": day.isoformat(),
        "outcome": "supervised",
        "intoxicated": False,
        "children_present": [],
    }
    response = world.post(f"{API}/counter/handover", body)
    assert response.status_code == 201, response.text


def check(world: World, patient_id: str, branch: Branch | None = None) -> dict[str, Any]:
    response = world.post(f"{API}/counter/check", {"patient_id": patient_id}, branch=branch)
    assert response.status_code == 200, response.text
    return dict(response.json())


def codes(items: list[dict[str, Any]]) -> list[str]:
    return [item["code"] for item in items]


def close_day(world: World, day: date, branch: Branch | None = None) -> dict[str, Any]:
    branch = branch or world.home
    response = world.post(
        f"{API}/pharmacies/{branch.pharmacy_id}/close-day", {"date": day.isoformat()}, branch=branch
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def alerts(
    world: World, branch: Branch | None = None, role: str = "pharmacist", **params: Any
) -> list[dict[str, Any]]:
    response = world.get(f"{API}/alerts", role=role, branch=branch, params={"limit": 200, **params})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def adherence(
    world: World, patient_id: str, start: date, end: date, role: str = "pharmacist"
) -> dict[str, Any]:
    response = world.get(
        f"{API}/patients/{patient_id}/adherence",
        role=role,
        params={"from": start.isoformat(), "to": end.isoformat()},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


SUNDAY_LABEL_DAY = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)  # Saturday: Saturday + Sunday doses
# A prescription starting that Saturday: the patient is new to treatment, so starting on the
# Saturday means no days without a dose before it.
FROM_SATURDAY = {"start_on": "2026-12-05", "end_on": "2026-12-18"}


def take_home(world: World, patient: dict[str, Any], **extra: Any) -> Any:
    body = {
        "patient_id": patient["id"],
        "date": "2026-12-05",
        "outcome": "supervised",
        "intoxicated": False,
        "acknowledged": ["dose_changed"],
        "override": {"code": "children_not_confirmed", "reason": "Lives alone, confirmed"},
        **extra,
    }
    return world.post("/api/v1/counter/handover", body)


# --- other branches and later dates -----------------------------------------------------------


def seven_day_branch(world: World) -> Branch:
    """A pharmacy open every day, staffed like the home branch and sharing its contacts."""
    return make_branch(
        world.uow,
        world.settings,
        open_weekdays=tuple(range(7)),
        contacts={"key_worker": world.key_worker_id, "prescriber": world.prescriber_id},
    )


def sign_in_again(world: World, branch: Branch, now: datetime) -> None:
    """Fresh tokens for every member of staff, for scenarios months after the suite's NOW."""
    with world.uow:
        names = {
            user_id: username
            for user_id, username in world.uow.session.execute(
                select(User.id, User.username).where(User.id.in_(branch.users.values()))
            )
        }
    for role, user_id in branch.users.items():
        branch.tokens[role] = auth_service.sign_in(
            world.uow,
            username=names[user_id],
            password=PASSWORD,
            client="test",
            kind="api",
            now=now,
            settings=world.settings.auth,
        ).token


def household_at(world: World, branch: Branch) -> dict[str, Any]:
    response = world.post(
        f"{API}/households",
        {"address": "2 Seed Street, Testtown", "postcode": "TT1 2AA"},
        branch=branch,
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


# --- terminals at the same moment -------------------------------------------------------------

T = TypeVar("T")


def race(count: int, work: Callable[[int], T]) -> list[T | BaseException]:
    """Run `work(i)` in `count` threads released together; return results (or exceptions)."""
    barrier = threading.Barrier(count)
    results: list[T | BaseException] = [RuntimeError("not run")] * count

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = work(index)
        except BaseException as exc:  # noqa: BLE001 - reported to the test, never swallowed
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,), name=f"terminal-{i}") for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a request never finished"
    return results


# --- web sessions without a browser -----------------------------------------------------------
# The TestClient talks plain http:// and a `Secure` cookie is never sent over http, so `Browser`
# keeps each browser's cookies by hand: a test can also plant any cookie it likes.

SESSION = "__Host-session"
ME = "/api/v1/me"
OWN_ORIGIN = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
PAGE = {"Accept": "text/html,application/xhtml+xml"}
# The TestClient answers with its own httpx (httpx2 or httpx, whichever starlette found).
Response = Any


@dataclass(frozen=True)
class SetCookie:
    name: str
    value: str
    attributes: dict[str, str]  # lower-cased attribute names; bare flags map to ""


def set_cookies(response: Response) -> list[SetCookie]:
    """Every Set-Cookie header, parsed as sent (not as a cookie jar would normalise it)."""
    parsed = []
    for header in response.headers.get_list("set-cookie"):
        first, *rest = header.split(";")
        name, _, value = first.strip().partition("=")
        attributes = {}
        for part in rest:
            key, _, val = part.strip().partition("=")
            attributes[key.lower()] = val
        parsed.append(SetCookie(name, value, attributes))
    return parsed


@dataclass
class Browser:
    """One browser: its own cookies, sent explicitly on every request; redirects not followed."""

    client: TestClient
    jar: dict[str, str] = field(default_factory=dict)
    seen: list[SetCookie] = field(default_factory=list)

    def send(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kw: Any
    ) -> Response:
        headers = dict(headers or {})
        if self.jar:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.jar.items())
        self.client.cookies.clear()  # the shared client must not carry cookies between browsers
        response = self.client.request(method, path, headers=headers, follow_redirects=False, **kw)
        self.client.cookies.clear()
        for cookie in set_cookies(response):
            self.seen.append(cookie)
            if cookie.attributes.get("max-age") == "0":
                self.jar.pop(cookie.name, None)
            else:
                self.jar[cookie.name] = cookie.value
        return response

    def page(self, path: str) -> Response:
        return self.send("GET", path, headers=PAGE)

    def api(self, method: str, path: str, **kw: Any) -> Response:
        return self.send(method, path, **kw)

    def sign_in(self, username: str, password: str = PASSWORD) -> Response:
        form = self.page("/login")
        assert form.status_code == 200, form.text
        match = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert match
        return self.send(
            "POST",
            "/login",
            data={"username": username, "password": password, "csrf": match.group(1)},
            headers={**PAGE, **OWN_ORIGIN},
        )

    @property
    def session(self) -> str | None:
        return self.jar.get(SESSION)

    def csrf_token(self) -> str:
        """The session's CSRF token, as a page carries it for its scripts."""
        home = self.page("/")
        assert home.status_code == 303, home.text
        page = self.page(home.headers["location"])
        assert page.status_code == 200, page.text
        match = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
        assert match, "a signed-in page carries the CSRF token"
        return match.group(1)

    def whoami(self) -> Response:
        return self.api("GET", ME)

    def sign_out(self, csrf: str | None = None, **headers: str) -> Response:
        token = self.csrf_token() if csrf is None else csrf
        return self.send(
            "POST", "/logout", data={"csrf": token}, headers={**PAGE, **OWN_ORIGIN, **headers}
        )


def signed_in(world: World, role: str = "pharmacist") -> Browser:
    browser = Browser(world.client)
    response = browser.sign_in(world.home.usernames[role])
    assert response.status_code == 303, response.text
    assert browser.session is not None
    return browser


# --- rows the browser tests seed on the live server -------------------------------------------


def uk(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def spaced(number: str) -> str:
    return f"{number[:3]} {number[3:6]} {number[6:]}"


def count(live: LiveServer, query: object) -> int:
    with live.uow:
        return int(live.uow.session.scalar(query) or 0)  # type: ignore[call-overload]


def register(
    live: LiveServer, family: str, *, household_id: uuid.UUID | None = None, born: date
) -> Patient:
    """A patient of the demo pharmacy, registered as an import would (not through the page)."""
    pharmacy_id = live.user("pharmacist").pharmacy_id
    assert pharmacy_id is not None
    return patients_service.register_patient(
        live.uow,
        actor=SYSTEM,
        given_name="Rowan",
        family_name=family,
        date_of_birth=born,
        nhs_number=nhs_number(),
        pharmacy_id=pharmacy_id,
        household_id=household_id,
        key_worker_id=live.contact_id("Sam Keyworker"),
        prescriber_id=live.contact_id("Dr Alex Prescriber"),
        today=live.today,
        now=live.clock.now(),
    )


def household(live: LiveServer, address: str) -> Household:
    return households_service.create_household(
        live.uow,
        actor=SYSTEM,
        address=address,
        postcode="LS1 4AB",
        pharmacy_id=live.user("pharmacist").pharmacy_id,
        now=live.clock.now(),
    )
