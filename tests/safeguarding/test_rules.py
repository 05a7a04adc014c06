"""Safeguarding events: the missed-dose ladder, intoxication, overrides and household rules."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from app.dosing.rules import Code
from app.households.rules import ChildFacts
from app.safeguarding.alert_vocabulary import Severity
from app.safeguarding.household_alerts import MemberRegime, household_events
from app.safeguarding.rules import (
    EventKind,
    Recipient,
    SafeguardingEvent,
    closed_day_events,
    intoxication_events,
    missed_dose_events,
    override_events,
    prescription_ending_events,
    refused_take_home_events,
)

KW, RX, SW, LEAD = (
    Recipient.KEY_WORKER,
    Recipient.PRESCRIBER,
    Recipient.SOCIAL_WORKER,
    Recipient.SAFEGUARDING_LEAD,
)
NONE: tuple[ChildFacts, ...] = ()
TODDLER = (ChildFacts(age_years=3, protection_status="none"),)
ON_PROTECTION_PLAN = (ChildFacts(age_years=3, protection_status="child_protection_plan"),)
IN_NEED = (ChildFacts(age_years=9, protection_status="child_in_need"),)
LOOKED_AFTER = (ChildFacts(age_years=12, protection_status="looked_after"),)
TEENAGERS = (
    ChildFacts(age_years=16, protection_status="none"),
    ChildFacts(age_years=17, protection_status="none"),
)


def summary(
    events: tuple[SafeguardingEvent, ...],
) -> list[tuple[EventKind, Severity, tuple[Recipient, ...]]]:
    return [(event.kind, event.severity, event.recipients) for event in events]


def assert_shareable(event: SafeguardingEvent) -> None:
    """An event may leave the system: no dates in the text, references and numbers in facts."""
    assert event.message.strip()
    assert not re.search(
        r"\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)", event.message
    )
    assert not re.search(r"\d{4}-\d{2}-\d{2}", event.message)
    assert all(isinstance(value, str | int | bool) for value in event.facts.values())


# The missed-dose ladder (DESIGN §3, End of day).

LADDER = [
    pytest.param(0, TODDLER, [], id="no missed day raises nothing"),
    pytest.param(1, NONE, [], id="one missed day without children raises nothing"),
    pytest.param(
        1,
        TODDLER,
        [(EventKind.MISSED_DOSE, Severity.INFO, (KW,))],
        id="one missed day with children not on a plan tells the key worker for information",
    ),
    pytest.param(
        1,
        ON_PROTECTION_PLAN,
        [(EventKind.MISSED_DOSE, Severity.WARNING, (KW, SW))],
        id="one missed day with a child on a protection plan tells the key and social worker",
    ),
    pytest.param(
        1,
        IN_NEED,
        [(EventKind.MISSED_DOSE, Severity.WARNING, (KW, SW))],
        id="one missed day with a child in need tells the key and social worker",
    ),
    pytest.param(
        1,
        LOOKED_AFTER,
        [(EventKind.MISSED_DOSE, Severity.WARNING, (KW, SW))],
        id="one missed day with a looked after child tells the key and social worker",
    ),
    pytest.param(
        2,
        NONE,
        [(EventKind.MISSED_DOSE, Severity.WARNING, (KW,))],
        id="two missed days tell the key worker",
    ),
    pytest.param(
        2,
        TODDLER,
        [(EventKind.MISSED_DOSE, Severity.WARNING, (KW,))],
        id="two missed days with children not on a plan tell the key worker",
    ),
    pytest.param(
        2,
        ON_PROTECTION_PLAN,
        [(EventKind.MISSED_DOSE, Severity.WARNING, (KW, SW))],
        id="two missed days with a child on a plan also tell the social worker",
    ),
    pytest.param(
        3,
        NONE,
        [(EventKind.MISSED_THRESHOLD_REACHED, Severity.URGENT, (RX, KW))],
        id="three missed days are urgent to the prescriber and key worker",
    ),
    pytest.param(
        3,
        TODDLER,
        [(EventKind.MISSED_THRESHOLD_REACHED, Severity.URGENT, (RX, KW, SW))],
        id="three missed days with children living there also tell the social worker",
    ),
    pytest.param(
        5,
        ON_PROTECTION_PLAN,
        [(EventKind.MISSED_THRESHOLD_REACHED, Severity.URGENT, (RX, KW, SW))],
        id="each further missed day past the threshold is urgent again",
    ),
]


@pytest.mark.parametrize(("streak", "children", "expected"), LADDER)
def test_the_missed_dose_ladder(
    streak: int,
    children: tuple[ChildFacts, ...],
    expected: list[tuple[EventKind, Severity, tuple[Recipient, ...]]],
) -> None:
    events = missed_dose_events(
        days_without_dose=streak, children=children, policy_missed_threshold=3
    )

    assert summary(events) == expected
    for event in events:
        assert event.dedupe_scope == "patient"
        assert event.facts["days_without_dose"] == streak
        assert_shareable(event)


def test_the_threshold_is_a_setting() -> None:
    events = missed_dose_events(days_without_dose=2, children=NONE, policy_missed_threshold=2)

    assert summary(events) == [(EventKind.MISSED_THRESHOLD_REACHED, Severity.URGENT, (RX, KW))]


def test_missed_days_below_a_higher_threshold_stay_with_the_key_worker() -> None:
    events = missed_dose_events(days_without_dose=4, children=NONE, policy_missed_threshold=5)

    assert summary(events) == [(EventKind.MISSED_DOSE, Severity.WARNING, (KW,))]


def test_the_threshold_message_says_supply_is_stopped_without_naming_anyone() -> None:
    (event,) = missed_dose_events(
        days_without_dose=3, children=ON_PROTECTION_PLAN, policy_missed_threshold=3
    )

    assert event.message == (
        "No methadone dose taken for 3 consecutive days (missed, withheld or not dispensed): "
        "supply is stopped until the prescriber reviews (risk of overdose from lost tolerance). "
        "A child lives in the household; one is known to children's social care."
    )
    assert dict(event.facts) == {
        "days_without_dose": 3,
        "missed_threshold": 3,
        "children": 1,
        "children_on_plan": 1,
    }


# Intoxication.


def test_an_intoxicated_patient_alone_has_the_withheld_dose_reported() -> None:
    events = intoxication_events(children_present=0, children_in_household=NONE)

    assert summary(events) == [(EventKind.DOSE_WITHHELD_INTOXICATED, Severity.WARNING, (KW, RX))]


def test_an_intoxicated_patient_with_children_at_home_but_not_present_is_one_event() -> None:
    events = intoxication_events(children_present=0, children_in_household=TODDLER)

    assert [event.kind for event in events] == [EventKind.DOSE_WITHHELD_INTOXICATED]


def test_a_withheld_dose_in_a_household_with_a_child_on_a_plan_tells_the_social_worker() -> None:
    events = intoxication_events(children_present=0, children_in_household=IN_NEED)

    assert summary(events) == [
        (EventKind.DOSE_WITHHELD_INTOXICATED, Severity.WARNING, (KW, RX, SW))
    ]


def test_intoxicated_with_a_child_present_is_urgent_to_the_social_and_key_worker() -> None:
    events = intoxication_events(children_present=2, children_in_household=TODDLER)

    assert summary(events) == [
        (EventKind.DOSE_WITHHELD_INTOXICATED, Severity.WARNING, (KW, RX)),
        (EventKind.INTOXICATED_WITH_CHILD_PRESENT, Severity.URGENT, (SW, KW)),
    ]
    present = events[1]
    assert present.facts["children_present"] == 2
    assert "with 2 children in their care" in present.message
    assert_shareable(present)


def test_a_child_present_who_does_not_live_there_still_raises_the_urgent_event() -> None:
    events = intoxication_events(children_present=1, children_in_household=NONE)

    assert [event.kind for event in events] == [
        EventKind.DOSE_WITHHELD_INTOXICATED,
        EventKind.INTOXICATED_WITH_CHILD_PRESENT,
    ]


# Overrides at the counter.


def test_a_box_override_is_an_urgent_event() -> None:
    events = override_events(overridden=["no_lockable_box"])

    assert summary(events) == [(EventKind.BOX_OVERRIDE, Severity.URGENT, (KW, RX, SW, LEAD))]
    assert_shareable(events[0])


def test_a_children_not_confirmed_override_asks_the_key_worker_to_reconfirm() -> None:
    events = override_events(overridden=[Code.CHILDREN_NOT_CONFIRMED])

    assert summary(events) == [
        (EventKind.CHILDREN_NOT_CONFIRMED_OVERRIDE, Severity.WARNING, (KW, LEAD))
    ]


def test_both_overrides_raise_one_event_each_however_often_named() -> None:
    events = override_events(
        overridden=["children_not_confirmed", "no_lockable_box", "no_lockable_box"]
    )

    assert [event.kind for event in events] == [
        EventKind.BOX_OVERRIDE,
        EventKind.CHILDREN_NOT_CONFIRMED_OVERRIDE,
    ]


def test_no_override_raises_nothing() -> None:
    assert override_events(overridden=[]) == ()


def test_overriding_a_code_that_cannot_be_overridden_is_a_bug() -> None:
    with pytest.raises(ValueError, match="patient_intoxicated"):
        override_events(overridden=["no_lockable_box", "patient_intoxicated"])


def test_a_take_home_refused_for_want_of_a_box_asks_for_a_box_check() -> None:
    events = refused_take_home_events(standing=[Code.NO_LOCKABLE_BOX, Code.WRONG_PHARMACY])

    assert summary(events) == [(EventKind.TAKE_HOME_BLOCKED_NO_BOX, Severity.WARNING, (KW, RX))]
    assert refused_take_home_events(standing=["wrong_pharmacy"]) == ()


# Household rules.


def members(*regimes: tuple[str, bool, bool]) -> tuple[MemberRegime, ...]:
    """(ref, takes methadone home, supervised every day) -> regimes over 14 dose days: fully
    supervised is 14 of 14 days supervised, a take-home regime none."""
    return tuple(
        MemberRegime(ref, take_home, Decimal(1) if supervised else Decimal(0), 14)
        for ref, take_home, supervised in regimes
    )


def household(
    regimes: tuple[MemberRegime, ...],
    children: tuple[ChildFacts, ...] = TODDLER,
    at_home: int | str = 0,
) -> tuple[SafeguardingEvent, ...]:
    return household_events(
        members=regimes,
        children=children,
        methadone_at_home_mg=Decimal(at_home),
        policy_household_mg=Decimal(300),
        child_age_years=16,
    )


def test_one_member_supervised_for_the_children_while_another_takes_home_is_a_mismatch() -> None:
    events = household(members(("p-1", False, True), ("p-2", True, False)))

    assert summary(events) == [(EventKind.HOUSEHOLD_REGIME_MISMATCH, Severity.WARNING, (RX, KW))]
    assert events[0].dedupe_scope == "household"
    assert dict(events[0].facts) == {
        "supervised_members": "p-1",
        "take_home_members": "p-2",
        "most_supervised_percent": "100%",
        "least_supervised_percent": "0%",
        "children": 1,
    }
    assert "100% of dose days" in events[0].message


def test_the_seed_pattern_near_daily_supervision_with_a_sunday_take_home_is_a_mismatch() -> None:
    """Issue 14 #7: the mother is supervised Monday to Saturday and takes Sunday home (12 of
    14 days supervised); the father collects twice a week. A Sunday take-home must not stop
    her counting as supervised."""
    regimes = (
        MemberRegime("mother", True, Decimal(12) / 14, 14),
        MemberRegime("father", True, Decimal(0), 14),
    )
    events = household(regimes, children=ON_PROTECTION_PLAN)

    kinds = {event.kind: event for event in events}
    assert set(kinds) == {
        EventKind.HOUSEHOLD_REGIME_MISMATCH,
        EventKind.TAKE_HOME_IN_PROTECTED_HOUSEHOLD,
    }
    mismatch = kinds[EventKind.HOUSEHOLD_REGIME_MISMATCH]
    assert mismatch.recipients == (RX, KW, SW)
    assert "86%" in mismatch.message
    assert "0%" in mismatch.message


@pytest.mark.parametrize(
    ("shares", "mismatch"),
    [((Decimal("0.5"), Decimal(0)), True), ((Decimal("0.49"), Decimal(0)), False)],
    ids=["half the days apart", "just under half"],
)
def test_markedly_different_means_half_the_dose_days_apart(
    shares: tuple[Decimal, Decimal], mismatch: bool
) -> None:
    regimes = tuple(MemberRegime(f"p-{i}", True, share, 14) for i, share in enumerate(shares))
    kinds = {event.kind for event in household(regimes)}
    assert (EventKind.HOUSEHOLD_REGIME_MISMATCH in kinds) is mismatch


def test_no_children_no_mismatch_alert() -> None:
    assert household(members(("p-1", False, True), ("p-2", True, False)), children=()) == ()


def test_members_all_supervised_for_the_children_is_no_mismatch() -> None:
    assert household(members(("p-1", False, True), ("p-2", False, True))) == ()


def test_take_homes_without_anyone_supervised_for_the_children_is_no_mismatch() -> None:
    assert household(members(("p-1", True, False), ("p-2", True, False))) == ()


def test_a_lone_patient_cannot_mismatch_with_themselves() -> None:
    assert household(members(("p-1", True, True))) == ()


def test_a_take_home_where_a_child_is_on_a_protection_plan_is_urgent() -> None:
    events = household(members(("p-1", True, False)), children=ON_PROTECTION_PLAN)

    assert summary(events) == [
        (EventKind.TAKE_HOME_IN_PROTECTED_HOUSEHOLD, Severity.URGENT, (SW, KW, RX))
    ]
    assert events[0].facts["children_on_protection_plan"] == 1
    assert_shareable(events[0])


@pytest.mark.parametrize(
    "children", [IN_NEED, LOOKED_AFTER], ids=["child in need", "looked after child"]
)
def test_a_take_home_where_a_child_is_on_another_plan_is_a_warning(
    children: tuple[ChildFacts, ...],
) -> None:
    events = household(members(("p-1", True, False)), children=children)

    assert summary(events) == [
        (EventKind.TAKE_HOME_IN_PROTECTED_HOUSEHOLD, Severity.WARNING, (SW, KW, RX))
    ]


def test_a_protected_household_with_no_take_home_raises_nothing() -> None:
    assert household(members(("p-1", False, True)), children=ON_PROTECTION_PLAN) == ()


def test_a_take_home_where_no_child_is_on_a_plan_raises_nothing() -> None:
    assert household(members(("p-1", True, False)), children=TODDLER) == ()


def test_methadone_at_home_above_the_limit_with_a_young_child_is_a_warning() -> None:
    events = household(members(("p-1", True, False)), children=TODDLER, at_home="312.5")

    assert summary(events) == [(EventKind.HOUSEHOLD_METHADONE_HIGH, Severity.WARNING, (KW, RX))]
    assert events[0].facts["methadone_at_home_mg"] == "312.5"
    assert "312.5 mg of take-home methadone at home, above the 300 mg limit" in events[0].message


def test_methadone_at_home_above_the_limit_with_only_older_children_is_information() -> None:
    events = household(members(("p-1", True, False)), children=TEENAGERS, at_home=400)

    assert summary(events) == [(EventKind.HOUSEHOLD_METHADONE_HIGH, Severity.INFO, (KW, RX))]


def test_methadone_at_home_exactly_at_the_limit_raises_nothing() -> None:
    assert household(members(("p-1", True, False)), children=TODDLER, at_home=300) == ()


def test_the_seed_household_raises_every_household_rule_at_once() -> None:
    events = household(
        members(("p-mother", True, False), ("p-father", False, True)),
        children=ON_PROTECTION_PLAN,
        at_home=360,
    )

    assert summary(events) == [
        (EventKind.HOUSEHOLD_REGIME_MISMATCH, Severity.WARNING, (RX, KW, SW)),
        (EventKind.TAKE_HOME_IN_PROTECTED_HOUSEHOLD, Severity.URGENT, (SW, KW, RX)),
        (EventKind.HOUSEHOLD_METHADONE_HIGH, Severity.WARNING, (KW, RX, SW)),
    ]
    for event in events:
        assert event.dedupe_scope == "household"
        assert_shareable(event)


# Reminders to the prescriber.


def test_a_prescription_ending_without_a_successor_reminds_the_prescriber() -> None:
    events = prescription_ending_events(days_left=1, has_successor=False, policy_days=2)

    assert summary(events) == [(EventKind.PRESCRIPTION_ENDING, Severity.INFO, (RX, KW))]
    assert prescription_ending_events(days_left=1, has_successor=True, policy_days=2) == ()
    assert prescription_ending_events(days_left=3, has_successor=False, policy_days=2) == ()
    assert prescription_ending_events(days_left=-1, has_successor=False, policy_days=2) == ()


def test_doses_on_closed_days_without_wording_ask_for_an_amended_prescription() -> None:
    events = closed_day_events(closed_dose_days=2)

    assert summary(events) == [
        (EventKind.CLOSED_DAY_NEEDS_AMENDED_PRESCRIPTION, Severity.WARNING, (RX,))
    ]
    assert closed_day_events(closed_dose_days=0) == ()


def test_events_are_immutable_values() -> None:
    (event,) = override_events(overridden=["no_lockable_box"])

    with pytest.raises(TypeError):
        event.facts["overridden"] = "something else"  # type: ignore[index]
    assert hash(event) == hash(override_events(overridden=["no_lockable_box"])[0])
