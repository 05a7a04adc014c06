"""Take-home naloxone supplied to a household: record a supply and read what the home holds.

Recorded, never judged: whether and how a pharmacy may supply naloxone is for the pharmacist
(domain-rules §8.3, §10 item 7; docs/decisions.md). The record says what went into the home, so
the counter can offer it where none is in date (`app.households.home_safety`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import require_role
from app.auth.roles import Role
from app.db import UnitOfWork, retrying
from app.errors import InvalidInput
from app.households.home_safety import NALOXONE_PRODUCTS
from app.households.models import NaloxoneRecipient, NaloxoneSupply
from app.households.repository import load_visible
from app.patients.models import Patient

# Who records naloxone and storage advice: the pharmacy team at the counter.
HOME_SAFETY_RECORDERS = {Role.PHARMACIST, Role.TECHNICIAN}
# A kit's shelf life is a few years: an expiry further off than this is a typing slip.
LONGEST_SHELF_LIFE = timedelta(days=5 * 366)


@dataclass(frozen=True, slots=True)
class Supply:
    product: str
    product_name: str
    batch: str
    expires_on: date
    trained: bool
    recipient: str
    recipient_name: str
    patient_id: UUID | None
    supplied_on: date
    note: str


def member(session: Session, household_id: UUID, patient_id: UUID, field: str) -> Patient:
    """A patient living in the household; anyone else is refused by the field that named them."""
    patient = session.get(Patient, patient_id)
    if patient is None or patient.household_id != household_id:
        raise InvalidInput(field, "household_member", "is not a patient living in this household")
    return patient


def _check(supply: Supply, today: date) -> None:
    if supply.product not in NALOXONE_PRODUCTS:
        raise InvalidInput("product", "known_product", "is not a naloxone product on the list")
    if supply.product == "other" and not supply.product_name.strip():
        raise InvalidInput("product_name", "required", "name the naloxone product supplied")
    if supply.supplied_on > today:
        raise InvalidInput("supplied_on", "not_in_future", "cannot be in the future")
    if supply.expires_on < supply.supplied_on:
        raise InvalidInput(
            "expires_on", "in_date", "has already passed: an expired kit is not a supply"
        )
    if supply.expires_on > supply.supplied_on + LONGEST_SHELF_LIFE:
        raise InvalidInput("expires_on", "shelf_life", "is more than five years away: check it")
    if supply.recipient == NaloxoneRecipient.PATIENT and supply.patient_id is None:
        raise InvalidInput("patient_id", "required", "name the patient who received it")
    if supply.recipient == NaloxoneRecipient.HOUSEHOLD_ADULT and not supply.recipient_name.strip():
        raise InvalidInput("recipient_name", "required", "name the adult who received it")


@retrying
def record_supply(
    uow: UnitOfWork,
    *,
    actor: Actor,
    household_id: UUID,
    supply: Supply,
    today: date,
    now: datetime,
) -> NaloxoneSupply:
    """Take-home naloxone was supplied to the patient or a named adult of the household."""
    require_role(actor, HOME_SAFETY_RECORDERS, "record naloxone supplied")
    with uow:
        session = uow.session
        household = load_visible(session, actor, household_id)
        _check(supply, today)
        name = supply.recipient_name.strip()
        if supply.patient_id is not None:
            patient = member(session, household.id, supply.patient_id, "patient_id")
            if supply.recipient == NaloxoneRecipient.PATIENT:
                name = f"{patient.given_name} {patient.family_name}"
        row = NaloxoneSupply(
            household_id=household.id,
            patient_id=supply.patient_id,
            product=supply.product,
            product_name=supply.product_name.strip()
            if supply.product == "other"
            else NALOXONE_PRODUCTS[supply.product],
            batch=supply.batch,
            expires_on=supply.expires_on,
            trained=supply.trained,
            recipient=supply.recipient,
            recipient_name=name,
            supplied_on=supply.supplied_on,
            supplied_by_id=actor.id,
            note=supply.note,
            created_at=now,
        )
        session.add(row)
        session.flush()
        audit_service.record(
            session,
            actor,
            "naloxone.supplied",
            entity="household",
            entity_id=household.id,
            at=now,
            pharmacy_id=household.pharmacy_id,
            facts={"product": supply.product, "expires_on": supply.expires_on},
        )
        uow.commit()
        return row


def supplies(session: Session, household_id: UUID, *, limit: int = 100) -> list[NaloxoneSupply]:
    """The household's naloxone, newest first."""
    return list(
        session.scalars(
            select(NaloxoneSupply)
            .where(NaloxoneSupply.household_id == household_id)
            .order_by(NaloxoneSupply.supplied_on.desc(), NaloxoneSupply.created_at.desc())
            .limit(limit)
        )
    )


def list_supplies(uow: UnitOfWork, *, actor: Actor, household_id: UUID) -> list[NaloxoneSupply]:
    with uow:
        household = load_visible(uow.session, actor, household_id)
        return supplies(uow.session, household.id)
