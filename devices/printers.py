"""Label printers chosen by URL, all behind one small `LabelPrinter` protocol.

| URL                                       | backend                                         |
|-------------------------------------------|-------------------------------------------------|
| `tcp://host:9100`                         | raw TCP ("JetDirect"), status asked with DLE EOT |
| `serial:///dev/ttyUSB0?baudrate=9600`     | RS-232 / USB-CDC through pyserial                |
| `usb://04b8:0202`                         | USB vendor:product through pyusb (optional dep)  |
| `file:///dev/usb/lp0`                     | a character device (Linux usblp)                 |
| `preview://`                              | `<job_id>.txt` and `<job_id>.png` in preview_dir |

Query parameters for the ESC/POS backends: `profile` (python-escpos profile, default
`TM-T20II`: 48 columns; use e.g. `NT-5890K` for 58 mm rolls), `timeout` (seconds, default 10),
`status` (1/0: ask the printer for its status before each label; default 1 for tcp, 0 otherwise
because many serial printers have no return channel), `status_timeout` (default 0.5). Serial
also takes `baudrate`, `bytesize`, `parity`, `stopbits`, `rtscts`, `dsrdtr` (default 0:
most scanners and printers do not wire DSR). `preview://?columns=32` sets the preview width.

Every label is rendered to bytes first (`encode_label`), then sent over a fresh connection in
one write, under a lock per printer, so a half-rendered label never reaches the paper and two
requests never interleave their bytes. Errors are translated at this seam (`devices.errors`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import serial

from devices import _escpos
from devices._preview import render_png
from devices.errors import DeviceError, PrinterFault, PrinterUnavailable
from devices.labels import Label, layout, render_text

__all__ = [
    "DEFAULT_PROFILE",
    "EscposLike",
    "LabelPrinter",
    "PaperState",
    "PrintResult",
    "PrinterStatus",
    "encode_label",
    "open_printer",
    "render",
]

log = logging.getLogger("devices.printers")

DEFAULT_PROFILE: Final = "TM-T20II"
CODE_PAGE_NAME: Final = "CP437"  # python-escpos' name for `devices.labels.CODE_PAGE`
LOCK_WAIT: Final = 30.0  # seconds a print waits for the previous one on the same printer

PaperState = Literal["ok", "low", "out", "unknown"]

_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    """What the printer said about itself; `online=None`: it was not, or could not be, asked."""

    online: bool | None
    paper: PaperState
    detail: str


UNKNOWN_STATUS: Final = PrinterStatus(None, "unknown", "status not requested")


@dataclass(frozen=True, slots=True)
class PrintResult:
    """What happened to one label. `status` is as seen just before printing ("low" paper etc.)."""

    job_id: str
    printer: str
    bytes_sent: int
    status: PrinterStatus
    text_path: Path | None = None
    image_path: Path | None = None


class LabelPrinter(Protocol):
    """A label printer. Blocking: call it from a worker thread, never inside a DB transaction."""

    @property
    def url(self) -> str: ...

    @property
    def columns(self) -> Literal[32, 48]:
        """The label width this printer takes; build `Label(columns=...)` with it."""
        ...

    def print_label(self, label: Label, *, job_id: str) -> PrintResult:
        """Print one label or raise `PrinterUnavailable` / `PrinterFault`."""
        ...

    def status(self) -> PrinterStatus:
        """Ask the printer how it is. Never raises for device problems: it reports them."""
        ...


class EscposLike(Protocol):
    """The part of `escpos.escpos.Escpos` that `render` uses (python-escpos has no types)."""

    profile: Any
    magic: Any

    def hw(self, hw: str) -> None: ...

    def set(self, **kwargs: Any) -> None: ...

    def textln(self, txt: str = "") -> None: ...

    def barcode(self, code: str, bc: str, **kwargs: Any) -> None: ...

    def cut(self, mode: str = "FULL", feed: bool = True) -> None: ...


# --- rendering -----------------------------------------------------------------------------


def render(label: Label, printer: EscposLike) -> None:
    """Write the label as ESC/POS commands to a python-escpos printer (tests pass `Dummy`).

    Starts with ESC @ so no setting leaks in from a previous job, then pins code page CP437
    with ESC t (the text was reduced to CP437 by `devices.labels`, and pinning avoids
    python-escpos' stale-code-page bug after ESC @). The barcode uses the printer's own
    CODE128 command when the profile has one, and python-escpos' software rendering (a raster
    image) otherwise, e.g. on 58 mm printers without barcode support.
    """
    printer.hw("INIT")
    printer.magic.force_encoding(CODE_PAGE_NAME)
    for row in layout(label):
        printer.set(
            align="center" if row.centre else "left",
            bold=row.bold,
            double_height=row.double_height,
            normal_textsize=not row.double_height,
        )
        printer.textln(row.text)
    printer.set(align="left", bold=False, normal_textsize=True)
    if label.barcode is not None:
        with _escpos.quiet():
            if printer.profile.supports("barcodeB"):
                # python-escpos 3.1 wants the code set inside the data for function B
                printer.barcode(
                    "{B" + label.barcode,
                    "CODE128",
                    function_type="B",
                    width=2,
                    height=64,
                    pos="BELOW",
                    font="A",
                    align_ct=True,
                )
            else:
                # ... but the software renderer takes the bare data
                printer.barcode(label.barcode, "CODE128", width=2, height=64, align_ct=True)
        printer.set(align="left")
    printer.cut()


def encode_label(label: Label, *, profile: str = DEFAULT_PROFILE) -> bytes:
    """The exact bytes a printer with this python-escpos profile receives for the label."""
    dummy = _escpos.Dummy(profile=profile)
    try:
        with _escpos.quiet():
            render(label, dummy)
    except _escpos.EscposError as exc:
        raise PrinterFault(f"profile {profile} cannot print this label: {exc}") from exc
    data: bytes = dummy.output
    return data


# --- ESC/POS backends ----------------------------------------------------------------------


_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock_for(target: str) -> threading.Lock:
    """One lock per physical printer, shared by every `LabelPrinter` opened for it."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(target, threading.Lock())


