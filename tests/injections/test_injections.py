"""Long-acting buprenorphine injections (issue 20 §3), replayed day by day with close of day
every evening: a weekly dose not given is found overdue by itself, told once to the prescriber
and the key worker, and resolved when the dose is recorded; a monthly course the same with its
own window; a stopped course raises nothing; another pharmacy sees nothing; the log is
append-only."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError

from app.clock import FixedClock
from app.injections.models import InjectionAdministration, InjectionCourse, InjectionCourseStop
from tests.builders import API, MONDAY, alerts, at, close_day
from tests.databases import Database
from tests.factories import World


def start(
    world: World, patient_id: str, product: str = "buvidal-weekly", mg: int = 16, **extra: Any
) -> dict[str, Any]:
    response = world.post(
        f"{API}/patients/{patient_id}/injections",
        {"product": product, "dose_mg": mg, "started_on": MONDAY.isoformat(), **extra},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def dose(when: datetime, mg: int = 16, place: str = "here", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "place": place,
        "given_at": when.isoformat(),
        "dose_mg": mg,
        "site": "abdomen",
        "batch": "BX1234",
        "expires_on": "2027-06-30",
    }
    if place == "elsewhere":
        body |= {
            "place_name": "Demotown Drug Service clinic",
            "given_by": "N. Nurse",
            "given_by_role": "nurse",
        }
    return body | extra


def give(
    world: World, patient_id: str, course_id: str, body: dict[str, Any], role: str = "pharmacist"
) -> Any:
    return world.post(
        f"{API}/patients/{patient_id}/injections/{course_id}/administrations", body, role=role
    )


def courses(world: World, patient_id: str, role: str = "pharmacist") -> list[dict[str, Any]]:
    response = world.get(f"{API}/patients/{patient_id}/injections", role=role)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def overdue_alerts(world: World, patient_id: str) -> list[dict[str, Any]]:
    return [a for a in alerts(world, patient_id=patient_id) if a["kind"] == "injection_overdue"]


def told(world: World, alert: dict[str, Any]) -> set[str]:
    detail = world.get(f"{API}/alerts/{alert['id']}", role="safeguarding_lead")
    assert detail.status_code == 200, detail.text
    return {str(d["contact_id"]) for d in detail.json()["deliveries"]}


def evenings(world: World, clock: FixedClock, first: date, last: date) -> None:
    day = first
    while day <= last:
        clock.set(at(day, 19))
        close_day(world, day)
        day += timedelta(days=1)


@pytest.mark.hazard("H-33.1")
def test_a_weekly_dose_not_given_is_told_once_to_the_prescriber_and_key_worker(
    world: World, clock: FixedClock
) -> None:
    patient = world.patient()
    clock.set(at(MONDAY, 12))
    course = start(world, patient["id"])
    given = give(world, patient["id"], course["id"], dose(at(MONDAY, 10)))
    assert given.status_code == 201, given.text
    assert given.json()["given_on"] == MONDAY.isoformat()

    # Due the next Monday; the licence allows 2 days after it: Wednesday is the last day.
    due = MONDAY + timedelta(days=7)
    last_day = due + timedelta(days=2)
    evenings(world, clock, MONDAY, last_day)
    assert overdue_alerts(world, patient["id"]) == []
    clock.set(at(last_day, 20))
    (status,) = [c["status"] for c in courses(world, patient["id"])]
    assert status["state"] == "due"
    assert status["next_due"] == due.isoformat()

    # Thursday evening: overdue, raised by close of day alone.
    overdue_day = last_day + timedelta(days=1)
    evenings(world, clock, overdue_day, overdue_day)
    (alert,) = overdue_alerts(world, patient["id"])
    assert alert["severity"] == "urgent"
    assert alert["state"] == "open"
    assert set(alert["recipients"]) == {"prescriber", "key_worker"}
    assert {str(world.prescriber_id), str(world.key_worker_id)} <= told(world, alert)
    assert "overdue" in alert["message"]
    assert "Mon 7 Dec 2026" in alert["message"]
    assert patient["family_name"] not in alert["message"]  # it may be sent: no name
    (status,) = [c["status"] for c in courses(world, patient["id"])]
    assert status["state"] == "overdue"
    assert status["days_overdue"] == 3
    assert status["words"].startswith("Overdue:")

    # The next evenings add nothing: one alert per overdue dose.
    evenings(world, clock, overdue_day + timedelta(days=1), overdue_day + timedelta(days=3))
    assert len(overdue_alerts(world, patient["id"])) == 1

    # The dose is given at the clinic; recording it resolves the alert and moves the next due.
    given_on = overdue_day + timedelta(days=3)
    clock.set(at(given_on, 15))
    late = give(
        world,
        patient["id"],
        course["id"],
        dose(at(given_on, 11), place="elsewhere"),
        role="technician",
    )
    assert late.status_code == 201, late.text
    (alert,) = overdue_alerts(world, patient["id"])
    assert alert["state"] == "resolved"
    (listed,) = courses(world, patient["id"])
    assert listed["status"]["next_due"] == (given_on + timedelta(days=7)).isoformat()
    assert listed["last_given"]["place_name"] == "Demotown Drug Service clinic"
    assert [a["given_on"] for a in listed["administrations"]] == [
        given_on.isoformat(),
        MONDAY.isoformat(),
    ]
    evenings(world, clock, given_on, given_on + timedelta(days=2))
    assert len(overdue_alerts(world, patient["id"])) == 1


@pytest.mark.hazard("H-33.1")
def test_a_monthly_course_is_overdue_only_after_its_week_long_window(
    world: World, clock: FixedClock
) -> None:
    patient = world.patient()
    clock.set(at(MONDAY, 12))
    course = start(world, patient["id"], product="buvidal-monthly", mg=96)
    assert course["interval_days"] == 28
    assert give(world, patient["id"], course["id"], dose(at(MONDAY, 9), mg=96)).status_code == 201
    due = MONDAY + timedelta(days=28)
    last_day = due + timedelta(days=7)
    # The evenings around the due date and through the window: nothing yet.
    evenings(world, clock, due - timedelta(days=1), last_day)
    assert overdue_alerts(world, patient["id"]) == []
    evenings(world, clock, last_day + timedelta(days=1), last_day + timedelta(days=2))
    (alert,) = overdue_alerts(world, patient["id"])
    assert alert["severity"] == "urgent"
    assert alert["facts"]["days_overdue"] == 8


@pytest.mark.hazard("H-33.1")
def test_a_first_dose_never_given_is_overdue_too(world: World, clock: FixedClock) -> None:
    patient = world.patient()
    clock.set(at(MONDAY, 12))
    start(world, patient["id"])
    evenings(world, clock, MONDAY, MONDAY + timedelta(days=3))
    (alert,) = overdue_alerts(world, patient["id"])
    assert "first dose" in alert["message"]
    assert alert["facts"]["first_dose"] is True


@pytest.mark.hazard("H-33.2")
def test_a_stopped_course_raises_nothing_and_its_alert_is_resolved(
    world: World, clock: FixedClock
) -> None:
    patient = world.patient()
    clock.set(at(MONDAY, 12))
    course = start(world, patient["id"])
    assert give(world, patient["id"], course["id"], dose(at(MONDAY, 9))).status_code == 201
    evenings(world, clock, MONDAY + timedelta(days=10), MONDAY + timedelta(days=10))
    (alert,) = overdue_alerts(world, patient["id"])
    clock.set(at(MONDAY + timedelta(days=11), 9))
    stopped = world.post(
        f"{API}/patients/{patient['id']}/injections/{course['id']}/stop",
        {"stopped_on": (MONDAY + timedelta(days=11)).isoformat(), "reason": "Back to tablets"},
        role="prescriber",
    )
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["status"]["state"] == "stopped"
    (alert,) = overdue_alerts(world, patient["id"])
    assert alert["state"] == "resolved"
    evenings(world, clock, MONDAY + timedelta(days=11), MONDAY + timedelta(days=20))
    assert len(overdue_alerts(world, patient["id"])) == 1
    again = world.post(
        f"{API}/patients/{patient['id']}/injections/{course['id']}/stop",
        {"stopped_on": (MONDAY + timedelta(days=11)).isoformat(), "reason": "Twice"},
    )
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "already_stopped"
    refused = give(world, patient["id"], course["id"], dose(at(MONDAY + timedelta(days=12), 9)))
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["rule"] == "within_course"


@pytest.mark.hazard("H-33.2")
def test_a_course_that_never_started_raises_nothing(world: World, clock: FixedClock) -> None:
    """A patient with no course, and one stopped before its first dose fell due."""
    patient = world.patient()
    clock.set(at(MONDAY, 12))
    course = start(world, patient["id"], started_on=(MONDAY + timedelta(days=3)).isoformat())
    stopped = world.post(
        f"{API}/patients/{patient['id']}/injections/{course['id']}/stop",
        {"stopped_on": MONDAY.isoformat(), "reason": "Patient chose tablets"},
    )
    assert stopped.status_code == 200, stopped.text
    evenings(world, clock, MONDAY, MONDAY + timedelta(days=9))
    assert overdue_alerts(world, patient["id"]) == []


@pytest.mark.hazard("H-33.3")
def test_who_records_what(world: World, clock: FixedClock) -> None:
    """Administering here is the pharmacist's act; a dose given elsewhere may be recorded by a
    technician too; nobody else records a dose; a course is started or stopped by a pharmacist
    or the prescriber."""
    patient = world.patient()
    clock.set(at(MONDAY, 12))
    refused = world.post(
        f"{API}/patients/{patient['id']}/injections",
        {"product": "buvidal-weekly", "dose_mg": 16, "started_on": MONDAY.isoformat()},
        role="technician",
    )
    assert refused.status_code == 403, refused.text
    course = start(world, patient["id"])
    here = dose(at(MONDAY, 9))
    for role in ("technician", "key_worker", "prescriber", "safeguarding_lead"):
        answer = give(world, patient["id"], course["id"], here, role=role)
        assert answer.status_code == 403, (role, answer.text)
    elsewhere = dose(at(MONDAY, 9), place="elsewhere")
    for role in ("key_worker", "prescriber"):
        answer = give(world, patient["id"], course["id"], elsewhere, role=role)
        assert answer.status_code == 403, (role, answer.text)
    assert give(world, patient["id"], course["id"], here).status_code == 201
    twice = give(world, patient["id"], course["id"], elsewhere, role="technician")
    assert twice.status_code == 409, twice.text
    assert twice.json()["code"] == "already_recorded"
    # The key worker and the prescriber read the log of their own patient.
    for role in ("key_worker", "prescriber", "technician"):
        assert len(courses(world, patient["id"], role=role)) == 1


@pytest.mark.hazard("H-33.3")
def test_doses_are_checked_against_the_course(world: World, clock: FixedClock) -> None:
    patient = world.patient()
    clock.set(at(MONDAY + timedelta(days=4), 8))
    bad_strength = world.post(
        f"{API}/patients/{patient['id']}/injections",
        {"product": "buvidal-weekly", "dose_mg": 64, "started_on": MONDAY.isoformat()},
    )
    assert bad_strength.status_code == 422, bad_strength.text
    assert bad_strength.json()["errors"][0]["field"] == "dose_mg"
    course = start(world, patient["id"])
    second = world.post(
        f"{API}/patients/{patient['id']}/injections",
        {"product": "buvidal-monthly", "dose_mg": 64, "started_on": MONDAY.isoformat()},
    )
    assert second.status_code == 409, second.text
    assert second.json()["code"] == "course_active"

    def rule(body: dict[str, Any]) -> tuple[str, str]:
        answer = give(world, patient["id"], course["id"], body)
        assert answer.status_code == 422, answer.text
        error = answer.json()["errors"][0]
        return error["field"], error["rule"]

    assert rule(dose(at(MONDAY, 9), mg=24)) == ("dose_mg", "matches_course")
    assert rule(dose(at(MONDAY + timedelta(days=5), 9))) == ("given_at", "not_in_future")
    assert rule(dose(at(MONDAY - timedelta(days=1), 9))) == ("given_at", "within_course")
    assert rule(dose(at(MONDAY, 9), expires_on="2026-11-01")) == ("expires_on", "not_expired")
    assert rule(dose(at(MONDAY, 9), place="elsewhere", place_name="")) == (
        "place_name",
        "required",
    )
    assert give(world, patient["id"], course["id"], dose(at(MONDAY, 9))).status_code == 201
    # Two days later is too soon for the next weekly dose here (window opens on day 5).
    assert rule(dose(at(MONDAY + timedelta(days=2), 9))) == ("given_at", "too_early")
    # The same fact told from the clinic is recorded all the same.
    told_late = give(
        world,
        patient["id"],
        course["id"],
        dose(at(MONDAY + timedelta(days=2), 9), place="elsewhere"),
        role="technician",
    )
    assert told_late.status_code == 201, told_late.text


@pytest.mark.hazard("H-33.4")
def test_another_pharmacy_gets_404_for_everything(world: World, clock: FixedClock) -> None:
    patient = world.patient()
    clock.set(at(MONDAY, 12))
    course = start(world, patient["id"])
    base = f"{API}/patients/{patient['id']}/injections"
    away = world.away
    for role in ("pharmacist", "technician"):
        assert world.get(base, role=role, branch=away).status_code == 404
    answers = [
        world.post(
            base,
            {"product": "buvidal-weekly", "dose_mg": 16, "started_on": MONDAY.isoformat()},
            branch=away,
        ),
        world.post(f"{base}/{course['id']}/administrations", dose(at(MONDAY, 9)), branch=away),
        world.post(
            f"{base}/{course['id']}/stop",
            {"stopped_on": MONDAY.isoformat(), "reason": "Not ours"},
            branch=away,
        ),
    ]
    assert [a.status_code for a in answers] == [404, 404, 404]
    # A course id under another patient of ours is not found either.
    other = world.patient()
    wrong = give(world, other["id"], course["id"], dose(at(MONDAY, 9)))
    assert wrong.status_code == 404, wrong.text
    page = world.get(f"/patients/{patient['id']}/injections", branch=away)
    assert page.status_code == 404


@pytest.mark.hazard("H-33.5")
def test_the_log_is_append_only(world: World, clock: FixedClock, database: Database) -> None:
    patient = world.patient()
    clock.set(at(MONDAY, 12))
    course = start(world, patient["id"])
    assert give(world, patient["id"], course["id"], dose(at(MONDAY, 9))).status_code == 201
    stopped = world.post(
        f"{API}/patients/{patient['id']}/injections/{course['id']}/stop",
        {"stopped_on": MONDAY.isoformat(), "reason": "Recorded for the test"},
    )
    assert stopped.status_code == 200, stopped.text
    course_id = uuid.UUID(course["id"])
    for table, where, change in (
        (InjectionCourse.__table__, "id", {"dose_mg": 32}),
        (InjectionAdministration.__table__, "course_id", {"batch": "tidied"}),
        (InjectionCourseStop.__table__, "course_id", {"reason": "tidied"}),
    ):
        mine = table.c[where] == course_id
        with database.engine.connect() as conn:
            for statement in (
                update(table).where(mine).values(**change),
                delete(table).where(mine),
            ):
                with pytest.raises(DBAPIError, match="append-only"):
                    conn.execute(statement)
                conn.rollback()


@pytest.mark.hazard("H-33.1")
def test_the_pages_show_the_status_and_the_counter_reminds_a_day_ahead(
    world: World, clock: FixedClock
) -> None:
    patient = world.patient()
    clock.set(at(MONDAY, 12))
    course = start(world, patient["id"])
    assert give(world, patient["id"], course["id"], dose(at(MONDAY, 9))).status_code == 201
    page = world.get(f"/patients/{patient['id']}/injections")
    assert page.status_code == 200, page.text
    assert "The next dose is due Mon 7 Dec 2026" in page.text
    assert 'id="administration"' in page.text

    counter = world.get("/counter")
    assert counter.status_code == 200
    assert "Injection due tomorrow" not in counter.text
    clock.set(at(MONDAY + timedelta(days=6), 8))
    counter = world.get("/counter")
    assert "Injection due tomorrow" in counter.text
    assert patient["family_name"] in counter.text
    clock.set(at(MONDAY + timedelta(days=10), 8))
    counter = world.get("/counter")
    assert "Injection overdue" in counter.text
    page = world.get(f"/patients/{patient['id']}/injections")
    assert "Overdue:" in page.text
