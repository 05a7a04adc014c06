"""Use cases for instalment prescriptions: transcribe, second-person check, cancel, release,
and keep schedules right when the pharmacy's calendar changes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import SAFETY_ACTS, require_role, require_safety_act
from app.auth.roles import Role
from app.config import PolicySettings
from app.contacts.models import Contact, ContactKind
from app.db import UnitOfWork
from app.dosing import facts as dosing_facts
from app.dosing import household as dosing_household
from app.dosing import records as dosing_records
from app.dosing import rules as dosing_rules
from app.dosing.models import DoseState, InstalmentDay, Release
from app.errors import Conflict, InvalidInput, NotFound, PermissionDenied, Refused
from app.households.service import current_children
from app.patients import service as patients_service
from app.patients.models import Patient
from app.pharmacies import service as pharmacies_service
from app.pharmacies.models import Closure, Pharmacy
from app.prescriptions import rules
from app.prescriptions.models import Prescription, Status
from app.safeguarding import rules as safeguarding_rules
from app.safeguarding import service as safeguarding_service

TRANSCRIBERS = {Role.PHARMACIST, Role.TECHNICIAN}
LIVE = (Status.PENDING_CHECK, Status.ACTIVE, Status.SUSPENDED)


def intake_policy(policy: PolicySettings) -> rules.IntakePolicy:
    return rules.IntakePolicy(
        high_dose_mg=policy.high_dose_mg,
        large_increase_mg=policy.large_increase_mg,
        first_dose_mg=policy.first_dose_mg,
    )


def calendar_for(session: Session, pharmacy_id: UUID) -> rules.Calendar:
    pharmacy = session.get(Pharmacy, pharmacy_id)
    assert pharmacy is not None
    closures = session.scalars(select(Closure.closed_on).where(Closure.pharmacy_id == pharmacy_id))
    return rules.Calendar(
        open_weekdays=frozenset(pharmacy.open_weekdays), closures=frozenset(closures)
    )


# The rules name the draft's fields; the API names two of them differently.
API_FIELDS = {"product_code": "product", "total_quantity": "total_quantity_ml"}


def findings(items: Sequence[rules.Finding]) -> list[dict[str, Any]]:
    return [
        {
            "code": str(f.code),
            "message": f.message,
            "field": API_FIELDS.get(f.field, f.field) if f.field else None,
            "source": f.source,
            **({"dates": [d.isoformat() for d in f.dates]} if f.dates else {}),
        }
        for f in items
    ]


def draft_of(p: Prescription) -> rules.PrescriptionDraft:
    return rules.PrescriptionDraft(
        product_code=p.product,
        daily_dose_mg=p.daily_dose_mg,
        form_type=p.form_type,
        written_on=p.written_on,
        start_on=p.start_on,
        end_on=p.end_on,
        total_quantity=p.total_quantity,
        total_quantity_words=p.total_quantity_words,
        supervised_days=frozenset(p.supervised_days),
        collection_days=frozenset(p.collection_days),
        wording=rules.Wording(**p.wording),
        direction_text=p.direction_text,
        prescriber_address=p.prescriber_address,
    )


def load_visible(
    session: Session, actor: Actor, prescription_id: UUID, *, for_update: bool = False
) -> Prescription:
    query = select(Prescription).where(Prescription.id == prescription_id)
    if for_update:
        query = query.with_for_update()
    prescription = session.scalar(query)
    if prescription is None:
        raise NotFound("prescription", prescription_id)
    try:
        patients_service.load_visible(session, actor, prescription.patient_id)
    except NotFound:
        raise NotFound("prescription", prescription_id) from None
    return prescription


def _context(
    session: Session,
    *,
    patient: Patient,
    product: rules.Product | None,
    today: date,
    exclude: UUID | None = None,
    last_dose_given: bool = False,
) -> rules.IntakeContext:
    """The patient's history the intake rules need: previous dose, co-prescribed
    benzodiazepine, pregnancy, and whether the last dose taken is known."""
    patient_id = patient.id
    others = list(
        session.scalars(
            select(Prescription)
            .where(Prescription.patient_id == patient_id, Prescription.id != exclude)
            .order_by(Prescription.start_on.desc())
        )
    )
    previous = next(
        (
            p.daily_dose_mg
            for p in others
            if product is not None and p.product == product.code and p.status != Status.CANCELLED
        ),
        None,
    )
    benzo = False
    if product is not None:
        for other in others:
            other_product = rules.PRODUCTS.get(other.product)
            if (
                other.status in (Status.ACTIVE, Status.PENDING_CHECK)
                and other_product
                and (
                    (other_product.opioid and product.benzodiazepine)
                    or (other_product.benzodiazepine and product.opioid)
                )
            ):
                benzo = True
    known = last_dose_given
    if not known and product is not None:
        lapse = dosing_facts.lapses(session, [(patient_id, product.code)], through=today)
        known = lapse[(patient_id, product.code)].last_dose is not None
    return rules.IntakeContext(
        today=today,
        previous_daily_dose_mg=previous,
        benzodiazepine_coprescribed=benzo,
        pregnant=patient.pregnant,
        last_dose_known=known,
    )


@dataclass(frozen=True, slots=True)
class PrescriptionInput:
    """The form as transcribed: any element may be missing, and the intake rules say which."""

    patient_id: UUID
    prescriber_id: UUID
    draft: rules.PrescriptionDraft
    supersedes_id: UUID | None = None
    # The last dose taken before this pharmacy's record, when the patient has none here.
    last_dose: LastDoseInput | None = None


@dataclass(frozen=True, slots=True)
class LastDoseInput:
    taken_on: date | None
    source: str
    detail: str = ""


def _raise_closed_day_alerts(
    session: Session,
    problems: Sequence[rules.Finding],
    *,
    actor: Actor,
    prescription: Prescription,
    household_id: UUID | None,
    today: date,
    now: datetime,
    policy: PolicySettings,
    no_day_left: int = 0,
) -> int:
    """Ask the prescriber to amend: for doses stranded on closed days (`problems`), and for
    `no_day_left` doses whose prior open day has already passed. Returns the alerts raised."""
    closed = [f for f in problems if f.code == rules.Code.CLOSED_DAY_NEEDS_AMENDED_PRESCRIPTION]
    stranded = sum(len(f.dates) or 1 for f in closed) + no_day_left
    events = safeguarding_rules.closed_day_events(closed_dose_days=stranded)
    for event in events:
        safeguarding_service.raise_alert(
            session,
            event,
            actor=actor,
            pharmacy_id=prescription.pharmacy_id,
            patient_id=prescription.patient_id,
            household_id=household_id,
            day=today,
            now=now,
            routing=policy.alert_routing,
        )
    return len(events)


def transcribe(
    uow: UnitOfWork,
    *,
    actor: Actor,
    data: PrescriptionInput,
    policy: PolicySettings,
    today: date,
    now: datetime,
) -> tuple[Prescription, list[rules.ScheduledDose]]:
    """Enter a prescription as written; it waits for a second pharmacist's check before supply.

    Every intake rule runs; any block refuses the whole form (422 with every code at once) and
    nothing is written.
    """
    require_role(actor, TRANSCRIBERS, "transcribe prescriptions")
    with uow:
        session = uow.session
        patient = patients_service.load_visible(session, actor, data.patient_id)
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
        product = rules.PRODUCTS.get(draft.product_code)
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
            _context(
                session,
                patient=patient,
                product=product,
                today=today,
                last_dose_given=data.last_dose is not None,
            ),
            calendar_for(session, patient.pharmacy_id),
            intake_policy(policy),
        )
        if not decision.accepted:
            if any(
                f.code == rules.Code.CLOSED_DAY_NEEDS_AMENDED_PRESCRIPTION for f in decision.blocks
            ):
                # Only the prescriber can fix it, so they hear now, whatever else is wrong.
                for event in safeguarding_rules.closed_day_events(
                    closed_dose_days=sum(
                        len(f.dates) or 1
                        for f in decision.blocks
                        if f.code == rules.Code.CLOSED_DAY_NEEDS_AMENDED_PRESCRIPTION
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
        overlap = _overlapping(
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
        _, problems = rules.generate_schedule(draft, calendar_for(session, patient.pharmacy_id))
        _raise_closed_day_alerts(
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


def _overlapping(
    session: Session,
    *,
    patient_id: UUID,
    product: str,
    start_on: date,
    end_on: date,
    exclude: UUID | None = None,
) -> list[Prescription]:
    query = select(Prescription).where(
        Prescription.patient_id == patient_id,
        Prescription.product == product,
        Prescription.status.in_(LIVE),
        Prescription.start_on <= end_on,
        Prescription.end_on >= start_on,
    )
    if exclude is not None:
        query = query.where(Prescription.id != exclude)
    return list(session.scalars(query))


def _rows_for(
    prescription: Prescription,
    household_id: UUID | None,
    schedule: Sequence[rules.ScheduledDose],
    *,
    today: date,
    now: datetime,
) -> list[InstalmentDay]:
    """The ledger rows for a schedule checked on `today`.

    A day whose collection had already passed when the prescription was checked could never
    have been supplied: it is written as `not_dispensed` (no dose was taken, so it counts
    toward the loss-of-tolerance threshold) with the reason, except the later days of an
    instalment under the "missed remaining" wording, which stay collectable up to their date.
    """
    remaining = prescription.wording_missed_remaining
    rows = []
    for d in schedule:
        late = d.collect_on < today and not (remaining and d.dose_date >= today)
        rows.append(
            InstalmentDay(
                prescription_id=prescription.id,
                patient_id=prescription.patient_id,
                pharmacy_id=prescription.pharmacy_id,
                household_id=household_id,
                product=prescription.product,
                dose_date=d.dose_date,
                collect_on=d.collect_on,
                mode=d.mode,
                dose_mg=d.dose_mg,
                state=DoseState.NOT_DISPENSED if late else DoseState.DUE,
                remaining_collectable=remaining,
                recorded_at=now if late else None,
                reason=f"not dispensed: the prescription was checked on {today.isoformat()}, "
                f"after the collection day ({d.collect_on.isoformat()})"
                if late
                else None,
            )
        )
    return rows


def verify(
    uow: UnitOfWork,
    *,
    actor: Actor,
    prescription_id: UUID,
    policy: PolicySettings,
    today: date,
    now: datetime,
) -> Prescription:
    """A second pharmacist confirms the transcription; the schedule becomes the ledger.

    The intake rules run again (the 28-day window may have closed since), any superseded
    prescription gives up its uncollected days from this one's start, and the instalment days
    are written, all in one transaction.
    """
    require_role(actor, {Role.PHARMACIST}, "check prescriptions")
    with uow:
        session = uow.session
        prescription = load_visible(session, actor, prescription_id, for_update=True)
        if prescription.pharmacy_id != actor.pharmacy_id:
            raise NotFound("prescription", prescription_id)
        if prescription.status != Status.PENDING_CHECK:
            raise Conflict(
                f"The prescription is {prescription.status}, not waiting for a check",
                code="not_pending_check",
            )
        if prescription.entered_by_id == actor.id:
            raise PermissionDenied(
                "A different pharmacist must check the transcription", code="second_person_required"
            )
        product = rules.PRODUCTS.get(prescription.product)
        if not prescription.prescriber_address:  # entered before addresses were kept
            contact = session.get(Contact, prescription.prescriber_id)
            prescription.prescriber_address = contact.address if contact else None
        decision = rules.check_intake(
            draft_of(prescription),
            _context(
                session,
                patient=patients_service.load_visible(session, actor, prescription.patient_id),
                product=product,
                today=today,
                exclude=prescription.id,
            ),
            calendar_for(session, prescription.pharmacy_id),
            intake_policy(policy),
        )
        if not decision.accepted:
            raise Refused(
                "The prescription can no longer be accepted",
                code="prescription_refused",
                blocks=findings(decision.blocks),
                warnings=findings(decision.warnings),
            )
        patient = patients_service.load_visible(session, actor, prescription.patient_id)
        for old in _overlapping(
            session,
            patient_id=prescription.patient_id,
            product=prescription.product,
            start_on=prescription.start_on,
            end_on=prescription.end_on,
            exclude=prescription.id,
        ):
            if old.id != prescription.supersedes_id:
                raise Conflict(
                    "Another live prescription overlaps this one",
                    code="overlapping_prescription",
                    overlapping=[str(old.id)],
                )
            recorded = session.scalar(
                select(InstalmentDay.dose_date)
                .where(
                    InstalmentDay.prescription_id == old.id,
                    InstalmentDay.dose_date >= prescription.start_on,
                    InstalmentDay.state != DoseState.DUE,
                )
                .limit(1)
            )
            if recorded is not None:
                raise Conflict(
                    f"A dose for {recorded} was already recorded under the "
                    "prescription this replaces; start the new one after it",
                    code="overlap_already_recorded",
                )
            removed = session.execute(
                delete(InstalmentDay).where(
                    InstalmentDay.prescription_id == old.id,
                    InstalmentDay.dose_date >= prescription.start_on,
                    InstalmentDay.state == DoseState.DUE,
                )
            ).rowcount  # type: ignore[attr-defined]
            end_on_was = old.end_on
            if old.start_on >= prescription.start_on:
                old.status = Status.CANCELLED
                old.cancelled_at = now
                old.cancelled_by_id = actor.id
                old.cancel_reason = "superseded"
            else:
                # Shortened: it no longer covers (or overlaps) anything from the new start.
                old.end_on = min(old.end_on, prescription.start_on - timedelta(days=1))
            audit_service.record(
                session,
                actor,
                "prescription.superseded",
                entity="prescription",
                entity_id=old.id,
                at=now,
                pharmacy_id=old.pharmacy_id,
                facts={
                    "by": prescription.id,
                    "from": prescription.start_on,
                    "days_removed": removed,
                    "end_on_was": end_on_was,
                },
            )
        # Days whose collection was before the check could never have been supplied: they are
        # written as not dispensed, and count as days without a dose (DESIGN §3).
        rows = _rows_for(
            prescription, patient.household_id, decision.schedule, today=today, now=now
        )
        session.add_all(rows)
        skipped = sum(1 for r in rows if r.state == DoseState.NOT_DISPENSED)
        prescription.status = Status.ACTIVE
        prescription.verified_by_id = actor.id
        prescription.verified_at = now
        session.flush()
        if skipped:
            _alert_if_lapsed(
                session,
                actor=actor,
                patient=patient,
                prescription=prescription,
                today=today,
                now=now,
                policy=policy,
            )
        # DESIGN §3: the household rules run on prescription intake, not only at a handover.
        for event in dosing_household.household_events(session, patient, today, policy):
            safeguarding_service.raise_alert(
                session,
                event,
                actor=actor,
                pharmacy_id=prescription.pharmacy_id,
                patient_id=patient.id,
                household_id=patient.household_id,
                day=today,
                now=now,
                routing=policy.alert_routing,
            )
        audit_service.record(
            session,
            actor,
            "prescription.verified",
            entity="prescription",
            entity_id=prescription.id,
            at=now,
            pharmacy_id=prescription.pharmacy_id,
            facts={"days": len(rows) - skipped, "days_before_check": skipped},
        )
        uow.commit()
        return prescription


def _alert_if_lapsed(
    session: Session,
    *,
    actor: Actor,
    patient: Patient,
    prescription: Prescription,
    today: date,
    now: datetime,
    policy: PolicySettings,
) -> None:
    """A late prescription can leave the patient days without a dose before the pharmacy ever
    had it: when those days reach the threshold, the prescriber hears now, not at tomorrow's
    counter (the block and the alert follow the same count)."""
    pair = (patient.id, prescription.product)
    lapse = dosing_facts.lapses(
        session, [pair], through=today - timedelta(days=1), pharmacy_id=prescription.pharmacy_id
    )[pair]
    threshold = dosing_rules.threshold_for(
        prescription.wording_consult_after_3_missed, policy.missed_threshold
    )
    if lapse.days < threshold:
        return
    children = dosing_facts.children_facts(
        current_children(session, patient.household_id, today) if patient.household_id else [],
        today,
    )
    for event in safeguarding_rules.missed_dose_events(
        days_without_dose=lapse.days, children=children, policy_missed_threshold=threshold
    ):
        safeguarding_service.raise_alert(
            session,
            event,
            actor=actor,
            pharmacy_id=prescription.pharmacy_id,
            patient_id=patient.id,
            household_id=patient.household_id,
            day=today,
            now=now,
            routing=policy.alert_routing,
        )


def cancel(
    uow: UnitOfWork, *, actor: Actor, prescription_id: UUID, reason: str, today: date, now: datetime
) -> Prescription:
    """Stop a prescription: its uncollected days from today on are removed from the schedule."""
    require_role(actor, {Role.PHARMACIST, Role.PRESCRIBER, Role.ADMIN}, "cancel prescriptions")
    with uow:
        session = uow.session
        prescription = load_visible(session, actor, prescription_id, for_update=True)
        if prescription.status in (Status.CANCELLED, Status.COMPLETED):
            raise Conflict(
                f"The prescription is already {prescription.status}", code="not_cancellable"
            )
        removed = session.execute(
            delete(InstalmentDay).where(
                InstalmentDay.prescription_id == prescription.id,
                InstalmentDay.collect_on >= today,
                InstalmentDay.state == DoseState.DUE,
            )
        ).rowcount  # type: ignore[attr-defined]
        prescription.status = Status.CANCELLED
        prescription.cancelled_by_id = actor.id
        prescription.cancelled_at = now
        prescription.cancel_reason = reason
        audit_service.record(
            session,
            actor,
            "prescription.cancelled",
            entity="prescription",
            entity_id=prescription.id,
            at=now,
            pharmacy_id=prescription.pharmacy_id,
            facts={"days_removed": removed},
        )
        uow.commit()
        return prescription


def release(
    uow: UnitOfWork, *, actor: Actor, prescription_id: UUID, note: str, today: date, now: datetime
) -> Release:
    """The prescriber's review after missed doses: the counter may supply again."""
    require_safety_act(actor, "release")
    with uow:
        session = uow.session
        prescription = load_visible(session, actor, prescription_id)
        if prescription.status != Status.ACTIVE:
            raise Conflict(f"The prescription is {prescription.status}", code="not_active")
        same = session.scalar(
            select(Release).where(
                Release.prescription_id == prescription.id,
                Release.released_on == today,
                Release.released_by_id == actor.id,
                Release.note == note,
            )
        )
        if same is not None:  # a double click or a retried request: one review, not two
            return same
        row = Release(
            prescription_id=prescription.id,
            patient_id=prescription.patient_id,
            released_on=today,
            released_by_id=actor.id,
            note=note,
            created_at=now,
        )
        session.add(row)
        session.flush()
        # The review deals with the cause of the threshold alerts: they stop escalating.
        safeguarding_service.resolve_for_patient(
            session,
            actor=actor,
            patient_id=prescription.patient_id,
            kinds=("missed_threshold_reached",),
            why=f"The prescriber's review was recorded: {note}",
            now=now,
        )
        audit_service.record(
            session,
            actor,
            "prescription.released",
            entity="prescription",
            entity_id=prescription.id,
            at=now,
            pharmacy_id=prescription.pharmacy_id,
            facts={"release_id": row.id},
        )
        uow.commit()
        return row


