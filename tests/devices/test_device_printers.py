"""Printers: golden ESC/POS bytes, preview files, and real tcp/serial/file connections."""

from __future__ import annotations

import importlib.util
import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from devices import (
    Label,
    LabelLine,
    PrinterFault,
    PrinterUnavailable,
    _escpos,
    encode_label,
    open_printer,
    render,
    render_text,
)
from devices.printers import DEFAULT_PROFILE

from .support import REPO_ROOT, free_port, sample_label

ESC, GS = b"\x1b", b"\x1d"
INIT = ESC + b"@"
CP437 = ESC + b"t\x00"
NORMAL = ESC + b"!\x00"  # python-escpos 3.1 resets the print mode before each set()
DOUBLE_HEIGHT = ESC + b"!\x10"


def bold(on: bool) -> bytes:
    return ESC + b"E" + (b"\x01" if on else b"\x00")


def align(n: int) -> bytes:
    return ESC + b"a" + bytes([n])


GOLDEN_48 = b"".join(
    [
        INIT,
        CP437,
        NORMAL + NORMAL + DOUBLE_HEIGHT + bold(True) + align(1),
        b"HIGH STREET PHARMACY\n",
        NORMAL * 3 + bold(False) + align(0),
        b"Methadone 1mg/ml oral solution sugar free\n",
        NORMAL * 3 + bold(False) + align(0),
        b"Take 60ml (60mg) ONCE daily\n",
        NORMAL * 3 + bold(True) + align(0),
        b"Keep out of the sight and reach of children\n",
        NORMAL * 3 + bold(False) + align(0),  # back to plain text after the lines
        align(1),  # centre the barcode
        GS + b"h\x40",  # height 64 dots
        GS + b"w\x02",  # module width 2 dots
        GS + b"f\x00",  # HRI font A
        GS + b"H\x02",  # HRI below
        GS + b"k\x49\x0a{BDKL-C1SM",  # GS k 73 (CODE128, function B), length 10, code set B
        align(0),
        ESC + b"d\x06",  # feed 6 lines
        GS + b"V\x00",  # full cut
    ]
)


def test_golden_bytes_for_the_sample_label() -> None:
    assert encode_label(sample_label(48), profile="TM-T20II") == GOLDEN_48


def test_render_writes_to_an_escpos_dummy() -> None:
    dummy = _escpos.Dummy(profile=DEFAULT_PROFILE)
    render(sample_label(48), dummy)
    assert dummy.output == GOLDEN_48


def test_pound_sign_is_sent_in_cp437() -> None:
    data = encode_label(Label((LabelLine("£3.50"),)))
    assert b"\x9c3.50\n" in data
    assert b"?" not in data


def test_58mm_printer_without_cutter_or_barcode_command(capsys: pytest.CaptureFixture[str]) -> None:
    data = encode_label(sample_label(32), profile="NT-5890K")
    assert data.startswith(INIT + ESC + b"t\x34")  # this profile keeps CP437 in slot 52
    assert b"Keep out of the sight and reach\n" in data
    assert GS + b"k" not in data  # no hardware barcode: sent as a bit image
    assert ESC + b"*" in data
    assert not data.endswith(GS + b"V\x00")  # no cutter on this profile
    assert capsys.readouterr().out == ""  # python-escpos' "Using ... renderer" is captured


