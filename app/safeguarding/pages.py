"""The safeguarding lead's pages: the live alert inbox and the household picture."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import StringConstraints
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth import service as auth_service
from app.auth.deps import ActorDep
from app.http.deps import NowDep, UowDep
from app.http.schemas import SINGLE_LINE
from app.http.templates import page
from app.patients import repository as patients_repository
from app.patients import service as patients_service
from app.safeguarding import concerns as concerns_service
from app.safeguarding import repository as alert_repository
from app.safeguarding.concern_alerts import CONCERN_WORDS
from app.safeguarding.models import Alert, AlertHistory, AlertState, Concern

router = APIRouter(include_in_schema=False)
# Who may record a lockable box as seen (the dosing service's rule: counter staff, key workers).
KINDS = [
    "missed_dose",
    "missed_threshold_reached",
    "dose_withheld_intoxicated",
    "intoxicated_with_child_present",
    "take_home_blocked_no_box",
    "box_override",
    "children_not_confirmed_override",
    "take_home_in_protected_household",
    "household_regime_mismatch",
    "household_methadone_high",
    "prescription_ending",
    "closed_day_needs_amended_prescription",
    "delivery_failed",
    "household_child_joined",
    "register_discrepancy",
    "register_negative_balance",
    "dose_given_unchecked",
    "pharmacist_concern",
    "outage_double_supply",
    "outage_block_ignored",
    "injection_overdue",
    "dose_lost_with_children",
    "repeated_dose_exceptions",
]


@router.get("/safeguarding", response_class=HTMLResponse)
def inbox(
    request: Request,
    uow: UowDep,
    actor: ActorDep,
    now: NowDep,
    # "any" is the empty choice: it means no filter, never a refusal.
    state: Annotated[str | None, Query(pattern="^(|open|acknowledged|escalated|resolved)$")] = None,
    kind: Annotated[
        Annotated[str, StringConstraints(max_length=64), SINGLE_LINE] | None, Query()
    ] = None,
    severity: Annotated[str | None, Query(pattern="^(|info|warning|urgent)$")] = None,
) -> HTMLResponse:
    """The alert inbox: newest first, filterable; new alerts arrive live."""
    rows, _ = alert_repository.list_alerts(
        uow,
        actor=actor,
        state=state or None,
        kind=kind or None,
        severity=severity or None,
        limit=200,
    )
    with uow:
        deliveries = alert_repository.deliveries_for(uow.session, [a.id for a in rows])
        ids = {a.patient_id for a in rows if a.patient_id}
        # The inbox names each patient: one read event each (who saw which record, when).
        shown = patients_service.listed(uow.session, actor, ids, at=now, by="safeguarding_inbox")
        names = {p.id: f"{p.given_name} {p.family_name}" for p in shown}
        owners = _owners(uow.session, rows)
        uow.commit()
    return page(
        request,
        "safeguarding/inbox.html",
        {
            "owners": owners,
            "names": names,
            "alerts": rows,
            "deliveries": deliveries,
            "states": [s.value for s in AlertState],
            "kinds": KINDS,
            "filters": {"state": state, "kind": kind, "severity": severity},
        },
    )


def _owners(session: Session, alerts: Sequence[Alert]) -> dict[UUID, str]:
    """Who acknowledged each alert, by name: ownership is shown, never just "acknowledged"."""
    return auth_service.display_names(session, {a.acknowledged_by_id for a in alerts})


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(
    alert_id: UUID, request: Request, uow: UowDep, actor: ActorDep, now: NowDep
) -> HTMLResponse:
    """One alert: what, about whom, which household, its history and deliveries, and who owns
    it. Every link in an email, a webhook and the Atom feed lands here."""
    with uow:
        session = uow.session
        alert = alert_repository.get_alert(session, actor, alert_id)
        history = list(
            session.scalars(
                select(AlertHistory)
                .where(AlertHistory.alert_id == alert.id)
                .order_by(AlertHistory.at)
            )
        )
        deliveries = alert_repository.deliveries_for(session, [alert.id])[alert.id]
        named = {alert.patient_id} if alert.patient_id else set()
        patient = next(
            iter(patients_service.listed(session, actor, named, at=now, by="alert_page")), None
        )
        owners = _owners(session, [alert])
        concern = session.scalar(select(Concern).where(Concern.alert_id == alert.id))
        uow.commit()
    return page(
        request,
        "safeguarding/alert.html",
        {
            "alert": alert,
            "concern": concern,
            "concern_words": CONCERN_WORDS,
            "basis_words": concerns_service.LAWFUL_BASIS_WORDS,
            "history": history,
            "deliveries": deliveries,
            "patient": patient,
            "owner": owners.get(alert.acknowledged_by_id) if alert.acknowledged_by_id else None,
        },
    )


CONCERN_RECIPIENTS = (
    ("key_worker", "the key worker"),
    ("social_worker", "each child's social worker"),
    ("prescriber", "the prescriber"),
    ("safeguarding_lead", "the safeguarding lead"),
    ("mash", "the MASH"),
)


@router.get("/patients/{patient_id}/concerns", response_class=HTMLResponse)
def concerns_page(
    patient_id: UUID, request: Request, uow: UowDep, actor: ActorDep, now: NowDep
) -> HTMLResponse:
    """The concerns about a patient and their household (the log of information shared), and,
    for those who may, the form that records one and tells the people chosen."""
    rows = concerns_service.concerns_about(
        uow, actor=actor, patient_id=patient_id, household_id=None, now=now
    )
    with uow:
        session = uow.session
        patient = patients_repository.load_visible(session, actor, patient_id)
        states = {
            alert.id: alert.state
            for alert in session.scalars(
                select(Alert).where(Alert.id.in_([c.alert_id for c in rows if c.alert_id]))
            )
        }
        who = auth_service.display_names(session, {c.raised_by_id for c in rows})
    return page(
        request,
        "safeguarding/concerns.html",
        {
            "patient": patient,
            "concerns": rows,
            "concern_alerts": states,
            "who": who,
            "concern_words": dict(CONCERN_WORDS),
            "basis_words": concerns_service.LAWFUL_BASIS_WORDS,
            "concern_recipients": CONCERN_RECIPIENTS,
            "may_record_concern": actor.role in concerns_service.RECORDERS,
        },
    )
