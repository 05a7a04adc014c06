"""Build the load run's world through the real services, dated by the real clock.

The servers under load run on the system clock (a load run is about the real stack), so every
prescription starts today and every token is issued now: the counter terminals find a day's
worth of doses due. Everything is fictional: names are made up and NHS numbers come from the
never-issued 999 range.

The result is a `Plan`, written as JSON for the locust process (which does not import the app).
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import UUID

from app.actor import SYSTEM, Actor
from app.auth import service as auth_service
from app.auth.service import actor_for
from app.config import Settings
from app.contacts import service as contacts_service
from app.db import UnitOfWork
from app.demo import test_range_nhs_number
from app.households import children as household_children
from app.households import service as households_service
from app.intake import transcribe as transcription
from app.intake import verify as verification
from app.patients import service as patients_service
from app.patients.models import Patient
from app.pharmacies import service as pharmacies_service
from app.prescriptions import intake_terms
from app.prescriptions.words import number_to_words
from app.register import receipts as register_receipts

PASSWORD = "load run horse battery"
PRODUCT = "methadone-1mg-ml"
EVERY_DAY = frozenset(range(7))
# Stock received at each pharmacy before the run: far more than a day's supplies.
OPENING_STOCK_ML = Decimal(20_000)


@dataclass
class PatientPlan:
    """What a terminal knows about a patient before it calls the API."""

    id: str
    card_code: str
    kind: str  # supervised | household_supervised | take_home
    household_id: str | None
    children: list[str] = field(default_factory=list)
    absent: bool = False  # never comes in today: end of day makes the dose missed


@dataclass
class PharmacyPlan:
    id: str
    ods_code: str
    # Bearer tokens by role; counter roles have several accounts, like several terminals.
    pharmacists: list[str] = field(default_factory=list)
    technicians: list[str] = field(default_factory=list)
    safeguarding_lead: str = ""
    prescriber: str = ""
    key_worker: str = ""
    patients: list[PatientPlan] = field(default_factory=list)
    households: list[str] = field(default_factory=list)
    opening_stock_ml: str = "0"  # what was received before the run (none at a new pharmacy)


@dataclass
class Plan:
    today: str
    product: str
    pharmacies: list[PharmacyPlan]
    # Webhook destination name -> contact id, for matching the receiver's log to deliveries.
    destinations: dict[str, str] = field(default_factory=dict)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1))


@dataclass
class Hooks:
    """Gives each webhook contact its own path on the receiver, and learns its secret."""

    url_for: Callable[[str], str]
    register: Callable[[str, str], None]


def _nhs_numbers() -> Iterator[str]:
    start = 100_000 + uuid.uuid4().int % 800_000
    return (test_range_nhs_number(n) for n in itertools.count(start, 7))


@dataclass
class Seeder:
    uow: UnitOfWork
    settings: Settings
    now: datetime
    today: date
    hooks: Hooks
    destinations: dict[str, str] = field(default_factory=dict)
    _nhs: Iterator[str] = field(default_factory=_nhs_numbers)

    @property
    def then(self) -> datetime:
        """When the world was set up: an hour ago, so nothing is dated after the run starts."""
        return self.now - timedelta(hours=1)

    def contact(self, kind: str, name: str, actor: Actor = SYSTEM) -> UUID:
        """A contact reached by webhook only, at a receiver path of its own."""
        contact, secrets = contacts_service.create_contact(
            self.uow,
            actor=actor,
            name=name,
            organisation="Loadtown Recovery Service",
            address="1 Load Street, Loadtown LT1 1AA",
            kind=kind,
            email=None,
            webhook_url=self.hooks.url_for(name),
            allowed_webhook_hosts=frozenset({"127.0.0.1"}),
            allow_http_webhooks=True,
            now=self.then,
        )
        assert secrets.webhook_secret is not None
        self.hooks.register(name, secrets.webhook_secret)
        self.destinations[name] = str(contact.id)
        return contact.id

    def user(
        self,
        role: str,
        *,
        pharmacy_id: UUID | None = None,
        contact_id: UUID | None = None,
    ) -> tuple[Actor, str]:
        """An account and a bearer token issued now (it outlives the run)."""
        username = f"load{role[:4]}{uuid.uuid4().hex[:8]}"
        user = auth_service.add_user(
            self.uow,
            actor=SYSTEM,
            username=username,
            password=PASSWORD,
            role=role,
            pharmacy_id=pharmacy_id,
            contact_id=contact_id,
            now=self.then,
            settings=self.settings.auth,
        )
        token = auth_service.sign_in(
            self.uow,
            username=username,
            password=PASSWORD,
            client="load-seed",
            kind="api",
            now=self.now,
            settings=self.settings.auth,
        ).token
        return actor_for(user), token

    def pharmacy(
        self, index: int, social_worker: UUID, patients: int, *, stocked: bool = True
    ) -> PharmacyPlan:
        tag = uuid.uuid4().hex[:5].upper()
        pharmacy = pharmacies_service.create_pharmacy(
            self.uow,
            actor=SYSTEM,
            name=f"Loadtown Pharmacy {index + 1}",
            ods_code=f"L{tag}",
            address=f"{index + 1} Market Street, Loadtown",
            phone="01632 960123",
            open_weekdays=tuple(range(7)),
            now=self.then,
        )
        plan = PharmacyPlan(str(pharmacy.id), pharmacy.ods_code)
        counter: list[Actor] = []
        for _ in range(3):
            actor, token = self.user("pharmacist", pharmacy_id=pharmacy.id)
            counter.append(actor)
            plan.pharmacists.append(token)
        for _ in range(2):
            plan.technicians.append(self.user("technician", pharmacy_id=pharmacy.id)[1])
        pharmacist, checker = counter[0], counter[1]
        # The pharmacy's own safeguarding lead contact (created by its staff, so it is theirs).
        self.contact("safeguarding_lead", f"lead-{index}", actor=pharmacist)
        key_worker = self.contact("key_worker", f"keyworker-{index}")
        prescriber = self.contact("prescriber", f"prescriber-{index}")
        plan.safeguarding_lead = self.user("safeguarding_lead", pharmacy_id=pharmacy.id)[1]
        plan.prescriber = self.user("prescriber", contact_id=prescriber)[1]
        plan.key_worker = self.user("key_worker", contact_id=key_worker)[1]
        if stocked:
            register_receipts.record_receipt(
                self.uow,
                actor=pharmacist,
                receipt=register_receipts.Receipt(
                    received_on=self.today,
                    supplier_name="Loadtown Wholesale Ltd",
                    supplier_address="Unit 1, Loadtown Trading Estate",
                    quantity_ml=OPENING_STOCK_ML,
                    invoice_ref=f"INV-{tag}",
                    product=PRODUCT,
                ),
                today=self.today,
                now=self.then,
            )
            plan.opening_stock_ml = str(OPENING_STOCK_ML)
        for i in range(patients):
            kind = _kind(i)
            household, child = None, None
            if kind != "supervised":
                household, child = self.household(pharmacist, pharmacy.id, social_worker, i)
                plan.households.append(str(household))
            patient = self.patient(pharmacist, pharmacy.id, household, key_worker, prescriber, i)
            self.prescribe(pharmacist, checker, patient.id, prescriber, kind, i)
            plan.patients.append(
                PatientPlan(
                    str(patient.id),
                    patient.card_code,
                    kind,
                    str(household) if household else None,
                    [str(child)] if child else [],
                    absent=i % 12 in (6, 11),
                )
            )
        return plan

    def household(
        self, actor: Actor, pharmacy_id: UUID, social_worker: UUID, i: int
    ) -> tuple[UUID, UUID]:
        """A household with one child under 16 who has a social worker: (household, child)."""
        household = households_service.create_household(
            self.uow,
            actor=actor,
            address=f"{i + 1} Loadtown Road",
            postcode="LT1 1AA",
            pharmacy_id=pharmacy_id,
            now=self.then,
        )
        child = household_children.add_child(
            self.uow,
            actor=actor,
            household_id=household.id,
            name="L.C.",
            date_of_birth=self.today - timedelta(days=365 * 6),
            protection_status="child_in_need" if i % 4 == 0 else "none",
            social_worker_id=social_worker,
            lives_from=None,
            today=self.today,
            now=self.then,
            policy=self.settings.policy,
        )
        return household.id, child.id

    def patient(
        self,
        actor: Actor,
        pharmacy_id: UUID,
        household: UUID | None,
        key_worker: UUID,
        prescriber: UUID,
        i: int,
    ) -> Patient:
        return patients_service.register_patient(
            self.uow,
            actor=actor,
            given_name="Loadtest",
            family_name=f"Person{i:03d}-{uuid.uuid4().hex[:4]}",
            date_of_birth=date(1975 + i % 25, 1 + i % 12, 1 + i % 28),
            nhs_number=next(self._nhs),
            pharmacy_id=pharmacy_id,
            household_id=household,
            key_worker_id=key_worker,
            prescriber_id=prescriber,
            today=self.today,
            now=self.then,
        )

    def prescribe(
        self,
        actor: Actor,
        checker: Actor,
        patient_id: UUID,
        prescriber: UUID,
        kind: str,
        i: int,
    ) -> None:
        """A 14-day prescription starting today, transcribed and second-checked."""
        policy = self.settings.policy
        prescription, _ = transcription.transcribe(
            self.uow,
            actor=actor,
            data=transcription.PrescriptionInput(
                patient_id=patient_id,
                prescriber_id=prescriber,
                draft=_draft(30 + 5 * (i % 7), self.today, supervised=kind != "take_home"),
                last_dose=transcription.LastDoseInput(None, "induction"),
            ),
            policy=policy,
            today=self.today,
            now=self.then,
        )
        verification.verify(
            self.uow,
            actor=checker,
            prescription_id=prescription.id,
            policy=policy,
            today=self.today,
            now=self.then,
        )


def _kind(i: int) -> str:
    """Most patients take a supervised dose; some live with a child; some take doses home."""
    if i % 8 == 3:
        return "take_home"
    if i % 8 in (1, 6):
        return "household_supervised"
    return "supervised"


def _draft(
    mg: int, start: date, *, supervised: bool, days: int = 14
) -> intake_terms.PrescriptionDraft:
    total = mg * days
    how = "supervised consumption every day" if supervised else "collect daily to take home"
    return intake_terms.PrescriptionDraft(
        product_code=PRODUCT,
        daily_dose_mg=Decimal(mg),
        form_type="FP10MDA",
        written_on=start - timedelta(days=2),
        start_on=start,
        end_on=start + timedelta(days=days - 1),
        total_quantity=Decimal(total),
        total_quantity_words=number_to_words(total),
        supervised_days=EVERY_DAY if supervised else frozenset(),
        collection_days=EVERY_DAY,
        wording=intake_terms.Wording(
            supervise_on_collection=supervised, consult_after_3_missed=True
        ),
        direction_text=f"{mg}mg ({mg}ml) daily, {how}.",
    )


def build(
    uow: UnitOfWork,
    settings: Settings,
    *,
    now: datetime,
    today: date,
    hooks: Hooks,
    pharmacies: int,
    patients: int,
) -> Plan:
    """Pharmacies, staff, contacts, households and patients with today's doses due."""
    seeder = Seeder(uow, settings, now, today, hooks)
    social_worker = seeder.contact("social_worker", "social-worker")
    # The last pharmacy is new: no stock receipt entered yet, so every supply there takes the
    # register below zero and its terminals all touch the day's one negative-balance alert
    # (issue 16 #14: the lock order under that contention).
    branches = [
        seeder.pharmacy(i, social_worker, patients, stocked=pharmacies == 1 or i < pharmacies - 1)
        for i in range(pharmacies)
    ]
    return Plan(today.isoformat(), PRODUCT, branches, seeder.destinations)
