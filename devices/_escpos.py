"""The one place that imports python-escpos, so its 3.1 import-time side effects are contained.

python-escpos 3.1 (the newest release; see reference/devices.md §1 "Known issues"):
- runs `logging.basicConfig()` on import, adding a stderr handler to the *root* logger that
  duplicates every log line of the app: we remove the handler it added;
- writes a capabilities pickle into a fresh `mkdtemp()` folder per process unless
  `ESCPOS_CAPABILITIES_PICKLE_DIR` names an existing folder: we set it to a private cache
  folder first, and serialise the first import across processes with a file lock, because the
  pickle is written in place and a second process reading it half-written would crash;
- `print()`s to stdout from `barcode()` and `image()`: `quiet()` captures that and logs it at
  DEBUG instead;
- logs through the module-level `logging.info()`, which calls `basicConfig()` again whenever
  the root logger has no handler (e.g. the first `Network.open()` in a CLI or a test):
  `keep_root_logger()` removes whatever handler that adds.

Anything else in the package refers to escpos through the names re-exported here.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "PICKLE_DIR_ENV",
    "Dummy",
    "Escpos",
    "EscposError",
    "File",
    "Network",
    "Serial",
    "Usb",
    "get_profile",
    "keep_root_logger",
    "quiet",
]

PICKLE_DIR_ENV = "ESCPOS_CAPABILITIES_PICKLE_DIR"

log = logging.getLogger("devices.escpos")


def _pickle_dir() -> Path:
    """An existing folder for the capabilities pickle that only this user can write to.

    The pickle is *loaded* with `pickle.load`, so it must never come from a folder other users
    can write (a shared /tmp name would let anyone plant code). Service environments should set
    the variable explicitly; the user cache folder is the fallback, and a private temporary
    folder the last resort (that is python-escpos' own behaviour, one folder per process).
    """
    configured = os.environ.get(PICKLE_DIR_ENV)
    if configured:
        path = Path(configured)
        path.mkdir(parents=True, exist_ok=True)
        return path
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    try:
        path = cache / "dosekeeper" / "escpos"
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path
    except OSError:
        return Path(tempfile.mkdtemp(prefix="dosekeeper-escpos-"))


@contextlib.contextmanager
def _import_lock(directory: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # Windows: no flock; the race only matters on the very first import
        yield
        return
    with open(directory / ".import.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def keep_root_logger() -> Iterator[None]:
    """Undo any handler python-escpos adds to the root logger while this block runs.

    The app configures logging at start-up, before any label prints; a handler added by
    another thread inside this window would be removed too, which is why the window only
    spans python-escpos calls.
    """
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        yield
    finally:
        for handler in list(root.handlers):
            if handler not in before:
                root.removeHandler(handler)


def _import_escpos() -> dict[str, Any]:
    directory = _pickle_dir()
    os.environ[PICKLE_DIR_ENV] = str(directory)
    with keep_root_logger(), _import_lock(directory):
        from escpos import escpos, exceptions, printer
        from escpos.capabilities import get_profile
    return {
        "Escpos": escpos.Escpos,
        "EscposError": exceptions.Error,
        "Dummy": printer.Dummy,
        "Network": printer.Network,
        "Serial": printer.Serial,
        "Usb": printer.Usb,
        "File": printer.File,
        "get_profile": get_profile,
    }


_names = _import_escpos()

# python-escpos ships no type information; these aliases keep `Any` in this one module.
Escpos: Any = _names["Escpos"]
EscposError: type[Exception] = _names["EscposError"]
Dummy: Any = _names["Dummy"]
Network: Any = _names["Network"]
Serial: Any = _names["Serial"]
Usb: Any = _names["Usb"]
File: Any = _names["File"]
get_profile: Any = _names["get_profile"]


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Capture python-escpos' stdout chatter ("Using hardware barcode renderer") into the log.

    `redirect_stdout` swaps `sys.stdout` for the whole process while a label renders (a few
    milliseconds). The app never prints (ruff T20), so nothing else is lost in that window.
    """
    buffer = io.StringIO()
    with keep_root_logger(), contextlib.redirect_stdout(buffer):
        yield
    if text := buffer.getvalue().strip():
        log.debug("python-escpos: %s", text)
