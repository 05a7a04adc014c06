"""Pages for prescribers and key workers: the caseload, and one patient's calendar of doses."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.audit import service as audit_service
from app.auth.deps import ActorDep
from app.clock import local_date
from app.http.deps import NowDep, SettingsDep, UowDep
from app.http.templates import page
from app.patients import service as patients_service
from app.reports import adherence as report_adherence
from app.reports import caseload as report_caseload

router = APIRouter(include_in_schema=False)
COLOURS = {
    "supervised": "#0b6b2f",
    "collected": "#1f7a4d",
    "missed": "#a3140f",
    "withheld": "#8a5300",
    "not_dispensed": "#5a2a82",
    "due": "#cfd8e3",
}
LETTERS = {
    "supervised": "S",
    "collected": "C",
    "missed": "M",
    "withheld": "W",
    "not_dispensed": "N",
    "due": "·",
}


@router.get("/prescriber", response_class=HTMLResponse)
def caseload(
    request: Request, uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> HTMLResponse:
    today = local_date(now, settings.timezone)
    with uow:
        rows = report_caseload.caseload(
            uow.session, actor, today=today, policy=settings.policy, timezone=settings.timezone
        )
        # The page names each patient: one read event each (who saw which record, when).
        audit_service.record_patient_reads(
            uow.session,
            actor,
            "patient.listed",
            [(r.patient.id, r.patient.pharmacy_id) for r in rows],
            at=now,
            facts={"by": "prescriber_caseload"},
        )
        uow.commit()
    return page(
        request,
        "prescriber/index.html",
        {"rows": rows, "blocked": [r for r in rows if r.blocked], "today": today},
    )


def calendar_cells(
    days: list[dict[str, object]], start: date, weeks: int
) -> list[dict[str, object]]:
    by_date: dict[object, str] = {}
    for d in days:
        by_date[d["dose_date"]] = str(d["state"])
    cells = []
    for index in range(weeks * 7):
        day = start + timedelta(days=index)
        state = by_date.get(day)
        cells.append(
            {
                "x": (index % 7) * 44 + 2,
                "y": (index // 7) * 44 + 22,
                "day": day,
                "state": state,
                "fill": COLOURS.get(state or "", "#ffffff"),
                "letter": LETTERS.get(state or "", ""),
            }
        )
    return cells


@router.get("/prescriber/patients/{patient_id}", response_class=HTMLResponse)
def patient(
    patient_id: UUID,
    request: Request,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
) -> HTMLResponse:
    today = local_date(now, settings.timezone)
    weeks = 5
    start = today - timedelta(days=today.weekday() + 7 * (weeks - 1))
    window = report_caseload.summary_window(today)  # the caseload's figures, the same days
    who = patients_service.get_patient(uow, actor=actor, patient_id=patient_id, now=now)
    result = report_adherence.adherence(
        uow,
        actor=actor,
        patient_id=patient_id,
        start=start,
        end=start + timedelta(days=7 * weeks - 1),
        now=now,
        timezone=settings.timezone,
        summary_window=window,
    )
    with uow:
        history = report_caseload.prescriptions_of(uow.session, patient_id)
    return page(
        request,
        "prescriber/patient.html",
        {
            "patient": who,
            "summary": result.summary,
            "days": result.days,
            "cells": calendar_cells(result.days, start, weeks),
            "weeks": weeks,
            "window": window,
            "history": history,
            "colours": COLOURS,
            "letters": LETTERS,
            "today": today,
        },
    )


@router.get("/prescriber/patients/{patient_id}/adherence.csv")
def adherence_csv(
    patient_id: UUID, uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> Response:
    today = local_date(now, settings.timezone)
    result = report_adherence.adherence(
        uow,
        actor=actor,
        patient_id=patient_id,
        start=today - timedelta(days=90),
        end=today,
        now=now,
        timezone=settings.timezone,
    )
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["dose_date", "collect_on", "product", "mode", "dose_mg", "state"])
    for d in result.days:
        writer.writerow(
            [d["dose_date"], d["collect_on"], d["product"], d["mode"], d["dose_mg"], d["state"]]
        )
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="adherence-{patient_id}.csv"'},
    )