def schedule(session: Session, prescription: Prescription) -> list[dict[str, Any]]:
    """The ledger rows once checked; before that, the schedule the rules would generate."""
    rows = list(
        session.scalars(
            select(InstalmentDay)
            .where(InstalmentDay.prescription_id == prescription.id)
            .order_by(InstalmentDay.dose_date)
        )
    )
    if rows:
        return [
            {
                "dose_date": r.dose_date,
                "collect_on": r.collect_on,
                "mode": r.mode,
                "dose_mg": r.dose_mg,
                "state": r.state,
            }
            for r in rows
        ]
    if prescription.status != Status.PENDING_CHECK:
        return []
    planned, _ = rules.generate_schedule(
        draft_of(prescription), calendar_for(session, prescription.pharmacy_id)
    )
    return [
        {
            "dose_date": d.dose_date,
            "collect_on": d.collect_on,
            "mode": d.mode,
            "dose_mg": d.dose_mg,
            "state": "planned",
        }
        for d in planned
    ]


def get(
    uow: UnitOfWork, *, actor: Actor, prescription_id: UUID, now: datetime
) -> tuple[Prescription, list[dict[str, Any]]]:
    with uow:
        prescription = load_visible(uow.session, actor, prescription_id)
        days = schedule(uow.session, prescription)
        audit_service.record(
            uow.session,
            actor,
            "prescription.viewed",
            entity="prescription",
            entity_id=prescription.id,
            at=now,
            pharmacy_id=prescription.pharmacy_id,
        )
        uow.commit()
        return prescription, days


