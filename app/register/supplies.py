"""Supply lines: written from the handover, never typed. `record_supply` appends the line in
the handover's own transaction (called by `app.dosing.handover`, `app.dosing.corrections` and `app.dosing.wrong_patient`),
so a dose and its register line commit or fail together; `supply_for_handover` finds the line
a handover wrote, for a dose correction to annotate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.contacts.models import Contact
from app.households.models import Household
from app.patients.models import Patient
from app.prescriptions.models import Prescription
from app.prescriptions.products import PRODUCTS
from app.register import rules
from app.register.chain import append
from app.register.models import RegisterEntry
from app.register.rules import EntryKind
from app.register.writing import stamp_author
from app.safeguarding import rules as safeguarding_rules
from app.safeguarding import service as safeguarding_service


def _party_address(session: Session, patient: Patient) -> str | None:
    if patient.household_id is None:
        return None
    household = session.get(Household, patient.household_id)
    return f"{household.address}, {household.postcode}" if household else None


@dataclass(frozen=True, slots=True)
class SuppliedPack:
    """The stock bottle the supply was measured from, as scanned at the handover."""

    gtin: str
    batch: str | None
    expiry: date | None


class SuppliedDay(Protocol):
    """A day of the dosing ledger as the register reads it when the dose leaves.

    A shape rather than dosing's model: the register sits below dosing (dosing writes a supply
    line in the handover's transaction), so it names only the fields a supply line is made of.
    """

    @property
    def product(self) -> str: ...
    @property
    def dose_mg(self) -> Decimal: ...
    @property
    def dose_date(self) -> date: ...
    @property
    def pharmacy_id(self) -> UUID: ...
    @property
    def handover_id(self) -> UUID | None: ...
    @property
    def authorisation_id(self) -> UUID | None: ...
    @property
    def collector(self) -> str | None: ...
    @property
    def collector_details(self) -> str | None: ...
    @property
    def id_asked(self) -> bool | None: ...
    @property
    def id_shown(self) -> bool | None: ...


def record_supply(
    session: Session,
    *,
    actor: Actor,
    patient: Patient,
    prescription_id: UUID,
    rows: Sequence[SuppliedDay],
    today: date,
    now: datetime,
    routing: Mapping[str, Sequence[str]],
    supplied_on: date | None = None,
    pack: SuppliedPack | None = None,
) -> RegisterEntry | None:
    """Append the supply line for a handover, in the handover's transaction (never commits).

    `supplied_on` is the day the methadone left, when the line is entered later (a late dose
    recorded by correction the next morning): the register is dated by the supply, and
    `entered_on` says when it was written.

    One line per handover: the quantity that left the CD cupboard at once, with the dose dates it
    covers. A product outside Schedule 2 has no register, so nothing is written for it; a
    withheld or missed dose never reaches here, so it never makes a line.
    """
    if not rows or not rules.is_register_product(rows[0].product):
        return None
    product = PRODUCTS[rows[0].product]
    first = rows[0]
    prescription = session.get(Prescription, prescription_id)
    prescriber = session.get(Contact, prescription.prescriber_id) if prescription else None
    quantity = sum((rules.quantity_ml(product, Decimal(r.dose_mg)) for r in rows), Decimal(0))
    address = (prescription.prescriber_address if prescription else None) or (
        prescriber.address if prescriber else None
    )
    details = first.collector_details
    if any(r.authorisation_id for r in rows):
        # A supervised day taken home by a representative: the register says on whose direction.
        details = f"{details or ''} (supervised day taken home on the prescriber's direction)"
        details = details.strip()
    entry = RegisterEntry(
        pharmacy_id=first.pharmacy_id,
        product=product.code,
        kind=EntryKind.SUPPLY,
        transaction_date=supplied_on or today,
        entered_on=today,
        quantity_ml=quantity,
        change_ml=-quantity,
        party_name=f"{patient.given_name} {patient.family_name}",
        party_address=_party_address(session, patient),
        prescriber=f"{prescriber.name}, {prescriber.organisation}" if prescriber else None,
        prescriber_address=address,
        collector=first.collector,
        collector_details=details,
        id_asked=first.id_asked,
        id_shown=first.id_shown,
        patient_id=patient.id,
        handover_id=first.handover_id,
        dose_dates=[r.dose_date.isoformat() for r in rows],
        # The bottle scanned before measuring (issue 20 §5): hashed in the chain like a receipt's.
        gtin=pack.gtin if pack else None,
        batch=pack.batch if pack else None,
        expiry=pack.expiry if pack else None,
    )
    stamp_author(entry, actor, now)
    append(session, entry)
    if entry.balance_ml < 0:
        (event,) = safeguarding_rules.register_negative_balance_events(
            product=product.code, balance_ml=str(entry.balance_ml)
        )
        safeguarding_service.raise_alert(
            session,
            event,
            actor=actor,
            pharmacy_id=entry.pharmacy_id,
            patient_id=None,
            household_id=None,
            day=today,
            now=now,
            routing=routing,
        )
    return entry


def supply_for_handover(session: Session, handover_id: UUID) -> RegisterEntry | None:
    """The supply line a handover wrote (None for a product with no register)."""
    return session.scalar(
        select(RegisterEntry).where(
            RegisterEntry.handover_id == handover_id, RegisterEntry.kind == EntryKind.SUPPLY
        )
    )
