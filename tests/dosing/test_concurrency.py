"""Double scans, double clicks and two terminals cannot double-dose (DESIGN §1.3;
reliability.md §2).

Real concurrency: every request runs in its own thread with its own HTTP client against the
one app, so each has its own database connection and transaction, released together by a
barrier. SQLite serialises them with BEGIN IMMEDIATE; PostgreSQL with the patient row lock and
the conditional UPDATE on the dose row.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.audit import service as audit_service
from app.audit.models import AuditEvent
from app.auth import service as auth_service
from app.clock import FixedClock
from app.db import UnitOfWork
from app.dosing import handover as dosing_handover
from app.dosing import service as dosing_service
from app.dosing.models import DoseState, InstalmentDay
from app.errors import Conflict, Refused
from tests.builders import API, MONDAY, at, handover, prescribe, race, twice_weekly_take_home
from tests.factories import World

N = 20


def post_from_terminals(
    world: World,
    path: str,
    bodies: list[dict[str, Any]],
    headers: list[dict[str, str]] | None = None,
) -> list[Any]:
    """POST each body from its own terminal (its own client) at the same moment."""
    app = world.client.app

    def one(index: int) -> Any:
        terminal = TestClient(
            app, raise_server_exceptions=False, client=(f"10.9.0.{index + 1}", 50000)
        )
        extra = headers[index] if headers else {}
        return terminal.post(path, json=bodies[index], headers={**world.home.headers(), **extra})

    responses = race(len(bodies), one)
    for response in responses:
        assert not isinstance(response, BaseException), repr(response)
    return responses


def post_with(
    world: World, body: dict[str, Any], headers: dict[str, str], role: str = "pharmacist"
) -> Any:
    return world.client.post(
        f"{API}/counter/handover", json=body, headers={**world.home.headers(role), **headers}
    )


def rows_of(world: World, patient_id: str) -> list[InstalmentDay]:
    with world.uow:
        return list(
            world.uow.session.scalars(
                select(InstalmentDay)
                .where(InstalmentDay.patient_id == UUID(patient_id))
                .order_by(InstalmentDay.dose_date)
            )
        )


def audit_count(world: World, action: str, patient_id: str) -> int:
    with world.uow:
        return int(
            world.uow.session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == action, AuditEvent.entity_id == patient_id)
            )
            or 0
        )


def assert_chain_verifies(world: World) -> None:
    with world.uow:
        report = audit_service.verify(world.uow.session)
    assert report.ok, report


@pytest.mark.hazard("H-03.2")
@pytest.mark.parametrize("regime", ["supervised", "take_home"])
def test_twenty_terminals_hand_over_the_same_dose_and_exactly_one_succeeds(
    world: World,
    clock: FixedClock,
    regime: str,
) -> None:
    if regime == "supervised":
        patient = world.patient()
        prescribe(world, patient["id"])
        outcome, days = "supervised", 1
    else:  # Monday's take-home covers Monday to Wednesday: three rows move together
        patient = world.patient(world.household()["id"])
        prescribe(world, patient["id"], **twice_weekly_take_home(40))
        outcome, days = "collected", 3
    clock.set(at(MONDAY))
    body = handover(patient["id"], MONDAY, outcome)
    responses = post_from_terminals(world, f"{API}/counter/handover", [body] * N)

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: N - 1}, [r.text for r in responses if r.status_code >= 500]
    winner = next(r.json() for r in responses if r.status_code == 201)
    for response in responses:
        if response.status_code == 409:
            assert response.json()["code"] == "already_recorded", response.text
    recorded = [r for r in rows_of(world, patient["id"]) if r.state != DoseState.DUE]
    assert len(recorded) == days
    assert {str(r.handover_id) for r in recorded} == {winner["handover_id"]}
    assert {r.state for r in recorded} == {outcome}
    assert audit_count(world, "dose.handed_over", patient["id"]) == 1
    assert_chain_verifies(world)


@pytest.mark.hazard("H-03.2")
def test_handovers_and_withholds_racing_through_the_service_record_one_outcome(
    world: World,
    clock: FixedClock,
    session_factory: sessionmaker[Session],
) -> None:
    """Twenty threads straight into the service, each with its own unit of work: half try to
    hand the dose over, half to withhold it. One wins; every other is told it is recorded."""
    patient = world.patient()
    prescribe(world, patient["id"])
    clock.set(at(MONDAY))
    actor = auth_service.authenticate(
        world.uow, token=world.home.tokens["pharmacist"], now=clock.now(), kind="api"
    ).actor
    patient_id = UUID(patient["id"])
    policy = world.settings.policy

    def one(index: int) -> str:
        uow = UnitOfWork(session_factory)  # a unit of work, and a connection, per thread
        try:
            if index % 2:
                dosing_service.withhold(
                    uow,
                    actor=actor,
                    patient_id=patient_id,
                    day=MONDAY,
                    reason="other",
                    reason_text="Prescriber asked to hold",
                    children_present=(),
                    today=MONDAY,
                    policy=policy,
                    now=clock.now(),
                )
                return "withheld"
            dosing_handover.hand_over(
                uow,
                actor=actor,
                today=MONDAY,
                policy=policy,
                now=clock.now(),
                handover=dosing_handover.Handover(
                    patient_id=patient_id,
                    date=MONDAY,
                    outcome="supervised",
                    collector="patient",
                    collector_details=None,
                    id_checked=True,
                    id_shown=None,
                    children_present=(),
                    intoxicated=False,
                    acknowledged=frozenset(),
                    overrides={},
                ),
            )
            return "supervised"
        except Conflict as exc:
            return f"conflict:{exc.code}"
        except Refused as exc:  # withheld a moment ago: only a reassessment could lift it
            return f"conflict:{'withheld_today' if 'withheld' in str(exc) else exc.code}"

    results = race(N, one)
    for result in results:
        assert not isinstance(result, BaseException), repr(result)
    outcomes = Counter(results)
    winners = {k: v for k, v in outcomes.items() if not str(k).startswith("conflict")}
    assert sum(winners.values()) == 1, outcomes
    # The others are told it was recorded, or (racing a withhold) that it was withheld.
    losers = outcomes["conflict:already_recorded"] + outcomes["conflict:withheld_today"]
    assert losers == N - 1, outcomes
    (row,) = [r for r in rows_of(world, patient["id"]) if r.dose_date == MONDAY]
    assert row.state == next(iter(winners))
    assert_chain_verifies(world)


@pytest.mark.hazard("H-03.3")
def test_a_retried_idempotency_key_replays_the_stored_response(
    world: World,
    clock: FixedClock,
) -> None:
    patient = world.patient()
    prescribe(world, patient["id"])
    clock.set(at(MONDAY))
    key = {"Idempotency-Key": str(uuid4())}
    body = handover(patient["id"], MONDAY)
    first = post_with(world, body, key)
    assert first.status_code == 201, first.text
    clock.set(at(MONDAY, 9, 31))  # the network retry a minute later
    again = post_with(world, body, key)
    assert again.status_code == 201, again.text
    assert again.json() == first.json()
    assert audit_count(world, "dose.handed_over", patient["id"]) == 1

    changed = post_with(world, {**body, "id_checked": False}, key)
    assert changed.status_code == 422, changed.text
    assert changed.json()["errors"][0]["rule"] == "idempotency_key_reused"
    # Without the key, the same request is a second scan: refused, naming the first.
    plain = world.post(f"{API}/counter/handover", body)
    assert plain.status_code == 409, plain.text
    assert plain.json()["code"] == "already_recorded"
    # A key is the caller's own: another pharmacist's identical key is a different request.
    other = post_with(world, body, key, role="pharmacist2")
    assert other.status_code == 409, other.text
    assert [r.state for r in rows_of(world, patient["id"]) if r.dose_date == MONDAY] == [
        "supervised"
    ]


@pytest.mark.hazard("H-03.3")
def test_a_double_click_with_one_idempotency_key_gives_every_click_the_same_answer(
    world: World,
    clock: FixedClock,
) -> None:
    patient = world.patient()
    prescribe(world, patient["id"])
    clock.set(at(MONDAY))
    count = 10
    key = {"Idempotency-Key": str(uuid4())}
    responses = post_from_terminals(
        world, f"{API}/counter/handover", [handover(patient["id"], MONDAY)] * count, [key] * count
    )
    assert Counter(r.status_code for r in responses) == {201: count}, [r.text for r in responses]
    assert len({r.json()["handover_id"] for r in responses}) == 1
    assert audit_count(world, "dose.handed_over", patient["id"]) == 1


def test_twenty_terminals_closing_the_same_day_mark_each_dose_missed_once(
    world: World,
    clock: FixedClock,
) -> None:
    patients = [world.patient() for _ in range(3)]
    for patient in patients:
        prescribe(world, patient["id"])
    clock.set(at(MONDAY, 19))
    path = f"{API}/pharmacies/{world.home.pharmacy_id}/close-day"
    responses = post_from_terminals(world, path, [{"date": MONDAY.isoformat()}] * N)
    assert Counter(r.status_code for r in responses) == {200: N}, [r.text for r in responses]
    assert sorted(r.json()["missed"] for r in responses) == [0] * (N - 1) + [3]
    for patient in patients:
        states = [r.state for r in rows_of(world, patient["id"]) if r.dose_date <= MONDAY]
        assert states == ["missed"]
    assert_chain_verifies(world)


def test_the_race_is_for_one_day_only(world: World, clock: FixedClock) -> None:
    """The next day's dose is a new row: yesterday's winner does not block it."""
    patient = world.patient()
    prescribe(world, patient["id"])
    for day in (MONDAY, date(2026, 12, 1)):
        clock.set(at(day))
        responses = post_from_terminals(
            world, f"{API}/counter/handover", [handover(patient["id"], day)] * 4
        )
        assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]


def test_one_idempotency_key_for_two_patients_at_once_is_never_a_server_error(
    world: World, clock: FixedClock
) -> None:
    """A client that reuses its key for a different request while the first is in flight
    gets 422 (IETF idempotency-key draft: same key, different payload), never a 500, and only
    one dose moves."""
    first, second = world.patient(), world.patient()
    prescribe(world, first["id"])
    prescribe(world, second["id"])
    clock.set(at(MONDAY))
    key = {"Idempotency-Key": str(uuid4())}
    responses = post_from_terminals(
        world,
        f"{API}/counter/handover",
        [handover(first["id"], MONDAY), handover(second["id"], MONDAY)],
        [key, key],
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 422], [r.text for r in responses]
    (refused,) = [r.json() for r in responses if r.status_code == 422]
    assert refused["errors"][0]["rule"] == "idempotency_key_reused"
    moved = [
        p["id"]
        for p in (first, second)
        if any(r.state != DoseState.DUE for r in rows_of(world, p["id"]))
    ]
    assert len(moved) == 1


def test_two_members_of_one_household_collect_at_two_terminals_at_once(
    world: World, clock: FixedClock
) -> None:
    """Both take-homes are recorded, and the household alert they both raise is one alert."""
    house = world.household()
    world.child(
        house["id"],
        protection_status="child_protection_plan",
        social_worker_id=str(world.social_worker_id),
    )
    members = [world.patient(house["id"]) for _ in range(2)]
    for member in members:
        prescribe(world, member["id"], **twice_weekly_take_home(40))
    clock.set(at(MONDAY))
    assert world.post(f"{API}/households/{house['id']}/confirmations", {}).status_code == 201
    for member in members:
        box = {"seen_on": MONDAY.isoformat(), "method": "seen_at_home"}
        created = world.post(f"{API}/patients/{member['id']}/box-confirmations", box)
        assert created.status_code == 201, created.text
    responses = post_from_terminals(
        world,
        f"{API}/counter/handover",
        [
            handover(
                m["id"],
                MONDAY,
                "collected",
                acknowledged=["young_child_take_home", "household_methadone_high"],
            )
            for m in members
        ],
    )
    assert [r.status_code for r in responses] == [201, 201], [r.text for r in responses]
    feed = world.get(
        f"{API}/alerts",
        params={"household_id": house["id"], "kind": "take_home_in_protected_household"},
    ).json()["items"]
    on_monday = [a for a in feed if a["created_at"].startswith(MONDAY.isoformat())]
    assert len(on_monday) == 1, feed


def test_the_end_of_the_day_racing_the_last_handover_settles_on_one_outcome(
    world: World, clock: FixedClock
) -> None:
    patient = world.patient()
    prescribe(world, patient["id"])
    clock.set(at(MONDAY, 18, 59))
    app = world.client.app
    close_path = f"{API}/pharmacies/{world.home.pharmacy_id}/close-day"

    def one(index: int) -> Any:
        terminal = TestClient(app, raise_server_exceptions=False, client=("10.9.1.1", index))
        if index % 2:
            return terminal.post(
                close_path, json={"date": MONDAY.isoformat()}, headers=world.home.headers()
            )
        return terminal.post(
            f"{API}/counter/handover",
            json=handover(patient["id"], MONDAY),
            headers=world.home.headers(),
        )

    results = race(2, one)
    handed, closed = (r for r in results if not isinstance(r, BaseException))
    assert closed.status_code == 200, closed.text
    (row,) = [r for r in rows_of(world, patient["id"]) if r.dose_date == MONDAY]
    if handed.status_code == 201:
        assert (row.state, closed.json()["missed"]) == ("supervised", 0)
    else:
        assert handed.status_code == 409, handed.text
        assert (row.state, closed.json()["missed"]) == ("missed", 1)