def list_for_patient(
    uow: UnitOfWork, *, actor: Actor, patient_id: UUID, now: datetime
) -> list[Prescription]:
    """The patient's prescriptions, newest first; the read is logged."""
    with uow:
        patient = patients_service.load_visible(uow.session, actor, patient_id)
        rows = list(
            uow.session.scalars(
                select(Prescription)
                .where(Prescription.patient_id == patient_id)
                .order_by(Prescription.start_on.desc())
            )
        )
        audit_service.record(
            uow.session,
            actor,
            "patient.prescriptions_viewed",
            entity="patient",
            entity_id=patient.id,
            at=now,
            pharmacy_id=patient.pharmacy_id,
            facts={"prescriptions": len(rows)},
        )
        uow.commit()
        return rows


def recalculate_for_closure(
    session: Session,
    *,
    actor: Actor,
    pharmacy_id: UUID,
    closed_on: date,
    today: date,
    now: datetime,
    policy: PolicySettings,
) -> Replanned:
    """Re-plan the uncollected days of active prescriptions around a closure added or removed.

    Only days still due are moved; a recorded dose never changes. Returns how many days moved
    and how many alerts asked a prescriber to amend."""
    calendar = calendar_for(session, pharmacy_id)
    affected = list(
        session.scalars(
            select(Prescription).where(
                Prescription.pharmacy_id == pharmacy_id,
                Prescription.status == Status.ACTIVE,
                Prescription.start_on <= closed_on,
                Prescription.end_on >= closed_on,
            )
        )
    )
    moved = alerts = 0
    for prescription in affected:
        planned, problems = rules.generate_schedule(draft_of(prescription), calendar)
        by_date = {d.dose_date: d for d in planned}
        rows = session.scalars(
            select(InstalmentDay).where(
                InstalmentDay.prescription_id == prescription.id,
                InstalmentDay.state == DoseState.DUE,
                InstalmentDay.collect_on >= today,
            )
        )
        changes = []
        no_day_left = []
        for row in rows:
            new = by_date.get(row.dose_date)
            if new and new.collect_on < today:
                # The prior open day has passed: never move a dose into the past.
                no_day_left.append(row.dose_date)
                continue
            if new and (new.collect_on, new.mode) != (row.collect_on, row.mode):
                changes.append(
                    {"dose_date": row.dose_date, "from": row.collect_on, "to": new.collect_on}
                )
                row.collect_on = new.collect_on
                row.mode = new.mode
        moved += len(changes)
        patient = session.get(Patient, prescription.patient_id)
        alerts += _raise_closed_day_alerts(
            session,
            problems,
            actor=actor,
            prescription=prescription,
            household_id=patient.household_id if patient else None,
            today=today,
            now=now,
            policy=policy,
            no_day_left=len(no_day_left),
        )
        if changes or problems or no_day_left:
            audit_service.record(
                session,
                actor,
                "prescription.schedule_recalculated",
                entity="prescription",
                entity_id=prescription.id,
                at=now,
                pharmacy_id=pharmacy_id,
                facts={
                    "closure": closed_on,
                    "moved": changes,
                    "needs_amendment": len(problems) + len(no_day_left),
                },
            )
    return Replanned(moved, alerts)


