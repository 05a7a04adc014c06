"""Runs under the emupos interpreter (Python >= 3.13), never under the project's own Python.

    python emupos_helper.py decode 48 < label.bin   -> JSON {"receipts": [...], "events": [...]}

Feeds ESC/POS bytes through emupos' device model (a printer simulator written independently of
python-escpos) and prints what it made of them, so the tests can compare text and barcodes
without trusting our own renderer. `_parse_profile` is private to emupos: the version is pinned
in scripts/emupos-venv.sh.
"""

import json
import sys
from importlib import resources

from emupos.config import _parse_profile
from emupos.printer.printer import Printer

# A 58 mm roll: the 80 mm Epson profile narrowed to 384 dots (32 columns of 12-dot font A).
PROFILES = {48: "epson-tm-t20iii.yaml", 32: "epson-tm-t20iii.yaml"}
WIDTH_DOTS = {48: 576, 32: 384}


def _profile(columns: int) -> object:
    folder = resources.files("emupos").joinpath("profiles", "printers")
    text = folder.joinpath(PROFILES[columns]).read_text(encoding="utf-8")
    text = text.replace("width_dots: 576", f"width_dots: {WIDTH_DOTS[columns]}")
    return _parse_profile(text, f"{columns}-columns")


def decode(columns: int, data: bytes) -> dict[str, object]:
    printer = Printer("lab", _profile(columns), sensor_open_level="high", job_idle_timeout_ms=2000)
    out = printer.open_connection("c1", 0.0)
    out += printer.receive("c1", data, 0.1)
    out += printer.close_connection("c1", 0.2)
    return {
        "receipts": [
            {"text": r.text, "boundary": r.boundary, "width_dots": r.width_dots}
            for r in out.receipts
        ],
        "events": [{"type": str(e.type), "data": dict(e.data)} for e in out.events],
        "writes": [w.data.hex() for w in out.writes],
    }


def main() -> None:
    command, columns = sys.argv[1], int(sys.argv[2])
    if command != "decode":
        raise SystemExit(f"unknown command {command!r}")
    json.dump(decode(columns, sys.stdin.buffer.read()), sys.stdout)


if __name__ == "__main__":
    main()
