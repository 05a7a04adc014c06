"""Serial barcode scanners (RS-232 or USB-CDC) read on a background thread.

A scanner sends `[AIM symbology id] data suffix` for each scan. The suffix is configurable on
the scanner (CR, LF or CRLF), so any of them ends a scan and empty frames are ignored. The
optional AIM identifier (ISO/IEC 15424, e.g. `]d2` GS1 DataMatrix, `]C1` GS1-128, `]E0` EAN,
`]Q1` QR) is stripped from the code and reported, because it tells GS1 data from plain text.
GS (0x1D) separators inside the data are kept: GS1 parsing needs them.

Scanners get unplugged at the counter. Instead of dying, the reader closes the port, reports
the loss once (`on_error`) and tries to open the same path again every `reconnect_interval`
seconds until it works or `stop()` is called. Point it at a stable path such as
`/dev/serial/by-id/...` so the re-plugged scanner is found under the same name.

`on_scan` runs on the reader thread: hand the scan to your event loop
(`loop.call_soon_threadsafe(queue.put_nowait, scan)`) rather than doing work there.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Self
from urllib.parse import parse_qs, unquote, urlsplit

import serial

from devices.errors import ScannerError

__all__ = [
    "FrameBuffer",
    "Scan",
    "SerialScanner",
    "open_scanner",
    "parse_frame",
]

log = logging.getLogger("devices.scanners")

#: A frame that grows this long without a CR or LF is noise (wrong baud rate, no suffix set).
MAX_FRAME: Final = 4096

_AIM = re.compile(r"^\][A-Za-z][0-9A-Za-z]")
_TERMINATORS = re.compile(rb"[\r\n]")


@dataclass(frozen=True, slots=True)
class Scan:
    """One scanned code. `symbology` is the AIM identifier such as "]d2", or None if not sent."""

    code: str
    symbology: str | None = None


def parse_frame(frame: bytes) -> Scan | None:
    """One frame without its suffix -> Scan; None for an empty frame (e.g. the LF of CRLF).

    Bytes are decoded as UTF-8 (ASCII in practice); undecodable bytes become U+FFFD so the
    interpreter refuses the code visibly instead of the reader guessing.
    """
    text = frame.decode("utf-8", errors="replace")
    if not text.strip():
        return None
    symbology = None
    if match := _AIM.match(text):
        symbology, text = match.group(), text[match.end() :]
    return Scan(text, symbology)


class FrameBuffer:
    """Turns a byte stream into scans; keeps a partial frame until its suffix arrives."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, data: bytes) -> list[Scan]:
        *frames, self._pending = _TERMINATORS.split(self._pending + data)
        if len(self._pending) > MAX_FRAME:
            log.warning(
                "dropping %d bytes with no CR/LF: check the scanner suffix and baud rate",
                len(self._pending),
            )
            self._pending = b""
        return [scan for frame in frames if (scan := parse_frame(frame)) is not None]

    def reset(self) -> None:
        """Forget a partial frame (after a disconnect the rest of it will never come)."""
        self._pending = b""


PortOpener = Callable[[], serial.SerialBase]