@contextlib.contextmanager
def _held(lock: threading.Lock, url: str) -> Iterator[None]:
    if not lock.acquire(timeout=LOCK_WAIT):
        raise PrinterUnavailable(f"{url}: still busy with the previous label after {LOCK_WAIT}s")
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def _translated(url: str) -> Iterator[None]:
    """Library and OS errors become ours; the original stays as `__cause__` for the log."""
    try:
        yield
    except DeviceError:
        raise
    except ConnectionRefusedError as exc:
        raise PrinterUnavailable(f"{url}: connection refused") from exc
    except TimeoutError as exc:  # socket.timeout is TimeoutError since 3.10
        raise PrinterUnavailable(f"{url}: timed out") from exc
    except (OSError, serial.SerialException) as exc:
        raise PrinterUnavailable(f"{url}: {exc}") from exc
    except _escpos.EscposError as exc:
        name = type(exc).__name__
        if name in {"DeviceNotFoundError", "USBNotFoundError"}:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, ConnectionRefusedError):
                raise PrinterUnavailable(f"{url}: connection refused") from exc
            raise PrinterUnavailable(f"{url}: {_one_line(exc)}") from exc
        raise PrinterFault(f"{url}: {_one_line(exc)}") from exc
    except RuntimeError as exc:  # python-escpos: "requires pyserial/pyusb to be installed"
        raise PrinterUnavailable(f"{url}: {exc}") from exc


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


# DLE EOT n replies (Epson ESC/POS reference "DLE EOT"): bits 0, 1, 4, 7 are fixed 0-1-1-0.
_FIXED_MASK, _FIXED_BITS = 0x93, 0x12
_OFFLINE = 0x08  # n=1
_COVER_OPEN, _STOPPED_BY_PAPER_END, _ERROR = 0x04, 0x20, 0x40  # n=2
_AUTOCUTTER, _UNRECOVERABLE = 0x08, 0x20  # n=3
_NEAR_END, _PAPER_NOT_PRESENT = 0x0C, 0x60  # n=4


def _ask(printer: Any, n: int) -> int | None:
    """One real-time status byte, or None when the printer does not answer in time."""
    try:
        reply: bytes = printer.query_status(b"\x10\x04" + bytes([n]))
    except TimeoutError:
        return None
    if not reply or reply[0] & _FIXED_MASK != _FIXED_BITS:
        return None
    return reply[0]


