"""A guest patient at the counter: the identity and the household safety facts a pharmacy
dosing someone else's patient needs (issue 19 §2), and nothing else.

The counter page reads its own patients through the patient and household APIs; another
pharmacy's patient answers 404 there, as it must. While a guest grant is live the guest
pharmacy's counter reads this card instead: name, date of birth and NHS number to identify
the patient, the home pharmacy to phone, and the household facts the counter's checks use
(the children living there with their ages and whether social care knows them, when they were
last confirmed, the patient's lockable box, the methadone already at home). No address, no
other member's name, no alert text, no history. Every read is audited on both pharmacies'
chains.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import require_role
from app.config import PolicySettings
from app.db import UnitOfWork
from app.dosing import counter as dosing_counter
from app.errors import NotFound
from app.households.models import Child
from app.households.repository import current_children
from app.kit import age_on
from app.patients import repository as patients_repository
from app.patients.models import GuestGrant, Patient
from app.pharmacies import repository as pharmacies_repository
from app.pharmacies.models import Pharmacy


@dataclass(frozen=True, slots=True)
class GuestCard:
    patient: Patient
    grant: GuestGrant
    home: Pharmacy
    children: list[Child]
    children_confirmed_on: date | None
    box_valid_until: date | None
    methadone_at_home_mg: Decimal
    other_patients_at_home: int
    today: date

    def age(self, child: Child) -> int:
        return age_on(child.date_of_birth, self.today)


def guest_card(
    uow: UnitOfWork,
    *,
    actor: Actor,
    patient_id: UUID,
    today: date,
    now: datetime,
    policy: PolicySettings,
) -> GuestCard:
    """The card of a patient the caller's pharmacy doses today as a guest (404 otherwise)."""
    require_role(actor, dosing_counter.COUNTER, "use the counter")
    with uow:
        session = uow.session
        grant = (
            patients_repository.live_grant(session, patient_id, actor.pharmacy_id, today)
            if actor.pharmacy_id is not None
            else None
        )
        if grant is None:
            raise NotFound("patient", patient_id)
        patient = patients_repository.load_for_counter(session, actor, patient_id, today)
        home = pharmacies_repository.by_id(session, grant.home_pharmacy_id)
        assert home is not None
        view = dosing_counter.views(
            session, actor, [patient], product=None, today=today, intoxicated=False, policy=policy
        )[0]
        household = view.facts.household
        children = (
            current_children(session, patient.household_id, today) if patient.household_id else []
        )
        others = (
            len(patients_repository.in_household(session, patient.household_id)) - 1
            if patient.household_id
            else 0
        )
        for pharmacy_id in {patient.pharmacy_id, actor.pharmacy_id}:
            audit_service.record(
                session,
                actor,
                "counter.guest_card_viewed",
                entity="patient",
                entity_id=patient.id,
                at=now,
                pharmacy_id=pharmacy_id,
                facts={"grant_id": grant.id},
            )
        uow.commit()
        return GuestCard(
            patient=patient,
            grant=grant,
            home=home,
            children=children,
            children_confirmed_on=household.children_confirmed_on if household else None,
            box_valid_until=household.box_valid_until if household else None,
            methadone_at_home_mg=household.methadone_at_home_mg if household else Decimal(0),
            other_patients_at_home=max(others, 0),
            today=today,
        )
