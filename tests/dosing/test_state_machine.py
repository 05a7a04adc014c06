"""A Hypothesis state machine over the counter ledger, the CD register, the audit chain and
the alert outbox (reliability.md §5.1, §7 row 10).

One patient per example, with an active 14-day prescription (either supervised Monday to
Saturday with Sunday's dose taken home on Saturday, or a twice-weekly take-home collected on
Mondays and Thursdays), driven through the API by handovers, withholds, close-day, the
prescriber's release, a new prescription superseding the current one, stock received, CD
register corrections, the delivery worker and the clock moving on. A small model predicts
every answer; after every step the database must agree with it:

- the ledger: every dose date has exactly one row, under the prescription, collection day,
  mode and dose the model expects (a superseding prescription takes over the uncollected days
  from its start); no row ever leaves a final state; at most one supply per patient per day;
  nothing is supplied while the missed-dose block stands, and the missed rows are exactly
  those the model closed;
- the CD register: the balance is the model's receipts - supplies +/- corrections, each
  handover made exactly one supply line of the predicted quantity, and every new line links
  to the last with a correct hash and running balance;
- the audit chain: every new event links to its chain's head and hashes correctly;
- the alerts: exactly the alerts the rules should raise, each with exactly one outbox delivery
  per routed destination (and per escalation target), none lost (every delivery the model has
  seen is still there, pending, sending, delivered or dead), delivered and dead are final, the
  worker leaves nothing due behind, and a dead delivery is visible (its history says so and a
  `delivery_failed` alert for that day exists). At the end of an example the outbox is drained
  until every delivery is delivered or dead.

CI runs 200 examples: two regimes x two shards x 50, so xdist spreads the four tests over its
workers. Each test has a database of its own (the worker claims and escalates database-wide).
Set DOSEKEEPER_HYPOTHESIS_EXAMPLES to a multiplier (e.g. 25 for a 5,000-example nightly run):
above 1 the runs are random rather than derandomized, and a failure prints its reproduction
blob.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
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
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit import service as audit_service
from app.audit.models import AuditEvent
from app.clock import FixedClock
from app.dosing.models import InstalmentDay
from app.notify.channels import Result
from app.notify.models import Delivery, DeliveryAttempt
from app.notify.worker import Worker
from app.prescriptions.words import number_to_words
from app.register import balance_checks as register_balance
from app.register import chain as register_chain
from app.register.models import RegisterEntry
from app.safeguarding.delivery import alert_worker
from app.safeguarding.models import Alert, AlertHistory
from tests.builders import (
    API,
    MONDAY,
    WARNINGS,
    at,
    close_day,
    codes,
    fp10mda,
    handover,
    prescribe,
    twice_weekly_take_home,
)
from tests.databases import Database, build_database, drop_database
from tests.factories import NOW, World, make_contact

END = MONDAY + timedelta(days=13)
FINAL = {"supervised", "collected", "missed", "withheld"}
TAKEN = {"supervised", "collected"}
NOT_TAKEN = {"missed", "withheld"}
SUPPLIED = {"supervised", "collected"}
THRESHOLD = 3  # PolicySettings.missed_threshold, the default the suite runs with
PRODUCT = "methadone-1mg-ml"  # 1 mg/mL: a dose of n mg is n mL in the register
DELIVERY_STATES = {"pending", "sending", "delivered", "dead"}
SLA = {"info": 24 * 3600, "warning": 4 * 3600, "urgent": 15 * 60}  # NotifySettings default
RESOLVED_BY_RELEASE = {"missed_threshold_reached"}  # app/intake/changes.py release

# CI: 4 tests x 50 = 200 examples, derandomized. Nightly: DOSEKEEPER_HYPOTHESIS_EXAMPLES=25.
MULTIPLIER = max(1, int(os.environ.get("DOSEKEEPER_HYPOTHESIS_EXAMPLES", "1")))
SHARDS = 2
MACHINE_SETTINGS = settings(
    max_examples=50 * MULTIPLIER,
    stateful_step_count=10,
    deadline=None,
    derandomize=MULTIPLIER == 1,
    print_blob=MULTIPLIER > 1,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    """A database per test, not the worker-wide one: the delivery worker claims and escalates
    everything due in the database, and the audit chain is checked from its first event."""
    db = build_database(f"dk_machine_{uuid.uuid4().hex[:10]}", tmp_path)
    yield db
    db.engine.dispose()
    drop_database(db.url)


class Mail:
    """The email channel, up or down as the machine says (nothing leaves the process)."""

    def __init__(self) -> None:
        self.up = True

    def send(self, message: EmailMessage) -> Result:
        return Result("delivered") if self.up else Result("retry", detail="stub: mail down")


class Progress:
    """How far the append-only chains were verified: shared by all examples of one test,
    because they all append to the same pharmacy's chains."""

    def __init__(self) -> None:
        self.audit_seq = 0
        self.audit_heads: dict[str, str] = {}
        self.line = 0
        self.hash = register_chain.GENESIS
        self.balance = Decimal("0.00")