def _query_status(printer: Any) -> PrinterStatus:
    """Ask DLE EOT 1, 4 and (when offline) 2 and 3: real-time, answered even while blocked."""
    general = _ask(printer, 1)
    if general is None:
        return PrinterStatus(None, "unknown", "printer did not answer the status request")
    roll = _ask(printer, 4)
    paper: PaperState = "unknown"
    if roll is not None:
        if roll & _PAPER_NOT_PRESENT == _PAPER_NOT_PRESENT:
            paper = "out"
        elif roll & _NEAR_END == _NEAR_END:
            paper = "low"
        else:
            paper = "ok"
    if not general & _OFFLINE:
        return PrinterStatus(True, paper, "paper low" if paper == "low" else "ready")
    causes: list[str] = []
    offline = _ask(printer, 2)
    if offline is not None:
        if offline & _STOPPED_BY_PAPER_END:
            paper = "out"
        if offline & _COVER_OPEN:
            causes.append("cover open")
        if offline & _ERROR:
            error = _ask(printer, 3)
            if error is not None and error & _AUTOCUTTER:
                causes.append("cutter error")
            elif error is not None and error & _UNRECOVERABLE:
                causes.append("unrecoverable error")
            else:
                causes.append("printer error")
    if paper == "out":
        causes.insert(0, "paper out")
    return PrinterStatus(False, paper, ", ".join(causes) or "offline")


def _refuse_unless_ready(url: str, status: PrinterStatus) -> None:
    if status.online is not False:
        return
    if status.paper == "out" or status.detail != "offline":
        raise PrinterFault(f"{url}: {status.detail}")
    raise PrinterUnavailable(f"{url}: printer offline")


@dataclass(frozen=True, slots=True)
class _Transport:
    """How to reach one ESC/POS printer: a factory for a fresh, unopened escpos object."""

    connect: Callable[[], Any]
    set_timeout: Callable[[Any, float], None] | None  # None: the link cannot read replies
    target: str  # identifies the physical printer, for its lock
    after_open: Callable[[Any], None] | None = None


class _EscposPrinter:
    """A `LabelPrinter` over a python-escpos printer class (Network, Serial, Usb, File)."""

    def __init__(
        self,
        url: str,
        transport: _Transport,
        *,
        profile: str,
        timeout: float,
        ask_status: bool,
        status_timeout: float,
    ) -> None:
        self._url = url
        self._transport = transport
        self._profile = profile
        self._timeout = timeout
        self._ask_status = ask_status and transport.set_timeout is not None
        self._status_timeout = status_timeout
        self._lock = _lock_for(transport.target)
        self._columns: Literal[32, 48] = _profile_columns(profile)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._url}>"

    @property
    def url(self) -> str:
        return self._url

    @property
    def columns(self) -> Literal[32, 48]:
        return self._columns

    def print_label(self, label: Label, *, job_id: str) -> PrintResult:
        _check_job_id(job_id)
        _check_fits(label, self._columns, self._url)
        data = encode_label(label, profile=self._profile)
        with _held(self._lock, self._url), _translated(self._url), self._connection() as printer:
            status = self._status_of(printer)
            _refuse_unless_ready(self._url, status)
            printer._raw(data)  # the driver's write method; the bytes were rendered above
        log.info("printed label %s on %s (%d bytes)", job_id, self._url, len(data))
        return PrintResult(job_id, self._url, len(data), status)

    def status(self) -> PrinterStatus:
        try:
            with _held(self._lock, self._url), _translated(self._url), self._connection() as p:
                status = self._status_of(p)
        except DeviceError as exc:
            return PrinterStatus(False, "unknown", str(exc))
        if status is UNKNOWN_STATUS:
            return PrinterStatus(None, "unknown", "connected; this printer is not asked for status")
        return status

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Any]:
        with _escpos.keep_root_logger():
            printer = self._transport.connect()
            printer.open()
            try:
                if self._transport.after_open is not None:
                    self._transport.after_open(printer)
                yield printer
            finally:
                with contextlib.suppress(Exception):  # closing must never hide the real error
                    printer.close()

    def _status_of(self, printer: Any) -> PrinterStatus:
        set_timeout = self._transport.set_timeout
        if not self._ask_status or set_timeout is None:
            return UNKNOWN_STATUS
        set_timeout(printer, self._status_timeout)
        try:
            return _query_status(printer)
        finally:
            set_timeout(printer, self._timeout)


