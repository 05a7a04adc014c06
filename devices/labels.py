"""Label values and their layout in fixed-width columns.

A `Label` is a pure value: the app decides *what* goes on it (legal fields, warnings), this
module decides only how it fits a 32- or 48-column roll. ESC/POS rendering and the preview both
start from `layout(label)`, so the preview shows exactly the line breaks the printer will get.

Text is restricted to what every ESC/POS printer prints the same way: printable ASCII plus "£"
(all sent in code page CP437, which every python-escpos profile we support has). Anything else
is replaced deliberately (`to_printable`) or refused with `LabelError`; python-escpos would
otherwise print "?" without telling anyone, which on a methadone label could turn "µg" into
"?g" or drop a letter from a patient's name.
"""

from __future__ import annotations

import textwrap
import unicodedata
from dataclasses import dataclass
from typing import Final, Literal

from devices.errors import BarcodeError, LabelError

__all__ = [
    "BARCODE_MAX_LENGTH",
    "CODE_PAGE",
    "Label",
    "LabelLine",
    "LayoutLine",
    "is_printable",
    "layout",
    "render_text",
    "to_printable",
    "wrap",
]

Columns = Literal[32, 48]

#: The Python codec of the printer code page the label text is sent in.
CODE_PAGE: Final = "cp437"

#: Longest barcode payload per label width. CODE128 set B takes 11 modules per character plus
#: 35 for start, check and stop; at 2 dots per module that must fit in 384 dots (58 mm roll,
#: 32 columns) or 576 dots (80 mm roll, 48 columns), leaving room for the quiet zones.
BARCODE_MAX_LENGTH: Final[dict[int, int]] = {32: 12, 48: 20}

_PRINTABLE: Final = frozenset(chr(c) for c in range(0x20, 0x7F)) | {"£"}

# Deliberate replacements, checked before Unicode decomposition. Typical sources: text pasted
# from Word or a PMR (smart quotes, dashes), dose units (µ), and characters with no ASCII
# decomposition. Empty string = removed, only for characters that print nothing anyway.
_REPLACEMENTS: Final[dict[str, str]] = {
    "\t": " ",
    # quotes and apostrophes
    "‘": "'",
    "’": "'",
    "‚": "'",
    "‛": "'",
    "′": "'",
    "´": "'",
    "“": '"',
    "”": '"',
    "„": '"',
    "‟": '"',
    "″": '"',
    "«": '"',
    "»": '"',
    "‹": "'",
    "›": "'",
    # dashes and minus
    "‐": "-",
    "‑": "-",
    "‒": "-",
    "–": "-",
    "—": "-",
    "―": "-",
    "−": "-",
    "⁃": "-",
    # spaces and invisible characters
    "\u00a0": " ",
    "\u2007": " ",
    "\u202f": " ",
    "\u2009": " ",
    "\u200a": " ",
    "\u2002": " ",
    "\u2003": " ",
    "\u00ad": "",  # soft hyphen
    "\u200b": "",  # zero-width space
    "\u200c": "",
    "\u200d": "",
    "\u2060": "",
    "\ufeff": "",
    # units and maths
    "µ": "u",
    "μ": "u",
    "×": "x",
    "÷": "/",
    "⁄": "/",
    "±": "+/-",
    "≤": "<=",
    "≥": ">=",
    "≈": "~",
    "°": "deg",
    "€": "EUR",
    "→": "->",
    "←": "<-",
    "•": "*",
    "·": ".",
    "…": "...",
    "©": "(C)",
    "®": "(R)",
    # letters without a canonical decomposition to ASCII
    "ß": "ss",
    "ẞ": "SS",
    "æ": "ae",
    "Æ": "AE",
    "œ": "oe",
    "Œ": "OE",
    "ø": "o",
    "Ø": "O",
    "đ": "d",
    "Đ": "D",
    "ð": "d",
    "Ð": "D",
    "ł": "l",
    "Ł": "L",
    "þ": "th",
    "Þ": "Th",
    "ı": "i",
}


_PRINTABLE_OR_REPLACED: Final[dict[str, str]] = {
    **{char: char for char in _PRINTABLE},
    **_REPLACEMENTS,
}


def _paragraphs(text: str) -> list[str]:
    """Explicit line breaks; a lone CR stays in and is refused like any control character."""
    return text.replace("\r\n", "\n").split("\n")


def is_printable(text: str) -> bool:
    """True when every character prints as itself on the label printer (no replacement)."""
    return all(char in _PRINTABLE for char in text)


