"""Our ESC/POS output checked by an independent simulator: emupos (Python >= 3.13).

emupos runs in its own interpreter (scripts/emupos-venv.sh makes `.venv-emupos`), found via
DOSEKEEPER_EMUPOS_PYTHON. Without it these tests skip locally and fail in CI, so CI can never
pass by silently not running them.

(a) the bytes of a label decode back to the expected lines and barcode payload, with no
    unknown commands or unsupported code pages;
(b) a label printed through our `tcp://` backend to emupos' loopback printer reads back;
(c) emupos' paper-out, cover-open, offline and near-end faults surface as our errors/status.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from devices import (
    Label,
    LabelLine,
    LabelPrinter,
    PrinterFault,
    PrinterUnavailable,
    encode_label,
    open_printer,
)
from devices.labels import layout
from tests.devices.simulator import Emupos, decode, emupos_interpreter, run_emupos

from .support import sample_label


@pytest.fixture(scope="module")
def emupos_python() -> Path:
    return emupos_interpreter()


def expected_lines(label: Label) -> list[str]:
    lines = [row.text for row in layout(label)]
    if label.barcode is not None:
        lines.append(f"[barcode CODE128 {label.barcode}]")
    return lines


# --- (a) offline decode --------------------------------------------------------------------


@pytest.mark.parametrize("columns", [48, 32])
def test_label_bytes_decode_to_the_expected_text(emupos_python: Path, columns: int) -> None:
    label = sample_label(columns)
    decoded = decode(emupos_python, encode_label(label), columns)
    assert decoded["events"] == []  # no unknown commands, no unsupported code page
    [receipt] = decoded["receipts"]
    assert receipt["boundary"] == "cut"
    assert receipt["text"].splitlines() == expected_lines(label)


def test_replaced_characters_decode_as_printed(emupos_python: Path) -> None:
    label = Label(
        (
            LabelLine("José Müller’s dose – 60 ml × 1"),
            LabelLine("Prescription charge £9.90", bold=True),
        ),
        barcode="DKL-C1SM",
        columns=32,
    )
    decoded = decode(emupos_python, encode_label(label), 32)
    assert decoded["events"] == []
    assert decoded["receipts"][0]["text"].splitlines() == [
        "Jose Muller's dose - 60 ml x 1",
        "Prescription charge £9.90",
        "[barcode CODE128 DKL-C1SM]",
    ]


# --- (b) and (c) the emupos daemon ---------------------------------------------------------


@pytest.fixture(scope="module")
def emupos(emupos_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emupos]:
    with run_emupos(emupos_python, tmp_path_factory.mktemp("emupos")) as daemon:
        yield daemon


@pytest.fixture
def printer(emupos: Emupos, tmp_path: Path) -> LabelPrinter:
    return open_printer(emupos.printer_url, preview_dir=tmp_path)


def test_label_printed_over_tcp_reads_back(emupos: Emupos, printer: LabelPrinter) -> None:
    before = len(emupos.receipts())
    label = sample_label(48)
    result = printer.print_label(label, job_id="emupos-1")
    assert (result.status.online, result.status.paper) == (True, "ok")
    assert emupos.wait_for_receipt(before + 1).splitlines() == expected_lines(label)
    assert printer.status().detail == "ready"


def test_paper_out_is_a_printer_fault_and_nothing_is_sent(
    emupos: Emupos, printer: LabelPrinter
) -> None:
    before = len(emupos.receipts())
    with emupos.fault("paper-out"):
        status = printer.status()
        assert (status.online, status.paper) == (False, "out")
        with pytest.raises(PrinterFault, match="paper out"):
            printer.print_label(sample_label(), job_id="emupos-2")
    time.sleep(0.2)  # emupos would release held data now, had we sent any
    assert len(emupos.receipts()) == before


@pytest.mark.parametrize(
    ("fault", "error", "message"),
    [("cover-open", PrinterFault, "cover open"), ("offline", PrinterUnavailable, "offline")],
)
def test_other_blocking_faults(
    emupos: Emupos,
    printer: LabelPrinter,
    fault: str,
    error: type[Exception],
    message: str,
) -> None:
    with emupos.fault(fault), pytest.raises(error, match=message):
        printer.print_label(sample_label(), job_id="emupos-3")


def test_paper_near_end_prints_and_warns(emupos: Emupos, printer: LabelPrinter) -> None:
    before = len(emupos.receipts())
    with emupos.fault("paper-near-end"):
        result = printer.print_label(sample_label(), job_id="emupos-4")
    assert result.status.paper == "low"
    emupos.wait_for_receipt(before + 1)
