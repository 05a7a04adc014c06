"""Exceptions raised by `devices`. Library and OS errors never leak past this package.

Our exception hierarchy:

* DeviceError              a label printer, scanner or dose pump could not do its job
  x PrinterUnavailable     connection refused, timed out, unplugged, printer offline:
                           retrying later (or another printer) can succeed, the label stays queued
  x PrinterFault           the printer answered and reported a fault (paper out, cover open,
                           cutter error) or cannot render the label: someone must act at the printer
  x ScannerError           the scanner port cannot be opened or was lost
  x PumpUnavailable        the dose pump's port cannot be opened, is busy, or the pump did
                           not acknowledge a request in time: it started nothing we know of
  x PumpFault              the pump reported an error, or answered in a way we cannot trust
                           (garbage, another request's id), or fell silent or was lost after
                           it started: what it dispensed is unknown (`partial`)
    x PumpProtocolError    the answer is not the documented protocol (docs/pump-protocol.md)
* LabelError  (ValueError) a label cannot be printed as given (text the printer cannot encode,
                           control characters, wrong width): a bug or bad data, not a device problem
* BarcodeError (ValueError) a value cannot be encoded as the barcode we print

Callers that only need "did the label print?" catch `DeviceError`. `LabelError` and
`BarcodeError` are raised when a `Label` is built, before any device is touched, so a label
that would print wrongly is refused at the counter rather than half-printed.

Scans that do not make sense are *not* exceptions: `devices.interpret` returns an
`Interpretation` that says why the code was refused, because a bad scan is ordinary input.
"""

from __future__ import annotations

__all__ = [
    "BarcodeError",
    "DeviceError",
    "LabelError",
    "PrinterFault",
    "PrinterUnavailable",
    "PumpFault",
    "PumpProtocolError",
    "PumpUnavailable",
    "ScannerError",
]


class DeviceError(Exception):
    """Base class: the hardware did not do what was asked."""


class PrinterUnavailable(DeviceError):
    """The printer could not be reached or is offline; nothing (or not all) was printed."""


class PrinterFault(DeviceError):
    """The printer is reachable but reported a fault that needs a person (paper, cover, cutter)."""


class ScannerError(DeviceError):
    """The scanner port could not be opened, or it failed while reading."""


class PumpUnavailable(DeviceError):
    """The pump could not be reached or did not acknowledge the request in time."""


class PumpFault(DeviceError):
    """The pump answered with an error or misbehaved. `code` is the pump's error code (or
    `timeout`, `lost`, `protocol`); `partial` is True when the pump had acknowledged the
    request, so some liquid may have been dispensed and the amount is unknown."""

    def __init__(self, message: str, *, code: str, partial: bool) -> None:
        super().__init__(message)
        self.code = code
        self.partial = partial


class PumpProtocolError(PumpFault):
    """The pump's answer is not the documented protocol: garbage, or another request's id."""

    def __init__(self, message: str, *, partial: bool) -> None:
        super().__init__(message, code="protocol", partial=partial)


class LabelError(ValueError):
    """The label's content cannot be printed faithfully on an ESC/POS code page."""


class BarcodeError(ValueError):
    """The payload cannot be encoded as the barcode symbology we print."""
