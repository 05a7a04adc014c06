"""The counter's read model: the day's due list, with each patient's decision."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from app.audit import service as audit_service
from app.audit.service import Actor
from app.auth.models import Role
from app.auth.policy import require_role
from app.config import PolicySettings
from app.db import UnitOfWork
from app.dosing import facts as dosing_facts
from app.dosing import service as dosing_service
from app.dosing.models import InstalmentDay
from app.errors import InvalidInput
from app.patients.models import Patient
from app.pharmacies import service as pharmacies_service


def due_list(
    uow: UnitOfWork, *, actor: Actor, day: date, policy: PolicySettings, now: datetime
) -> list[dict[str, Any]]:
    """Every patient with an instalment to collect at the caller's pharmacy on `day`,
    each with the decision the counter would show (the day's state when already recorded)."""
    require_role(actor, dosing_service.COUNTER | {Role.ADMIN}, "see the due list")
    if actor.pharmacy_id is None:
        raise InvalidInput(
            "pharmacy", "required", "the due list is per pharmacy: sign in as staff of a pharmacy"
        )
    with uow:
        session = uow.session
        pharmacies_service.load_visible(session, actor, actor.pharmacy_id)
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
        items = []
        for view in dosing_service.views(
            session, actor, patients, product=None, today=day, intoxicated=False, policy=policy
        ):
            patient = view.patient
            states = sorted({r.state for r in view.rows})
            items.append(
                {
                    **dosing_service.decision_body(view),
                    "given_name": patient.given_name,
                    "family_name": patient.family_name,
                    "state": states[0] if len(states) == 1 else ",".join(states),
                }
            )
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
