"""Label values, wrapping and character replacement (devices/labels.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices import BarcodeError, Label, LabelError, LabelLine, encode_label, render_text, wrap
from devices.labels import BARCODE_MAX_LENGTH, CODE_PAGE, is_printable, layout, to_printable

from .support import WARNING, sample_label

# --- wrap ----------------------------------------------------------------------------------


def test_warning_wraps_on_58mm_roll_but_not_on_80mm() -> None:
    assert wrap(WARNING, 32) == ["Keep out of the sight and reach", "of children"]
    assert wrap(WARNING, 48) == [WARNING]


def test_wrap_keeps_dates_and_codes_whole() -> None:
    assert wrap("Supply for 2026-11-26 label DKL-C1SM", 16) == [
        "Supply for",
        "2026-11-26 label",
        "DKL-C1SM",
    ]


def test_wrap_cuts_a_word_longer_than_the_line() -> None:
    assert wrap("x" * 70, 32) == ["x" * 32, "x" * 32, "x" * 6]


def test_wrap_keeps_blank_lines_and_explicit_breaks() -> None:
    assert wrap("", 32) == [""]
    assert wrap("   ", 32) == [""]
    assert wrap("one\ntwo\r\n\nthree", 32) == ["one", "two", "", "three"]


def test_wrap_rejects_nonsense_width() -> None:
    with pytest.raises(ValueError, match="columns"):
        wrap("text", 0)


# --- character replacement -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "printed"),
    [
        ("Methadone’s dose", "Methadone's dose"),
        ("“Take daily”", '"Take daily"'),
        ("60 ml – 60 mg", "60 ml - 60 mg"),
        ("Mon—Sat", "Mon-Sat"),
        ("500 µg", "500 ug"),
        ("3 × 20 ml", "3 x 20 ml"),
        ("José Müller Façade Ångström Nuñez", "Jose Muller Facade Angstrom Nunez"),
        ("Strauß Ørsted Łukasz Œuvre", "Strauss Orsted Lukasz OEuvre"),
        ("£3.50", "£3.50"),
        ("2 °C – 8 °C", "2 degC - 8 degC"),
        ("ﬁnal ½ dose 5㎖", "final 1/2 dose 5ml"),
        ("soft\u00adhyphen zero\u200bwidth\u00a0nbsp\ttab", "softhyphen zerowidth nbsp tab"),
        ("wait…", "wait..."),
    ],
)
def test_characters_are_replaced_deliberately(text: str, printed: str) -> None:
    assert to_printable(text) == printed
    assert is_printable(printed)


@pytest.mark.parametrize(
    "text",
    [
        "Dose ✓",  # no ASCII spelling: refused, not "?"
        "Иван",  # another script
        "smile 🙂",
        "name\x1b@",  # ESC would inject a printer command
        "bell\x07",
        "lone\rCR",
    ],
)
def test_unprintable_characters_are_refused_not_turned_into_question_marks(text: str) -> None:
    with pytest.raises(LabelError, match="cannot print"):
        to_printable(text)


def test_error_names_the_character() -> None:
    with pytest.raises(LabelError, match=r"U\+2713 CHECK MARK"):
        to_printable("Dose ✓")


# --- Label ---------------------------------------------------------------------------------


def test_label_is_a_frozen_value() -> None:
    label = sample_label()
    assert label == sample_label()
    with pytest.raises(AttributeError):
        label.columns = 32  # type: ignore[misc]


def test_label_refuses_bad_text_when_built() -> None:
    with pytest.raises(LabelError):
        Label((LabelLine("Dose ✓"),))


def test_label_refuses_other_widths() -> None:
    with pytest.raises(LabelError, match="32 or 48"):
        Label((LabelLine("x"),), columns=40)  # type: ignore[arg-type]


def test_label_refuses_lines_that_are_not_label_lines() -> None:
    with pytest.raises(LabelError):
        Label(("plain string",))  # type: ignore[arg-type]
    with pytest.raises(LabelError, match="tuple"):
        Label([LabelLine("x")])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("barcode", "message"),
    [
        ("", "empty"),
        ("DKL-é", "cannot encode"),
        ("{A123", "cannot encode"),
        ("X" * (BARCODE_MAX_LENGTH[32] + 1), "at most"),
    ],
)
def test_label_refuses_barcodes_code128_cannot_carry(barcode: str, message: str) -> None:
    with pytest.raises(BarcodeError, match=message):
        Label((LabelLine("x"),), barcode=barcode, columns=32)


def test_longest_barcode_fits_each_width() -> None:
    Label((), barcode="X" * BARCODE_MAX_LENGTH[32], columns=32)
    Label((), barcode="X" * BARCODE_MAX_LENGTH[48], columns=48)


def test_render_text_preview() -> None:
    assert render_text(sample_label(32)) == (
        "      HIGH STREET PHARMACY\n"
        "Methadone 1mg/ml oral solution\n"
        "sugar free\n"
        "Take 60ml (60mg) ONCE daily\n"
        "Keep out of the sight and reach\n"
        "of children\n"
        "           [DKL-C1SM]\n"
    )


def test_layout_keeps_emphasis_on_every_wrapped_line() -> None:
    rows = layout(sample_label(32))
    assert [row.bold for row in rows if "children" in row.text or "Keep" in row.text] == [
        True,
        True,
    ]


# --- properties ----------------------------------------------------------------------------

# Mostly printable input, with the characters people paste from Word and PMR systems.
label_text = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x20, max_codepoint=0x24F),
        st.sampled_from("‘’“”–—−µ×…\u00a0\u200b½㎖ﬁ✓Ж\n"),
    ),
    max_size=300,
)


@settings(max_examples=200, deadline=None)
@given(text=label_text, columns=st.sampled_from([32, 48]), bold=st.booleans())
def test_every_rendered_line_fits_and_is_encodable(text: str, columns: int, bold: bool) -> None:
    try:
        label = Label(
            (LabelLine(text, bold=bold, centre=True),), columns=32 if columns == 32 else 48
        )
    except LabelError:
        with pytest.raises(LabelError):
            to_printable(text.replace("\r\n", "\n").replace("\n", ""))
        return
    for line in render_text(label).splitlines():
        assert len(line) <= columns
        line.encode(CODE_PAGE)  # raises if the printer code page cannot hold it
        assert is_printable(line)


@settings(max_examples=100, deadline=None)
@given(text=label_text)
def test_escpos_output_never_gains_question_marks(text: str) -> None:
    try:
        label = Label((LabelLine(text),), columns=32)
    except LabelError:
        return
    data = encode_label(label)
    assert data.count(b"?") == text.count("?")
