"""The label's content as a pure function (app/labelling/content.py), written to kill the
mutants the end-to-end label tests left alive (docs/safety/mutation-testing.md): the mL of a
non-standard strength, a multi-day container's total, the REPRINT line, "Container n of m",
the dates line and the dose check. The end-to-end proofs are in test_handover_labels.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest

from app.labelling.content import (
    DANGER,
    KEEP_AWAY,
    LabelFacts,
    LabelRefused,
    danger_for,
    label_lines,
)

SAT = date(2026, 12, 5)
FACTS = LabelFacts(
    patient_name="Test Patient",
    pharmacy_name="Test Pharmacy",
    pharmacy_address="1 High Street",
    pharmacy_phone="01632 960123",
    supplied_on=SAT,
    medicine="Methadone 10mg/mL oral solution",
    strength_mg_per_ml=Decimal(10),
    dose_mg=Decimal(60),
    dose_dates=(SAT, SAT + timedelta(days=1)),
    directions="60mg daily",
    cautionary_wording=(),
    separate_containers=False,
)


def texts(facts: LabelFacts, dates: tuple[date, ...], number: int = 1, of: int = 1) -> list[str]:
    return [line.text for line in label_lines(facts, dates, number=number, of=of)]


def test_a_two_day_container_of_10_mg_per_ml_says_its_ml_and_total() -> None:
    lines = texts(FACTS, FACTS.dose_dates)
    assert lines[0] == "Methadone 10mg/mL oral solution"
    assert "Quantity: 12 mL = 120 mg" in lines
    assert "Take 6 mL (60 mg) ONCE a day." in lines
    assert "For: Sat 5 Dec 2026 to Sun 6 Dec 2026 (2 days)" in lines
    assert not any(text.startswith("Container") or "REPRINT" in text for text in lines)
    assert lines[lines.index(KEEP_AWAY) :][:3] == [KEEP_AWAY, DANGER, "Test Patient"]
    assert lines[-3:] == ["Test Pharmacy", "1 High Street", "Tel 01632 960123"]


def test_one_day_in_one_of_two_containers_says_its_day_and_number() -> None:
    lines = texts(FACTS, (SAT,), number=1, of=2)
    assert "Quantity: 6 mL = 60 mg" in lines
    assert "For: Sat 5 Dec 2026" in lines
    assert "Container 1 of 2" in lines


def test_a_reprint_says_so_first_and_keeps_every_other_line() -> None:
    first = texts(FACTS, FACTS.dose_dates)
    again = texts(replace(FACTS, reprint=True), FACTS.dose_dates)
    assert again == ["** REPRINT **", *first]


@pytest.mark.parametrize(("mg", "refused"), [(Decimal(0), True), (Decimal("0.5"), False)])
def test_a_dose_of_nothing_refuses_the_label(mg: Decimal, refused: bool) -> None:
    facts = replace(FACTS, dose_mg=mg)
    if refused:
        with pytest.raises(LabelRefused) as caught:
            label_lines(facts, (SAT,), number=1, of=1)
        assert caught.value.field == "dose"
    else:
        assert "Quantity: 0.05 mL = 0.5 mg" in texts(facts, (SAT,))


def test_a_three_day_container_names_its_first_and_last_day() -> None:
    dates = (SAT, SAT + timedelta(days=1), SAT + timedelta(days=2))
    lines = texts(replace(FACTS, dose_dates=dates), dates)
    assert "For: Sat 5 Dec 2026 to Mon 7 Dec 2026 (3 days)" in lines
    assert "Quantity: 18 mL = 180 mg" in lines


def test_a_product_without_a_strength_is_labelled_in_mg_only() -> None:
    tablets = replace(FACTS, medicine="Methadone 5mg tablets", strength_mg_per_ml=None)
    lines = texts(tablets, tablets.dose_dates)
    assert "Take 60 mg ONCE a day." in lines
    assert "Quantity: 120 mg" in lines
    assert not any("mL" in text for text in lines if text != DANGER)


def test_what_must_catch_the_eye_is_printed_so() -> None:
    """The warnings to keep it from children, the medicine, the days and whose it is are
    emphasised; the printed bytes carry it (test_printed_labels.py decodes them)."""
    lines = {
        line.text: line
        for line in label_lines(replace(FACTS, reprint=True), FACTS.dose_dates, number=1, of=1)
    }
    style = {text: (line.bold, line.centre, line.double_height) for text, line in lines.items()}
    assert style["** REPRINT **"] == (True, True, False)
    assert style["Methadone 10mg/mL oral solution"] == (True, True, True)
    assert style["For: Sat 5 Dec 2026 to Sun 6 Dec 2026 (2 days)"] == (True, False, False)
    assert style[KEEP_AWAY] == (True, False, False)
    assert style[DANGER] == (True, False, False)
    assert style["Test Patient"] == (True, False, False)
    assert style["Quantity: 12 mL = 120 mg"] == (False, False, False)
    single = label_lines(FACTS, (SAT,), number=1, of=2)
    assert [(line.text, line.bold) for line in single if line.text.startswith("For:")] == [
        ("For: Sat 5 Dec 2026", True)
    ]


def test_a_tablet_label_counts_tablets_and_names_its_own_danger() -> None:

    tablets = replace(
        FACTS,
        medicine="Buprenorphine 8mg sublingual tablets",
        strength_mg_per_ml=None,
        strength_mg_per_unit=Decimal(8),
        unit="tablet",
        dose_mg=Decimal(16),
        danger=danger_for("buprenorphine", None),
    )

    lines = texts(tablets, FACTS.dose_dates)

    assert "Take 2 tablets (16 mg) ONCE a day." in lines
    assert "Quantity: 4 tablets = 32 mg" in lines
    assert (
        "Buprenorphine can kill a child: even a small amount can seriously poison a small child."
        in lines
    )
    assert DANGER not in lines
    one = texts(replace(tablets, dose_mg=Decimal(8)), (SAT,))
    assert "Take 1 tablet (8 mg) ONCE a day." in one


def test_the_sourced_volume_is_printed_only_for_the_1_mg_per_ml_solution() -> None:

    assert danger_for("methadone", Decimal(1)) == DANGER
    assert danger_for("methadone", Decimal(10)).startswith("Methadone can kill a child: even a")
