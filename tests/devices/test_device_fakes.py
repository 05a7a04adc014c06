"""The fakes behave like the real devices where the app can tell."""

from __future__ import annotations

import pytest

from devices import (
    FakeLabelPrinter,
    FakeScanner,
    LabelPrinter,
    PrinterFault,
    Scan,
    encode_label,
)

from .support import sample_label


def test_fake_printer_records_real_bytes_and_fails_on_demand() -> None:
    printer: LabelPrinter = FakeLabelPrinter()
    result = printer.print_label(sample_label(), job_id="j1")
    assert isinstance(printer, FakeLabelPrinter)
    assert printer.printed[0].data == encode_label(sample_label())
    assert result.bytes_sent == len(printer.printed[0].data)
    printer.fail_with = PrinterFault("paper out")
    with pytest.raises(PrinterFault):
        printer.print_label(sample_label(), job_id="j2")
    assert [p.job_id for p in printer.printed] == ["j1"]


def test_fake_printer_checks_the_width() -> None:
    with pytest.raises(ValueError, match="columns"):
        FakeLabelPrinter(columns=32).print_label(sample_label(48), job_id="j1")


def test_fake_scanner_delivers_scans() -> None:
    seen: list[Scan] = []
    scanner = FakeScanner(seen.append)
    with pytest.raises(RuntimeError):
        scanner.scan("early")
    scanner.start()
    scanner.scan("DKL-C1SM")
    scanner.scan("0105012345678900", "]d2")
    scanner.stop()
    assert seen == [Scan("DKL-C1SM"), Scan("0105012345678900", "]d2")]