def _profile_columns(profile: str) -> Literal[32, 48]:
    try:
        columns = int(_escpos.get_profile(profile).get_columns("a"))
    except Exception as exc:  # unknown profile names raise a bare exception in 3.1
        raise ValueError(f"unknown python-escpos profile {profile!r}") from exc
    if CODE_PAGE_NAME not in _escpos.get_profile(profile).get_code_pages():
        raise ValueError(f"profile {profile!r} has no {CODE_PAGE_NAME} code page")
    if columns >= 48:
        return 48
    if columns >= 32:
        return 32
    raise ValueError(f"profile {profile!r} prints {columns} columns; labels need 32 or 48")


def _check_job_id(job_id: str) -> None:
    """Job ids become file names in the preview folder, so only a safe alphabet is allowed."""
    if not _JOB_ID.match(job_id):
        raise ValueError(f"job_id must match {_JOB_ID.pattern}, got {job_id!r}")


def _check_fits(label: Label, columns: int, url: str) -> None:
    if label.columns > columns:
        raise ValueError(
            f"{url} prints {columns} columns; the label was laid out for {label.columns}"
        )


# --- preview backend -----------------------------------------------------------------------


class _PreviewPrinter:
    """Writes what would be printed; the default backend, and the one demos and tests use."""

    def __init__(self, url: str, directory: Path, columns: Literal[32, 48]) -> None:
        self._url = url
        self._directory = directory
        self._columns: Literal[32, 48] = columns
        self._lock = _lock_for(f"preview:{directory.resolve()}")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._directory}>"

    @property
    def url(self) -> str:
        return self._url

    @property
    def columns(self) -> Literal[32, 48]:
        return self._columns

    def print_label(self, label: Label, *, job_id: str) -> PrintResult:
        _check_job_id(job_id)
        _check_fits(label, self._columns, self._url)
        text = render_text(label)
        image = render_png(label)
        text_path = self._directory / f"{job_id}.txt"
        image_path = self._directory / f"{job_id}.png"
        with _held(self._lock, self._url):
            try:
                self._directory.mkdir(parents=True, exist_ok=True)
                _write_atomically(text_path, text.encode("utf-8"))
                with _replacing(image_path) as temporary:
                    image.save(temporary, format="PNG")
            except OSError as exc:
                raise PrinterUnavailable(f"preview folder {self._directory}: {exc}") from exc
        return PrintResult(
            job_id,
            self._url,
            0,
            PrinterStatus(True, "ok", "preview"),
            text_path=text_path,
            image_path=image_path,
        )

    def status(self) -> PrinterStatus:
        if os.access(
            self._directory if self._directory.exists() else self._directory.parent, os.W_OK
        ):
            return PrinterStatus(True, "ok", f"preview in {self._directory}")
        return PrinterStatus(False, "unknown", f"preview folder {self._directory} is not writable")


@contextlib.contextmanager
def _replacing(path: Path) -> Iterator[Path]:
    """A temporary name beside `path`, renamed over it on success: readers never see half a file."""
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _write_atomically(path: Path, data: bytes) -> None:
    with _replacing(path) as temporary:
        temporary.write_bytes(data)


# --- URL parsing ---------------------------------------------------------------------------


def open_printer(url: str, *, preview_dir: Path) -> LabelPrinter:
    """Build the printer a settings URL names. Nothing is connected until a label is printed.

    Raises ValueError for a malformed URL, an unknown scheme or profile: configuration
    mistakes that should stop the app at start-up, not show up as a printer fault later.
    """
    parts = urlsplit(url)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    scheme = parts.scheme.lower()
    if scheme == "preview":
        columns = int(query.pop("columns", "48"))
        if columns not in (32, 48):
            raise ValueError(f"{url}: columns must be 32 or 48")
        _no_more(url, query)
        return _PreviewPrinter(url, preview_dir, 48 if columns == 48 else 32)

    profile = query.pop("profile", DEFAULT_PROFILE)
    timeout = float(query.pop("timeout", "10"))
    status_timeout = float(query.pop("status_timeout", "0.5"))
    default_status = "1" if scheme == "tcp" else "0"
    ask_status = _flag(url, "status", query.pop("status", default_status))
    transport: _Transport
    if scheme == "tcp":
        transport = _tcp(url, parts.hostname, parts.port, timeout)
    elif scheme == "serial":
        transport = _serial(url, unquote(parts.path), query, timeout)
    elif scheme == "usb":
        transport = _usb(url, parts.netloc, query, timeout)
    elif scheme == "file":
        transport = _file(url, unquote(parts.path))
    else:
        raise ValueError(f"unsupported printer URL scheme in {url!r}")
    _no_more(url, query)
    return _EscposPrinter(
        url,
        transport,
        profile=profile,
        timeout=timeout,
        ask_status=ask_status,
        status_timeout=status_timeout,
    )


