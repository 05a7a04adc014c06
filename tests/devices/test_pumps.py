"""The dose pump driver against a simulated pump on a real pty pair (docs/pump-protocol.md).

Every misbehaviour ends in bounded time with a typed error or a result the caller compares.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
import serial

from devices import (
    DispenseResult,
    PumpFault,
    PumpProtocolError,
    PumpUnavailable,
    SerialPump,
    open_pump,
)
from devices.pump_simulator import PumpBehaviour, PumpSimulator
from devices.pumps import format_volume, parse_reply

ACK_TIMEOUT = 1.0
DISPENSE_TIMEOUT = 1.5


@pytest.fixture
def simulator() -> Iterator[PumpSimulator]:
    with PumpSimulator() as pump:
        yield pump


def pump_at(simulator: PumpSimulator) -> SerialPump:
    return SerialPump(simulator.path, ack_timeout=ACK_TIMEOUT, dispense_timeout=DISPENSE_TIMEOUT)


# --- the protocol on the wire --------------------------------------------------------------


def test_exact_dispense(simulator: PumpSimulator) -> None:
    result = pump_at(simulator).dispense(Decimal("40.00"), request_id="A1")
    assert result == DispenseResult("A1", Decimal("40.00"), Decimal("40.00"))
    assert result.matches
    assert simulator.received == ["DISPENSE 40.00 A1"]


def test_volume_is_always_sent_with_two_decimals(simulator: PumpSimulator) -> None:
    result = pump_at(simulator).dispense(Decimal("7.5"))
    assert simulator.received == [f"DISPENSE 7.50 {result.request_id}"]
    assert result.dispensed_ml == Decimal("7.50")


def test_short_dispense_is_a_result_the_caller_compares(simulator: PumpSimulator) -> None:
    simulator.behaviour = PumpBehaviour.SHORT
    result = pump_at(simulator).dispense(Decimal("40.00"))
    assert result.requested_ml == Decimal("40.00")
    assert result.dispensed_ml == Decimal("38.50")
    assert not result.matches


def test_a_silent_pump_is_unavailable_within_the_ack_timeout(simulator: PumpSimulator) -> None:
    simulator.behaviour = PumpBehaviour.SILENT
    started = time.monotonic()
    with pytest.raises(PumpUnavailable, match="did not acknowledge"):
        pump_at(simulator).dispense(Decimal("40.00"))
    assert time.monotonic() - started < ACK_TIMEOUT + 1


def test_a_pump_that_stalls_after_ack_is_a_partial_fault(simulator: PumpSimulator) -> None:
    simulator.behaviour = PumpBehaviour.STALL
    started = time.monotonic()
    with pytest.raises(PumpFault, match="unknown") as caught:
        pump_at(simulator).dispense(Decimal("40.00"))
    assert (caught.value.code, caught.value.partial) == ("timeout", True)
    assert time.monotonic() - started < ACK_TIMEOUT + DISPENSE_TIMEOUT + 1


def test_garbage_is_a_protocol_error(simulator: PumpSimulator) -> None:
    simulator.behaviour = PumpBehaviour.GARBAGE
    with pytest.raises(PumpProtocolError, match="not the protocol") as caught:
        pump_at(simulator).dispense(Decimal("40.00"))
    assert isinstance(caught.value, PumpFault)
    assert caught.value.partial is False


@pytest.mark.parametrize(("ours", "theirs"), [("AB2", "1B2"), ("1B2", "2B2")])
def test_an_answer_for_another_request_is_a_protocol_error(
    simulator: PumpSimulator, ours: str, theirs: str
) -> None:
    simulator.behaviour = PumpBehaviour.WRONG_ID
    with pytest.raises(PumpProtocolError, match=f"answered request {theirs}, not {ours}"):
        pump_at(simulator).dispense(Decimal("40.00"), request_id=ours)


def test_a_pump_error_is_reported_with_its_code(simulator: PumpSimulator) -> None:
    simulator.behaviour = PumpBehaviour.ERROR
    with pytest.raises(PumpFault, match="EMPTY") as caught:
        pump_at(simulator).dispense(Decimal("40.00"))
    assert (caught.value.code, caught.value.partial) == ("EMPTY", False)


def test_a_pump_unplugged_mid_dose_is_a_partial_fault(simulator: PumpSimulator) -> None:
    simulator.behaviour = PumpBehaviour.DISCONNECT
    started = time.monotonic()
    with pytest.raises(PumpFault) as caught:
        pump_at(simulator).dispense(Decimal("40.00"))
    assert (caught.value.code, caught.value.partial) == ("lost", True)
    assert time.monotonic() - started < ACK_TIMEOUT + DISPENSE_TIMEOUT + 1


def test_a_pump_that_is_not_there_is_unavailable(tmp_path: os.PathLike[str]) -> None:
    with pytest.raises(PumpUnavailable, match="cannot open"):
        open_pump(f"{tmp_path}/ttyNoPump").dispense(Decimal("40.00"))


def test_a_late_answer_to_an_earlier_request_is_not_taken_for_the_next(
    simulator: PumpSimulator,
) -> None:
    simulator.behaviour = PumpBehaviour.STALL
    pump = pump_at(simulator)
    with pytest.raises(PumpFault):
        pump.dispense(Decimal("40.00"), request_id="OLD")
    simulator.behaviour = PumpBehaviour.EXACT
    assert pump.dispense(Decimal("35.00"), request_id="NEW").dispensed_ml == Decimal("35.00")


def test_the_pump_recovers_after_an_error(simulator: PumpSimulator) -> None:
    pump = pump_at(simulator)
    simulator.behaviour = PumpBehaviour.GARBAGE
    with pytest.raises(PumpProtocolError):
        pump.dispense(Decimal("40.00"))
    simulator.behaviour = PumpBehaviour.EXACT
    assert pump.dispense(Decimal("40.00")).matches


def test_one_request_at_a_time(simulator: PumpSimulator) -> None:
    simulator.seconds_per_dose = 0.3
    pump = pump_at(simulator)
    results: list[DispenseResult] = []
    threads = [
        threading.Thread(target=lambda v=v: results.append(pump.dispense(Decimal(v))))
        for v in ("10.00", "20.00")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert sorted(r.dispensed_ml for r in results) == [Decimal("10.00"), Decimal("20.00")]
    assert [line.split()[0] for line in simulator.received] == ["DISPENSE", "DISPENSE"]


def test_status(simulator: PumpSimulator) -> None:
    status = pump_at(simulator).status()
    assert status.ready
    simulator.behaviour = PumpBehaviour.SILENT
    status = pump_at(simulator).status()
    assert not status.ready
    assert "no answer" in status.detail


def test_the_pump_is_reached_through_a_serial_url(simulator: PumpSimulator) -> None:
    pump = SerialPump(f"serial://{simulator.path}?baudrate=19200", ack_timeout=ACK_TIMEOUT)
    assert pump.dispense(Decimal("1.00")).matches


# --- the protocol's text ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("volume", "error"),
    [("0", "outside"), ("-1", "outside"), ("1000.00", "outside"), ("40.005", "two decimals"),
     ("NaN", "not a volume")],
)  # fmt: skip
def test_volumes_the_protocol_cannot_carry_are_refused_before_sending(
    simulator: PumpSimulator, volume: str, error: str
) -> None:
    with pytest.raises(ValueError, match=error):
        pump_at(simulator).dispense(Decimal(volume))
    assert simulator.received == []


def test_format_volume() -> None:
    assert format_volume(Decimal("40")) == "40.00"
    assert format_volume(Decimal("999.99")) == "999.99"
    assert format_volume(Decimal("0.01")) == "0.01"


def test_a_bad_request_id_is_refused() -> None:
    with pytest.raises(ValueError, match="request id"):
        SerialPump("loop://").dispense(Decimal("1.00"), request_id="a b")


@pytest.mark.parametrize(
    "line",
    ["ACK", "ACK a1", "DONE A1", "DONE A1 40", "DONE A1 40.0", "DONE A1 -4.00", "DONE A1 40.00 x",
     "ERR A1", "ERR A1 empty", "READY", "HELLO A1", "ACK A1 extra", "ACK " + "A" * 17],
)  # fmt: skip
def test_lines_outside_the_protocol(line: str) -> None:
    with pytest.raises(PumpProtocolError):
        parse_reply(line)


def test_lines_of_the_protocol() -> None:
    assert parse_reply("ACK A1").kind == "ACK"
    assert parse_reply("DONE A1 38.50").volume_ml == Decimal("38.50")
    err = parse_reply("ERR A1 AIR_IN_LINE Prime the pump")
    assert (err.code, err.text) == ("AIR_IN_LINE", "Prime the pump")
    assert parse_reply("BUSY A1").kind == "BUSY"


# --- framing, over pyserial's loop:// -----------------------------------------------------------


class ScriptedPort:
    """A port whose answers are fixed bytes, read in chunks of `chunk` (split lines)."""

    def __init__(self, answer: bytes, chunk: int = 3) -> None:
        self._answer = answer
        self._chunk = chunk
        self.written = b""

    def write(self, data: bytes) -> int:
        self.written += data
        return len(data)

    def flush(self) -> None:
        pass

    def read(self, size: int = 1) -> bytes:
        if not self._answer:
            time.sleep(0.01)
            return b""
        piece, self._answer = self._answer[: self._chunk], self._answer[self._chunk :]
        return piece

    def close(self) -> None:
        pass


def scripted(answer: bytes) -> SerialPump:
    port = ScriptedPort(answer)
    return SerialPump("scripted://", ack_timeout=0.3, dispense_timeout=0.3, opener=lambda: port)  # type: ignore[arg-type,return-value]


@pytest.mark.parametrize("ending", [b"\r", b"\n", b"\r\n"])
def test_any_line_ending_from_the_pump(ending: bytes) -> None:
    answer = b"ACK R1" + ending + b"DONE R1 12.00" + ending
    assert scripted(answer).dispense(Decimal("12"), request_id="R1").matches


def test_non_ascii_from_the_pump_is_a_protocol_error() -> None:
    with pytest.raises(PumpProtocolError, match="non-ASCII"):
        scripted("ACK R1\r\nDONE R1 12,00 µl\r\n".encode()).dispense(Decimal("12"), request_id="R1")


def test_an_endless_line_is_a_protocol_error() -> None:
    with pytest.raises(PumpProtocolError, match="no end") as caught:
        scripted(b"ACK R1\r\n" + b"9" * 300).dispense(Decimal("12"), request_id="R1")
    assert caught.value.partial


def test_done_without_ack_is_a_protocol_error() -> None:
    with pytest.raises(PumpProtocolError, match="expected ACK"):
        scripted(b"DONE R1 12.00\r\n").dispense(Decimal("12"), request_id="R1")


def test_loop_port_never_hangs() -> None:
    """loop:// echoes the request back: not an answer, refused at once."""
    port = serial.serial_for_url("loop://", timeout=0.05)
    pump = SerialPump("loop://", ack_timeout=0.3, opener=lambda: port)
    with pytest.raises(PumpProtocolError):
        pump.dispense(Decimal("5.00"))