def to_printable(text: str) -> str:
    """Replace characters the printer cannot print with their closest ASCII spelling.

    Order: printable as is; then the explicit table ("’"→"'", "–"→"-", "µ"→"u", "×"→"x", ...);
    then Unicode NFKD with accents dropped ("é"→"e", "ﬁ"→"fi", "²"→"2"). Whatever is still
    left (other scripts, emoji, control characters such as ESC that would inject printer
    commands) raises `LabelError` naming the characters, because a silent "?" on a dispensing
    label is worse than a refused print.
    """
    out: list[str] = []
    bad: list[str] = []
    for char in text:
        if char in _PRINTABLE:
            out.append(char)
        elif char in _REPLACEMENTS:
            out.append(_REPLACEMENTS[char])
        else:
            decomposed = unicodedata.normalize("NFKD", char)
            spelled = [
                _PRINTABLE_OR_REPLACED.get(part)
                for part in decomposed
                if not unicodedata.combining(part)
            ]
            if spelled and all(part is not None for part in spelled):
                out.append("".join(part for part in spelled if part is not None))
            else:
                bad.append(char)
    if bad:
        names = ", ".join(
            f"{char!r} (U+{ord(char):04X} {unicodedata.name(char, 'unnamed')})"
            for char in dict.fromkeys(bad)
        )
        raise LabelError(f"cannot print {names} in {text!r}")
    return "".join(out)


def wrap(text: str, columns: int) -> list[str]:
    """Split text into lines of at most `columns` characters, breaking at spaces.

    Never breaks at hyphens, so dates ("2026-11-26") and codes ("DKL-...") stay whole; a word
    longer than a line is cut, since dropping it would lose information. An empty text is one
    empty line (a deliberate spacer), and "\\n" forces a break.
    """
    if columns < 1:
        raise ValueError(f"columns must be positive, got {columns}")
    lines: list[str] = []
    for paragraph in _paragraphs(text):
        wrapped = textwrap.wrap(
            paragraph,
            width=columns,
            break_long_words=True,
            break_on_hyphens=False,
            drop_whitespace=True,
            replace_whitespace=True,
        )
        lines.extend(wrapped or [""])
    return lines


@dataclass(frozen=True, slots=True)
class LabelLine:
    """One logical line of text; it wraps onto as many printed lines as it needs."""

    text: str
    bold: bool = False
    centre: bool = False
    double_height: bool = False


@dataclass(frozen=True, slots=True)
class LayoutLine:
    """One printed line: already replaced, wrapped and at most `columns` characters."""

    text: str
    bold: bool
    centre: bool
    double_height: bool


@dataclass(frozen=True, slots=True)
class Label:
    """Everything a printer needs for one label, validated on construction.

    `barcode` is printed as CODE128 (code set B) with its text underneath. It is checked here,
    not at print time, so a label that cannot print is refused while the dose is being
    recorded rather than discovered at the printer.
    """

    lines: tuple[LabelLine, ...]
    barcode: str | None = None
    columns: Columns = 48

    def __post_init__(self) -> None:
        if self.columns not in (32, 48):
            raise LabelError(f"columns must be 32 or 48, got {self.columns!r}")
        if not isinstance(self.lines, tuple):
            raise LabelError("lines must be a tuple of LabelLine")
        for line in self.lines:
            if not isinstance(line, LabelLine):
                raise LabelError(f"expected LabelLine, got {type(line).__name__}")
            for paragraph in _paragraphs(line.text):
                to_printable(paragraph)
        if self.barcode is not None:
            _check_code128(self.barcode, max_length=BARCODE_MAX_LENGTH[self.columns])


def _check_code128(payload: str, *, max_length: int) -> None:
    """Refuse payloads that CODE128 set B cannot carry or the roll cannot fit.

    "{" is refused too: ESC/POS uses it to switch code sets inside the data, so it would not
    print as itself.
    """
    if not payload:
        raise BarcodeError("barcode payload is empty")
    bad = sorted({char for char in payload if not ("\x20" <= char <= "\x7e") or char == "{"})
    if bad:
        raise BarcodeError(f"CODE128 set B cannot encode {bad!r} in {payload!r}")
    if len(payload) > max_length:
        raise BarcodeError(
            f"barcode {payload!r} has {len(payload)} characters; at most {max_length} fit"
        )


def layout(label: Label) -> tuple[LayoutLine, ...]:
    """The printed lines of a label, shared by the ESC/POS renderer and the preview."""
    rows: list[LayoutLine] = []
    for line in label.lines:
        for paragraph in _paragraphs(line.text):
            for text in wrap(to_printable(paragraph), label.columns):
                rows.append(LayoutLine(text, line.bold, line.centre, line.double_height))
    return tuple(rows)


def _barcode_caption(payload: str) -> str:
    """How the barcode appears in a text preview: its human-readable text, marked as a barcode."""
    return f"[{payload}]"


def render_text(label: Label) -> str:
    """The label as plain text, as the counter page shows it before (or instead of) printing.

    Centred lines are padded to the label width; the barcode appears as its text in brackets.
    Emphasis is not shown: the PNG preview has it.
    """
    out: list[str] = []
    for row in layout(label):
        out.append(row.text.center(label.columns).rstrip() if row.centre else row.text)
    if label.barcode is not None:
        out.append(_barcode_caption(label.barcode).center(label.columns).rstrip())
    return "\n".join(out) + "\n"
