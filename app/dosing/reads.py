"""The counter's read model: the day's due list, with each patient's decision."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import require_role
from app.auth.roles import Role
from app.config import PolicySettings
from app.db import UnitOfWork
from app.dosing import counter as dosing_counter
from app.dosing import facts as dosing_facts
from app.dosing.counter import CounterView
from app.dosing.models import InstalmentDay
from app.errors import InvalidInput
from app.patients.models import Patient
from app.pharmacies import repository as pharmacies_repository


def _due_views(
    session: Session, actor: Actor, day: date, policy: PolicySettings
) -> list[CounterView]:
    """The counter's view of every patient with an instalment to collect at the caller's
    pharmacy on `day`, by family name."""
    if actor.pharmacy_id is None:
        raise InvalidInput(
            "pharmacy", "required", "the due list is per pharmacy: sign in as staff of a pharmacy"
        )
    pharmacies_repository.load_visible(session, actor, actor.pharmacy_id)
    patients = list(
        session.scalars(
            select(Patient)
            .where(
                Patient.id.in_(
                    select(InstalmentDay.patient_id).where(
                        InstalmentDay.pharmacy_id == actor.pharmacy_id,
                        dosing_facts.collectable_on(day),
                    )
                )
            )
            .order_by(Patient.family_name, Patient.given_name)
        )
    )
    return list(
        dosing_counter.views(
            session, actor, patients, product=None, today=day, intoxicated=False, policy=policy
        )
    )


def _item(view: CounterView) -> dict[str, Any]:
    patient = view.patient
    states = sorted({r.state for r in view.rows})
    return {
        **dosing_counter.decision_body(view),
        "given_name": patient.given_name,
        "family_name": patient.family_name,
        "state": states[0] if len(states) == 1 else ",".join(states),
    }


def due_list(
    uow: UnitOfWork, *, actor: Actor, day: date, policy: PolicySettings, now: datetime
) -> list[dict[str, Any]]:
    """Every patient with an instalment to collect at the caller's pharmacy on `day`,
    each with the decision the counter would show (the day's state when already recorded)."""
    require_role(actor, dosing_counter.COUNTER | {Role.ADMIN}, "see the due list")
    with uow:
        session = uow.session
        items = [_item(view) for view in _due_views(session, actor, day, policy)]
        audit_service.record(
            session,
            actor,
            "counter.due_list_viewed",
            entity="pharmacy",
            entity_id=actor.pharmacy_id,
            at=now,
            pharmacy_id=actor.pharmacy_id,
            facts={"date": day, "patients": len(items)},
        )
        uow.commit()
        return items


@dataclass(frozen=True, slots=True)
class SheetLine:
    """One patient on the downtime dosing sheet: what the counter would decide that day, and
    the household facts a pharmacist working from paper must still weigh."""

    item: dict[str, Any]  # as on the due list
    date_of_birth: date
    children: int  # living in the household that day
    youngest_age: int | None
    children_known_to_social_care: int  # a protection plan, child in need, looked after
    box_valid_until: date | None


def dosing_sheet(
    uow: UnitOfWork, *, actor: Actor, day: date, policy: PolicySettings, now: datetime
) -> list[SheetLine]:
    """The day's due list as a sheet to print for an outage (network or database down): every
    patient due, the decision as it stands when printed, and the household facts. Printing it
    is a read of each listed patient's record, so the audit names them."""
    require_role(actor, dosing_counter.COUNTER, "print the dosing sheet")
    with uow:
        session = uow.session
        lines = []
        for view in _due_views(session, actor, day, policy):
            household = view.facts.household
            children = household.children if household else ()
            ages = [c.age_years for c in children]
            lines.append(
                SheetLine(
                    item=_item(view),
                    date_of_birth=view.patient.date_of_birth,
                    children=len(children),
                    youngest_age=min(ages) if ages else None,
                    children_known_to_social_care=sum(
                        1 for c in children if c.protection_status != "none"
                    ),
                    box_valid_until=household.box_valid_until if household else None,
                )
            )
        audit_service.record(
            session,
            actor,
            "counter.dosing_sheet_printed",
            entity="pharmacy",
            entity_id=actor.pharmacy_id,
            at=now,
            pharmacy_id=actor.pharmacy_id,
            facts={"date": day, "patients": [line.item["patient_id"] for line in lines]},
        )
        uow.commit()
        return lines
