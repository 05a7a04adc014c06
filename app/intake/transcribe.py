"""Transcription: a prescription enters the pharmacy as written, and waits for a second
pharmacist's check before anything can be supplied against it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from uuid import UUID

from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import SAFETY_ACTS, require_role
from app.auth.roles import Role
from app.config import PolicySettings
from app.contacts.models import Contact, ContactKind
from app.db import UnitOfWork
from app.dosing import records as dosing_records
from app.errors import Conflict, InvalidInput, NotFound, Refused
from app.intake.context import findings, intake_context, intake_policy, raise_closed_day_alerts
from app.patients import repository as patients_repository
from app.prescriptions import dose_plan, intake_terms, repository, rules
from app.prescriptions import schedule as rx_schedule
from app.prescriptions.models import Prescription, Status
from app.prescriptions.products import PRODUCTS
from app.safeguarding import rules as safeguarding_rules
from app.safeguarding import service as safeguarding_service

TRANSCRIBERS = {Role.PHARMACIST, Role.TECHNICIAN}


@dataclass(frozen=True, slots=True)
class PrescriptionInput:
    """The form as transcribed: any element may be missing, and the intake rules say which."""

    patient_id: UUID
    prescriber_id: UUID
    draft: intake_terms.PrescriptionDraft
    supersedes_id: UUID | None = None
    # The last dose taken before this pharmacy's record, when the patient has none here.
    last_dose: LastDoseInput | None = None


@dataclass(frozen=True, slots=True)
class LastDoseInput:
    taken_on: date | None
    source: str
    detail: str = ""


def transcribe(
    uow: UnitOfWork,
    *,
    actor: Actor,
    data: PrescriptionInput,
    policy: PolicySettings,
    today: date,
    now: datetime,
) -> tuple[Prescription, list[intake_terms.ScheduledDose]]:
    """Enter a prescription as written; it waits for a second pharmacist's check before supply.

    Every intake rule runs; any block refuses the whole form (422 with every code at once) and
    nothing is written.
    """
    require_role(actor, TRANSCRIBERS, "transcribe prescriptions")
    with uow:
        session = uow.session
        patient = patients_repository.load_visible(session, actor, data.patient_id)
        if actor.pharmacy_id != patient.pharmacy_id:
            raise NotFound("patient", data.patient_id)
        prescriber = session.get(Contact, data.prescriber_id)
        if prescriber is None:
            raise NotFound("prescriber contact", data.prescriber_id)
        if prescriber.kind != ContactKind.PRESCRIBER:
            raise InvalidInput("prescriber_id", "contact_kind", "must name a prescriber contact")
        draft = data.draft
        if not (draft.prescriber_address or "").strip() and prescriber.address:
            # Not typed from the form: the prescriber contact's address (the same person).
            draft = replace(draft, prescriber_address=prescriber.address)
        product = PRODUCTS.get(draft.product_code)
        if data.last_dose is not None and product is not None:
            if actor.role not in SAFETY_ACTS["record_last_dose"]:
                raise InvalidInput(
                    "last_dose",
                    "pharmacist_only",
                    "only a pharmacist may record the last dose taken; leave it out and ask one",
                )
            dosing_records.check_last_dose(
                product.drug,
                data.last_dose.taken_on,
                data.last_dose.source,
                today,
            )
        decision = rules.check_intake(
            draft,
            intake_context(
                session,
                patient=patient,
                product=product,
                today=today,
                last_dose_given=data.last_dose is not None,
            ),
            repository.calendar_for(session, patient.pharmacy_id),
            intake_policy(policy),
        )
        if not decision.accepted:
            if any(
                f.code == intake_terms.Code.CLOSED_DAY_NEEDS_AMENDED_PRESCRIPTION
                for f in decision.blocks
            ):
                # Only the prescriber can fix it, so they hear now, whatever else is wrong.
                for event in safeguarding_rules.closed_day_events(
                    closed_dose_days=sum(
                        len(f.dates) or 1
                        for f in decision.blocks
                        if f.code == intake_terms.Code.CLOSED_DAY_NEEDS_AMENDED_PRESCRIPTION
                    )
                ):
                    safeguarding_service.raise_alert(
                        session,
                        event,
                        actor=actor,
                        pharmacy_id=patient.pharmacy_id,
                        patient_id=patient.id,
                        household_id=patient.household_id,
                        day=today,
                        now=now,
                        routing=policy.alert_routing,
                    )
                audit_service.record(
                    session,
                    actor,
                    "prescription.refused",
                    entity="patient",
                    entity_id=patient.id,
                    at=now,
                    pharmacy_id=patient.pharmacy_id,
                    facts={"blocks": [str(f.code) for f in decision.blocks]},
                )
                uow.commit()  # the request to the prescriber is part of the record
            raise Refused(
                "The prescription cannot be accepted: "
                + "; ".join(f.message for f in decision.blocks),
                code="prescription_refused",
                blocks=findings(decision.blocks),
                warnings=findings(decision.warnings),
            )
        # Accepted: the intake rules have checked every element of the form is present.
        if (
            draft.daily_dose_mg is None
            or draft.form_type is None
            or draft.written_on is None
            or draft.start_on is None
            or draft.end_on is None
            or draft.total_quantity is None
            or not draft.total_quantity_words
            or not draft.direction_text
        ):
            raise RuntimeError("intake accepted a form with a missing element")
        overlap = repository.overlapping(
            session,
            patient_id=patient.id,
            product=draft.product_code,
            start_on=draft.start_on,
            end_on=draft.end_on,
        )
        if overlap and data.supersedes_id not in {p.id for p in overlap}:
            raise Conflict(
                "Another prescription for this medicine covers some of the same days; say which "
                "one this replaces (supersedes_id) so no day is supplied twice",
                code="overlapping_prescription",
                overlapping=[str(p.id) for p in overlap],
            )
        if data.supersedes_id and not overlap:
            raise InvalidInput(
                "supersedes_id", "overlaps", "names a prescription this one does not overlap"
            )
        prescription = Prescription(
            patient_id=patient.id,
            pharmacy_id=patient.pharmacy_id,
            prescriber_id=prescriber.id,
            prescriber_address=draft.prescriber_address,
            product=draft.product_code,
            daily_dose_mg=draft.daily_dose_mg,
            form_type=draft.form_type,
            written_on=draft.written_on,
            start_on=draft.start_on,
            end_on=draft.end_on,
            total_quantity=draft.total_quantity,
            total_quantity_words=draft.total_quantity_words,
            supervised_days=sorted(draft.supervised_days),
            collection_days=sorted(draft.collection_days),
            wording_closed_day_prior=draft.wording.closed_day_prior,
            wording_missed_remaining=draft.wording.missed_remaining,
            wording_consult_after_3_missed=draft.wording.consult_after_3_missed,
            wording_supervise_on_collection=draft.wording.supervise_on_collection,
            wording_separate_containers=draft.wording.separate_containers,
            direction_text=draft.direction_text,
            dose_parts=dose_plan.parts_json(draft.dose_parts),
            dose_steps=dose_plan.steps_json(draft.steps),
            status=Status.PENDING_CHECK,
            warnings=findings(decision.warnings),
            supersedes_id=data.supersedes_id,
            entered_by_id=actor.id,
            entered_at=now,
        )
        session.add(prescription)
        session.flush()
        if data.last_dose is not None and product is not None:
            dosing_records.add_last_dose(
                session,
                actor,
                patient,
                drug=product.drug,
                taken_on=data.last_dose.taken_on,
                source=data.last_dose.source,
                detail=data.last_dose.detail,
                now=now,
            )
        _, problems = rx_schedule.generate_schedule(
            draft, repository.calendar_for(session, patient.pharmacy_id)
        )
        raise_closed_day_alerts(
            session,
            problems,
            actor=actor,
            prescription=prescription,
            household_id=patient.household_id,
            today=today,
            now=now,
            policy=policy,
        )
        audit_service.record(
            session,
            actor,
            "prescription.transcribed",
            entity="prescription",
            entity_id=prescription.id,
            at=now,
            pharmacy_id=prescription.pharmacy_id,
            facts={
                "patient_id": patient.id,
                "product": draft.product_code,
                "daily_dose_mg": draft.daily_dose_mg,
                "warnings": [str(w.code) for w in decision.warnings],
                "supersedes_id": data.supersedes_id,
            },
        )
        uow.commit()
        return prescription, list(decision.schedule)
