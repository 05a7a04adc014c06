"""The commissioner's summary (`commissioner_summary`): counts with no patient identifiers,
for one pharmacy or (an unscoped caller) all of them: doses by month, households with young
children on take-homes, the lockable-box confirmation rate, and alert acknowledgement times.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from itertools import groupby
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import kit
from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import pharmacy_scope, require_role
from app.auth.roles import Role
from app.clock import local_midnight_utc
from app.db import UnitOfWork
from app.dosing.models import DoseState, InstalmentDay
from app.errors import NotFound
from app.households.models import BoxConfirmation, Child
from app.pharmacies.models import Pharmacy
from app.reports import rules
from app.reports.period import FINAL, check_period
from app.safeguarding.models import Alert

COMMISSIONER_ROLES = {Role.PHARMACIST, Role.SAFEGUARDING_LEAD, Role.ADMIN}


def _scope(session: Session, actor: Actor, pharmacy_id: UUID | None) -> UUID | None:
    require_role(actor, COMMISSIONER_ROLES, "see the commissioner summary")
    scope = pharmacy_scope(actor)
    if scope is not None:
        if pharmacy_id is not None and pharmacy_id != scope:
            raise NotFound("pharmacy", pharmacy_id)
        return scope
    if pharmacy_id is not None and session.get(Pharmacy, pharmacy_id) is None:
        raise NotFound("pharmacy", pharmacy_id)
    return pharmacy_id


def commissioner_summary(
    uow: UnitOfWork,
    *,
    actor: Actor,
    start: date,
    end: date,
    now: datetime,
    timezone: str,
    child_age_years: int,
    pharmacy_id: UUID | None = None,
) -> dict[str, Any]:
    """Counts a commissioner asks for, with no patient identifiers: doses by month, households
    with young children receiving take-homes, how often a valid lockable box was on record at
    those take-homes, and how quickly alerts were acknowledged."""
    check_period(start, end)
    with uow:
        session = uow.session
        scope = _scope(session, actor, pharmacy_id)
        dose_query = select(
            InstalmentDay.dose_date,
            InstalmentDay.state,
            InstalmentDay.household_id,
            InstalmentDay.handover_id,
            InstalmentDay.patient_id,
        ).where(
            InstalmentDay.dose_date >= start,
            InstalmentDay.dose_date <= end,
            InstalmentDay.state.in_(FINAL),
        )
        alert_query = select(Alert).where(
            Alert.created_at >= local_midnight_utc(start, timezone),
            Alert.created_at < local_midnight_utc(end + timedelta(days=1), timezone),
        )
        if scope is not None:
            dose_query = dose_query.where(InstalmentDay.pharmacy_id == scope)
            alert_query = alert_query.where(Alert.pharmacy_id == scope)
        doses = session.execute(dose_query).all()
        take_homes = [d for d in doses if d.state == DoseState.COLLECTED]
        households = {d.household_id for d in take_homes if d.household_id}
        children = (
            list(session.scalars(select(Child).where(Child.household_id.in_(households))))
            if households
            else []
        )
        patients = {d.patient_id for d in take_homes}
        boxes = (
            list(
                session.scalars(
                    select(BoxConfirmation).where(BoxConfirmation.patient_id.in_(patients))
                )
            )
            if patients
            else []
        )
        alerts = list(session.scalars(alert_query))
        audit_service.record(
            session,
            actor,
            "report.commissioner_viewed",
            entity="pharmacy",
            entity_id=scope or "all",
            at=now,
            pharmacy_id=scope,
            facts={"from": start, "to": end},
        )
        uow.commit()

    def young_child_on(household_id: UUID | None, day: date) -> bool:
        return any(
            c.household_id == household_id
            and kit.age_on(c.date_of_birth, day) < child_age_years
            and c.date_of_birth <= day
            and (c.lives_from is None or c.lives_from <= day)
            and (c.lives_to is None or c.lives_to >= day)
            for c in children
        )

    months = {
        m: {"supervised": 0, "take_home": 0, "missed": 0, "withheld": 0}
        for m in rules.months_between(start, end)
    }
    with_children: dict[str, set[UUID]] = defaultdict(set)
    for d in doses:
        bucket = months[rules.month_key(d.dose_date)]
        bucket["take_home" if d.state == DoseState.COLLECTED else str(d.state)] += 1
        if d.state == DoseState.COLLECTED and young_child_on(d.household_id, d.dose_date):
            assert d.household_id is not None
            with_children[rules.month_key(d.dose_date)].add(d.household_id)
    # Box rate: each take-home collection (handover) to a household with a young child.
    eligible = confirmed = 0
    by_handover = sorted(
        (d for d in take_homes if d.handover_id), key=lambda d: (str(d.handover_id), d.dose_date)
    )
    for _, group in groupby(by_handover, key=lambda d: d.handover_id):
        first = next(iter(group))
        if not young_child_on(first.household_id, first.dose_date):
            continue
        eligible += 1
        if any(
            b.patient_id == first.patient_id and b.seen_on <= first.dose_date <= b.valid_until
            for b in boxes
        ):
            confirmed += 1
    acknowledgement: dict[str, dict[str, Any]] = {}
    for severity in ("urgent", "warning", "info"):
        raised = [a for a in alerts if a.severity == severity]
        waits = [
            int((a.acknowledged_at - a.created_at).total_seconds() // 60)
            for a in raised
            if a.acknowledged_at is not None
        ]
        acknowledgement[severity] = {
            "raised": len(raised),
            "acknowledged": len(waits),
            "unacknowledged": len(raised) - len(waits),
            "median_minutes": rules.percentile(waits, 50),
            "p90_minutes": rules.percentile(waits, 90),
        }
    return {
        "pharmacy_id": scope,
        "from": start,
        "to": end,
        "months": [
            {
                "month": month,
                **counts,
                "households_with_children_on_take_homes": len(with_children.get(month, set())),
            }
            for month, counts in months.items()
        ],
        "households_with_children_on_take_homes": len(set().union(*with_children.values()))
        if with_children
        else 0,
        "box_confirmation": {
            "take_home_collections_with_young_children": eligible,
            "with_valid_box": confirmed,
            "rate_percent": rules.percent(confirmed, eligible),
        },
        "alert_acknowledgement": acknowledgement,
    }
