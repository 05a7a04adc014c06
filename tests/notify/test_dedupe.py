"""The same kind for the same subject and day is one alert, with one round of messages; a repeat
is a line in its history (DESIGN §4)."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.actor import SYSTEM
from app.audit import service as audit_service
from app.audit.models import AuditEvent
from app.clock import FixedClock
from app.db import UnitOfWork
from app.households.models import ProtectionStatus
from app.households.rules import ChildFacts
from app.patients.models import Patient
from app.safeguarding import household_alerts, rules
from app.safeguarding import service as safeguarding_service
from tests.builders import MONDAY, prescribe
from tests.factories import World
from tests.notify.helpers import (
    API,
    MONDAY_9AM,
    alerts_of_kind,
    deliveries,
    history,
    raise_missed,
)

# No worker runs here and every query is scoped to the test's own pharmacy.
SHARED_DATABASE = True


TAKE_HOME = {  # 40 mg daily for 14 days, all taken home, collected Monday and Thursday
    "daily_dose_mg": "40",
    "end_on": (MONDAY + timedelta(days=13)).isoformat(),
    "total_quantity_ml": "560",
    "total_quantity_words": "five hundred and sixty",
    "supervised_days": [],
    "collection_days": ["mon", "thu"],
    "wording": {"closed_day_prior": True},
    "direction_text": "40mg (40ml) daily. Collect Monday and Thursday for the days to the next "
    "collection. If the pharmacy is closed, supply on the prior open day.",
}


def test_two_refused_take_homes_on_one_day_make_one_alert(world: World, clock: FixedClock) -> None:
    house = world.household()
    world.child(house["id"])  # a young child lives there; no lockable box is recorded
    patient = world.patient(house["id"])
    prescribe(world, patient["id"], **TAKE_HOME)
    clock.set(MONDAY_9AM)
    body = {
        "patient_id": patient["id"],
        "date": MONDAY.isoformat(),
        "outcome": "collected",
        "collector": "patient",
        "id_checked": True,
        "intoxicated": False,
        "children_present": [],
        "measuring_device": True,
    }
    first = world.post(f"{API}/counter/handover", body)
    assert first.status_code == 422, first.text
    assert "no_lockable_box" in {b["code"] for b in first.json()["blocks"]}
    (alert_id,) = first.json()["alerts"]
    sent = deliveries(world, alert_id)
    assert sent
    clock.advance(timedelta(minutes=20))
    second = world.post(f"{API}/counter/handover", body)
    assert second.status_code == 422, second.text
    assert second.json()["alerts"] == [alert_id]
    (alert,) = alerts_of_kind(world, "take_home_blocked_no_box", world.home.pharmacy_id)
    assert str(alert.id) == alert_id
    assert [d.id for d in deliveries(world, alert_id)] == [d.id for d in sent]
    assert [h.action for h in history(world, alert_id)] == ["raised", "queued", "repeated"]
    listed = world.get(
        f"{API}/alerts", params={"patient_id": patient["id"], "kind": "take_home_blocked_no_box"}
    )
    assert [a["id"] for a in listed.json()["items"]] == [alert_id]


def test_closing_the_same_day_twice_makes_one_alert(world: World, clock: FixedClock) -> None:
    house = world.household()
    world.child(house["id"])  # a child at home: one missed day tells the key worker
    patient = world.patient(house["id"])
    prescribe(world, patient["id"])
    clock.set(MONDAY_9AM.replace(hour=19))
    url = f"{API}/pharmacies/{world.home.pharmacy_id}/close-day"
    first = world.post(url, {"date": MONDAY.isoformat()})
    assert first.status_code == 200, first.text
    assert (first.json()["missed"], first.json()["alerts_raised"]) == (1, 1)
    second = world.post(url, {"date": MONDAY.isoformat()})
    assert second.status_code == 200, second.text
    assert (second.json()["missed"], second.json()["alerts_raised"]) == (0, 0)
    (alert,) = alerts_of_kind(world, "missed_dose", world.home.pharmacy_id)
    assert alert.patient_id == UUID(patient["id"])
    assert len(deliveries(world, alert.id)) == 1


def test_the_same_event_twice_is_one_alert_per_subject_and_day(
    world: World, clock: FixedClock
) -> None:
    patient = world.patient()
    other = world.patient()
    today, now = clock.now().date(), clock.now()
    first = raise_missed(world, patient["id"], day=today, now=now)
    again = raise_missed(world, patient["id"], day=today, now=now + timedelta(hours=3))
    assert again == first
    assert len(deliveries(world, first)) == 1
    assert [h.action for h in history(world, first)] == ["raised", "queued", "repeated"]
    assert raise_missed(world, patient["id"], day=today + timedelta(days=1), now=now) != first
    assert raise_missed(world, other["id"], day=today, now=now) != first


def test_a_household_event_is_one_alert_for_the_household(world: World, clock: FixedClock) -> None:
    house = world.household()
    members = [world.patient(house["id"]), world.patient(house["id"])]
    events = household_alerts.household_events(
        members=(household_alerts.MemberRegime("a", True),),
        children=(ChildFacts(3, ProtectionStatus.NONE),),
        methadone_at_home_mg=Decimal(400),
        policy_household_mg=Decimal(300),
        child_age_years=16,
    )
    (event,) = [e for e in events if e.kind == "household_methadone_high"]
    ids = set()
    for member in members:
        with world.uow as uow:
            patient = uow.session.get(Patient, UUID(member["id"]))
            assert patient is not None
            ids.add(
                safeguarding_service.raise_alert(
                    uow.session,
                    event,
                    actor=SYSTEM,
                    pharmacy_id=patient.pharmacy_id,
                    patient_id=patient.id,
                    household_id=patient.household_id,
                    day=clock.now().date(),
                    now=clock.now(),
                    routing={},
                ).id
            )
            uow.commit()
    assert len(ids) == 1
    assert len(alerts_of_kind(world, "household_methadone_high", world.home.pharmacy_id)) == 1


def test_two_counters_raising_the_same_alert_at_once_make_one(
    world: World, clock: FixedClock, session_factory: sessionmaker[Session]
) -> None:
    """Both transactions miss each other's row; the unique dedupe key settles it (on
    PostgreSQL the loser's insert waits, fails, and is rolled back to its savepoint)."""
    patient_row = world.patient()
    (event,) = rules.missed_dose_events(days_without_dose=2, children=(), policy_missed_threshold=9)
    gate = threading.Barrier(2)
    got: list[UUID] = []
    errors: list[BaseException] = []

    # SQLite takes the write lock when a transaction begins (BEGIN IMMEDIATE), so there the
    # two meet before it; PostgreSQL's reads take no locks, so there both have read first.
    sqlite = session_factory.kw["bind"].dialect.name == "sqlite"

    def counter() -> None:
        try:
            if sqlite:
                gate.wait(10)
            with UnitOfWork(session_factory) as uow:
                patient = uow.session.get(Patient, UUID(patient_row["id"]))
                assert patient is not None
                if not sqlite:
                    gate.wait(10)
                alert = safeguarding_service.raise_alert(
                    uow.session,
                    event,
                    actor=SYSTEM,
                    pharmacy_id=patient.pharmacy_id,
                    patient_id=patient.id,
                    household_id=None,
                    day=clock.now().date(),
                    now=clock.now(),
                    routing={},
                )
                uow.commit()
                got.append(alert.id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=counter) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(got) == 2
    assert len(set(got)) == 1
    assert len(alerts_of_kind(world, "missed_dose", world.home.pharmacy_id)) == 1
    assert len(deliveries(world, got[0])) == 1
    assert sorted(h.action for h in history(world, got[0])) == ["queued", "raised", "repeated"]


