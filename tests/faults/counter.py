"""Shared by the fault tests that drive a real server: a pharmacy open every day with patients
whose supervised dose is due today (by the real clock, as the served app uses), and helpers to
call the counter over HTTP. Starting and stopping the server is in tests/processes.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import func, select

from app.actor import SYSTEM
from app.audit import service as audit_service
from app.audit.models import AuditEvent
from app.auth import service as auth_service
from app.auth.service import actor_for
from app.clock import SystemClock, local_date
from app.config import AuthSettings, Settings
from app.contacts import service as contacts_service
from app.db import UnitOfWork, make_engine, make_session_factory
from app.intake import transcribe as transcription
from app.intake import verify as verification
from app.patients import service as patients_service
from app.pharmacies import service as pharmacies_service
from app.prescriptions import intake_terms
from app.prescriptions.words import number_to_words
from app.register import chain as register_chain
from tests.factories import PASSWORD, nhs_number, unique

API = "/api/v1"
PRODUCT = "methadone-1mg-ml"
MG = 30  # at the first-dose limit: no warning to acknowledge


@dataclass
class Counter:
    url: str
    pharmacy_id: UUID
    pharmacist: str
    patient_ids: list[UUID]

    @property
    def today(self) -> str:
        return local_date(SystemClock().now(), "Europe/London").isoformat()


def settings_for(url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        database_url=url,
        auth=AuthSettings(password_profile="cheapest"),
    )


def seed_counter(url: str, *, patients: int) -> Counter:
    """A pharmacy open all week, two pharmacists, and `patients` patients each on a verified
    daily supervised prescription that starts today."""
    settings = settings_for(url)
    engine = make_engine(url)
    uow = UnitOfWork(make_session_factory(engine))
    now = SystemClock().now()
    today = local_date(now, settings.timezone)
    pharmacy = pharmacies_service.create_pharmacy(
        uow,
        actor=SYSTEM,
        name=unique("Fault pharmacy "),
        ods_code=unique("F")[:8].upper(),
        address="1 Fault Parade",
        phone="01632 960999",
        open_weekdays=list(range(7)),
        now=now,
    )
    contacts = {}
    for kind in ("prescriber", "key_worker"):
        contact, _ = contacts_service.create_contact(
            uow,
            actor=SYSTEM,
            name=unique(kind),
            organisation="Fault Drug Service",
            address="1 Fault Lane, Faulttown FT1 1AA",
            kind=kind,
            email=f"{unique(kind)}@example.org",
            webhook_url=None,
            allowed_webhook_hosts=frozenset(),
            allow_http_webhooks=False,
            now=now,
        )
        contacts[kind] = contact.id
    pharmacists = []
    for _ in range(2):
        username = unique("fph")
        pharmacists.append(
            auth_service.add_user(
                uow,
                actor=SYSTEM,
                username=username,
                password=PASSWORD,
                role="pharmacist",
                display_name=username,
                pharmacy_id=pharmacy.id,
                now=now,
                settings=settings.auth,
            )
        )
    transcriber, checker = (actor_for(user) for user in pharmacists)
    patient_ids = []
    for i in range(patients):
        patient = patients_service.register_patient(
            uow,
            actor=SYSTEM,
            given_name="Fault",
            family_name=f"Patient{i}",
            date_of_birth=today.replace(year=today.year - 40) - timedelta(days=i),
            nhs_number=nhs_number(),
            pharmacy_id=pharmacy.id,
            household_id=None,
            key_worker_id=contacts["key_worker"],
            prescriber_id=contacts["prescriber"],
            today=today,
            now=now,
        )
        days = 14
        draft = intake_terms.PrescriptionDraft(
            product_code=PRODUCT,
            daily_dose_mg=Decimal(MG),
            form_type="FP10MDA",
            written_on=today,
            start_on=today,
            end_on=today + timedelta(days=days - 1),
            total_quantity=Decimal(MG * days),
            total_quantity_words=number_to_words(MG * days),
            supervised_days=frozenset(range(7)),
            collection_days=frozenset(range(7)),
            wording=intake_terms.Wording(
                closed_day_prior=True, supervise_on_collection=True, consult_after_3_missed=True
            ),
            direction_text=f"{MG}mg ({MG}ml) daily. Supervised consumption every day.",
        )
        prescription, _ = transcription.transcribe(
            uow,
            actor=transcriber,
            data=transcription.PrescriptionInput(
                patient_id=patient.id,
                prescriber_id=contacts["prescriber"],
                draft=draft,
                last_dose=transcription.LastDoseInput(None, "induction"),
            ),
            policy=settings.policy,
            today=today,
            now=now,
        )
        verification.verify(
            uow,
            actor=checker,
            prescription_id=prescription.id,
            policy=settings.policy,
            today=today,
            now=now,
        )
        patient_ids.append(patient.id)
    engine.dispose()
    return Counter(url, pharmacy.id, pharmacists[0].username, patient_ids)


def handover_body(patient_id: UUID, today: str) -> dict[str, Any]:
    return {
        "patient_id": str(patient_id),
        "date": today,
        "outcome": "supervised",
        "id_checked": True,
        "intoxicated": False,
    }


def sign_in(base: str, username: str) -> dict[str, str]:
    response = httpx.post(
        f"{base}{API}/auth/token", data={"username": username, "password": PASSWORD}, timeout=30
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def audit_count(uow: UnitOfWork, action: str, patient_id: UUID) -> int:
    with uow:
        return int(
            uow.session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == action, AuditEvent.entity_id == str(patient_id))
            )
            or 0
        )


def assert_chains_verify(uow: UnitOfWork, pharmacy_id: UUID) -> None:
    with uow:
        audit = audit_service.verify(uow.session)
        register = register_chain.verify_chain(uow.session, pharmacy_id, PRODUCT)
    assert audit.ok, audit.reason
    assert register.ok, register.reason
