"""The counter terminal page: a shell the page's script fills from the JSON API, so every
refusal, warning and override behaves exactly as the API does. And the dosing sheet printed
for an outage, which must work without the page's script (it is read on paper)."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from app import kit
from app.auth.deps import ActorDep
from app.auth.policy import require_role
from app.auth.roles import Role
from app.clock import local_date
from app.counter import home_safety as counter_home_safety
from app.counter import pump as counter_pump
from app.dosing import reads as dosing_reads
from app.http.deps import NowDep, SettingsDep, UowDep
from app.http.schemas import IsoDate
from app.http.templates import page
from app.injections import reads as injection_reads
from app.lookup import log as lookup_log

router = APIRouter(include_in_schema=False)


@router.get("/counter", response_class=HTMLResponse)
def counter(
    request: Request, uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> HTMLResponse:
    require_role(actor, {Role.PHARMACIST, Role.TECHNICIAN, Role.ADMIN}, "use the counter")
    # The look-ups of this pharmacy's patients overnight (a ward, custody): seen each morning.
    lookups = lookup_log.recent(
        uow, actor=actor, since=lookup_log.since_yesterday(now, settings.timezone)
    )
    # Long-acting injections due tomorrow, today or already (a separate partial).
    injections = injection_reads.due_at_counter(
        uow, actor=actor, today=local_date(now, settings.timezone), policy=settings.policy
    )
    return page(
        request,
        "counter/index.html",
        {
            "today": local_date(now, settings.timezone).isoformat(),
            "pharmacy_id": str(actor.pharmacy_id or ""),
            "is_pharmacist": actor.role == Role.PHARMACIST,
            "is_technician": actor.role == Role.TECHNICIAN,
            "tomorrow": (local_date(now, settings.timezone) + timedelta(days=1)).isoformat(),
            # "Dispense on pump" by the handover, where this pharmacy has a pump of its own.
            "pump": counter_pump.has_pump(uow, actor, counter_pump.Pumps.of(request.app.state)),
            "lookups": lookups,
            "injections_due": injections,
            "home_safety": counter_home_safety.page_context(uow, actor, now, settings),
        },
    )


def sheet_reference(day: date, printed_at: datetime, timezone: str) -> str:
    """The reference printed on a sheet, typed back when its doses are entered: the day and
    when it was printed, so two printings of one day's sheet are told apart."""
    printed = printed_at.astimezone(ZoneInfo(timezone))
    return f"DS-{day:%Y%m%d}-{printed:%d%H%M}"


@router.get("/counter/sheet", response_class=HTMLResponse)
def dosing_sheet(
    request: Request,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
    day: Annotated[IsoDate | None, Query(alias="date")] = None,
) -> HTMLResponse:
    """The day's dosing sheet to print for an outage (docs/downtime.md): each patient due, the
    decision as it stands now, the household facts, and room to write what was given."""
    today = local_date(now, settings.timezone)
    chosen = day or today
    lines = dosing_reads.dosing_sheet(uow, actor=actor, day=chosen, policy=settings.policy, now=now)
    return page(
        request,
        "counter/sheet.html",
        {
            "day": chosen,
            "today": today,
            "tomorrow": today + timedelta(days=1),
            "printed_at": now,
            "reference": sheet_reference(chosen, now, settings.timezone),
            "lines": lines,
        },
    )


@router.get("/counter/sheet.csv")
def dosing_sheet_csv(
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
    day: Annotated[IsoDate | None, Query(alias="date")] = None,
) -> Response:
    """The same sheet as CSV, to keep on a laptop or a USB stick for an outage."""
    chosen = day or local_date(now, settings.timezone)
    lines = dosing_reads.dosing_sheet(uow, actor=actor, day=chosen, policy=settings.policy, now=now)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "date",
            "family_name",
            "given_name",
            "date_of_birth",
            "product",
            "daily_dose_mg",
            "daily_dose_ml",
            "mode",
            "dose_dates",
            "state",
            "children",
            "youngest_age",
            "children_known_to_social_care",
            "box_valid_until",
            "blocks",
            "warnings",
        ]
    )
    for line in lines:
        item = line.item
        writer.writerow(
            [
                chosen.isoformat(),
                kit.spreadsheet_safe(item["family_name"]),
                kit.spreadsheet_safe(item["given_name"]),
                line.date_of_birth.isoformat(),
                item["product"],
                item["daily_dose_mg"] or "",
                item["daily_dose_ml"] or "",
                item["mode"] or "",
                " ".join(item["dose_dates"]),
                item["state"],
                line.children,
                "" if line.youngest_age is None else line.youngest_age,
                line.children_known_to_social_care,
                line.box_valid_until.isoformat() if line.box_valid_until else "",
                "; ".join(kit.spreadsheet_safe(b["message"]) for b in item["blocks"]),
                "; ".join(kit.spreadsheet_safe(w["message"]) for w in item["warnings"]),
            ]
        )
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="dosing-sheet-{chosen.isoformat()}.csv"'
        },
    )