@dataclass(frozen=True, slots=True)
class Replanned:
    """What a closure change did to the schedules: days moved, amendment alerts raised."""

    moved_days: int
    alerts_raised: int


def add_closure(
    uow: UnitOfWork,
    *,
    actor: Actor,
    pharmacy_id: UUID,
    closed_on: date,
    reason: str,
    today: date,
    now: datetime,
    policy: PolicySettings,
) -> Replanned:
    """Close the pharmacy on a date and re-plan every affected schedule in the same step."""
    require_role(actor, {Role.PHARMACIST, Role.ADMIN}, "add closures")
    if closed_on < today:
        raise InvalidInput("date", "not_in_past", "a closure cannot be added for a past date")
    with uow:
        session = uow.session
        pharmacy = pharmacies_service.load_visible(session, actor, pharmacy_id)
        pharmacies_service.record_closure(
            session, actor=actor, pharmacy=pharmacy, closed_on=closed_on, reason=reason, now=now
        )
        replanned = recalculate_for_closure(
            session,
            actor=actor,
            pharmacy_id=pharmacy.id,
            closed_on=closed_on,
            today=today,
            now=now,
            policy=policy,
        )
        uow.commit()
        return replanned


def remove_closure(
    uow: UnitOfWork,
    *,
    actor: Actor,
    pharmacy_id: UUID,
    closed_on: date,
    reason: str,
    today: date,
    now: datetime,
    policy: PolicySettings,
) -> Replanned:
    """Open again on a day closed by mistake (or no longer closed) and re-plan what it moved.

    Past closures stay: the days they shaped have been dispensed. The removal is audited with
    its reason; doses already handed over early are never changed."""
    require_role(actor, {Role.PHARMACIST, Role.ADMIN}, "remove closures")
    if closed_on < today:
        raise InvalidInput("date", "not_in_past", "a past closure cannot be removed")
    with uow:
        session = uow.session
        pharmacy = pharmacies_service.load_visible(session, actor, pharmacy_id)
        pharmacies_service.delete_closure(
            session, actor=actor, pharmacy=pharmacy, closed_on=closed_on, reason=reason, now=now
        )
        replanned = recalculate_for_closure(
            session,
            actor=actor,
            pharmacy_id=pharmacy.id,
            closed_on=closed_on,
            today=today,
            now=now,
            policy=policy,
        )
        uow.commit()
        return replanned


