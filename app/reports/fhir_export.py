"""The FHIR export use case (`fhir_export`): read one patient's decided dose days in a period,
log the read, and hand the rows to the pure serializer `app.reports.fhir`, which knows nothing
of the database.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit_service
from app.db import UnitOfWork
from app.dosing.exception_models import DoseException, DoseReplacement
from app.dosing.models import InstalmentDay
from app.injections import records as injection_records
from app.injections.products import PRODUCTS as INJECTION_PRODUCTS
from app.injections.products import SITES as INJECTION_SITES
from app.patients import repository as patients_repository
from app.pharmacies.models import Pharmacy
from app.prescriptions import dose_plan
from app.reports import fhir, fhir_exceptions, fhir_injections
from app.reports.period import FINAL, check_period


def fhir_export(
    uow: UnitOfWork, *, actor: Actor, patient_id: UUID, start: date, end: date, now: datetime
) -> dict[str, Any]:
    """The patient's dispensing record in the period as a FHIR R4 Bundle (the read is logged)."""
    check_period(start, end)
    with uow:
        session = uow.session
        patient = patients_repository.load_visible(session, actor, patient_id)
        pharmacy = session.get(Pharmacy, patient.pharmacy_id)
        assert pharmacy is not None
        rows = list(
            session.scalars(
                select(InstalmentDay)
                .where(
                    InstalmentDay.patient_id == patient.id,
                    InstalmentDay.dose_date >= start,
                    InstalmentDay.dose_date <= end,
                    InstalmentDay.state.in_(FINAL),
                )
                .order_by(InstalmentDay.dose_date)
            )
        )
        exceptions = _exceptions(session, patient.id, start, end)
        injections = _injections(session, patient.id, start, end)
        audit_service.record(
            session,
            actor,
            "patient.fhir_exported",
            entity="patient",
            entity_id=patient.id,
            at=now,
            pharmacy_id=patient.pharmacy_id,
            facts={"from": start, "to": end, "days": len(rows)},
        )
        uow.commit()
    exported = fhir.bundle(
        fhir.FhirPatient(
            id=str(patient.id),
            nhs_number=patient.nhs_number,
            given_name=patient.given_name,
            family_name=patient.family_name,
            birth_date=patient.date_of_birth,
        ),
        fhir.FhirPharmacy(id=str(pharmacy.id), ods_code=pharmacy.ods_code, name=pharmacy.name),
        [
            fhir.DoseDay(
                id=str(r.id),
                prescription_id=str(r.prescription_id),
                product=r.product,
                dose_date=r.dose_date,
                mode=r.mode,
                dose_mg=Decimal(r.dose_mg),
                state=r.state,
                recorded_at=r.recorded_at,
                handover_id=str(r.handover_id) if r.handover_id else None,
                collector=r.collector,
                reason=r.reason,
                parts=tuple(
                    (part.when, part.dose_mg, part.supervised)
                    for part in dose_plan.parts_of(r.parts)
                ),
            )
            for r in rows
        ],
        generated_at=now,
    )
    exported["entry"] += fhir_exceptions.entries(
        exceptions, patient_id=str(patient.id), pharmacy_id=str(pharmacy.id)
    )
    exported["entry"] += fhir_injections.entries(injections, patient_id=str(patient.id))
    return exported


def _injections(
    session: Session, patient_id: UUID, start: date, end: date
) -> list[fhir_injections.InjectionGiven]:
    """The long-acting injections given in the period (issue 20 §3)."""
    return [
        fhir_injections.InjectionGiven(
            id=str(given.id),
            course_id=str(course.id),
            product=course.product,
            product_name=INJECTION_PRODUCTS[course.product].name,
            given_at=given.given_at,
            dose_mg=given.dose_mg,
            site=INJECTION_SITES.get(given.site, given.site),
            batch=given.batch,
            expires_on=given.expires_on,
            given_by=given.given_by,
            given_by_role=given.given_by_role,
            where="this pharmacy" if given.place == "here" else given.place_name,
        )
        for given, course in injection_records.given_between(session, patient_id, start, end)
    ]


def _exceptions(
    session: Session, patient_id: UUID, start: date, end: date
) -> list[fhir_exceptions.ExceptionRecord]:
    """The patient's dose exceptions for doses in the period, each with its replacement and
    the handover that had supplied the dose."""
    found = []
    for exception, replacement in session.execute(
        select(DoseException, DoseReplacement)
        .outerjoin(DoseReplacement, DoseReplacement.exception_id == DoseException.id)
        .where(
            DoseException.patient_id == patient_id,
            DoseException.dose_date >= start,
            DoseException.dose_date <= end,
        )
    ):
        handover_id: object = session.scalar(
            select(InstalmentDay.handover_id).where(
                InstalmentDay.patient_id == patient_id,
                InstalmentDay.product == exception.product,
                InstalmentDay.dose_date == exception.dose_date,
            )
        )
        if exception.replacement_id is not None:  # it was the replacement that was supplied
            handover_id = f"replacement/{exception.replacement_id}"
        found.append(
            fhir_exceptions.ExceptionRecord(
                id=str(exception.id),
                prescription_id=str(exception.prescription_id),
                product=exception.product,
                kind=exception.kind,
                dose_dates=tuple(date.fromisoformat(d) for d in exception.dose_dates),
                dose_mg=Decimal(exception.dose_mg),
                volume_ml=Decimal(exception.volume_ml) if exception.volume_ml is not None else None,
                note=exception.note,
                recorded_at=exception.recorded_at,
                handover_id=str(handover_id) if handover_id else None,
                replacement=_replacement(replacement) if replacement else None,
                of_replacement=exception.replacement_id is not None,
            )
        )
    return found


def _replacement(row: DoseReplacement) -> fhir_exceptions.ReplacementRecord:
    return fhir_exceptions.ReplacementRecord(
        id=str(row.id),
        mode=row.mode,
        dose_mg=Decimal(row.dose_mg),
        volume_ml=Decimal(row.volume_ml) if row.volume_ml is not None else None,
        dose_dates=tuple(date.fromisoformat(d) for d in row.dose_dates),
        authorised_by=row.authorised_by,
        authorised_at=row.authorised_at,
        authorised_how=row.authorised_how,
        supplied_at=row.supplied_at,
    )
