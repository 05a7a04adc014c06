from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from app.auth.deps import ActorDep, still_signed_in
from app.clock import local_date
from app.counter import guests as counter_guests
from app.counter import pump as counter_pump
from app.counter import scans
from app.counter.schemas import GuestCardRead, PumpDispenseBody, PumpDispenseRead, ScanBody
from app.http import problems
from app.http.deps import ClockDep, NowDep, SettingsDep, UowDep
from app.labelling import service as labelling_service
from app.register import packs

router = APIRouter(tags=["counter"], responses=problems.API_ERRORS)


@router.get("/counter/guests/{patient_id}", response_model=GuestCardRead)
def guest_card(
    patient_id: UUID, uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> object:
    """A patient your pharmacy doses today as a guest (guest dosing): identity, the home
    pharmacy to phone, and the household facts the counter's checks use; nothing else of the
    record. 404 for anyone else, exactly as for an unknown id."""
    card = counter_guests.guest_card(
        uow,
        actor=actor,
        patient_id=patient_id,
        today=local_date(now, settings.timezone),
        now=now,
        policy=settings.policy,
    )
    return GuestCardRead.of(card)


@router.post("/counter/scan")
def scan(
    body: ScanBody, uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> dict[str, Any]:
    """Interpret a scan: patient card, Dosekeeper label (right bottle?), medicine pack, NHS
    number or EPS prescription ID."""
    return scans.scan(
        uow,
        actor=actor,
        code=body.code,
        patient_id=body.patient_id,
        symbology=body.symbology,
        today=local_date(now, settings.timezone),
        policy=settings.policy,
        now=now,
        seed=packs.seed_for(settings.environment),
    )


@router.post(
    "/counter/pump/dispense",
    response_model=PumpDispenseRead,
    responses={
        409: {
            "description": "pump_not_configured (this pharmacy has no pump), not_a_liquid, "
            "pump_volume_out_of_range, container_required (the handover fills several "
            "containers: `containers` lists them; say which)"
        },
        422: {
            "description": "dose_blocked: the counter refuses today's dose (`blocks`); "
            "a container today's handover does not fill"
        },
        **problems.problem_responses(502, 503),
    },
)
def pump_dispense(
    body: PumpDispenseBody,
    request: Request,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> object:
    """Measure one container of today's handover for the patient on this pharmacy's dose pump
    (docs/pump-protocol.md) and answer what it reports: `container` "supervised" (the cup
    swallowed here) or a take-home container's number; left out, the handover's only one.
    `502 pump_error` (the pump reported a fault or answered wrongly; `volume_unknown` when it
    had started), `503 pump_unavailable` (no answer)."""
    found = counter_pump.dispense(
        uow,
        counter_pump.Pumps.of(request.app.state),
        actor=actor,
        container=None if body.container is None else str(body.container),
        patient_id=body.patient_id,
        today=local_date(now, settings.timezone),
        policy=settings.policy,
        now=now,
    )
    return counter_pump.read(found)


@router.get(
    "/counter/scans/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def scan_stream(request: Request, actor: ActorDep) -> StreamingResponse:
    """Server-Sent Events: each code read by the serial scanner attached to this server."""
    hub: scans.ScanHub = request.app.state.scan_hub
    queue = hub.subscribe()  # before the headers go out: see ScanHub.subscribe
    return StreamingResponse(
        scans.scan_events(
            hub,
            queue,
            disconnected=request.is_disconnected,
            signed_in=lambda: run_in_threadpool(still_signed_in, request),
        ),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        # Also when the client leaves before the body starts (the generator never runs).
        background=BackgroundTask(hub.unsubscribe, queue),
    )


# Label ids are 64-bit row ids; a larger number is refused (422), never sent to the database.
LabelId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("/labels/{label_id}")
def get_label(label_id: LabelId, uow: UowDep, actor: ActorDep, now: NowDep) -> dict[str, Any]:
    """A label as printed, with its print jobs (state, error) and the barcode it carries."""
    label, jobs = labelling_service.get_label(uow, actor=actor, label_id=label_id, now=now)
    return {
        "id": label.id,
        "patient_id": str(label.patient_id),
        "dose_dates": label.dose_dates,
        "reprint": label.is_reprint,
        "lines": [line["text"] for line in label.lines],
        "jobs": [labelling_service.job_read(job, label) for job in jobs],
    }


@router.post("/labels/{label_id}/reprint", status_code=201)
def reprint(
    label_id: LabelId,
    request: Request,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Print the label again, marked REPRINT (audited)."""
    job = labelling_service.reprint(
        uow, actor=actor, label_id=label_id, today=local_date(now, settings.timezone), now=now
    )
    return labelling_service.print_jobs(uow, request.app.state.printer, [job.id], clock.now)[0]


@router.get("/printer")
def printer_status(request: Request, actor: ActorDep) -> dict[str, Any]:
    """The label printer's state as it reports it (online, paper)."""
    printer: dict[str, Any] = device_status(request)["printer"]
    return printer


def device_status(request: Request) -> dict[str, Any]:
    printer = request.app.state.printer
    try:
        status = printer.status()
        printer_body = {
            "url": printer.url,
            "online": status.online,
            "paper": status.paper,
            "detail": status.detail,
        }
    except Exception as exc:  # a device status query must never fail the caller
        printer_body = {
            "url": printer.url,
            "online": False,
            "paper": "unknown",
            "detail": type(exc).__name__,
        }
    scanner = getattr(request.app.state, "scanner", None)
    return {
        "printer": printer_body,
        "scanner": {
            "configured": scanner is not None,
            "connected": bool(scanner and scanner.connected),
        },
    }
