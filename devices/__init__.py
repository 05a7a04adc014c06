"""Dosekeeper's hardware library: ESC/POS label printers, serial scanners and barcode syntax.

It knows printers, ports and code formats, nothing about prescriptions or patients, and it
never imports `app`. The app builds a `Label`, picks a printer with `open_printer(url)`, starts
a scanner with `open_scanner(url, on_scan)` and asks `interpret(code, today=...)` what a scan
is. Errors are in `devices.errors` (tree in its docstring).
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
from devices.scanners import Scan, SerialScanner, open_scanner

__all__ = [
    "BarcodeError",
    "DeviceError",
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
    "Scan",
    "ScanKind",
    "ScannerError",
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
    "open_scanner",
    "render",
    "render_text",
    "to_printable",
    "wrap",
]
