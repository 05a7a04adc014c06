"""Fakes for the app's tests: same surface as the real devices, no I/O, failures on demand.

They exist so app tests inject a printer or scanner instead of patching (STYLE A5, "fakes at
the seam"). `FakeLabelPrinter` still renders every label to real ESC/POS bytes, so a label
the printer could not print fails in the app's tests as it would at the counter.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from devices.errors import DeviceError
from devices.labels import Label
from devices.printers import DEFAULT_PROFILE, PrinterStatus, PrintResult, encode_label
from devices.scanners import Scan

__all__ = ["FakeLabelPrinter", "FakeScanner", "PrintedLabel"]


@dataclass(frozen=True, slots=True)
class PrintedLabel:
    job_id: str
    label: Label
    data: bytes


class FakeLabelPrinter:
    """Records labels. Set `fail_with` to make the next prints raise (e.g. PrinterFault)."""

    def __init__(self, *, columns: Literal[32, 48] = 48, profile: str = DEFAULT_PROFILE) -> None:
        self.url = "fake://"
        self.columns: Literal[32, 48] = columns
        self.profile = profile
        self.printed: list[PrintedLabel] = []
        self.fail_with: DeviceError | None = None
        self.current_status = PrinterStatus(True, "ok", "fake printer")
        self._lock = threading.Lock()

    def print_label(self, label: Label, *, job_id: str) -> PrintResult:
        if label.columns > self.columns:
            raise ValueError(f"fake printer has {self.columns} columns, label {label.columns}")
        data = encode_label(label, profile=self.profile)
        with self._lock:
            if self.fail_with is not None:
                raise self.fail_with
            self.printed.append(PrintedLabel(job_id, label, data))
        return PrintResult(job_id, self.url, len(data), self.current_status)

    def status(self) -> PrinterStatus:
        return self.current_status


class FakeScanner:
    """Stands in for `SerialScanner`: `scan(code)` delivers a scan as the reader thread would."""

    def __init__(self, on_scan: Callable[[Scan], None]) -> None:
        self.url = "fake://"
        self._on_scan = on_scan
        self.connected = False

    def start(self) -> None:
        self.connected = True

    def stop(self, timeout: float = 5.0) -> None:
        self.connected = False

    def scan(self, code: str, symbology: str | None = None) -> None:
        if not self.connected:
            raise RuntimeError("FakeScanner.scan() before start()")
        self._on_scan(Scan(code, symbology))
