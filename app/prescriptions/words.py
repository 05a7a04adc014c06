"""Read a total quantity written in English words, as a prescriber writes it on a CD prescription.

A Schedule 2 prescription must give the total quantity in words and figures (MDR 2001 reg 15),
and the two are checked against each other at intake. This reader is strict on purpose: it
returns None for anything it cannot read with certainty, so a doubtful quantity goes back to a
person rather than being guessed.

Accepted: British and American forms ("eight hundred and forty", "eight hundred forty"),
hyphens ("sixty-five"), "a hundred", "twelve hundred", thousands ("one thousand one hundred
and twenty"), a decimal part read digit by digit ("sixty five point five", "nought point five"),
units and fillers ("mL", "millilitres", "tablets", "only"), and figures alongside the words
("840 (eight hundred and forty) mL"). Figures in the text must agree with the words; figures
alone are not words and give None.

Pure: standard library only.
"""

from __future__ import annotations

import re
from decimal import Decimal

__all__ = ["words_to_number"]

_SMALL: dict[str, int] = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS: dict[str, int] = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_ZERO = frozenset({"zero", "nought", "nil"})
# After "point" each word is one digit: "nought point five", "sixty point oh five".
_DIGITS: dict[str, int] = {
    **dict.fromkeys(_ZERO | {"oh"}, 0),
    **{word: value for word, value in _SMALL.items() if value < 10},
}
# Words that say what is counted, not how many. Anything else unknown makes the text unreadable.
_FILLER = frozenset(
    {
        "ml",
        "mls",
        "millilitre",
        "millilitres",
        "milliliter",
        "milliliters",
        "tablet",
        "tablets",
        "tab",
        "tabs",
        "capsule",
        "capsules",
        "caps",
        "only",
    }
)
# "1,120" and "65.5" are figures; a comma or point must sit between digits to belong to one.
_FIGURES = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?")
_NOT_A_LETTER = re.compile(r"[^a-z]+")


class _Tokens:
    """A cursor over the words, so each grammar rule can look ahead and consume."""

    __slots__ = ("_pos", "_words")

    def __init__(self, words: list[str]) -> None:
        self._words = words
        self._pos = 0

    def peek(self, ahead: int = 0) -> str | None:
        index = self._pos + ahead
        return self._words[index] if index < len(self._words) else None

    def take(self) -> str:
        word = self._words[self._pos]
        self._pos += 1
        return word

    @property
    def done(self) -> bool:
        return self._pos >= len(self._words)


def words_to_number(text: str) -> Decimal | None:
    """Return the number written in words in `text`, or None if it cannot be read for certain.

    None also when figures in the same text disagree with the words, or when there are no number
    words at all (figures only): the words are the check on the figures, not a copy of them.
    """
    lowered = text.lower()
    figures = [Decimal(found.replace(",", "")) for found in _FIGURES.findall(lowered)]
    words = [
        word
        for word in _NOT_A_LETTER.split(_FIGURES.sub(" ", lowered))
        if word and word not in _FILLER
    ]
    if not words:
        return None
    value = _number(_Tokens(words))
    if value is None or any(figure != value for figure in figures):
        return None
    return value


def _number(tokens: _Tokens) -> Decimal | None:
    whole = _whole(tokens)
    fraction = ""
    if tokens.peek() == "point":
        tokens.take()
        while (word := tokens.peek()) is not None and word in _DIGITS:
            fraction += str(_DIGITS[tokens.take()])
        if not fraction:
            return None
    if not tokens.done or (whole is None and not fraction):
        return None
    return Decimal(f"{whole or 0}.{fraction}") if fraction else Decimal(whole or 0)


def _whole(tokens: _Tokens) -> int | None:
    """Read a whole number below a million, or nothing (None) if no number starts here."""
    if tokens.peek() in _ZERO and tokens.peek(1) in (None, "point"):
        tokens.take()
        return 0
    if tokens.peek() == "a" and tokens.peek(1) == "thousand":
        tokens.take()
        thousands: int | None = 1
    else:
        thousands = _below_thousand(tokens)
    if thousands is None:
        return None
    if tokens.peek() != "thousand":
        return thousands
    tokens.take()
    total = thousands * 1000
    joined = tokens.peek() == "and"
    if joined:
        tokens.take()
    rest = _below_thousand(tokens)
    if rest is None:
        # "one thousand and" with nothing after is not a number; "one thousand" is.
        return None if joined else total
    if rest >= 1000:
        return None
    return total + rest


def _below_thousand(tokens: _Tokens) -> int | None:
    if tokens.peek() == "a" and tokens.peek(1) == "hundred":
        tokens.take()
        value: int | None = 1
    else:
        value = _below_hundred(tokens)
    if value is None:
        return None
    if tokens.peek() != "hundred":
        return value
    tokens.take()
    value *= 100  # "twelve hundred" is 1200, as people say it
    joined = tokens.peek() == "and"
    if joined:
        tokens.take()
    rest = _below_hundred(tokens)
    if rest is None:
        return None if joined else value
    return value + rest


def _below_hundred(tokens: _Tokens) -> int | None:
    word = tokens.peek()
    if word is None:
        return None
    if word in _SMALL:
        tokens.take()
        return _SMALL[word]
    if word not in _TENS:
        return None
    tokens.take()
    value = _TENS[word]
    unit = tokens.peek()
    if unit is not None and unit in _SMALL and _SMALL[unit] < 10:
        tokens.take()
        value += _SMALL[unit]
    return value


_SAY_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_SAY_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def number_to_words(value: int) -> str:
    """British English words for a whole quantity (the demo seed and printed summaries)."""
    if not 0 <= value < 1_000_000:
        raise ValueError("only 0 to 999,999 are written out")
    if value < 20:
        return _SAY_ONES[value]
    if value < 100:
        tens, ones = divmod(value, 10)
        return _SAY_TENS[tens] + (f"-{_SAY_ONES[ones]}" if ones else "")
    if value < 1000:
        hundreds, rest = divmod(value, 100)
        return f"{_SAY_ONES[hundreds]} hundred" + (f" and {number_to_words(rest)}" if rest else "")
    thousands, rest = divmod(value, 1000)
    words = f"{number_to_words(thousands)} thousand"
    if rest:
        words += (" and " if rest < 100 else " ") + number_to_words(rest)
    return words
