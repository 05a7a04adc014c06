"""A dose-measuring pump on a serial port: send the volume to dispense, read what it dispensed.

Pumps sold for methadone (Methameasure, Methasoft and others) speak protocols of their own that
we cannot check, so Dosekeeper defines a small line protocol (docs/pump-protocol.md) and a pump
is connected through it (natively, or by a small adapter for the pump's own protocol):

    host -> pump   DISPENSE 40.00 7F3A21C0        volume in mL with two decimals, request id
    pump -> host   ACK 7F3A21C0                   within `ack_timeout`, before any liquid moves
    pump -> host   DONE 7F3A21C0 40.00            when finished: the volume it measured out
              or   ERR 7F3A21C0 EMPTY Reservoir empty

    host -> pump   STATUS 7F3A21C1
    pump -> host   READY 7F3A21C1 | BUSY 7F3A21C1 | ERR 7F3A21C1 <code> <text>

Lines are ASCII and end in CR LF (CR, LF or CR LF accepted from the pump). Every exchange ends
within a bounded time whatever the pump does: silence before ACK is `PumpUnavailable`; an
`ERR`, silence or a lost port after ACK is `PumpFault` (with `partial=True`: liquid may have
moved); garbage or an answer carrying another request's id is `PumpProtocolError`. A `DONE`
is a `DispenseResult`, even when the volume differs from the one asked for: the caller compares
(`matches`) and decides, because a short dose is a fact to record, not a failure of the pump.

The port is opened for each request and closed after it, like the label printer, so an
unplugged pump is found again at the same path; one request at a time goes to a pump.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final

import serial

from devices.errors import PumpFault, PumpProtocolError, PumpUnavailable
from devices.scanners import PortOpener, _url_opener

__all__ = [
    "MAX_VOLUME_ML",
    "DispenseResult",
    "PumpStatus",
    "Reply",
    "SerialPump",
    "format_volume",
    "open_pump",
    "parse_reply",
]

log = logging.getLogger("devices.pumps")

#: The most one request may ask for (a week's take-home of a high dose fits; 1 L does not).
MAX_VOLUME_ML: Final = Decimal("999.99")
CENT: Final = Decimal("0.01")
#: A line from the pump longer than this is noise (wrong baud rate, not a pump).
MAX_LINE: Final = 128

_ID = re.compile(r"[0-9A-Z]{1,16}")
_VOLUME = re.compile(r"\d{1,3}\.\d{2}")
_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,31}")
_TERMINATOR = re.compile(rb"[\r\n]")


@dataclass(frozen=True, slots=True)
class DispenseResult:
    """What the pump reported for one request. `matches` is False for a short (or long) dose."""

    request_id: str
    requested_ml: Decimal
    dispensed_ml: Decimal

    @property
    def matches(self) -> bool:
        return self.dispensed_ml == self.requested_ml


@dataclass(frozen=True, slots=True)
class PumpStatus:
    ready: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Reply:
    """One parsed line from the pump: `kind` is ACK, DONE, ERR, READY or BUSY."""

    kind: str
    request_id: str
    volume_ml: Decimal | None = None
    code: str | None = None
    text: str = ""


def format_volume(volume_ml: Decimal) -> str:
    """`Decimal("40")` -> "40.00"; ValueError for a volume the protocol cannot carry exactly."""
    try:
        exact = volume_ml.quantize(CENT)
    except InvalidOperation:
        exact = Decimal("NaN")
    if not exact.is_finite():
        raise ValueError(f"{volume_ml!r} is not a volume")
    if exact != volume_ml:
        raise ValueError(f"{volume_ml} mL has more than two decimals")
    if not Decimal(0) < exact <= MAX_VOLUME_ML:
        raise ValueError(f"{volume_ml} mL is outside 0.01-{MAX_VOLUME_ML} mL")
    return f"{exact:.2f}"


def parse_reply(line: str) -> Reply:
    """A pump line -> Reply; PumpProtocolError (partial=False, the caller sets its own) if the
    line is not one the protocol allows."""
    parts = line.split(" ", 3)
    kind = parts[0]
    ok = len(parts) >= 2 and _ID.fullmatch(parts[1]) is not None
    if ok and kind in ("ACK", "READY", "BUSY") and len(parts) == 2:
        return Reply(kind, parts[1])
    if ok and kind == "DONE" and len(parts) == 3 and _VOLUME.fullmatch(parts[2]):
        return Reply(kind, parts[1], volume_ml=Decimal(parts[2]))
    if ok and kind == "ERR" and len(parts) >= 3 and _CODE.fullmatch(parts[2]):
        return Reply(kind, parts[1], code=parts[2], text=parts[3] if len(parts) == 4 else "")
    raise PumpProtocolError(
        f"the pump sent {line[:60]!r}, which is not the protocol", partial=False
    )


class _Lines:
    """Reads lines from the port until a deadline; never blocks longer than the port timeout."""

    def __init__(self, port: serial.SerialBase) -> None:
        self._port = port
        self._pending = b""
        self._lines: list[bytes] = []

    def next(self, deadline: float) -> str | None:
        """The next non-empty line, or None when `deadline` (monotonic) passes first."""
        while not self._lines:
            if time.monotonic() >= deadline:
                return None
            waiting = int(getattr(self._port, "in_waiting", 0))
            data = self._port.read(max(1, waiting))
            if not data:
                continue
            *frames, self._pending = _TERMINATOR.split(self._pending + data)
            self._lines.extend(frame for frame in frames if frame.strip())
            if len(self._pending) > MAX_LINE:
                raise PumpProtocolError("the pump sent a line with no end", partial=False)
        frame = self._lines.pop(0)
        try:
            text = frame.decode("ascii").strip()
        except UnicodeDecodeError:
            raise PumpProtocolError(
                f"the pump sent non-ASCII bytes {frame[:30]!r}", partial=False
            ) from None
        if len(text) > MAX_LINE or not text.isprintable():
            raise PumpProtocolError(
                f"the pump sent {text[:60]!r}, which is not the protocol", partial=False
            )
        return text


class SerialPump:
    """A pump at `url` (a device path, `serial:///dev/ttyUSB0?baudrate=9600`, or a pyserial URL).

    `ack_timeout` bounds the wait for ACK (and for STATUS); `dispense_timeout` bounds the wait
    for DONE after the ACK, so set it above the pump's slowest full measure.
    """

    def __init__(
        self,
        url: str,
        *,
        ack_timeout: float = 2.0,
        dispense_timeout: float = 60.0,
        baudrate: int = 9600,
        opener: PortOpener | None = None,
    ) -> None:
        self.url = url
        self.ack_timeout = ack_timeout
        self.dispense_timeout = dispense_timeout
        self._opener = opener or _url_opener(
            url,
            baudrate=baudrate,
            bytesize=serial.EIGHTBITS,
            parity=serial.PARITY_NONE,
            stopbits=serial.STOPBITS_ONE,
            timeout=0.05,
        )
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"

    def dispense(self, volume_ml: Decimal, *, request_id: str | None = None) -> DispenseResult:
        """Ask the pump to measure out `volume_ml` and wait for what it reports.

        ValueError for a volume or id the protocol cannot carry (before the port is touched).
        """
        volume = format_volume(volume_ml)
        rid = request_id or secrets.token_hex(4).upper()
        if not _ID.fullmatch(rid):
            raise ValueError(f"request id {rid!r}: 1-16 characters 0-9 A-Z")
        with self._exchange() as (port, lines):
            self._send(port, f"DISPENSE {volume} {rid}")
            first = self._reply(lines, rid, self.ack_timeout, partial=False)
            if first is None:
                raise PumpUnavailable(
                    f"{self.url}: the pump did not acknowledge within {self.ack_timeout:g} s"
                )
            if first.kind == "ERR":
                raise PumpFault(self._err_text(first), code=first.code or "ERR", partial=False)
            if first.kind != "ACK":
                raise PumpProtocolError(f"expected ACK, the pump sent {first.kind}", partial=True)
            done = self._reply(lines, rid, self.dispense_timeout, partial=True)
            if done is None:
                raise PumpFault(
                    f"{self.url}: the pump started but did not report within "
                    f"{self.dispense_timeout:g} s; the volume dispensed is unknown",
                    code="timeout",
                    partial=True,
                )
            if done.kind == "ERR":
                raise PumpFault(self._err_text(done), code=done.code or "ERR", partial=True)
            if done.kind != "DONE" or done.volume_ml is None:
                raise PumpProtocolError(f"expected DONE, the pump sent {done.kind}", partial=True)
        result = DispenseResult(rid, Decimal(volume), done.volume_ml)
        log.info(
            "pump %s: request %s asked %s mL, dispensed %s mL",
            self.url,
            rid,
            volume,
            result.dispensed_ml,
        )
        return result

    def status(self) -> PumpStatus:
        """READY or BUSY as the pump says; a pump that cannot answer is not ready (no raise)."""
        rid = secrets.token_hex(4).upper()
        try:
            with self._exchange() as (port, lines):
                self._send(port, f"STATUS {rid}")
                reply = self._reply(lines, rid, self.ack_timeout, partial=False)
        except (PumpUnavailable, PumpFault) as exc:
            return PumpStatus(False, str(exc))
        if reply is None:
            return PumpStatus(False, f"no answer within {self.ack_timeout:g} s")
        if reply.kind == "READY":
            return PumpStatus(True, "ready")
        if reply.kind == "BUSY":
            return PumpStatus(False, "busy")
        if reply.kind == "ERR":
            return PumpStatus(False, self._err_text(reply))
        return PumpStatus(False, f"unexpected answer {reply.kind}")

    # --- one exchange ----------------------------------------------------------------------

    @contextlib.contextmanager
    def _exchange(self) -> Iterator[tuple[serial.SerialBase, _Lines]]:
        if not self._lock.acquire(timeout=self.ack_timeout):
            raise PumpUnavailable(f"{self.url}: the pump is busy with another request")
        try:
            try:
                port = self._opener()
            except (serial.SerialException, OSError, ValueError) as exc:
                raise PumpUnavailable(f"{self.url}: cannot open the pump's port ({exc})") from exc
            try:
                reset = getattr(port, "reset_input_buffer", None)  # not on every SerialBase
                with contextlib.suppress(serial.SerialException, OSError):
                    if reset is not None:
                        reset()  # drop a late answer to an earlier request
                yield port, _Lines(port)
            finally:
                with contextlib.suppress(serial.SerialException, OSError):
                    port.close()
        finally:
            self._lock.release()

    def _send(self, port: serial.SerialBase, line: str) -> None:
        try:
            port.write(line.encode("ascii") + b"\r\n")
            port.flush()
        except (serial.SerialException, OSError) as exc:
            raise PumpUnavailable(f"{self.url}: the pump's port failed ({exc})") from exc

    def _reply(self, lines: _Lines, rid: str, timeout: float, *, partial: bool) -> Reply | None:
        """The pump's next answer to request `rid`, or None on timeout."""
        try:
            text = lines.next(time.monotonic() + timeout)
        except PumpProtocolError as exc:
            raise PumpProtocolError(str(exc), partial=partial) from None
        except (serial.SerialException, OSError) as exc:
            message = f"{self.url}: the pump's port was lost ({exc})"
            if partial:
                raise PumpFault(
                    message + "; the volume dispensed is unknown", code="lost", partial=True
                ) from exc
            raise PumpUnavailable(message) from exc
        if text is None:
            return None
        try:
            reply = parse_reply(text)
        except PumpProtocolError as exc:
            raise PumpProtocolError(str(exc), partial=partial) from None
        if reply.request_id != rid:
            raise PumpProtocolError(
                f"the pump answered request {reply.request_id}, not {rid}", partial=partial
            )
        return reply

    def _err_text(self, reply: Reply) -> str:
        return f"{self.url}: the pump reported {reply.code}" + (
            f" ({reply.text})" if reply.text else ""
        )


def open_pump(url: str, *, dispense_timeout: float = 60.0, ack_timeout: float = 2.0) -> SerialPump:
    """A pump at `url`; nothing is opened until the first request."""
    return SerialPump(url, ack_timeout=ack_timeout, dispense_timeout=dispense_timeout)