def _missed(patient: Patient, streak: int = 2) -> safeguarding_service.Raise:
    (event,) = rules.missed_dose_events(
        days_without_dose=streak, children=(), policy_missed_threshold=99
    )
    return safeguarding_service.Raise(event, patient.pharmacy_id, patient.id, patient.household_id)


def test_a_batch_raises_each_alert_once_in_request_order(world: World, clock: FixedClock) -> None:
    """Close-day's batched writer: a key already raised today and a key twice in the batch are
    repeats; every new alert gets its deliveries and one audit event, and the chain verifies."""
    ids = [UUID(world.patient()["id"]) for _ in range(4)]
    today, now = clock.now().date(), clock.now()
    earlier = raise_missed(world, ids[0], day=today, now=now)
    with world.uow as uow:
        patients = [uow.session.get(Patient, i) for i in ids]
        assert all(patients)
        requests = [_missed(p) for p in patients if p] + [_missed(patients[1])]  # type: ignore[arg-type]
        raised = safeguarding_service.raise_alerts(
            uow.session, requests, actor=SYSTEM, day=today, now=now, routing={}
        )
        uow.commit()
        got = [a.id for a in raised]
    assert got[0] == earlier
    assert got[4] == got[1]
    assert len(set(got)) == 4
    for alert_id in got[1:4]:
        assert len(deliveries(world, alert_id)) == 1
    # One transaction, one timestamp: compare the steps, not their order.
    assert sorted(h.action for h in history(world, got[1])) == ["queued", "raised", "repeated"]
    assert sorted(h.action for h in history(world, got[2])) == ["queued", "raised"]
    assert sorted(h.action for h in history(world, earlier)) == ["queued", "raised", "repeated"]
    with world.uow as uow:
        raised_events = uow.session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "alert.raised",
                AuditEvent.entity_id.in_([str(i) for i in got]),
            )
        ).all()
        assert len(raised_events) == 4  # the earlier one, and three from the batch
        assert audit_service.verify(uow.session).ok


def test_a_batch_that_loses_a_race_takes_the_other_transactions_alert(
    world: World, clock: FixedClock
) -> None:
    """Another transaction commits one of the batch's alerts between the batch's look-up and its
    insert: the batch falls back to one insert at a time and announces only its own."""
    first, second = (UUID(world.patient()["id"]) for _ in range(2))
    today, now = clock.now().date(), clock.now()
    with world.uow as uow:
        patients = [uow.session.get(Patient, i) for i in (first, second)]
        fresh = {r.key(today): r for r in (_missed(p) for p in patients if p)}
    winner = raise_missed(world, first, day=today, now=now)  # commits after the look-up
    with world.uow as uow:
        made, ours = safeguarding_service._insert_new(uow.session, fresh, now)
        uow.commit()
    by_patient = {a.patient_id: a for a in made.values()}
    assert by_patient[first].id == winner
    assert [k for k in ours] == [k for k, r in fresh.items() if r.patient_id == second]
    assert len(alerts_of_kind(world, "missed_dose", world.home.pharmacy_id)) >= 2
