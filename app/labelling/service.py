"""Labels and print jobs. Jobs are queued inside the handover's transaction and printed after
it commits; a printer fault marks the job failed and loses nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import metrics
from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import require_role
from app.auth.roles import Role
from app.db import UnitOfWork
from app.errors import NotFound
from app.labelling import content
from app.labelling.models import JobState, Label, PrintJob
from app.patients import repository as patients_repository
from app.patients.models import Patient
from app.pharmacies.models import Pharmacy
from app.prescriptions.models import Prescription
from app.prescriptions.products import PRODUCTS
from devices import DeviceError, LabelError, LabelLine, LabelPrinter, make_label_code
from devices import Label as DeviceLabel

LABELLERS = {Role.PHARMACIST, Role.TECHNICIAN}


def facts_for(
    patient: Patient,
    pharmacy: Pharmacy,
    prescription: Prescription,
    dose_dates: Sequence[date],
    today: date,
    *,
    reprint: bool = False,
) -> content.LabelFacts:
    product = PRODUCTS.get(prescription.product)
    medicine = product.name if product else prescription.product
    return content.LabelFacts(
        patient_name=f"{patient.given_name} {patient.family_name}".strip(),
        pharmacy_name=pharmacy.name,
        pharmacy_address=pharmacy.address,
        pharmacy_phone=pharmacy.phone,
        supplied_on=today,
        medicine=medicine,
        strength_mg_per_ml=product.strength_mg_per_ml if product else None,
        dose_mg=Decimal(prescription.daily_dose_mg),
        dose_dates=tuple(dose_dates),
        directions=prescription.direction_text,
        cautionary_wording=tuple(product.cautionary_wording) if product else (),
        separate_containers=prescription.wording_separate_containers,
        reprint=reprint,
        danger=content.danger_for(
            product.drug if product else "this medicine",
            product.strength_mg_per_ml if product else None,
        ),
        strength_mg_per_unit=product.strength_mg_per_unit if product else None,
        unit=product.unit if product else "mL",
    )


def _as_json(lines: Sequence[content.Line]) -> list[dict[str, Any]]:
    return [
        {
            "text": line.text,
            "bold": line.bold,
            "centre": line.centre,
            "double_height": line.double_height,
        }
        for line in lines
    ]


def queue_for_handover(
    session: Session,
    *,
    actor: Actor,
    patient: Patient,
    prescription_id: UUID,
    handover_id: UUID,
    take_home_dates: Sequence[date],
    today: date,
    now: datetime,
    portions: Sequence[content.Portion] = (),
) -> list[PrintJob]:
    """Write the take-home labels and their print jobs in the handover's transaction.

    `take_home_dates` are the dose dates that leave the pharmacy with this handover (the
    supervised dose swallowed at the counter needs no label); the caller, dosing, owns the
    ledger rows, so labelling is given dates rather than reading dosing's model.

    Raises content.LabelRefused when a legal field is missing, which refuses the handover too:
    methadone does not leave the pharmacy without a lawful label.
    """
    take_home = sorted(take_home_dates)
    if not take_home and not portions:
        return []
    prescription = session.get(Prescription, prescription_id)
    # The supplying pharmacy is on the label: the counter's own, which is the guest pharmacy's
    # when it doses a patient staying nearby.
    pharmacy = session.get(Pharmacy, actor.pharmacy_id or patient.pharmacy_id)
    if prescription is None or pharmacy is None:
        raise NotFound("prescription", prescription_id)
    dates = take_home or sorted({portion.dose_date for portion in portions})
    facts = replace(
        facts_for(patient, pharmacy, prescription, dates, today), portions=tuple(portions)
    )
    groups = content.containers(facts)
    jobs = []
    for number, group in enumerate(groups, start=1):
        lines = content.container_lines(facts, group, number=number, of=len(groups))
        label = Label(
            handover_id=handover_id,
            patient_id=patient.id,
            pharmacy_id=pharmacy.id,
            dose_dates=[portion.dose_date.isoformat() for portion in group],
            lines=_as_json(lines),
            created_by_id=actor.id,
            created_at=now,
        )
        session.add(label)
        session.flush()
        job = PrintJob(label_id=label.id, state=JobState.QUEUED, created_at=now)
        session.add(job)
        jobs.append(job)
    session.flush()
    return jobs


def device_label(label: Label, columns: int) -> DeviceLabel:
    lines = tuple(
        LabelLine(
            text=line["text"],
            bold=line["bold"],
            centre=line["centre"],
            double_height=line["double_height"],
        )
        for line in label.lines
    )
    return DeviceLabel(
        lines=lines, barcode=make_label_code(label.id), columns=32 if columns == 32 else 48
    )


def job_read(job: PrintJob, label: Label, preview: str | None = None) -> dict[str, Any]:
    return {
        "job_id": str(job.id),
        "label_id": label.id,
        "code": make_label_code(label.id),
        "dose_dates": label.dose_dates,
        "state": job.state,
        "error": job.error,
        "printer": job.printer,
        "reprint": label.is_reprint,
        "preview": preview,
    }


def print_jobs(
    uow: UnitOfWork, printer: LabelPrinter, job_ids: Sequence[UUID], now: Callable[[], datetime]
) -> list[dict[str, Any]]:
    """Print queued jobs, outside any transaction; record each outcome in its own."""
    from devices import render_text

    results = []
    for job_id in job_ids:
        with uow:
            job = uow.session.get(PrintJob, job_id)
            if job is None:
                raise NotFound("print job", job_id)
            label = uow.session.get(Label, job.label_id)
            assert label is not None
            if job.state != JobState.QUEUED:  # a replayed request: printed (or failed) already
                results.append(job_read(job, label))
                continue
        error = None
        preview = None
        try:
            printable = device_label(label, printer.columns)
            preview = render_text(printable)
            printer.print_label(printable, job_id=str(job_id))
        except (DeviceError, LabelError, ValueError) as exc:
            error = str(exc)[:500] or type(exc).__name__
            metrics.PRINTER_FAULTS.inc()
        with uow:
            job = uow.session.get(PrintJob, job_id)
            assert job is not None
            job.attempts += 1
            job.printer = printer.url
            job.state = JobState.FAILED if error else JobState.PRINTED
            job.error = error
            job.printed_at = None if error else now()
            uow.commit()
            results.append(job_read(job, label, preview))
    return results


def reprint(
    uow: UnitOfWork, *, actor: Actor, label_id: int, today: date, now: datetime
) -> PrintJob:
    """A new label marked REPRINT, with its own job; the reprint is audited."""
    require_role(actor, LABELLERS, "reprint labels")
    with uow:
        session = uow.session
        original = session.get(Label, label_id)
        if original is None:
            raise NotFound("label", label_id)
        patient = patients_repository.load_visible(session, actor, original.patient_id)
        if patient.pharmacy_id != actor.pharmacy_id:
            raise NotFound("label", label_id)
        lines = list(original.lines)
        if not lines or lines[0]["text"] != "** REPRINT **":
            lines.insert(
                0, {"text": "** REPRINT **", "bold": True, "centre": True, "double_height": False}
            )
        label = Label(
            handover_id=original.handover_id,
            patient_id=original.patient_id,
            pharmacy_id=original.pharmacy_id,
            dose_dates=original.dose_dates,
            lines=lines,
            reprint_of_id=original.reprint_of_id or original.id,
            is_reprint=True,
            created_by_id=actor.id,
            created_at=now,
        )
        session.add(label)
        session.flush()
        job = PrintJob(label_id=label.id, state=JobState.QUEUED, created_at=now)
        session.add(job)
        session.flush()
        audit_service.record(
            session,
            actor,
            "label.reprinted",
            entity="patient",
            entity_id=patient.id,
            at=now,
            pharmacy_id=patient.pharmacy_id,
            facts={"label_id": label.id, "of": label.reprint_of_id},
        )
        uow.commit()
        return job


def get_label(
    uow: UnitOfWork, *, actor: Actor, label_id: int, now: datetime
) -> tuple[Label, list[PrintJob]]:
    """A label as printed (it names the patient), with its print jobs; the read is logged."""
    with uow:
        label = uow.session.get(Label, label_id)
        if label is None:
            raise NotFound("label", label_id)
        try:
            patient = patients_repository.load_visible(uow.session, actor, label.patient_id)
        except NotFound:
            raise NotFound("label", label_id) from None
        jobs = list(
            uow.session.scalars(
                select(PrintJob).where(PrintJob.label_id == label.id).order_by(PrintJob.created_at)
            )
        )
        audit_service.record(
            uow.session,
            actor,
            "label.viewed",
            entity="patient",
            entity_id=patient.id,
            at=now,
            pharmacy_id=patient.pharmacy_id,
            facts={"label_id": label.id},
        )
        uow.commit()
        return label, jobs