def test_escpos_leaves_root_logger_and_tmp_alone(tmp_path: Path) -> None:
    env = {
        key: value for key, value in os.environ.items() if key != "ESCPOS_CAPABILITIES_PICKLE_DIR"
    }
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    code = (
        "import logging, os, pathlib, devices\n"
        "printer = devices.open_printer('file:///dev/null', preview_dir=pathlib.Path('.'))\n"
        "printer.print_label(devices.Label((devices.LabelLine('x'),)), job_id='j')\n"
        "print(len(logging.getLogger().handlers))\n"
        "print(os.environ['ESCPOS_CAPABILITIES_PICKLE_DIR'])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    handlers, pickle_dir = result.stdout.split()
    assert handlers == "0"
    assert Path(pickle_dir) == tmp_path / "cache" / "dosekeeper" / "escpos"
    assert list(Path(pickle_dir).glob("*.capabilities.pickle"))


# --- preview -------------------------------------------------------------------------------


def test_preview_writes_text_and_png(preview_dir: Path) -> None:
    printer = open_printer("preview://", preview_dir=preview_dir)
    label = sample_label(48)
    result = printer.print_label(label, job_id="job-42")
    assert result.text_path == preview_dir / "job-42.txt"
    assert result.image_path == preview_dir / "job-42.png"
    assert result.text_path.read_text(encoding="utf-8") == render_text(label)
    with Image.open(result.image_path) as image:
        assert image.format == "PNG"
        assert image.width == 48 * 12 + 24
        assert image.getextrema() == (0, 255)  # something was drawn
    assert sorted(path.name for path in preview_dir.iterdir()) == ["job-42.png", "job-42.txt"]
    assert printer.status().online is True


def test_preview_width_and_job_id_are_checked(preview_dir: Path) -> None:
    printer = open_printer("preview://?columns=32", preview_dir=preview_dir)
    assert printer.columns == 32
    with pytest.raises(ValueError, match="columns"):
        printer.print_label(sample_label(48), job_id="j1")
    with pytest.raises(ValueError, match="job_id"):
        printer.print_label(sample_label(32), job_id="../escape")


def test_unwritable_preview_folder_is_unavailable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    printer = open_printer("preview://", preview_dir=blocker / "previews")
    with pytest.raises(PrinterUnavailable):
        printer.print_label(sample_label(), job_id="j1")


# --- tcp -----------------------------------------------------------------------------------


class TcpPrinter:
    """A loopback "printer": records each connection's bytes, optionally answers DLE EOT n.

    `max_waiting` counts connections waiting for a status reply at the same time. A client
    only gets past its status request once we reply, so with the per-printer lock no second
    connection can even ask before the first has finished: the count stays 1, whatever the
    scheduling.
    """

    def __init__(self, replies: dict[int, int] | None = None, reply_delay: float = 0.0) -> None:
        self.replies = replies
        self.reply_delay = reply_delay
        self.connections: list[bytes] = []
        self.waiting = 0
        self.max_waiting = 0
        self._guard = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.02)  # closing does not wake accept(): poll a flag instead
        self._closing = threading.Event()
        self.port = self._server.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            conn.settimeout(5)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        received = b""
        with conn:
            while chunk := conn.recv(4096):
                received += chunk
                if self.replies is not None:
                    for n in range(1, 5):
                        request = b"\x10\x04" + bytes([n])
                        if chunk.endswith(request) and n in self.replies:
                            self._reply(conn, self.replies[n])
        with self._guard:
            self.connections.append(received)

    def _reply(self, conn: socket.socket, status: int) -> None:
        with self._guard:
            self.waiting += 1
            self.max_waiting = max(self.max_waiting, self.waiting)
        time.sleep(self.reply_delay)
        with self._guard:
            self.waiting -= 1
        conn.sendall(bytes([status]))

    def wait_for(self, count: int) -> list[bytes]:
        deadline = time.monotonic() + 5
        while len(self.connections) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.connections

    def close(self) -> None:
        self._closing.set()
        self._accepting.join(2)
        self._server.close()
        for thread in self._threads:
            thread.join(2)


@pytest.fixture
def tcp_printer() -> Iterator[TcpPrinter]:
    server = TcpPrinter()
    yield server
    server.close()


READY = {1: 0x12, 2: 0x12, 3: 0x12, 4: 0x12}


def test_tcp_backend_sends_the_label(tcp_printer: TcpPrinter, preview_dir: Path) -> None:
    url = f"tcp://127.0.0.1:{tcp_printer.port}?status=0"
    printer = open_printer(url, preview_dir=preview_dir)
    result = printer.print_label(sample_label(), job_id="j1")
    assert tcp_printer.wait_for(1) == [GOLDEN_48]
    assert result.bytes_sent == len(GOLDEN_48)
    assert result.status.online is None


def test_tcp_printer_that_never_answers_status_still_prints(
    tcp_printer: TcpPrinter, preview_dir: Path
) -> None:
    url = f"tcp://127.0.0.1:{tcp_printer.port}?status_timeout=0.1"
    result = open_printer(url, preview_dir=preview_dir).print_label(sample_label(), job_id="j")
    [received] = tcp_printer.wait_for(1)
    assert received == b"\x10\x04\x01" + GOLDEN_48
    assert result.status.paper == "unknown"


@pytest.mark.parametrize(
    ("replies", "error", "message"),
    [
        ({1: 0x1A, 2: 0x32, 4: 0x72}, PrinterFault, "paper out"),
        ({1: 0x1A, 2: 0x16, 4: 0x12}, PrinterFault, "cover open"),
        ({1: 0x1A, 2: 0x52, 3: 0x1A, 4: 0x12}, PrinterFault, "cutter error"),
        ({1: 0x1A, 2: 0x12, 4: 0x12}, PrinterUnavailable, "offline"),
    ],
)
def test_faulty_tcp_printer_is_refused_before_printing(
    replies: dict[int, int], error: type[Exception], message: str, preview_dir: Path
) -> None:
    server = TcpPrinter(replies)
    try:
        printer = open_printer(f"tcp://127.0.0.1:{server.port}", preview_dir=preview_dir)
        with pytest.raises(error, match=message):
            printer.print_label(sample_label(), job_id="j1")
        [received] = server.wait_for(1)
        assert INIT not in received  # only status requests went out
        status = printer.status()
        assert status.online is False
        assert message in status.detail
    finally:
        server.close()


