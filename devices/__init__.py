"""Dosekeeper's hardware library: ESC/POS label printers, serial scanners, barcode syntax and
an optional dose-measuring pump.

It knows printers, ports and code formats, nothing about prescriptions or patients, and it
never imports `app`. The app builds a `Label`, picks a printer with `open_printer(url)`, starts
a scanner with `open_scanner(url, on_scan)` and asks `interpret(code, today=...)` what a scan
is. A pump is `open_pump(url)`; `pump.dispense(volume_ml)` returns what it dispensed. Errors are
in `devices.errors` (tree in its docstring).
"""

from devices.barcodes import (
    Interpretation,
    ScanKind,
    StockPack,
    eps_check_character,
    interpret,
    is_valid_eps_prescription_id,
    is_valid_nhs_number,
    make_label_code,
    make_patient_card_code,
)
from devices.errors import (
    BarcodeError,
    DeviceError,
    LabelError,
    PrinterFault,
    PrinterUnavailable,
    PumpFault,
    PumpProtocolError,
    PumpUnavailable,
    ScannerError,
)
from devices.fakes import FakeLabelPrinter, FakeScanner
from devices.labels import Label, LabelLine, render_text, to_printable, wrap
from devices.printers import (
    LabelPrinter,
    PrinterStatus,
    PrintResult,
    encode_label,
    open_printer,
    render,
)
from devices.pumps import DispenseResult, PumpStatus, SerialPump, open_pump
from devices.scanners import Scan, SerialScanner, open_scanner

__all__ = [
    "BarcodeError",
    "DeviceError",
    "DispenseResult",
    "FakeLabelPrinter",
    "FakeScanner",
    "Interpretation",
    "Label",
    "LabelError",
    "LabelLine",
    "LabelPrinter",
    "PrintResult",
    "PrinterFault",
    "PrinterStatus",
    "PrinterUnavailable",
    "PumpFault",
    "PumpProtocolError",
    "PumpStatus",
    "PumpUnavailable",
    "Scan",
    "ScanKind",
    "ScannerError",
    "SerialPump",
    "SerialScanner",
    "StockPack",
    "encode_label",
    "eps_check_character",
    "interpret",
    "is_valid_eps_prescription_id",
    "is_valid_nhs_number",
    "make_label_code",
    "make_patient_card_code",
    "open_printer",
    "open_pump",
    "open_scanner",
    "render",
    "render_text",
    "to_printable",
    "wrap",
]
