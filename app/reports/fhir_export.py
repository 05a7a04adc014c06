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

from app.actor import Actor
from app.audit import service as audit_service
from app.db import UnitOfWork
from app.dosing.models import InstalmentDay
from app.patients import repository as patients_repository
from app.pharmacies.models import Pharmacy
from app.reports import fhir
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
    return fhir.bundle(
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
            )
            for r in rows
        ],
        generated_at=now,
    )
