"""Demo naloxone and safe-storage advice (issue 20 §4): the Brook household (two children) has
a kit in date and advice on record; the Marsh household, where Casey takes methadone home to a
child on a plan, has neither, so the counter prompts for both on Casey's collection day."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from uuid import UUID

from app.actor import Actor
from app.db import UnitOfWork
from app.households import naloxone, storage_advice
from app.households.home_safety import ADVICE_TOPICS


def seed(
    uow: UnitOfWork, actor: Actor, household_id: UUID, patient_id: UUID, today: date, now: datetime
) -> None:
    """Naloxone and storage advice on record for one household (the other is left without)."""
    naloxone.record_supply(
        uow,
        actor=actor,
        household_id=household_id,
        supply=naloxone.Supply(
            product="nyxoid_nasal",
            product_name="",
            batch="DEMO-NX-0425",
            expires_on=today + timedelta(days=540),
            trained=True,
            recipient="household_adult",
            recipient_name="Pat Brook (partner)",
            patient_id=patient_id,
            supplied_on=today,
            note="Shown the spray; kept in the kitchen cupboard, top shelf.",
        ),
        today=today,
        now=now,
    )
    storage_advice.record_advice(
        uow,
        actor=actor,
        household_id=household_id,
        topics=list(ADVICE_TOPICS),
        given_to="",
        patient_id=patient_id,
        given_on=today,
        note="Box seen; key kept on the patient's keyring.",
        today=today,
        now=now,
    )