def test_paper_low_prints_and_is_reported(preview_dir: Path) -> None:
    server = TcpPrinter({**READY, 4: 0x1E})
    try:
        printer = open_printer(f"tcp://127.0.0.1:{server.port}", preview_dir=preview_dir)
        result = printer.print_label(sample_label(), job_id="j1")
        assert result.status.paper == "low"
        assert server.wait_for(1)[0].endswith(GOLDEN_48)
    finally:
        server.close()


def test_connection_refused_is_printer_unavailable(preview_dir: Path) -> None:
    printer = open_printer(f"tcp://127.0.0.1:{free_port()}?timeout=2", preview_dir=preview_dir)
    with pytest.raises(PrinterUnavailable, match="connection refused"):
        printer.print_label(sample_label(), job_id="j1")
    status = printer.status()
    assert (status.online, status.paper) == (False, "unknown")
    assert "connection refused" in status.detail


def test_concurrent_labels_never_share_the_printer(preview_dir: Path) -> None:
    server = TcpPrinter(READY, reply_delay=0.05)
    try:
        url = f"tcp://127.0.0.1:{server.port}"
        printers = [open_printer(url, preview_dir=preview_dir) for _ in range(2)]
        labels = [sample_label(), Label((LabelLine("second label"),))]
        threads = [
            threading.Thread(target=p.print_label, args=(label,), kwargs={"job_id": f"j{i}"})
            for i, (p, label) in enumerate(zip(printers * 2, labels * 2, strict=True))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        received = server.wait_for(4)
        assert server.max_waiting == 1
        assert sorted(data[data.index(INIT) :] for data in received) == sorted(
            [encode_label(label) for label in labels * 2]
        )
    finally:
        server.close()


# --- serial, file, usb ---------------------------------------------------------------------


def read_all(fd: int, quiet: float = 0.3) -> bytes:
    data = b""
    while select.select([fd], [], [], quiet)[0]:
        data += os.read(fd, 4096)
    return data


def test_serial_backend_writes_to_the_port(preview_dir: Path) -> None:
    master, slave = os.openpty()
    try:
        url = f"serial://{os.ttyname(slave)}?baudrate=9600"
        printer = open_printer(url, preview_dir=preview_dir)
        result = printer.print_label(sample_label(), job_id="j1")
        assert read_all(master) == GOLDEN_48
        assert result.status.online is None  # serial printers are not asked by default
    finally:
        os.close(master)
        os.close(slave)


def test_missing_serial_port_is_unavailable(preview_dir: Path) -> None:
    printer = open_printer("serial:///dev/ttyDOES-NOT-EXIST", preview_dir=preview_dir)
    with pytest.raises(PrinterUnavailable):
        printer.print_label(sample_label(), job_id="j1")


def test_file_backend(tmp_path: Path, preview_dir: Path) -> None:
    device = tmp_path / "lp0"
    open_printer(f"file://{device}", preview_dir=preview_dir).print_label(
        sample_label(), job_id="j1"
    )
    assert device.read_bytes() == GOLDEN_48
    missing = open_printer(f"file://{tmp_path}/no/such/lp0", preview_dir=preview_dir)
    with pytest.raises(PrinterUnavailable):
        missing.print_label(sample_label(), job_id="j1")


@pytest.mark.skipif(importlib.util.find_spec("usb") is not None, reason="pyusb is installed")
def test_usb_without_pyusb_is_unavailable(preview_dir: Path) -> None:
    printer = open_printer("usb://04b8:0202", preview_dir=preview_dir)
    with pytest.raises(PrinterUnavailable, match="usb"):
        printer.print_label(sample_label(), job_id="j1")


# --- URLs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://printer", "unsupported"),
        ("tcp://", "missing host"),
        ("tcp://host?colour=red", "unknown parameter"),
        ("tcp://host?status=maybe", "status must be"),
        ("tcp://host?profile=NoSuchPrinter", "unknown python-escpos profile"),
        ("usb://epson", "expected usb://"),
        ("serial://", "missing device path"),
        ("preview://?columns=40", "columns must be"),
    ],
)
def test_bad_urls_fail_at_start_up(url: str, message: str, preview_dir: Path) -> None:
    with pytest.raises(ValueError, match=message):
        open_printer(url, preview_dir=preview_dir)


def test_columns_come_from_the_profile(preview_dir: Path) -> None:
    assert open_printer("tcp://h", preview_dir=preview_dir).columns == 48
    narrow = open_printer("tcp://h?profile=NT-5890K", preview_dir=preview_dir)
    assert narrow.columns == 32
    with pytest.raises(ValueError, match="columns"):
        narrow.print_label(sample_label(48), job_id="j1")
