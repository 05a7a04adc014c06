"""Helpers shared by the device tests (kept out of conftest so they can be imported)."""

from __future__ import annotations

import socket
from pathlib import Path

from devices import Label, LabelLine

REPO_ROOT = Path(__file__).resolve().parents[2]

WARNING = "Keep out of the sight and reach of children"  # 43 characters: wraps at 32


def free_port() -> int:
    """A loopback port nobody listens on (a tiny race with other processes is acceptable)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def sample_label(columns: int = 48) -> Label:
    return Label(
        lines=(
            LabelLine("HIGH STREET PHARMACY", bold=True, centre=True, double_height=True),
            LabelLine("Methadone 1mg/ml oral solution sugar free"),
            LabelLine("Take 60ml (60mg) ONCE daily"),
            LabelLine(WARNING, bold=True),
        ),
        barcode="DKL-C1SM",
        columns=32 if columns == 32 else 48,
    )
