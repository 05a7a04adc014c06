"""Reports over HTTP: caseload adherence (JSON and CSV), the conference report (JSON and a
printable page), the commissioner's summary and the FHIR R4 export."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse, Response

from app import kit
from app.auth.deps import ActorDep
from app.clock import local_date
from app.households import schemas as household_schemas
from app.households import service as households_service
from app.http import problems
from app.http.deps import NowDep, SettingsDep, UowDep
from app.http.schemas import IsoDate
from app.reports import adherence as report_adherence
from app.reports import caseload_report, printing
from app.reports import commissioner as report_commissioner
from app.reports import conference as report_conference
from app.reports import fhir_export as report_fhir_export
from app.reports import household as report_household
from app.reports.schemas import AdherenceRead

router = APIRouter(tags=["reports"], responses=problems.API_ERRORS)

From = Annotated[IsoDate | None, Query(alias="from")]
To = Annotated[IsoDate | None, Query(alias="to")]
DEFAULT_DAYS = 28
FHIR_JSON = "application/fhir+json"


class FhirJSONResponse(JSONResponse):
    """A FHIR resource: its own media type, documented as such in the OpenAPI schema."""

    media_type = FHIR_JSON


def _period(
    now: datetime, timezone: str, start: IsoDate | None, end: IsoDate | None
) -> tuple[date, date]:
    """Default: the 28 days up to today (what a prescriber reviews between appointments)."""
    end = end or local_date(now, timezone)
    return start or end - timedelta(days=DEFAULT_DAYS - 1), end


@router.get("/reports/caseload")
def caseload(
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
    start: From = None,
    end: To = None,
) -> Any:
    """Adherence of every patient who names the signed-in prescriber or key worker."""
    first, last = _period(now, settings.timezone, start, end)
    report = caseload_report.caseload(
        uow, actor=actor, start=first, end=last, now=now, timezone=settings.timezone
    )
    return JSONResponse(jsonable_encoder(printing.caseload_body(report)))


@router.get("/reports/caseload.csv", response_class=Response)
def caseload_csv(
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
    start: From = None,
    end: To = None,
) -> Response:
    """The caseload report as CSV, one row per patient."""
    first, last = _period(now, settings.timezone, start, end)
    report = caseload_report.caseload(
        uow, actor=actor, start=first, end=last, now=now, timezone=settings.timezone
    )
    return Response(
        printing.caseload_csv(report),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="caseload-{first}-{last}.csv"'},
    )


def _conference(
    uow: UowDep,
    actor: ActorDep,
    now: datetime,
    timezone: str,
    household_id: UUID,
    start: IsoDate | None,
    end: IsoDate | None,
) -> report_conference.ConferenceReport:
    end = end or local_date(now, timezone)
    return report_conference.conference_report(
        uow,
        actor=actor,
        household_id=household_id,
        start=start or end - timedelta(days=89),
        end=end,
        now=now,
        timezone=timezone,
    )


@router.get("/households/{household_id}/conference-report")
def conference_report(
    household_id: UUID,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
    start: From = None,
    end: To = None,
) -> Any:
    """The pharmacy's chronology and analysis for a child-protection conference (default: the
    last 90 days)."""
    report = _conference(uow, actor, now, settings.timezone, household_id, start, end)
    return JSONResponse(jsonable_encoder(printing.conference_body(report)))


@router.get("/households/{household_id}/conference-report.html", response_class=HTMLResponse)
def conference_report_html(
    household_id: UUID,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
    start: From = None,
    end: To = None,
) -> HTMLResponse:
    """The same report as a printable page."""
    report = _conference(uow, actor, now, settings.timezone, household_id, start, end)
    return HTMLResponse(printing.conference_html(report))


@router.get("/reports/commissioner")
def commissioner(
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
    start: From = None,
    end: To = None,
    pharmacy_id: UUID | None = None,
) -> Any:
    """Supervised, take-home and missed counts per month; households with children on
    take-homes; box confirmation rate; alert acknowledgement times. No patient identifiers."""
    first, last = _period(now, settings.timezone, start, end)
    summary = report_commissioner.commissioner_summary(
        uow,
        actor=actor,
        start=first,
        end=last,
        now=now,
        timezone=settings.timezone,
        child_age_years=settings.policy.child_age_years,
        pharmacy_id=pharmacy_id,
    )
    return JSONResponse(jsonable_encoder(summary))


@router.get("/patients/{patient_id}/fhir", response_class=FhirJSONResponse)
def fhir_export(
    patient_id: UUID,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
    start: From = None,
    end: To = None,
) -> FhirJSONResponse:
    """A FHIR R4 Bundle: a MedicationDispense per handover, a MedicationAdministration per
    supervised dose, and explicit not-done records for missed and withheld days."""
    first, last = _period(now, settings.timezone, start, end)
    bundle = report_fhir_export.fhir_export(
        uow, actor=actor, patient_id=patient_id, start=first, end=last, now=now
    )
    return FhirJSONResponse(bundle)


# Served under the "counter" tag, as before it moved here: the API contract does not change.
adherence_router = APIRouter(tags=["counter"], responses=problems.API_ERRORS)


@adherence_router.get("/patients/{patient_id}/adherence", response_model=AdherenceRead)
def adherence(
    patient_id: UUID,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    settings: SettingsDep,
    start: Annotated[IsoDate | None, Query(alias="from")] = None,
    end: Annotated[IsoDate | None, Query(alias="to")] = None,
) -> object:
    """Per-day states and a summary (attendance, missed, withheld, longest missed streak)."""
    today = local_date(now, settings.timezone)
    end = end or today
    start = start or date.fromordinal(end.toordinal() - 27)
    result = report_adherence.adherence(
        uow,
        actor=actor,
        patient_id=patient_id,
        start=start,
        end=end,
        now=now,
        timezone=settings.timezone,
    )
    return {"patient_id": result.patient_id, "days": result.days, "summary": result.summary}


# The household view reads the ledger and the alerts as well as the household, so it is
# composed here, above all three; it keeps the households tag and path in the API contract.
household_router = APIRouter(tags=["households"], responses=problems.API_ERRORS)


@household_router.get(
    "/households/{household_id}", response_model=household_schemas.HouseholdViewRead
)
def get_household(
    household_id: UUID, uow: UowDep, actor: ActorDep, now: NowDep, settings: SettingsDep
) -> household_schemas.HouseholdViewRead:
    """The household view: members, children with ages, methadone at home, boxes, open alerts."""
    today = local_date(now, settings.timezone)
    view = households_service.view_household(
        uow, actor=actor, household_id=household_id, today=today, now=now
    )
    with uow:
        extras = report_household.household_extras(uow.session, view.household.id, today)
    return household_schemas.HouseholdViewRead(
        **household_schemas.HouseholdRead.model_validate(view.household).model_dump(),
        members=[
            household_schemas.MemberRead(
                id=m.id,
                given_name=m.given_name,
                family_name=m.family_name,
                pharmacy_id=m.pharmacy_id,
            )
            for m in view.members
        ],
        children=[
            household_schemas.ChildInView(
                **household_schemas.ChildRead.model_validate(c).model_dump(),
                age_years=kit.age_on(c.date_of_birth, today),
            )
            for c in view.children
        ],
        confirmations=[
            household_schemas.ConfirmationRead.model_validate(c) for c in view.confirmations
        ],
        history=[household_schemas.ChangeRead.model_validate(c) for c in view.history],
        **extras,
    )