class LedgerMachine(RuleBasedStateMachine):
    world: ClassVar[World]
    clock: ClassVar[FixedClock]
    regime: ClassVar[str]
    worker: ClassVar[Worker]
    mail: ClassVar[Mail]
    progress: ClassVar[Progress]
    lead_id: ClassVar[UUID]

    def __init__(self) -> None:
        super().__init__()
        self.patient_id = ""
        self.prescription_id = ""
        self.current_start = MONDAY
        self.today = MONDAY
        self.collect_on: dict[date, date] = {}
        self.mode: dict[date, str] = {}
        self.dose: dict[date, Decimal] = {}
        self.under: dict[date, str] = {}  # dose date -> prescription id
        self.state: dict[date, str] = {}
        self.released_on: date | None = None
        self.seen_final: dict[date, str] = {}
        # What has happened at the counter today: each action once a day keeps the runs
        # moving through the fortnight rather than repeating one refusal.
        self.done_today: set[str] = set()
        # The CD register: the balance before this example, what it has changed since, and
        # the supply lines its handovers must have made.
        self.opening_balance = Decimal("0.00")
        self.balance_change = Decimal("0.00")
        self.supplies: list[tuple[date, Decimal, list[str]]] = []
        self.correctable: list[str] = []
        # Alerts the counter must have raised: (kind, day); and the outbox rows seen so far.
        self.expected_alerts: set[tuple[str, date]] = set()
        self.deliveries_seen: dict[UUID, str] = {}
        self.worker_ran_at: datetime | None = None
        self.just_drained = False

    # --- set-up and the model's own reasoning ----------------------------------------

    @initialize()
    def a_patient_with_an_active_prescription(self) -> None:
        world = self.world
        self.clock.set(NOW)
        self.mail.up = True
        # A household with no children: Sunday's take-home needs no box, and the missed-dose
        # ladder is the plain one (2 days: key worker; 3 or more: prescriber and key worker).
        house = world.household()
        self.patient_id = world.patient(house["id"])["id"]
        rx = prescribe(
            world, self.patient_id, **self.prescription_body(MONDAY, 60 if self.supervised else 40)
        )
        self.take_over(rx)
        assert len(self.state) == 14
        self.today = MONDAY
        self.clock.set(at(MONDAY, 9))
        with world.uow:
            self.opening_balance = register_balance.book_balance(
                world.uow.session, world.home.pharmacy_id, PRODUCT, END + timedelta(days=400)
            )

    @property
    def supervised(self) -> bool:
        return self.regime == "supervised_mon_to_sat"

    def prescription_body(self, start: date, mg: int) -> dict[str, Any]:
        days = (END - start).days + 1
        if self.supervised:
            body: dict[str, Any] = {
                "direction_text": f"{mg}mg ({mg}ml) daily. Supervised consumption Mon-Sat. "
                "Sunday dose to be collected on Saturday."
            }
        else:
            body = twice_weekly_take_home(40)  # the shape; the dates and amounts are below
            body["direction_text"] = (
                f"{mg}mg ({mg}ml) daily. Collect Monday and Thursday for the days to the next "
                "collection. If the pharmacy is closed, supply on the prior open day."
            )
        body.update(
            daily_dose_mg=str(mg),
            start_on=start.isoformat(),
            end_on=END.isoformat(),
            total_quantity_ml=str(mg * days),
            total_quantity_words=number_to_words(mg * days),
        )
        return body

    def predicted_schedule(self, start: date, mg: int) -> dict[date, tuple[date, str]]:
        """dose date -> (collect on, mode) for a prescription from `start` to END, as the
        pharmacist would write it (the pharmacy is closed on Sundays)."""
        days = [start + timedelta(days=i) for i in range((END - start).days + 1)]
        if self.supervised:
            return {
                d: (d - timedelta(days=1), "take_home") if d.weekday() == 6 else (d, "supervised")
                for d in days
            }
        schedule = {}
        for d in days:
            collect = d
            while collect.weekday() not in (0, 3):
                collect -= timedelta(days=1)
            schedule[d] = (collect, "take_home")
        return schedule

    def take_over(self, rx: dict[str, Any]) -> None:
        """The model's ledger after a prescription's check: its days replace the uncollected
        days from its start."""
        self.prescription_id = rx["id"]
        self.current_start = date.fromisoformat(rx["start_on"])
        for day in rx["schedule"]:
            dose_date = date.fromisoformat(day["dose_date"])
            self.collect_on[dose_date] = date.fromisoformat(day["collect_on"])
            self.mode[dose_date] = day["mode"]
            self.dose[dose_date] = Decimal(day["dose_mg"])
            self.under[dose_date] = rx["id"]
            self.state[dose_date] = "due"

    def todays(self) -> list[date]:
        return sorted(d for d, c in self.collect_on.items() if c == self.today)

    def streak_before_today(self) -> int:
        return self.streak_through(self.today - timedelta(days=1))

    def streak_through(self, day: date) -> int:
        """Days without a dose taken up to `day` (DESIGN §3): any day not supervised or
        collected counts (missed, withheld, still due, no row at all), back to the day the
        patient's treatment here began (a patient new to treatment) or the prescriber's last
        review."""
        count = 0
        while (
            day >= MONDAY
            and self.state.get(day) not in TAKEN
            and (self.released_on is None or day >= self.released_on)
        ):
            count += 1
            day -= timedelta(days=1)
        return count

    def close_day_alert(self, day: date) -> str | None:
        """The alert close-day raises for `day`, which has no dose taken: none for a lone
        withheld day (the withhold alerted), none for one missed day (no children), the key
        worker from two days, the prescriber from the threshold."""
        if self.state.get(day) not in NOT_TAKEN:
            return None
        streak = self.streak_through(day)
        if streak >= THRESHOLD:
            return "missed_threshold_reached"
        return "missed_dose" if streak >= 2 else None

    def balance(self) -> Decimal:
        return self.opening_balance + self.balance_change

    def post(self, path: str, body: dict[str, Any], role: str = "pharmacist") -> Any:
        return self.world.post(path, body, role=role)

    def once_today(self, action: str) -> None:
        self.done_today.add(action)

    def set_clock(self, day: date, hour: int) -> None:
        self.clock.set(at(day, hour))

    # --- rules: the counter -------------------------------------------------------------

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
        elif any(self.state[d] == "withheld" for d in rows):
            assert response.status_code == 422, response.text
            assert "withheld_today" in codes(response.json()["blocks"])
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
            quantity = sum((self.dose[d] for d in rows), Decimal(0))
            self.supplies.append((self.today, quantity, [d.isoformat() for d in rows]))
            self.balance_change -= quantity

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
        if intoxicated:
            self.expected_alerts.add(("dose_withheld_intoxicated", self.today))

    @precondition(lambda self: "close" not in self.done_today)
    @rule()
    def the_day_is_closed(self) -> None:
        self.once_today("close")
        closing = [
            d for d, s in self.state.items() if s == "due" and self.collect_on[d] <= self.today
        ]
        self.set_clock(self.today, 19)
        result = close_day(self.world, self.today)
        self.set_clock(self.today, 9)
        assert result["missed"] == len(closing), (self.today, self.state, result)
        for d in closing:
            self.state[d] = "missed"
        # No children at home: one missed day tells nobody, two tell the key worker, three
        # or more stop supply and tell the prescriber; withheld days count as days without.
        kind = self.close_day_alert(self.today)
        # The close covers the whole pharmacy (earlier examples' patients share it), so what
        # this patient was told is read from their own alerts raised by this close.
        with self.world.uow:
            raised = set(
                self.world.uow.session.scalars(
                    select(Alert.kind).where(
                        Alert.patient_id == UUID(self.patient_id),
                        Alert.created_at == at(self.today, 19),
                        Alert.kind.in_(("missed_dose", "missed_threshold_reached")),
                    )
                )
            )
        expected = {kind} if kind and (kind, self.today) not in self.expected_alerts else set()
        assert raised == expected, (self.today, self.state, result, raised)
        assert result["alerts_raised"] >= len(expected), result
        if kind:
            self.expected_alerts.add((kind, self.today))

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

    # --- rules: a new prescription supersedes the current one ---------------------------

    def starts(self) -> list[date]:
        """Days a superseding prescription may start: from today (and not before the current
        one), on a day the regime collects, before the fortnight's last day."""
        first = max(self.today, self.current_start)
        days = [first + timedelta(days=i) for i in range((END - first).days)]
        if self.supervised:
            return [d for d in days if d.weekday() != 6]
        return [d for d in days if d.weekday() in (0, 3)]

    @precondition(lambda self: "supersede" not in self.done_today and bool(self.starts()))
    @rule(pick=st.integers(min_value=0, max_value=3), mg=st.sampled_from([30, 50]))
    def a_new_prescription_supersedes_the_current_one(self, pick: int, mg: int) -> None:
        self.once_today("supersede")
        options = self.starts()
        start = options[min(pick, len(options) - 1)]
        body = fp10mda(
            self.world,
            self.patient_id,
            **self.prescription_body(start, mg),
            supersedes_id=self.prescription_id,
        )
        created = self.post(f"{API}/prescriptions", body)
        assert created.status_code == 201, created.text
        rx = created.json()
        predicted = self.predicted_schedule(start, mg)
        assert {
            date.fromisoformat(d["dose_date"]): (date.fromisoformat(d["collect_on"]), d["mode"])
            for d in rx["schedule"]
        } == predicted, (start, rx["schedule"])
        checked = self.post(f"{API}/prescriptions/{rx['id']}/verify", {}, role="pharmacist2")
        recorded = [d for d, s in self.state.items() if d >= start and s != "due"]
        event(f"supersede: {checked.status_code}")
        if recorded:
            # A day from the new start was already supplied, withheld or missed under the old.
            assert checked.status_code == 409, checked.text
            assert checked.json()["code"] == "overlap_already_recorded", checked.text
            cancelled = self.post(
                f"{API}/prescriptions/{rx['id']}/cancel", {"reason": "Start after the last dose"}
            )
            assert cancelled.status_code == 200, cancelled.text
            return
        assert checked.status_code == 200, checked.text
        verified = checked.json()
        assert verified["status"] == "active"
        assert len(verified["schedule"]) == len(predicted)
        for d in list(self.state):
            if d >= start:
                del self.collect_on[d], self.mode[d], self.dose[d], self.under[d], self.state[d]
        self.take_over(verified)
        assert all(self.dose[d] == mg for d in predicted)

    # --- rules: the CD register ---------------------------------------------------------

    @precondition(lambda self: "receipt" not in self.done_today)
    @rule(quantity=st.sampled_from([100, 250, 500]))
    def stock_is_received(self, quantity: int) -> None:
        self.once_today("receipt")
        response = self.post(
            f"{API}/register/receipts",
            {
                "received_on": self.today.isoformat(),
                "supplier_name": "Test Wholesale Ltd",
                "supplier_address": "1 Depot Road, Testtown",
                "quantity_ml": str(quantity),
                "invoice_ref": f"INV-{uuid.uuid4().hex[:6]}",
                "product": PRODUCT,
            },
        )
        assert response.status_code == 201, response.text
        self.balance_change += quantity
        entry = response.json()
        assert Decimal(entry["balance_ml"]) == self.balance(), (entry, self.balance())
        self.correctable.append(entry["id"])

    @precondition(lambda self: "correct" not in self.done_today and bool(self.correctable))
    @rule(
        pick=st.integers(min_value=0, max_value=5),
        change=st.sampled_from(["0", "-10", "5", "-60", "20.50"]),
        role=st.sampled_from(["pharmacist", "pharmacist", "technician"]),
    )
    def a_register_entry_is_corrected(self, pick: int, change: str, role: str) -> None:
        self.once_today("correct")
        corrects = self.correctable[pick % len(self.correctable)]
        response = self.post(
            f"{API}/register/corrections",
            {"corrects_id": corrects, "change_ml": change, "reason": "Counted again"},
            role=role,
        )
        if role == "technician":  # only a pharmacist corrects the register
            assert response.status_code == 403, response.text
            return
        assert response.status_code == 201, response.text
        self.balance_change += Decimal(change)
        entry = response.json()
        assert entry["corrects_id"] == corrects
        assert Decimal(entry["balance_ml"]) == self.balance(), (entry, self.balance())
        self.correctable.append(entry["id"])

    # --- rules: the outbox --------------------------------------------------------------

    @precondition(lambda self: "worker" not in self.done_today)
    @rule(mail_up=st.booleans())
    def the_delivery_worker_runs(self, mail_up: bool) -> None:
        self.once_today("worker")
        self.mail.up = mail_up
        self.drain()

    def drain(self) -> None:
        for _ in range(20):
            if not self.worker.run_once():
                break
        else:
            raise AssertionError("the worker never ran out of due deliveries")
        self.worker_ran_at = self.clock.now()
        self.just_drained = True

    # --- invariants ---------------------------------------------------------------------

    @invariant()
    def the_records_match_the_model(self) -> None:
        if not self.patient_id:
            return
        with self.world.uow:
            session = self.world.uow.session
            self.check_ledger(session)
            self.check_register(session)
            self.check_audit_chain(session)
            self.check_alerts(session)

    def check_ledger(self, session: Session) -> None:
        rows = list(
            session.execute(
                select(
                    InstalmentDay.dose_date,
                    InstalmentDay.state,
                    InstalmentDay.recorded_at,
                    InstalmentDay.prescription_id,
                    InstalmentDay.collect_on,
                    InstalmentDay.mode,
                    InstalmentDay.dose_mg,
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
            assert str(r.prescription_id) == self.under[r.dose_date], r
            assert (r.collect_on, r.mode) == (self.collect_on[r.dose_date], self.mode[r.dose_date])
            assert Decimal(r.dose_mg) == self.dose[r.dose_date], r
        supplied_on = [self.collect_on[d] for d, s in actual.items() if s in SUPPLIED]
        # Everything supplied on one day was one handover (one supply line below).
        assert len({d for d, _, _ in self.supplies}) == len(self.supplies)
        assert set(supplied_on) == {d for d, _, _ in self.supplies}

    def check_register(self, session: Session) -> None:
        pharmacy_id = self.world.home.pharmacy_id
        progress = self.progress
        new_lines = session.scalars(
            select(RegisterEntry)
            .where(
                RegisterEntry.pharmacy_id == pharmacy_id,
                RegisterEntry.product == PRODUCT,
                RegisterEntry.line > progress.line,
            )
            .order_by(RegisterEntry.line)
        )
        for entry in new_lines:
            assert entry.line == progress.line + 1, f"line {progress.line + 1} is missing"
            assert entry.prev_hash == progress.hash, f"line {entry.line} does not link"
            assert register_chain._digest(progress.hash, entry) == entry.hash, entry.line
            progress.balance += entry.change_ml
            assert entry.balance_ml == progress.balance, f"line {entry.line} balance"
            progress.line, progress.hash = entry.line, entry.hash
        assert progress.balance == self.balance(), (progress.balance, self.balance())
        supplies = [
            (e.transaction_date, e.quantity_ml, list(e.dose_dates or []), e.id)
            for e in session.scalars(
                select(RegisterEntry)
                .where(RegisterEntry.patient_id == UUID(self.patient_id))
                .where(RegisterEntry.kind == "supply")
                .order_by(RegisterEntry.line)
            )
        ]
        assert [(d, q, dd) for d, q, dd, _ in supplies] == self.supplies
        for *_, entry_id in supplies:
            if str(entry_id) not in self.correctable:
                self.correctable.append(str(entry_id))

    def check_audit_chain(self, session: Session) -> None:
        progress = self.progress
        for event_ in session.scalars(
            select(AuditEvent).where(AuditEvent.seq > progress.audit_seq).order_by(AuditEvent.seq)
        ):
            prev = progress.audit_heads.get(event_.chain, audit_service.GENESIS)
            assert event_.prev_hash == prev, f"audit event {event_.seq} does not link"
            assert audit_service._digest(prev, audit_service._body(event_)) == event_.hash, (
                f"audit event {event_.seq} does not hash"
            )
            progress.audit_heads[event_.chain] = event_.hash
            progress.audit_seq = event_.seq

    def routed(self, alert: Alert) -> dict[int, list[UUID]]:
        """Escalation level -> the contacts the model expects one email each."""
        first = {
            "missed_dose": [self.world.key_worker_id],
            "missed_threshold_reached": [self.world.prescriber_id, self.world.key_worker_id],
            "dose_withheld_intoxicated": [self.world.key_worker_id, self.world.prescriber_id],
            "delivery_failed": [self.lead_id],
        }[alert.kind]
        # Level 1 is the safeguarding lead; level 2 the MASH, and this area has none.
        ladder = {0: first, 1: [self.lead_id], 2: []}
        return {level: ladder[level] for level in range(alert.escalation_level + 1)}

    def check_alerts(self, session: Session) -> None:
        alerts = list(
            session.scalars(select(Alert).where(Alert.patient_id == UUID(self.patient_id)))
        )
        raised = {(a.kind, a.created_at.date()) for a in alerts if a.kind != "delivery_failed"}
        assert raised == self.expected_alerts, (raised, self.expected_alerts)
        by_alert: dict[UUID, list[Delivery]] = {a.id: [] for a in alerts}
        for delivery in session.scalars(
            select(Delivery).where(Delivery.alert_id.in_([a.id for a in alerts]))
        ):
            by_alert[delivery.alert_id].append(delivery)
        for alert in alerts:
            deliveries = by_alert[alert.id]
            expected = sorted(
                (level, str(c)) for level, cs in self.routed(alert).items() for c in cs
            )
            actual = sorted((d.escalation_level, str(d.contact_id)) for d in deliveries)
            assert actual == expected, (
                "one delivery per destination",
                alert.kind,
                actual,
                expected,
            )
            assert {d.channel for d in deliveries} <= {"email"}
            if alert.state == "resolved":  # a prescriber's release dealt with its cause
                assert self.released_on is not None, ("resolved without a release", alert.kind)
                assert alert.kind in RESOLVED_BY_RELEASE, alert.kind
                continue
            if (
                self.worker_ran_at is not None
                and alert.acknowledged_at is None
                and alert.created_at + timedelta(seconds=SLA[alert.severity]) <= self.worker_ran_at
            ):
                assert alert.escalation_level >= 1, ("not escalated", alert.kind, alert.created_at)
        current = {d.id: d for ds in by_alert.values() for d in ds}
        lost = set(self.deliveries_seen) - set(current)
        assert not lost, f"deliveries lost: {lost}"
        for delivery_id, delivery in current.items():
            assert delivery.state in DELIVERY_STATES, delivery.state
            before = self.deliveries_seen.get(delivery_id)
            if before in ("delivered", "dead"):
                assert delivery.state == before, f"a {before} delivery became {delivery.state}"
            if self.just_drained:
                # The worker ran and stopped: nothing of ours is left claimed or overdue.
                assert delivery.state != "sending", delivery_id
                assert not (
                    delivery.state == "pending" and delivery.next_attempt_at <= self.clock.now()
                )
            self.deliveries_seen[delivery_id] = delivery.state
        # A dead delivery is visible: its alert's history says so, and the safeguarding lead
        # has a delivery_failed alert for that day (unless the dead one was that alert).
        dead = [d for d in current.values() if d.state == "dead"]
        if dead:
            histories = session.scalar(
                select(func.count())
                .select_from(AlertHistory)
                .where(
                    AlertHistory.alert_id.in_([a.id for a in alerts]),
                    AlertHistory.action == "delivery_dead",
                )
            )
            assert histories == len(dead)
        kinds = {a.id: a.kind for a in alerts}
        died_on = {
            at.date()
            for at, alert_id in session.execute(
                select(DeliveryAttempt.at, Delivery.alert_id)
                .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
                .where(Delivery.id.in_([d.id for d in dead]), DeliveryAttempt.outcome == "dead")
            )
            if kinds[alert_id] != "delivery_failed"
        }
        failed_on = {a.created_at.date() for a in alerts if a.kind == "delivery_failed"}
        assert failed_on == died_on, (failed_on, died_on)
        self.just_drained = False

    def teardown(self) -> None:
        if not self.patient_id:
            return
        report = self.world.get(
            f"{API}/patients/{self.patient_id}/adherence",
            params={"from": MONDAY.isoformat(), "to": END.isoformat()},
        )
        assert report.status_code == 200, report.text
        summary = report.json()["summary"]
        for state in ("supervised", "collected", "missed", "withheld", "due", "not_dispensed"):
            assert summary[state] == sum(1 for s in self.state.values() if s == state), (
                state,
                summary,
                self.state,
            )
        # Close the rest of the schedule so the next example's close-day counts only its own.
        self.clock.set(at(END, 20))
        close_day(self.world, END)
        # Every alert ends delivered or visibly dead: the mail comes back and the worker runs
        # two days on (retries have run out by then, escalations are due and sent at once).
        self.mail.up = True
        self.clock.set(at(END + timedelta(days=2), 9))
        self.drain()
        self.expected_alerts |= self.end_alerts()
        with self.world.uow:
            self.check_alerts(self.world.uow.session)
            unsettled = self.world.uow.session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.state.in_(("pending", "sending")))
            )
        assert not unsettled, f"{unsettled} deliveries neither delivered nor dead"
        states = set(self.deliveries_seen.values())
        assert states <= {"delivered", "dead"}, states
        for state in states:
            event(f"an outbox row ended {state}")

    def end_alerts(self) -> set[tuple[str, date]]:
        """Close-day at END marks what is left missed and may raise one more alert."""
        closing = [d for d, s in self.state.items() if s == "due"]
        for d in closing:
            self.state[d] = "missed"
        kind = self.close_day_alert(END)
        return {(kind, END)} if kind else set()


REGIMES = ["supervised_mon_to_sat", "take_home_mon_and_thu"]


@pytest.mark.parametrize("shard", range(SHARDS))
@pytest.mark.parametrize("regime", REGIMES)
def test_the_ledger_keeps_its_invariants(
    world: World, clock: FixedClock, session_factory: Any, regime: str, shard: int
) -> None:
    # A class of its own per test: Hypothesis derandomizes from the machine's name, so each
    # shard explores different runs.
    machine: type[LedgerMachine] = type(f"Ledger_{regime}_{shard}", (LedgerMachine,), {})
    mail = Mail()
    machine.world = world
    machine.clock = clock
    machine.regime = regime
    machine.mail = mail
    machine.progress = Progress()
    machine.lead_id = make_contact(world.uow, "safeguarding_lead")
    machine.worker = alert_worker(
        session_factory, world.settings, clock, name="machine", mail=mail, seed=shard
    )
    try:
        run_state_machine_as_test(machine, settings=MACHINE_SETTINGS)
    finally:
        machine.worker.close()
    # The whole audit log and the register verify from their first entries.
    with world.uow:
        assert audit_service.verify(world.uow.session).ok
        assert register_chain.verify_chain(world.uow.session, world.home.pharmacy_id, PRODUCT).ok
