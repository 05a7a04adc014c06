"""Scans at the counter: interpret a code, and stream serial-scanner codes to the page."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select

from app.actor import Actor
from app.audit import service as audit_service
from app.config import PolicySettings
from app.db import UnitOfWork
from app.dosing import counter as dosing_counter
from app.errors import NotFound
from app.labelling.models import Label
from app.patients import repository as patients_repository
from app.patients.models import Patient
from devices import ScanKind, interpret


def scan(
    uow: UnitOfWork,
    *,
    actor: Actor,
    code: str,
    patient_id: UUID | None,
    symbology: str | None,
    today: date,
    policy: PolicySettings,
    now: datetime,
) -> dict[str, Any]:
    """What a scanned code is, and what it means for the patient at the counter."""
    found = interpret(code, today=today, symbology=symbology)
    result: dict[str, Any] = {
        "kind": str(found.kind),
        "accepted": found.accepted,
        "message": found.message,
        "patient_id": None,
        "decision": None,
        "matches_patient": None,
        "pack": None,
    }
    if found.pack is not None:
        pack = found.pack
        result["pack"] = {
            "gtin": pack.gtin,
            "expiry": pack.expiry,
            "batch": pack.batch,
            "serial": pack.serial,
        }
    if not found.accepted:
        return result
    if found.kind == ScanKind.PATIENT_CARD:
        view = dosing_counter.check(
            uow, actor=actor, barcode=code, today=today, policy=policy, now=now
        )
        result["patient_id"] = str(view.patient.id)
        result["decision"] = dosing_counter.decision_body(view)
    elif found.kind == ScanKind.NHS_NUMBER:
        with uow:
            patient = uow.session.scalar(select(Patient).where(Patient.nhs_number == found.value))
            try:
                if patient is None:
                    raise NotFound("patient with that NHS number", "(scanned)")
                patients_repository.load_for_counter(uow.session, actor, patient.id, today)
            except NotFound:
                # Another pharmacy's patient answers exactly as a number nobody holds.
                raise NotFound("patient with that NHS number", "(scanned)") from None
        view = dosing_counter.check(
            uow, actor=actor, patient_id=patient.id, today=today, policy=policy, now=now
        )
        result["patient_id"] = str(patient.id)
        result["decision"] = dosing_counter.decision_body(view)
    elif found.kind == ScanKind.LABEL:
        assert found.value is not None
        with uow:
            label = uow.session.get(Label, int(found.value))
            if label is None:
                raise NotFound("label", found.value)
            try:
                patients_repository.load_for_counter(uow.session, actor, label.patient_id, today)
            except NotFound:
                raise NotFound("label", found.value) from None
            result["patient_id"] = str(label.patient_id)
            result["dose_dates"] = label.dose_dates
            if patient_id is not None:
                matches = label.patient_id == patient_id
                result["matches_patient"] = matches
                if not matches:
                    result["accepted"] = False
                    result["message"] = (
                        "WRONG BOTTLE: this label is for another patient. Do not hand it over."
                    )
                else:
                    result["message"] = "Right bottle: this label is for this patient."
            audit_service.record(
                uow.session,
                actor,
                "label.scanned",
                entity="patient",
                entity_id=label.patient_id,
                at=now,
                pharmacy_id=actor.pharmacy_id,
                facts={"label_id": label.id, "matches": result["matches_patient"]},
            )
            uow.commit()
    return result


#: Seconds between SSE comments on an idle stream, so proxies keep the connection open.
KEEP_ALIVE_SECONDS = 15.0

ScanQueue = asyncio.Queue[tuple[str, str | None]]


class ScanHub:
    """Fans serial-scanner codes out to the counter pages listening on the event stream."""

    def __init__(self) -> None:
        self._queues: set[ScanQueue] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def publish(self, code: str, symbology: str | None) -> None:
        """Called from the scanner's thread."""
        loop = self._loop
        if loop is None:
            return
        with self._lock:
            queues = list(self._queues)
        for queue in queues:
            loop.call_soon_threadsafe(queue.put_nowait, (code, symbology))

    def subscribe(self) -> ScanQueue:
        """A queue that receives every scan from now on; call from the event loop.

        The stream subscribes before its response starts, so a scan read once the page sees
        the stream open always reaches it. Pair with `unsubscribe`."""
        self._loop = asyncio.get_running_loop()
        queue: ScanQueue = asyncio.Queue()
        with self._lock:
            self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: ScanQueue) -> None:
        """Stop delivering to `queue` (safe to call twice)."""
        with self._lock:
            self._queues.discard(queue)


async def scan_events(
    hub: ScanHub,
    queue: ScanQueue,
    *,
    disconnected: Callable[[], Awaitable[bool]],
    keep_alive: float = KEEP_ALIVE_SECONDS,
    signed_in: Callable[[], Awaitable[bool]] | None = None,
) -> AsyncIterator[bytes]:
    """The Server-Sent Events body: one `scan` event per code, a comment while idle.

    Waiting on the queue itself (not on a generator) matters: a timed-out wait must leave the
    subscription intact, or the first idle spell would end the stream and lose later scans.
    `signed_in` is asked on every pass: a stream never outlives its session (the account
    disabled, the token expired, the web session idle), it ends with `signed_out`."""
    try:
        yield b": connected\n\n"
        while not await disconnected():
            if signed_in is not None and not await signed_in():
                yield b"event: signed_out\ndata: {}\n\n"
                break
            try:
                code, symbology = await asyncio.wait_for(queue.get(), timeout=keep_alive)
            except TimeoutError:
                yield b": keep-alive\n\n"
                continue
            data = json.dumps({"code": code, "symbology": symbology})
            yield f"event: scan\ndata: {data}\n\n".encode()
    finally:
        hub.unsubscribe(queue)