class SerialScanner:
    """Reads one scanner port on a daemon thread until `stop()`; reconnects when unplugged."""

    def __init__(
        self,
        url: str,
        on_scan: Callable[[Scan], None],
        *,
        on_error: Callable[[ScannerError], None] | None = None,
        baudrate: int = 9600,
        bytesize: int = serial.EIGHTBITS,
        parity: str = serial.PARITY_NONE,
        stopbits: float = serial.STOPBITS_ONE,
        reconnect_interval: float = 2.0,
        read_timeout: float = 0.1,
        opener: PortOpener | None = None,
    ) -> None:
        """`url` is a device path, a pyserial URL (`loop://`, `socket://`, `rfc2217://`) or
        `serial:///dev/ttyACM0?baudrate=9600`. `opener` replaces the opening (tests pass a port
        they can write to); `read_timeout` bounds how long `stop()` waits for the thread.
        """
        self.url = url
        self._on_scan = on_scan
        self._on_error = on_error
        self._reconnect_interval = reconnect_interval
        self._opener = opener or _url_opener(
            url,
            baudrate=baudrate,
            bytesize=bytesize,
            parity=parity,
            stopbits=stopbits,
            timeout=read_timeout,
        )
        self._stopping = threading.Event()
        self._connected = threading.Event()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return f"<{type(self).__name__} {self.url} {state}>"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def connected(self) -> bool:
        """True while the port is open; False while waiting to reconnect."""
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        """Block until the port is open (or `timeout` seconds pass); True when it is."""
        return self._connected.wait(timeout)

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("scanner already started")
        self._thread = threading.Thread(target=self._run, name=f"scanner {self.url}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop reading and close the port. Safe to call twice, or from `on_scan`."""
        self._stopping.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # --- reader thread ---------------------------------------------------------------------

    def _run(self) -> None:
        frames = FrameBuffer()
        reported = False  # report each outage once, not every retry
        while not self._stopping.is_set():
            try:
                port = self._opener()
            except (serial.SerialException, OSError, ValueError) as exc:
                if not reported:
                    self._report(ScannerError(f"{self.url}: cannot open ({exc}); retrying"))
                    reported = True
                self._stopping.wait(self._reconnect_interval)
                continue
            if reported:
                log.info("scanner %s reconnected", self.url)
            reported = False
            self._connected.set()
            try:
                self._read(port, frames)
            except (serial.SerialException, OSError) as exc:
                self._report(ScannerError(f"{self.url}: lost ({exc}); reconnecting"))
                reported = True
            finally:
                self._connected.clear()
                frames.reset()
                with contextlib.suppress(serial.SerialException, OSError):
                    port.close()
            if reported:
                self._stopping.wait(self._reconnect_interval)

    def _read(self, port: serial.SerialBase, frames: FrameBuffer) -> None:
        while not self._stopping.is_set():
            waiting = int(getattr(port, "in_waiting", 0))  # not on every SerialBase
            data = port.read(max(1, waiting))  # b"" when read_timeout passes
            if not data:
                continue
            for scan in frames.feed(data):
                try:
                    self._on_scan(scan)
                except Exception:  # a bug in the callback must not stop the scanner
                    log.exception("on_scan failed for a scan from %s", self.url)

    def _report(self, error: ScannerError) -> None:
        log.warning("%s", error)
        if self._on_error is not None:
            try:
                self._on_error(error)
            except Exception:
                log.exception("on_error failed for %s", self.url)


def _url_opener(
    url: str,
    *,
    baudrate: int,
    bytesize: int,
    parity: str,
    stopbits: float,
    timeout: float,
) -> PortOpener:
    """The function that opens the port, with settings from `serial://...?baudrate=` if given."""
    target = url
    if url.startswith("serial://"):
        parts = urlsplit(url)
        target = unquote(parts.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        baudrate = int(query.pop("baudrate", baudrate))
        bytesize = int(query.pop("bytesize", bytesize))
        parity = query.pop("parity", parity).upper()
        stopbits = float(query.pop("stopbits", stopbits))
        if query or not target:
            raise ValueError(
                f"{url}: expected serial:///path?baudrate=&bytesize=&parity=&stopbits="
            )
    stop: float | int = int(stopbits) if stopbits == int(stopbits) else stopbits

    def open_port() -> serial.SerialBase:
        return serial.serial_for_url(
            target,
            baudrate=baudrate,
            bytesize=bytesize,
            parity=parity,
            stopbits=stop,
            timeout=timeout,
            exclusive=True,  # two readers on one scanner would each get half the scans
        )

    return open_port


def open_scanner(
    url: str,
    on_scan: Callable[[Scan], None],
    *,
    on_error: Callable[[ScannerError], None] | None = None,
    reconnect_interval: float = 2.0,
) -> SerialScanner:
    """Start reading a scanner at 9600 8N1 (or the settings in a `serial://` URL)."""
    scanner = SerialScanner(url, on_scan, on_error=on_error, reconnect_interval=reconnect_interval)
    scanner.start()
    return scanner
