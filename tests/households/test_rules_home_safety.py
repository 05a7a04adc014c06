"""When the counter prompts for naloxone and safe-storage advice (pure: facts in, prompts out)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from app.households.home_safety import (
    ADVICE_TOPICS,
    INTOXICATION_WINDOW_DAYS,
    AdviceGiven,
    HomeSafetyFacts,
    PromptCode,
    prompts,
)

TODAY = date(2026, 3, 2)
NOON = datetime(2026, 3, 2, 12, tzinfo=UTC)
EVERYTHING = frozenset(ADVICE_TOPICS)
FIRST_TAKE_HOME = HomeSafetyFacts(today=TODAY, children=1, take_home_today=True)


def codes(facts: HomeSafetyFacts) -> list[str]:
    return [p.code for p in prompts(facts)]


@pytest.mark.hazard("H-34.1", "H-34.2")
def test_the_first_take_home_into_a_home_with_children_prompts_for_both() -> None:
    assert codes(FIRST_TAKE_HOME) == [PromptCode.OFFER_NALOXONE, PromptCode.GIVE_STORAGE_ADVICE]
    (_, storage) = prompts(FIRST_TAKE_HOME)
    assert storage.topics == tuple(ADVICE_TOPICS)
    assert "999" in storage.message


def test_no_children_and_no_intoxication_means_no_prompt() -> None:
    assert codes(replace(FIRST_TAKE_HOME, children=0)) == []
    assert codes(replace(FIRST_TAKE_HOME, take_home_today=False)) == []


@pytest.mark.hazard("H-34.1")
def test_naloxone_in_date_answers_the_take_home_prompt_and_an_expired_kit_does_not() -> None:
    held = replace(FIRST_TAKE_HOME, advice=(AdviceGiven(NOON, EVERYTHING),))
    assert codes(replace(held, naloxone=((TODAY, TODAY),))) == []  # usable on its expiry day
    expired = prompts(
        replace(held, naloxone=((TODAY - timedelta(days=400), TODAY - timedelta(days=1)),))
    )
    assert [p.code for p in expired] == [PromptCode.OFFER_NALOXONE]
    assert "has expired" in expired[0].message


@pytest.mark.hazard("H-34.1")
def test_intoxication_prompts_for_the_window_until_naloxone_is_supplied_after_it() -> None:
    facts = HomeSafetyFacts(
        today=TODAY,
        children=0,
        take_home_today=False,
        intoxicated_on=TODAY - timedelta(days=3),
        naloxone=((TODAY - timedelta(days=30), TODAY + timedelta(days=300)),),
    )
    assert codes(facts) == [PromptCode.OFFER_NALOXONE]
    after = replace(facts, naloxone=((TODAY - timedelta(days=2), TODAY + timedelta(days=300)),))
    assert codes(after) == []
    window = replace(facts, intoxicated_on=TODAY - timedelta(days=INTOXICATION_WINDOW_DAYS))
    assert codes(window) == [PromptCode.OFFER_NALOXONE]
    assert codes(replace(window, intoxicated_on=window.intoxicated_on - timedelta(days=1))) == []  # type: ignore[operator]


@pytest.mark.hazard("H-34.2")
def test_storage_advice_is_asked_again_after_a_box_is_confirmed_until_every_topic_is_covered() -> (
    None
):
    given = replace(
        FIRST_TAKE_HOME,
        naloxone=((TODAY, TODAY + timedelta(days=300)),),
        advice=(AdviceGiven(NOON - timedelta(days=10), EVERYTHING),),
    )
    assert codes(given) == []
    boxed = replace(given, box_confirmed_at=NOON)
    assert codes(boxed) == [PromptCode.GIVE_STORAGE_ADVICE]
    part = replace(boxed, advice=(*boxed.advice, AdviceGiven(NOON, frozenset({"lockable_box"}))))
    (prompt,) = prompts(part)
    assert prompt.topics == tuple(t for t in ADVICE_TOPICS if t != "lockable_box")
    rest = frozenset(prompt.topics)
    done = replace(part, advice=(*part.advice, AdviceGiven(NOON + timedelta(minutes=5), rest)))
    assert codes(done) == []
    # No children: a box confirmed asks for nothing.
    assert codes(replace(boxed, children=0)) == []
