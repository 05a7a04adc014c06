"""Take-home naloxone and safe-storage advice: the words, and when the counter prompts for them.

Pure (no database, clock or web framework): the facts come in as values, the prompts go out.
A prompt is guidance, never a block (docs/decisions.md, "Naloxone and safe-storage advice"):
the supply of naloxone is recorded, never judged lawful or not here (domain-rules §8.3 and §10
item 7 leave the pharmacy's supply mechanism unverified).

When the counter prompts:

- naloxone, when a take-home goes into a home with children and nobody there has naloxone in
  date on record;
- naloxone, for `INTOXICATION_WINDOW_DAYS` after a dose withheld because the patient was
  intoxicated, until naloxone in date is recorded on or after that day;
- safe-storage advice, at the first take-home into a home with children (no advice on record),
  and after each lockable box confirmed since the last advice, until advice covering every
  topic has been recorded since then.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

__all__ = [
    "ADVICE_TOPICS",
    "INTOXICATION_WINDOW_DAYS",
    "NALOXONE_PRODUCTS",
    "AdviceGiven",
    "HomeSafetyFacts",
    "Prompt",
    "PromptCode",
    "naloxone_in_date",
    "prompts",
]

# The take-home naloxone products a pharmacy meets, as data: "other" needs its name written.
NALOXONE_PRODUCTS: dict[str, str] = {
    "prenoxad_injection": "Prenoxad 1 mg/mL solution for injection (pre-filled syringe kit)",
    "nyxoid_nasal": "Nyxoid 1.8 mg nasal spray",
    "other": "Another naloxone product (named)",
}

# What safe-storage advice covers (NICE NG46; NHS.uk; domain-rules §3.2 and §3.3), in the
# order a pharmacist goes through it.
ADVICE_TOPICS: dict[str, str] = {
    "lockable_box": "keep it in a lockable box, with the key kept apart",
    "out_of_reach": "out of sight and reach of children",
    "original_container": "never decant it into another container (a cup, a drinks bottle)",
    "return_unused": "bring back any unused doses and the empty bottles",
    "naloxone": "naloxone: where it is kept and how to use it",
    "child_swallowed": "if a child swallows any, even a little: call 999 at once",
}

# Days after a dose withheld for intoxication during which the counter offers naloxone.
INTOXICATION_WINDOW_DAYS = 28


class PromptCode(StrEnum):
    OFFER_NALOXONE = "offer_naloxone"
    GIVE_STORAGE_ADVICE = "give_storage_advice"


@dataclass(frozen=True, slots=True)
class Prompt:
    code: PromptCode
    message: str
    # The advice topics still to cover (storage advice only), in `ADVICE_TOPICS` order.
    topics: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AdviceGiven:
    at: datetime
    topics: frozenset[str]


@dataclass(frozen=True, slots=True)
class HomeSafetyFacts:
    today: date
    # Children living in the home today (unborn children count as newborns).
    children: int
    # A take-home is due to be collected today or was handed over today.
    take_home_today: bool
    # Each naloxone supply to the home: (supplied on, expires on).
    naloxone: tuple[tuple[date, date], ...] = ()
    # The latest day a dose was withheld because the patient was intoxicated, if any.
    intoxicated_on: date | None = None
    # Storage advice given to the home, and the latest lockable box confirmed (when recorded).
    advice: tuple[AdviceGiven, ...] = ()
    box_confirmed_at: datetime | None = None


def naloxone_in_date(naloxone: Iterable[tuple[date, date]], today: date) -> bool:
    """Naloxone on record that has not yet expired (it may be used on its expiry date)."""
    return any(expires_on >= today for _, expires_on in naloxone)


def _naloxone_prompt(facts: HomeSafetyFacts) -> Prompt | None:
    if facts.intoxicated_on is not None and facts.today - facts.intoxicated_on <= timedelta(
        days=INTOXICATION_WINDOW_DAYS
    ):
        since = [
            (supplied, expires)
            for supplied, expires in facts.naloxone
            if supplied >= facts.intoxicated_on
        ]
        if not naloxone_in_date(since, facts.today):
            return Prompt(
                PromptCode.OFFER_NALOXONE,
                f"A dose was withheld on {facts.intoxicated_on:%a %d %b %Y} because the patient "
                "was intoxicated: the risk of overdose is higher. Offer take-home naloxone and "
                "show how to use it, then record it.",
            )
    if (
        facts.children
        and facts.take_home_today
        and not naloxone_in_date(facts.naloxone, facts.today)
    ):
        expired = bool(facts.naloxone)
        return Prompt(
            PromptCode.OFFER_NALOXONE,
            "A take-home is going into a home with children and nobody there has naloxone "
            + ("in date on record (the naloxone recorded has expired)" if expired else "on record")
            + ": offer take-home naloxone to the patient or another adult of the household, "
            "show how to use it, and record it.",
        )
    return None


def _storage_prompt(facts: HomeSafetyFacts) -> Prompt | None:
    if not facts.children:
        return None
    if facts.box_confirmed_at is not None:
        since = facts.box_confirmed_at
        why = "A lockable box was confirmed: go over safe storage with the patient"
    elif facts.take_home_today and not facts.advice:
        since = None
        why = "First take-home into a home with children: give safe-storage advice"
    else:
        return None
    covered: set[str] = set()
    for advice in facts.advice:
        if since is None or advice.at >= since:
            covered |= advice.topics
    missing = tuple(topic for topic in ADVICE_TOPICS if topic not in covered)
    if not missing:
        return None
    return Prompt(
        PromptCode.GIVE_STORAGE_ADVICE,
        f"{why} ({'; '.join(ADVICE_TOPICS[t] for t in missing)}), then record it.",
        missing,
    )


def prompts(facts: HomeSafetyFacts) -> tuple[Prompt, ...]:
    """The counter's prompts for a patient's home, naloxone first."""
    found = (_naloxone_prompt(facts), _storage_prompt(facts))
    return tuple(prompt for prompt in found if prompt is not None)
