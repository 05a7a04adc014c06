"""Scans at the counter: interpret a code, and stream serial-scanner codes to the page."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select

from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import require_role
from app.config import PolicySettings
from app.db import UnitOfWork
from app.dosing import bottle_rules, bottles
from app.dosing import counter as dosing_counter
from app.dosing.containers import PumpReport
from app.errors import NotFound
from app.labelling.models import Label
from app.patients import repository as patients_repository
from app.patients.models import Patient
from app.prescriptions.products import PRODUCTS
from app.register import pack_table
from app.register.packs import PACKS
from devices import ScanKind, StockPack, interpret


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
    seed: Mapping[str, str] = PACKS,
) -> dict[str, Any]:
    """What a scanned code is, and what it means for the patient at the counter (`seed`: the
    pack table's seed for this deployment, `app.register.packs.seed_for`)."""
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
    if found.kind == ScanKind.STOCK_PACK and found.pack is not None and patient_id is not None:
        # A stock bottle scanned with a patient open: is it what today's prescription is for?
        result["bottle"] = _bottle(
            uow,
            actor=actor,
            patient_id=patient_id,
            pack=found.pack,
            today=today,
            policy=policy,
            seed=seed,
        )
        result["message"] = result["bottle"]["message"]
        result["accepted"] = result["bottle"]["matches"] is not False
        return result
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


def _bottle(
    uow: UnitOfWork,
    *,
    actor: Actor,
    patient_id: UUID,
    pack: StockPack,
    today: date,
    policy: PolicySettings,
    seed: Mapping[str, str],
) -> dict[str, Any]:
    """The bottle check the handover will make, answered before measuring: the same facts and
    the same words (`app.dosing.bottles`), read only, nothing recorded."""
    require_role(actor, dosing_counter.COUNTER, "use the counter")
    with uow:
        session = uow.session
        patient = patients_repository.load_for_counter(session, actor, patient_id, today)
        (view,) = dosing_counter.views(
            session, actor, [patient], product=None, today=today, intoxicated=False, policy=policy
        )
        counter_id = actor.pharmacy_id or patient.pharmacy_id
        checked = bottles.check(
            session,
            view=view,
            pharmacy_id=counter_id,
            scan=None,
            pump=PumpReport(),
            today=today,
        )
        if checked is None:
            return {
                "product": None,
                "matches": None,
                "message": "No prescription to check against.",
            }
        known = pack_table.product_for(session, counter_id, pack.gtin, seed)
    facts = replace(
        checked.facts,
        gtin=pack.gtin,
        product=known.product if known else None,
        product_name=PRODUCTS[known.product].name if known and known.product in PRODUCTS else None,
        expiry=pack.expiry,
    )
    findings = bottle_rules.bottle_findings(facts, today)
    refused = [words for code, words in findings if code in _BOTTLE_BLOCKS]
    if refused:
        message, matches = "WRONG BOTTLE: " + " ".join(text for text, _ in refused), False
    elif facts.product is None:
        message, matches = findings[0][1][0], None
    else:
        message, matches = f"Right bottle: {facts.product_name} matches today's prescription.", True
        if findings:  # no expiry in the barcode: read it on the bottle
            message += " " + findings[0][1][0]
    return {"product": facts.product, "matches": matches, "message": message}


_BOTTLE_BLOCKS = frozenset({"wrong_product_measured", "bottle_expired"})


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
