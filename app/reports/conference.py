"""The pharmacy's contribution to a child-protection conference (`conference_report`): the
household's members the caller may see, their children, each member's regime at the end of the
period, and the chronology built from the events of `app.reports.chronology_doses` and
`app.reports.chronology_records`, analysed by `app.reports.rules`.

This module gathers and assembles; what each event says is decided where it is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import kit
from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import may_see_patient, require_role
from app.auth.roles import Role
from app.db import UnitOfWork
from app.dosing import household as dosing_household
from app.households import repository as households_repository
from app.households.models import Child, Household
from app.patients.models import Patient
from app.prescriptions.models import Prescription, Status
from app.reports import rules
from app.reports.chronology_doses import counter_events, dose_events, prescription_events
from app.reports.chronology_exceptions import exception_events
from app.reports.chronology_home_safety import home_safety_events, home_safety_summary
from app.reports.chronology_injections import injection_events
from app.reports.chronology_records import alert_events, box_events, change_events, concern_events
from app.reports.period import check_period
from app.reports.rules import Event

CONFERENCE_ROLES = {Role.PHARMACIST, Role.SAFEGUARDING_LEAD, Role.ADMIN}


def _name(patient: Patient) -> str:
    return f"{patient.given_name} {patient.family_name}"


@dataclass
class ConferenceReport:
    household: Household
    start: date
    end: date
    generated_at: datetime
    members: list[Patient]
    members_not_shown: int
    children: list[dict[str, Any]]
    chronology: tuple[Event, ...]
    analysis: rules.HouseholdAnalysis
    names: dict[str, str] = field(default_factory=dict)  # patient ref -> name
    # Each member's regime at the end of the period: what is prescribed and how it is taken.
    regimes: list[dict[str, Any]] = field(default_factory=list)
    # Naloxone held at the end of the period and the last safe-storage advice given.
    home_safety: dict[str, Any] = field(default_factory=dict)


_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _regimes(session: Session, members: Sequence[Patient], day: date) -> list[dict[str, Any]]:
    """Each member's current regime: the prescription covering `day` (else the latest before
    it), and the share of supervised dose days over the 14 days to `day`."""
    if not members:
        return []
    household_id = members[0].household_id
    shares = {
        regime.patient_ref: regime
        for regime in (
            dosing_household.member_regimes(session, household_id, day) if household_id else []
        )
    }
    found = []
    for member in members:
        rx = session.scalar(
            select(Prescription)
            .where(
                Prescription.patient_id == member.id,
                Prescription.status != Status.CANCELLED,
                Prescription.start_on <= day,
            )
            .order_by(Prescription.start_on.desc(), Prescription.entered_at.desc())
            .limit(1)
        )
        regime = shares.get(str(member.id))
        found.append(
            {
                "patient_id": member.id,
                "patient_name": _name(member),
                "product": rx.product if rx else None,
                "daily_dose_mg": rx.daily_dose_mg if rx else None,
                "supervised_days": [_WEEKDAYS[d] for d in rx.supervised_days] if rx else [],
                "collection_days": [_WEEKDAYS[d] for d in rx.collection_days] if rx else [],
                "supervised_percent": rules.percent(
                    int(regime.supervised_share * regime.dose_days), regime.dose_days
                )
                if regime and regime.dose_days
                else None,
                "takes_methadone_home": bool(regime and regime.has_take_home),
                "prescription_ends": rx.end_on if rx else None,
            }
        )
    return found


def conference_report(
    uow: UnitOfWork,
    *,
    actor: Actor,
    household_id: UUID,
    start: date,
    end: date,
    now: datetime,
    timezone: str,
) -> ConferenceReport:
    """The pharmacy's contribution to a child-protection conference: every dispensing event,
    missed and withheld dose, intoxication, child seen, box confirmation, take-home and alert
    for the household's members, once each in time order, with figures computed from them.

    Members the caller may not see (registered at another pharmacy) are left out and counted.
    """
    require_role(actor, CONFERENCE_ROLES, "prepare a conference report")
    check_period(start, end)
    with uow:
        session = uow.session
        household = households_repository.load_visible(session, actor, household_id)
        everyone = list(
            session.scalars(
                select(Patient)
                .where(Patient.household_id == household.id)
                .order_by(Patient.family_name, Patient.given_name, Patient.id)
            )
        )
        members = [
            p
            for p in everyone
            if may_see_patient(
                actor,
                pharmacy_id=p.pharmacy_id,
                key_worker_id=p.key_worker_id,
                prescriber_id=p.prescriber_id,
            )
        ]
        ids = [m.id for m in members]
        events = [
            *dose_events(session, ids, start, end, timezone),
            *counter_events(session, ids, start, end, timezone),
            *prescription_events(session, ids, start, end),
            *change_events(session, household.id, ids, start, end, timezone),
            *box_events(session, ids, start, end),
            *alert_events(session, household.id, ids, start, end, timezone),
            *concern_events(session, household.id, ids, start, end, timezone),
            *exception_events(session, ids, start, end, timezone),
            *home_safety_events(session, household.id, start, end),
            *injection_events(session, ids, start, end),
        ]
        home_safety = home_safety_summary(session, household.id, end)
        regimes = _regimes(session, members, end)
        children = [
            {
                "id": c.id,
                "name": c.name,
                "age_years": kit.age_on(c.date_of_birth, end),
                "protection_status": c.protection_status,
            }
            for c in session.scalars(
                select(Child)
                .where(Child.household_id == household.id)
                .order_by(Child.date_of_birth)
            )
            if (c.lives_from is None or c.lives_from <= end)
            and (c.lives_to is None or c.lives_to >= start)
        ]
        audit_service.record(
            session,
            actor,
            "household.conference_report_viewed",
            entity="household",
            entity_id=household.id,
            at=now,
            pharmacy_id=household.pharmacy_id,
            facts={"from": start, "to": end, "events": len(events)},
        )
        uow.commit()
    chronology = rules.chronology(events)
    return ConferenceReport(
        household=household,
        start=start,
        end=end,
        generated_at=now,
        members=members,
        members_not_shown=len(everyone) - len(members),
        children=children,
        chronology=chronology,
        analysis=rules.analyse_household(chronology, [str(i) for i in ids]),
        names={str(m.id): _name(m) for m in members},
        regimes=regimes,
        home_safety=home_safety,
    )