def _tcp(url: str, host: str | None, port: int | None, timeout: float) -> _Transport:
    if not host:
        raise ValueError(f"{url}: missing host")
    port = port or 9100

    def set_timeout(printer: Any, seconds: float) -> None:
        sock: socket.socket = printer.device
        sock.settimeout(seconds)

    return _Transport(
        connect=lambda: _escpos.Network(host, port=port, timeout=timeout),
        set_timeout=set_timeout,
        target=f"tcp://{host}:{port}",
    )


def _serial(url: str, path: str, query: dict[str, str], timeout: float) -> _Transport:
    if not path:
        raise ValueError(f"{url}: missing device path")
    options: dict[str, Any] = {
        "baudrate": int(query.pop("baudrate", "9600")),
        "bytesize": int(query.pop("bytesize", "8")),
        "parity": query.pop("parity", "N").upper(),
        "stopbits": float(query.pop("stopbits", "1")),
        "timeout": timeout,
        "dsrdtr": _flag(url, "dsrdtr", query.pop("dsrdtr", "0")),
    }
    if options["stopbits"] == int(options["stopbits"]):
        options["stopbits"] = int(options["stopbits"])
    rtscts = _flag(url, "rtscts", query.pop("rtscts", "0"))

    def after_open(printer: Any) -> None:
        port: serial.Serial = printer.device
        port.rtscts = rtscts
        port.write_timeout = timeout  # a stalled handshake must not hang a worker for ever

    def set_timeout(printer: Any, seconds: float) -> None:
        port: serial.Serial = printer.device
        port.timeout = seconds

    return _Transport(
        connect=lambda: _escpos.Serial(devfile=path, **options),
        set_timeout=set_timeout,
        target=f"serial://{path}",
        after_open=after_open,
    )


def _usb(url: str, netloc: str, query: dict[str, str], timeout: float) -> _Transport:
    match = re.fullmatch(r"([0-9a-fA-F]{4}):([0-9a-fA-F]{4})", netloc)
    if not match:
        raise ValueError(f"{url}: expected usb://VVVV:PPPP (hex vendor and product ids)")
    vendor, product = int(match[1], 16), int(match[2], 16)
    options: dict[str, Any] = {"timeout": int(timeout * 1000)}
    for key in ("in_ep", "out_ep"):
        if key in query:
            options[key] = int(query.pop(key), 0)

    def set_timeout(printer: Any, seconds: float) -> None:
        printer.timeout = int(seconds * 1000)

    def connect() -> Any:
        # Checked first: without pyusb, python-escpos 3.1 raises RuntimeError even from the
        # printer's __del__, which would spray "exception ignored" warnings into the log.
        if not _escpos.Usb.is_usable():
            raise PrinterUnavailable(f"{url}: needs pyusb and libusb (python-escpos[usb])")
        return _escpos.Usb(vendor, product, **options)

    return _Transport(
        connect=connect,
        set_timeout=set_timeout,
        target=f"usb://{netloc.lower()}",
    )


def _file(url: str, path: str) -> _Transport:
    if not path:
        raise ValueError(f"{url}: missing file path")
    return _Transport(
        connect=lambda: _escpos.File(devfile=path),
        set_timeout=None,
        target=f"file://{path}",
    )


def _flag(url: str, name: str, value: str) -> bool:
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{url}: {name} must be 1 or 0, got {value!r}")


def _no_more(url: str, query: dict[str, str]) -> None:
    if query:
        raise ValueError(f"{url}: unknown parameter(s) {', '.join(sorted(query))}")
