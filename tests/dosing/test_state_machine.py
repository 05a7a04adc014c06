"""A Hypothesis state machine over the counter ledger (reliability.md §5.1).

One patient per example, with an active 14-day prescription (either supervised Monday to
Saturday with Sunday's dose taken home on Saturday, or a twice-weekly take-home collected on
Mondays and Thursdays), driven through the API by handovers, withholds, close-day, the
prescriber's release and the clock moving on. The two regimes run as two tests of 25
examples each, so xdist spreads them over its workers. A small model of the ledger
predicts every answer; after every step the database must agree with it:

- every dose date has exactly one row;
- no row ever leaves a final state;
- nothing is supplied (supervised or collected) while a block stands: the model predicts
  `missed_threshold_reached` from its own count of consecutive missed days (reset by a
  release) and the counter must say the same;
- the missed rows are exactly those the model closed, and close-day reports that count.

Each example gets its own household and patient in the test's pharmacy; at the end of an
example the rest of its schedule is closed, so the next example's close-day counts only its
own patient.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, ClassVar
from uuid import UUID

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from app.clock import FixedClock
from app.dosing.models import InstalmentDay
from tests.dosing.test_counter_api import (
    API,
    WARNINGS,
    at,
    close_day,
    codes,
    handover,
    prescribe,
    twice_weekly_take_home,
)
from tests.factories import NOW, World
from tests.prescriptions.test_api import MONDAY

END = MONDAY + timedelta(days=13)
FINAL = {"supervised", "collected", "missed", "withheld"}
SUPPLIED = {"supervised", "collected"}
THRESHOLD = 3  # PolicySettings.missed_threshold, the default the suite runs with

MACHINE_SETTINGS = settings(
    max_examples=25,
    stateful_step_count=10,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


class CounterLedger(RuleBasedStateMachine):
    world: ClassVar[World]
    clock: ClassVar[FixedClock]
    regime: ClassVar[dict[str, Any]]

    def __init__(self) -> None:
        super().__init__()
        self.patient_id = ""
        self.prescription_id = ""
        self.today = MONDAY
        self.collect_on: dict[date, date] = {}
        self.mode: dict[date, str] = {}
        self.state: dict[date, str] = {}
        self.released_on: date | None = None
        self.seen_final: dict[date, str] = {}
        # What has happened at the counter today: each action once a day keeps the runs
        # moving through the fortnight rather than repeating one refusal.
        self.done_today: set[str] = set()

    # --- set-up and the model's own reasoning ----------------------------------------

    @initialize()
    def a_patient_with_an_active_prescription(self) -> None:
        world = self.world
        self.clock.set(NOW)
        house = world.household()  # no children: Sunday's take-home needs no box
        self.patient_id = world.patient(house["id"])["id"]
        rx = prescribe(world, self.patient_id, **self.regime)
        self.prescription_id = rx["id"]
        for day in rx["schedule"]:
            dose_date = date.fromisoformat(day["dose_date"])
            self.collect_on[dose_date] = date.fromisoformat(day["collect_on"])
            self.mode[dose_date] = day["mode"]
            self.state[dose_date] = "due"
        assert len(self.state) == 14
        self.today = MONDAY
        self.clock.set(at(MONDAY, 9))

    def todays(self) -> list[date]:
        return sorted(d for d, c in self.collect_on.items() if c == self.today)

    def streak_before_today(self) -> int:
        return self.streak_through(self.today - timedelta(days=1))

    def streak_through(self, day: date) -> int:
        count = 0
        while self.state.get(day) == "missed" and (
            self.released_on is None or day >= self.released_on
        ):
            count += 1
            day -= timedelta(days=1)
        return count

    def post(self, path: str, body: dict[str, Any], role: str = "pharmacist") -> Any:
        return self.world.post(path, body, role=role)

    # --- rules --------------------------------------------------------------------------

    def once_today(self, action: str) -> None:
        self.done_today.add(action)

    @precondition(lambda self: self.today < END)
    @rule(days=st.integers(min_value=1, max_value=2))
    def the_clock_moves_on(self, days: int) -> None:
        self.today = min(self.today + timedelta(days=days), END)
        self.clock.set(at(self.today, 9))
        self.done_today = set()

    @precondition(lambda self: "check" not in self.done_today)
    @rule()
    def the_counter_checks(self) -> None:
        self.once_today("check")
        decision = self.post(f"{API}/counter/check", {"patient_id": self.patient_id})
        assert decision.status_code == 200, decision.text
        body = decision.json()
        blocked = self.streak_before_today() >= THRESHOLD
        assert ("missed_threshold_reached" in codes(body["blocks"])) == blocked, (
            self.today,
            self.state,
            self.released_on,
            body,
        )
        rows = self.todays()
        assert body["dose_dates"] == [d.isoformat() for d in rows]
        expected_allowed = bool(rows) and not blocked and all(self.state[d] == "due" for d in rows)
        assert body["allowed"] == expected_allowed, (self.today, self.state, body)

    @precondition(lambda self: "handover" not in self.done_today)
    @rule()
    def the_patient_asks_for_todays_dose(self) -> None:
        self.once_today("handover")
        rows = self.todays()
        supervised_today = any(d == self.today and self.mode[d] == "supervised" for d in rows)
        outcome = "supervised" if supervised_today else "collected"
        response = self.post(
            f"{API}/counter/handover",
            handover(self.patient_id, self.today, outcome, acknowledged=WARNINGS),
        )
        blocked = self.streak_before_today() >= THRESHOLD
        event(f"handover: {response.status_code}{' blocked' if blocked else ''}")
        if not rows:
            assert response.status_code == 422, response.text
            assert "not_due_today" in codes(response.json()["blocks"])
        elif any(self.state[d] != "due" for d in rows):
            assert response.status_code == 409, response.text
            assert response.json()["code"] == "already_recorded"
        elif blocked:
            assert response.status_code == 422, response.text
            assert "missed_threshold_reached" in codes(response.json()["blocks"])
        else:
            assert response.status_code == 201, response.text
            for d in rows:
                supervised = d == self.today and self.mode[d] == "supervised"
                self.state[d] = "supervised" if supervised else "collected"
            assert {x["dose_date"]: x["state"] for x in response.json()["doses"]} == {
                d.isoformat(): self.state[d] for d in rows
            }

    @precondition(lambda self: "withhold" not in self.done_today)
    @rule(intoxicated=st.booleans())
    def the_pharmacist_withholds_todays_dose(self, intoxicated: bool) -> None:
        self.once_today("withhold")
        body: dict[str, Any] = {
            "patient_id": self.patient_id,
            "date": self.today.isoformat(),
            "reason": "intoxicated" if intoxicated else "other",
            "reason_text": "" if intoxicated else "Prescriber asked",
        }
        response = self.post(f"{API}/counter/withhold", body)
        due = [d for d in self.todays() if self.state[d] == "due"]
        if not due:
            assert response.status_code == 409, response.text
            return
        assert response.status_code == 201, response.text
        assert response.json()["withheld"] == [d.isoformat() for d in due]
        for d in due:
            self.state[d] = "withheld"

    @precondition(lambda self: "close" not in self.done_today)
    @rule()
    def the_day_is_closed(self) -> None:
        self.once_today("close")
        closing = [
            d for d, s in self.state.items() if s == "due" and self.collect_on[d] <= self.today
        ]
        self.clock.set(at(self.today, 19))
        result = close_day(self.world, self.today)
        self.clock.set(at(self.today, 9))
        assert result["missed"] == len(closing), (self.today, self.state, result)
        for d in closing:
            self.state[d] = "missed"
        # No children at home: one missed day tells nobody, two tell the key worker, three
        # or more stop supply and tell the prescriber.
        expected_alerts = 1 if closing and self.streak_through(self.today) >= 2 else 0
        assert result["alerts_raised"] == expected_alerts, (self.today, self.state, result)

    @precondition(lambda self: self.today < END)
    @rule(days=st.integers(min_value=1, max_value=4))
    def the_patient_stays_away(self, days: int) -> None:
        """The commonest way to a block: each day closes with nothing collected."""
        for _ in range(days):
            if self.today == END:
                break
            if "close" not in self.done_today:
                self.the_day_is_closed()
            self.the_clock_moves_on(1)

    @precondition(lambda self: "missed" in self.state.values() and "release" not in self.done_today)
    @rule()
    def the_prescriber_releases(self) -> None:
        self.once_today("release")
        response = self.post(
            f"{API}/prescriptions/{self.prescription_id}/release",
            {"note": "Reviewed by phone"},
            role="prescriber",
        )
        assert response.status_code == 201, response.text
        event(f"release after {self.streak_before_today()} missed")
        self.released_on = self.today

    # --- invariants ---------------------------------------------------------------------

    @invariant()
    def the_ledger_matches_the_model(self) -> None:
        if not self.patient_id:
            return
        with self.world.uow:
            rows = list(
                self.world.uow.session.execute(
                    select(
                        InstalmentDay.dose_date, InstalmentDay.state, InstalmentDay.recorded_at
                    ).where(InstalmentDay.patient_id == UUID(self.patient_id))
                )
            )
        dates = [r.dose_date for r in rows]
        assert len(dates) == len(set(dates)) == 14, "one row per dose date"
        actual = {r.dose_date: r.state for r in rows}
        for day, final in self.seen_final.items():
            assert actual[day] == final, f"{day} left its final state {final}"
        self.seen_final.update({d: s for d, s in actual.items() if s in FINAL})
        assert actual == self.state
        for r in rows:
            assert (r.recorded_at is None) == (r.state == "due")
        missed = sum(1 for s in actual.values() if s == "missed")
        assert missed == sum(1 for s in self.state.values() if s == "missed")

    def teardown(self) -> None:
        if not self.patient_id:
            return
        report = self.world.get(
            f"{API}/patients/{self.patient_id}/adherence",
            params={"from": MONDAY.isoformat(), "to": END.isoformat()},
        )
        assert report.status_code == 200, report.text
        summary = report.json()["summary"]
        for state in ("supervised", "collected", "missed", "withheld", "due"):
            assert summary[state] == sum(1 for s in self.state.values() if s == state), (
                state,
                summary,
                self.state,
            )
        # Close the rest of the schedule so the next example's close-day counts only its own.
        self.clock.set(at(END, 20))
        close_day(self.world, END)


@pytest.mark.parametrize("regime", ["supervised_mon_to_sat", "take_home_mon_and_thu"])
def test_the_counter_ledger_keeps_its_invariants(
    world: World, clock: FixedClock, regime: str
) -> None:
    class Machine(CounterLedger):
        pass

    Machine.world = world
    Machine.clock = clock
    Machine.regime = {} if regime == "supervised_mon_to_sat" else twice_weekly_take_home(40)
    run_state_machine_as_test(Machine, settings=MACHINE_SETTINGS)
