"""Domain events (app/events.py): how a lower capability lets a higher one react without
importing it. A household change must run the household rules; an event that nobody answers
would silently stop a safety rule, so it is refused loudly."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

import app.main  # noqa: F401  (the application as served: every capability imported)
from app import events
from app.dosing.events import DayClosed
from app.dosing.household import on_household_changed
from app.dosing.rules import OVERRIDABLE, Code
from app.households import service as households_service
from app.households.events import HouseholdChanged
from app.households.rules import StorageBlock
from app.injections import overdue as injections_overdue
from app.patients.events import HouseholdNamed, MembersChanged


@dataclass(frozen=True)
class NobodyListens:
    pass


def test_an_event_nobody_answers_is_a_wiring_fault_not_a_quiet_no_op() -> None:
    with pytest.raises(events.Unhandled, match="NobodyListens"):
        events.publish(Session(), NobodyListens())


def test_the_served_application_answers_a_household_change_with_the_household_rules() -> None:
    assert events.handlers_for(HouseholdChanged) == (on_household_changed,)


def test_households_answer_a_patient_joining_or_leaving() -> None:
    """Patients sit below households: linking one checks the household is visible, and a move
    runs the rules of every household touched (which in turn publish HouseholdChanged)."""
    assert events.handlers_for(HouseholdNamed) == (households_service.on_household_named,)
    assert events.handlers_for(MembersChanged) == (households_service.on_members_changed,)


def test_injections_answer_a_closed_day_with_the_overdue_check() -> None:
    """Close of day (dosing) publishes DayClosed; the injection log, above it, raises the
    overdue-injection alerts in the same transaction."""
    assert events.handlers_for(DayClosed) == (injections_overdue.on_day_closed,)


def test_handlers_run_in_order_once_each_with_the_publishers_session() -> None:
    @dataclass(frozen=True)
    class Ping:
        n: int

    seen: list[tuple[str, int, Session]] = []

    def first(session: Session, event: Ping) -> None:
        seen.append(("first", event.n, session))

    def second(session: Session, event: Ping) -> None:
        seen.append(("second", event.n, session))

    events.subscribe(Ping, first)
    events.subscribe(Ping, second)
    events.subscribe(Ping, first)  # subscribing twice does not run it twice
    session = Session()
    events.publish(session, Ping(7))
    assert seen == [("first", 7, session), ("second", 7, session)]


def test_the_counter_may_override_exactly_the_household_storage_blocks() -> None:
    """Safeguarding raises an alert for an overridden storage block by its household name; the
    counter's codes take their values from the same place, so the two cannot drift."""
    assert {str(code) for code in OVERRIDABLE} == {str(block) for block in StorageBlock}
    assert Code.NO_LOCKABLE_BOX == StorageBlock.NO_LOCKABLE_BOX
    assert Code.CHILDREN_NOT_CONFIRMED == StorageBlock.CHILDREN_NOT_CONFIRMED
