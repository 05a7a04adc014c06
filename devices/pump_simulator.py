"""A simulated dose pump on the far side of a pty, speaking docs/pump-protocol.md.

Tests (and a developer without a pump) point `SerialPump` or `DOSEKEEPER_PUMP_URL` at
`simulator.path`. The behaviour is chosen up front and may be changed between requests:

| behaviour    | answer to `DISPENSE <v> <id>`                                      |
|--------------|--------------------------------------------------------------------|
| `exact`      | `ACK <id>`, then `DONE <id> <v>`                                   |
| `short`      | `ACK <id>`, then `DONE <id> <v - short_by_ml>` (not below 0.00)    |
| `garbage`    | a line that is not the protocol                                    |
| `silent`     | nothing at all                                                     |
| `wrong_id`   | `ACK <another id>`                                                 |
| `error`      | `ERR <id> EMPTY Reservoir empty`                                   |
| `stall`      | `ACK <id>`, then nothing                                           |
| `disconnect` | `ACK <id>`, then the pty is closed (the pump unplugged mid-dose)   |

`STATUS <id>` answers `READY <id>` (nothing when silent). Run it by hand with
`python -m devices.pump_simulator [behaviour]`: it prints the path to configure.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import threading
import time
import tty
from decimal import Decimal
from enum import StrEnum
from typing import Self

__all__ = ["PumpBehaviour", "PumpSimulator"]


class PumpBehaviour(StrEnum):
    EXACT = "exact"
    SHORT = "short"
    GARBAGE = "garbage"
    SILENT = "silent"
    WRONG_ID = "wrong_id"
    ERROR = "error"
    STALL = "stall"
    DISCONNECT = "disconnect"


class PumpSimulator:
    """A pump on a pty pair, answering on a daemon thread until `stop()`."""

    def __init__(
        self,
        behaviour: PumpBehaviour | str = PumpBehaviour.EXACT,
        *,
        short_by_ml: Decimal = Decimal("1.50"),
        seconds_per_dose: float = 0.0,
    ) -> None:
        self.behaviour = PumpBehaviour(behaviour)
        self.short_by_ml = short_by_ml
        self.seconds_per_dose = seconds_per_dose
        self.received: list[str] = []  # every line the host sent, in order
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no CR/LF translation, before the host opens it
        self.path = os.ttyname(self._slave)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="pump simulator", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)
        self._close()

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            for fd in (self._master, self._slave):
                with contextlib.suppress(OSError):
                    os.close(fd)

    def _run(self) -> None:
        pending = b""
        while not self._stopping.is_set() and not self._closed:
            ready, _, _ = select.select([self._master], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self._master, 1024)
            except OSError:
                continue
            *lines, pending = (pending + data).replace(b"\r\n", b"\n").split(b"\n")
            for line in lines:
                text = line.decode("ascii", errors="replace").strip()
                if text:
                    self.received.append(text)
                    self._answer(text)

    def _send(self, line: str) -> None:
        if not self._closed:
            os.write(self._master, line.encode("ascii") + b"\r\n")

    def _answer(self, line: str) -> None:
        behaviour = self.behaviour
        if behaviour is PumpBehaviour.SILENT:
            return
        parts = line.split()
        if len(parts) == 2 and parts[0] == "STATUS":
            self._send(f"READY {parts[1]}")
            return
        if len(parts) != 3 or parts[0] != "DISPENSE":
            self._send(f"ERR 0 SYNTAX Unknown request {line[:40]}")
            return
        volume, rid = Decimal(parts[1]), parts[2]
        if behaviour is PumpBehaviour.GARBAGE:
            self._send("\x7f?? 4O.OO mL ok")
        elif behaviour is PumpBehaviour.WRONG_ID:
            self._send(f"ACK {'2' if rid.startswith('1') else '1'}{rid[1:]}")
        elif behaviour is PumpBehaviour.ERROR:
            self._send(f"ERR {rid} EMPTY Reservoir empty")
        else:
            self._send(f"ACK {rid}")
            if behaviour is PumpBehaviour.STALL:
                return
            if behaviour is PumpBehaviour.DISCONNECT:
                time.sleep(0.2)  # the host reads the ACK, then the cable comes out
                self._close()
                return
            time.sleep(self.seconds_per_dose)
            if behaviour is PumpBehaviour.SHORT:
                volume = max(Decimal("0.00"), volume - self.short_by_ml)
            self._send(f"DONE {rid} {volume:.2f}")


def main(argv: list[str]) -> int:
    behaviour = argv[0] if argv else "exact"
    with PumpSimulator(behaviour, seconds_per_dose=1.0) as pump:
        sys.stdout.write(
            f"Simulated pump ({pump.behaviour}) at {pump.path}\n"
            f"Start Dosekeeper with DOSEKEEPER_PUMP_URL={pump.path}; Ctrl-C stops.\n"
        )
        sys.stdout.flush()
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
