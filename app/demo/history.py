"""A week and a half of demo treatment, replayed through the public API one day at a time.

Why through the API: the story must be what a pharmacy would have recorded (each day's checks,
handovers, a withhold, close-day every evening, the safeguarding lead acknowledging alerts),
with the rules deciding what happens, not rows written to look right. A fixed clock is moved
from morning to evening of each day, exactly as the clinical replay tests do.

The story (fictional people, as the rest of the demo):

- Frankie Moss, supervised Monday to Saturday, was withheld two days ago (intoxicated) and
  came back yesterday: the counter and the prescriber's calendar show the withheld day.
- Jamie Reed stopped coming three days ago: today the counter refuses the dose
  (`missed_threshold_reached`) until the prescriber records a review. Last night's threshold
  alert was never acknowledged and has escalated to the safeguarding lead; every earlier alert
  was acknowledged by the lead, with a note, on the evening it was raised.
- Billie Ash has a prescription transcribed this morning that waits for a second pharmacist's
  check.
- Sasha Wren was admitted to hospital two days ago: the pharmacist suspended her prescription
  that morning, so the counter refuses supply naming the admission, no day since is missed,
  and her prescription page offers the resume form.
- Frankie Moss stays with family near Hillside Pharmacy from today (the next weekday on a
  weekend, when Hillside is closed) for up to three days it is open (guest dosing): the Riverside counter refuses those days (`dosed_at_guest_pharmacy`) and Hillside's
  pharmacist (`hillside`) finds Frankie on their counter and their guest list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from app.clock import FixedClock, local_date
from app.config import Settings
from app.db import UnitOfWork
from app.main import create_app
from app.safeguarding.delivery import alert_worker

HISTORY_DAYS = 10
SUPERVISED_MON_SAT = frozenset(range(6))
EVERY_DAY = frozenset(range(7))
PASSWORD = "dosekeeper-demo"  # the demo accounts' published password (app.demo.DEMO_PASSWORD)


class Prescribe(Protocol):
    def __call__(
        self,
        index: int,
        mg: int,
        supervised: frozenset[int],
        collection: frozenset[int],
        *,
        first: date,
        on: date,
        at: datetime,
        check: bool = True,
    ) -> UUID: ...


class _Counter:
    """The pharmacy's terminal and the safeguarding lead's inbox, on a clock we move."""

    def __init__(self, uow: UnitOfWork, settings: Settings, clock: FixedClock) -> None:

        self.client = TestClient(
            create_app(settings, uow.session_factory, clock=clock),
            base_url="http://demo.invalid",
            raise_server_exceptions=True,
        )
        self.tokens: dict[str, str] = {}

    def sign_in(self, *usernames: str) -> None:
        """A new day, new sessions (a token lasts one working day)."""
        for username in usernames:
            answer = self.client.post(
                "/api/v1/auth/token", data={"username": username, "password": PASSWORD}
            )
            answer.raise_for_status()
            self.tokens[username] = answer.json()["access_token"]

    def call(self, who: str, method: str, path: str, body: Any = None) -> Any:
        answer = self.client.request(
            method,
            f"/api/v1{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.tokens[who]}"},
        )
        if answer.status_code >= 400:
            raise RuntimeError(f"demo history: {method} {path} -> {answer.text}")
        return answer.json()


def replay(
    uow: UnitOfWork,
    settings: Settings,
    *,
    prescribe: Prescribe,
    patients: Mapping[str, UUID],
    pharmacy_id: UUID,
    index_of: Callable[[str], int],
    now: datetime,
) -> list[str]:
    """Replay the story up to yesterday evening; return lines for the seed's summary."""
    zone = ZoneInfo(settings.timezone)
    today = local_date(now, settings.timezone)
    first = today - timedelta(days=HISTORY_DAYS)

    def at(day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), tzinfo=zone)

    clock = FixedClock(at(first, 9))
    counter = _Counter(uow, settings, clock)
    frankie, jamie = patients["Frankie Moss"], patients["Jamie Reed"]
    sasha = patients["Sasha Wren"]
    counter.sign_in("pharmacist")
    for patient_id in (frankie, jamie, sasha):
        household = counter.call("pharmacist", "GET", f"/patients/{patient_id}")["household_id"]
        counter.call(
            "pharmacist",
            "POST",
            f"/households/{household}/confirmations",
            {"note": "Demo: nobody else lives here; no children."},
        )
    counter.call(  # stock in the CD register, so no supply takes the balance below zero
        "pharmacist",
        "POST",
        "/register/receipts",
        {
            "received_on": first.isoformat(),
            "product": "methadone-1mg-ml",
            "supplier_name": "Demo Wholesale Ltd",
            "supplier_address": "4 Invented Estate, Demotown DT9 9ZZ",
            "quantity_ml": "5000",
            "invoice_ref": "DEMO-0001",
        },
    )
    frankie_rx, _ = (
        prescribe(
            index_of(name),
            mg,
            SUPERVISED_MON_SAT,
            EVERY_DAY,
            first=first,
            on=first,
            at=at(first, 9, 30),
        )
        for name, mg in (("Frankie Moss", 35), ("Jamie Reed", 70))
    )

    sasha_rx = prescribe(
        index_of("Sasha Wren"),
        60,
        SUPERVISED_MON_SAT,
        EVERY_DAY,
        first=first,
        on=first,
        at=at(first, 9, 30),
    )

    withheld_on = today - timedelta(days=2)
    jamie_stops = today - timedelta(days=3)
    sasha_admitted = today - timedelta(days=2)
    for offset in range(HISTORY_DAYS):
        day = first + timedelta(days=offset)
        clock.set(at(day, 10))
        counter.sign_in("pharmacist", "safeguarding")
        if day == sasha_admitted:  # the ward rang first thing (open or closed)
            counter.call(
                "pharmacist",
                "POST",
                f"/prescriptions/{sasha_rx}/suspend",
                {
                    "from_date": day.isoformat(),
                    "reason": "hospital",
                    "note": "Demo: admitted to Demotown General, ward 7; the ward gives the doses",
                },
            )
        if day.weekday() == 6 or (day.month, day.day) == (12, 25):
            continue  # closed: the Sunday dose went home on Saturday
        if day == withheld_on:
            counter.call(
                "pharmacist",
                "POST",
                "/counter/withhold",
                {"patient_id": str(frankie), "date": day.isoformat(), "reason": "intoxicated"},
            )
            counter.call(  # and what the pharmacist saw, recorded as a concern with an owner
                "pharmacist",
                "POST",
                "/concerns",
                {
                    "patient_id": str(frankie),
                    "category": "observation",
                    "severity": "warning",
                    "seen": "Demo: arrived unsteady and slurring; said they had been drinking.",
                    "shared_with": "Demo: told the key worker by phone at 10:30",
                    "lawful_basis": "direct_care",
                    "recipients": ["key_worker"],
                    "follow_up_on": (day + timedelta(days=7)).isoformat(),
                },
            )
        else:
            _supply(counter, frankie, day)
        if day < jamie_stops:
            _supply(counter, jamie, day)
        if day < sasha_admitted:
            _supply(counter, sasha, day)
        clock.set(at(day, 19))
        counter.sign_in("pharmacist", "safeguarding")  # the evening shift
        counter.call(
            "pharmacist", "POST", f"/pharmacies/{pharmacy_id}/close-day", {"date": day.isoformat()}
        )
        if day < today - timedelta(days=1):  # last night's alerts are left for the morning
            clock.set(at(day, 19, 10))
            _acknowledge_everything(counter)

    clock.set(now)
    worker = alert_worker(uow.session_factory, settings, clock, name="demo-history")
    try:
        escalated = worker.run_tasks()
    finally:
        worker.close()
    # Frankie stays with family near Hillside Pharmacy from today (or the next day Hillside
    # opens, Monday to Friday), up to three days it is open: the Riverside counter refuses the
    # days granted, Hillside's doses them (sign in as "hillside").
    stay_from = today
    while stay_from.weekday() >= 5:
        stay_from += timedelta(days=1)
    stay_to = stay_from
    last_dose = first + timedelta(days=13)  # Frankie's 14-day prescription ends then
    while (
        (stay_to + timedelta(days=1)).weekday() < 5
        and stay_to < stay_from + timedelta(days=2)
        and stay_to < last_dose
    ):
        stay_to += timedelta(days=1)
    counter.sign_in("pharmacist")
    counter.call(
        "pharmacist",
        "POST",
        f"/prescriptions/{frankie_rx}/guest-grants",
        {
            "guest_ods_code": "FDK02",
            "from_date": stay_from.isoformat(),
            "to_date": stay_to.isoformat(),
            "note": "Demo: staying with family near Hillside Pharmacy",
        },
    )
    billie = prescribe(
        index_of("Billie Ash"),
        45,
        SUPERVISED_MON_SAT,
        EVERY_DAY,
        first=today,
        on=today,
        at=now,
        check=False,
    )
    return [
        f"History: {HISTORY_DAYS} days replayed from {first.isoformat()} "
        "(Frankie Moss withheld two days ago; Jamie Reed blocked after three days without a dose; "
        f"{escalated} alert(s) escalated overnight, the earlier ones acknowledged).",
        f"Pending second check: Billie Ash's prescription id={billie}.",
        f"In hospital: Sasha Wren's prescription suspended two days ago id={sasha_rx}.",
        f"Guest dosing: Frankie Moss is dosed at Hillside Pharmacy (sign in as hillside) from "
        f"{stay_from.isoformat()} to {stay_to.isoformat()}.",
    ]


def _supply(counter: _Counter, patient_id: UUID, day: date) -> None:
    """Check, then hand over what the check offers, acknowledging its warnings (the demo's
    pharmacist has read them). A check that blocks leaves the day to close-day."""
    decision = counter.call(
        "pharmacist", "POST", "/counter/check", {"patient_id": str(patient_id), "date": str(day)}
    )
    if not decision["allowed"]:
        return
    counter.call(
        "pharmacist",
        "POST",
        "/counter/handover",
        {
            "patient_id": str(patient_id),
            "date": day.isoformat(),
            "outcome": "supervised" if decision["mode"] == "supervised" else "collected",
            "intoxicated": False,
            "acknowledged": [w["code"] for w in decision["warnings"]],
            "measuring_device": decision["needs_measuring_device"],
        },
    )


def _acknowledge_everything(counter: _Counter) -> None:
    for alert in counter.call("safeguarding", "GET", "/alerts?state=open&limit=100")["items"]:
        counter.call(
            "safeguarding",
            "POST",
            f"/alerts/{alert['id']}/acknowledge",
            {"note": "Demo: spoke to the key worker; they will see the patient tomorrow."},
        )