@dataclass(frozen=True, slots=True)
class AffectedSchedule:
    """A prescription with doses still to collect on weekdays the pharmacy would stop opening."""

    prescription_id: UUID
    patient: str
    dates: list[date]


def schedules_on_weekdays(
    uow: UnitOfWork, *, actor: Actor, pharmacy_id: UUID, weekdays: set[int], today: date
) -> list[AffectedSchedule]:
    """Which schedules collect on these weekdays from today: an opening-day change that closes
    them leaves those doses on days nobody is there to hand them over."""
    if not weekdays:
        return []
    with uow:
        session = uow.session
        pharmacy = pharmacies_service.load_visible(session, actor, pharmacy_id)
        found: dict[UUID, AffectedSchedule] = {}
        for row, given, family in session.execute(
            select(InstalmentDay, Patient.given_name, Patient.family_name)
            .join(Prescription, Prescription.id == InstalmentDay.prescription_id)
            .join(Patient, Patient.id == InstalmentDay.patient_id)
            .where(
                Prescription.pharmacy_id == pharmacy.id,
                Prescription.status == Status.ACTIVE,
                InstalmentDay.state == DoseState.DUE,
                InstalmentDay.collect_on >= today,
            )
            .order_by(InstalmentDay.collect_on)
        ):
            if row.collect_on.weekday() not in weekdays:
                continue
            entry = found.setdefault(
                row.prescription_id, AffectedSchedule(row.prescription_id, f"{given} {family}", [])
            )
            if row.collect_on not in entry.dates:
                entry.dates.append(row.collect_on)
        return list(found.values())
