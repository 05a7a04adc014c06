"""Serial scanners over pty pairs and pyserial's loop://, including unplug and reconnect."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from devices import Scan, ScannerError, SerialScanner, open_scanner
from devices.scanners import MAX_FRAME, FrameBuffer, parse_frame

PREFIXES = ["", "]d2", "]C1", "]E0", "]Q1", "]d1", "]e0"]
GS1 = "010501234567890017270331" + "10A1B2C\x1d21SN0001"


# --- framing -------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [b"\r", b"\n", b"\r\n"])
def test_any_suffix_ends_a_scan(suffix: bytes) -> None:
    frames = FrameBuffer()
    assert frames.feed(b"DKP-123" + suffix + b"DKL-9" + suffix) == [Scan("DKP-123"), Scan("DKL-9")]


def test_a_scan_split_across_reads_is_joined() -> None:
    frames = FrameBuffer()
    assert frames.feed(b"]d2" + GS1[:10].encode()) == []
    assert frames.feed(GS1[10:].encode() + b"\r") == [Scan(GS1, "]d2")]
    assert frames.feed(b"\n") == []  # the LF of a CRLF split off by the read


def test_aim_prefix_is_stripped_and_group_separators_kept() -> None:
    assert parse_frame(b"]d2" + GS1.encode()) == Scan(GS1, "]d2")
    assert parse_frame(b"\x1d" + GS1.encode()) == Scan("\x1d" + GS1, None)
    assert parse_frame(b"]") == Scan("]", None)  # too short to be an identifier
    assert parse_frame(b"") is None


def test_runaway_frame_without_suffix_is_dropped() -> None:
    frames = FrameBuffer()
    assert frames.feed(b"x" * (MAX_FRAME + 1)) == []
    assert frames.feed(b"ok\r") == [Scan("ok")]


def test_reset_forgets_a_partial_frame() -> None:
    frames = FrameBuffer()
    frames.feed(b"half")
    frames.reset()
    assert frames.feed(b"whole\r") == [Scan("whole")]


# --- helpers -------------------------------------------------------------------------------


class Collector:
    def __init__(self) -> None:
        self.scans: queue.Queue[Scan] = queue.Queue()
        self.errors: queue.Queue[ScannerError] = queue.Queue()

    def on_scan(self, scan: Scan) -> None:
        self.scans.put(scan)

    def on_error(self, error: ScannerError) -> None:
        self.errors.put(error)

    def next_scans(self, count: int) -> list[Scan]:
        return [self.scans.get(timeout=3) for _ in range(count)]


class Pty:
    """A pty pair whose slave is reachable at a stable symlink, like /dev/serial/by-id/..."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.plug()

    def plug(self) -> None:
        self.master, slave = os.openpty()
        name = os.ttyname(slave)
        os.close(slave)  # the scanner reopens it by path
        tmp = self.link.with_suffix(".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(name)
        os.replace(tmp, self.link)

    def unplug(self) -> None:
        os.close(self.master)
        self.master = -1

    def send(self, data: bytes) -> None:
        os.write(self.master, data)

    def close(self) -> None:
        if self.master >= 0:
            os.close(self.master)


@pytest.fixture
def pty(tmp_path: Path) -> Iterator[Pty]:
    device = Pty(tmp_path / "ttyScanner")
    yield device
    device.close()


# --- pty -----------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [b"\r", b"\n", b"\r\n"])
def test_pty_scanner_reads_every_prefix_with_each_suffix(pty: Pty, suffix: bytes) -> None:
    seen = Collector()
    with SerialScanner(str(pty.link), seen.on_scan, on_error=seen.on_error) as scanner:
        assert scanner.wait_connected(3)
        for index, prefix in enumerate(PREFIXES):
            pty.send(f"{prefix}{GS1}{index}".encode() + suffix)
        scans = seen.next_scans(len(PREFIXES))
    assert scans == [Scan(f"{GS1}{index}", prefix or None) for index, prefix in enumerate(PREFIXES)]
    assert seen.errors.empty()


def test_unplugged_scanner_reconnects_to_the_same_path(pty: Pty) -> None:
    seen = Collector()
    scanner = open_scanner(
        str(pty.link), seen.on_scan, on_error=seen.on_error, reconnect_interval=0.05
    )
    try:
        assert scanner.wait_connected(3)
        pty.send(b"before\r\n")
        assert seen.next_scans(1) == [Scan("before")]

        pty.send(b"half-a-sc")  # unplugged mid-scan: the fragment must not leak into the next
        pty.unplug()
        assert "lost" in str(seen.errors.get(timeout=3))
        pty.plug()

        assert scanner.wait_connected(3)
        pty.send(b"after\r")
        assert seen.next_scans(1) == [Scan("after")]
    finally:
        scanner.stop()
    assert not scanner.connected


def test_scanner_waits_for_a_port_that_is_not_there_yet(tmp_path: Path) -> None:
    seen = Collector()
    link = tmp_path / "ttyLater"
    with SerialScanner(
        str(link), seen.on_scan, on_error=seen.on_error, reconnect_interval=0.05
    ) as scanner:
        error = seen.errors.get(timeout=3)
        assert isinstance(error, ScannerError)
        assert "cannot open" in str(error)
        assert not scanner.connected
        device = Pty(link)  # plugged in later
        try:
            assert scanner.wait_connected(3)
            device.send(b"]E05012345678900\r")
            assert seen.next_scans(1) == [Scan("5012345678900", "]E0")]
            assert seen.errors.qsize() == 0  # the outage was reported once, not per retry
        finally:
            scanner.stop()
            device.close()


def test_a_failing_callback_does_not_stop_the_scanner(pty: Pty) -> None:
    seen = Collector()

    def on_scan(scan: Scan) -> None:
        if scan.code == "boom":
            raise RuntimeError("bug in the app")
        seen.on_scan(scan)

    with SerialScanner(str(pty.link), on_scan) as scanner:
        assert scanner.wait_connected(3)
        pty.send(b"boom\rfine\r")
        assert seen.next_scans(1) == [Scan("fine")]


def test_serial_url_with_settings(pty: Pty) -> None:
    seen = Collector()
    url = f"serial://{pty.link}?baudrate=19200&parity=n"
    with SerialScanner(url, seen.on_scan) as scanner:
        assert scanner.wait_connected(3)
        pty.send(b"x1\r")
        assert seen.next_scans(1) == [Scan("x1")]


def test_bad_serial_url_is_refused() -> None:
    with pytest.raises(ValueError, match="serial"):
        SerialScanner("serial:///dev/ttyS0?speed=fast", lambda scan: None)


# --- loop:// -------------------------------------------------------------------------------


def test_loop_port_round_trip() -> None:
    port = serial.serial_for_url("loop://", timeout=0.05)
    seen = Collector()
    with SerialScanner("loop://", seen.on_scan, opener=lambda: port) as scanner:
        assert scanner.wait_connected(3)
        port.write(b"]Q1DKP-ABC\r\n]C1" + GS1.encode() + b"\n")
        assert seen.next_scans(2) == [Scan("DKP-ABC", "]Q1"), Scan(GS1, "]C1")]
    assert not port.is_open


def test_loop_url_opens_and_stops_cleanly() -> None:
    scanner = SerialScanner("loop://", lambda scan: None)
    scanner.start()
    assert scanner.wait_connected(3)
    scanner.stop()
    scanner.stop()  # idempotent
    assert not scanner.connected
    assert not any(t.name == "scanner loop://" for t in threading.enumerate())


def test_start_twice_is_a_bug() -> None:
    scanner = SerialScanner("loop://", lambda scan: None)
    scanner.start()
    try:
        with pytest.raises(RuntimeError):
            scanner.start()
    finally:
        scanner.stop()
