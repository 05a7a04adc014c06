"""Reading the injection log: a patient's courses with their status in words (the API and the
patient's injection page), and the injections due tomorrow, today or overdue that the counter's
page shows each morning."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from uuid import UUID

from sqlalchemy import select

from app.actor import Actor
from app.auth import service as auth_service
from app.auth.policy import pharmacy_scope
from app.config import PolicySettings
from app.contacts.models import Contact
from app.db import UnitOfWork
from app.injections import records, rules
from app.injections.products import PRODUCTS
from app.patients import repository as patients_repository
from app.patients.models import Patient


@dataclass(frozen=True, slots=True)
class CourseView:
    record: records.CourseRecord
    status: rules.Status
    product_name: str
    prescriber: str


@dataclass(frozen=True, slots=True)
class PatientInjections:
    patient: Patient
    courses: list[CourseView]
    who: dict[UUID, str]  # user id -> display name (who recorded, who stopped)


def view(
    record: records.CourseRecord, *, today: date, policy: PolicySettings, prescriber: str = ""
) -> CourseView:
    return CourseView(
        record,
        record.status(today=today, policy=policy),
        PRODUCTS[record.course.product].name,
        prescriber,
    )


def patient_injections(
    uow: UnitOfWork, *, actor: Actor, patient_id: UUID, today: date, policy: PolicySettings
) -> PatientInjections:
    """The patient's courses, newest first, each with its doses and its status today."""
    with uow:
        session = uow.session
        patient = patients_repository.load_visible(session, actor, patient_id)
        found = records.for_patient(session, patient.id)
        prescribers = dict(
            session.execute(
                select(Contact.id, Contact.name).where(
                    Contact.id.in_({r.course.prescriber_id for r in found})
                )
            ).all()
        )
        who = auth_service.display_names(
            session,
            {r.course.recorded_by_id for r in found}
            | {r.stop.stopped_by_id for r in found if r.stop}
            | {g.recorded_by_id for r in found for g in r.given},
        )
        return PatientInjections(
            patient,
            [
                view(
                    r,
                    today=today,
                    policy=policy,
                    prescriber=prescribers.get(r.course.prescriber_id, ""),
                )
                for r in found
            ],
            who,
        )


@dataclass(frozen=True, slots=True)
class DueRow:
    patient_id: UUID
    patient_name: str
    product_name: str
    dose_mg: int
    status: rules.Status
    today: date

    @property
    def heading(self) -> str:
        if self.status.state == rules.State.OVERDUE:
            return "Injection overdue"
        due = self.status.next_due
        if due is not None and due < self.today:
            return "Injection past its due date"
        return "Injection due today" if due == self.today else "Injection due tomorrow"


def due_at_counter(
    uow: UnitOfWork, *, actor: Actor, today: date, policy: PolicySettings
) -> list[DueRow]:
    """The caller's pharmacy's patients whose injection is due tomorrow, today or already (in
    its window, or overdue): the counter's reminder (nothing for a caller with no pharmacy)."""
    scope = pharmacy_scope(actor)
    if scope is None:
        return []
    tomorrow = today + timedelta(days=1)
    with uow:
        session = uow.session
        rows = []
        for record in records.running_at(session, scope, today):
            status = record.status(today=today, policy=policy)
            if status.next_due is None or status.next_due > tomorrow:
                continue
            rows.append((record, status))
        names = {
            p.id: f"{p.given_name} {p.family_name}"
            for p in session.scalars(
                select(Patient).where(Patient.id.in_({r.course.patient_id for r, _ in rows}))
            )
        }
        return sorted(
            (
                DueRow(
                    r.course.patient_id,
                    names.get(r.course.patient_id, ""),
                    PRODUCTS[r.course.product].name,
                    r.course.dose_mg,
                    s,
                    today,
                )
                for r, s in rows
            ),
            key=lambda row: (row.status.next_due or today, row.patient_name),
        )
