"""Demo split and stepped doses (issue 20 §2): Charlie Hale takes 40 mg a day as 30 mg
swallowed at the counter in the morning and 10 mg taken home for the evening; Rowan Fenn's
110 mg (above 100 mg: the QT warning) steps down to 100 mg a day after a week. Both are
fictional."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from app.actor import Actor
from app.config import Settings
from app.db import UnitOfWork
from app.intake import transcribe as transcription
from app.intake import verify as verification
from app.prescriptions import intake_terms
from app.prescriptions.intake_terms import DosePart, DoseStep, PrescriptionDraft
from app.prescriptions.words import number_to_words

MON_TO_SAT = frozenset(range(6))
EVERY_DAY = frozenset(range(7))


def drafts(start: date, today: date) -> tuple[PrescriptionDraft, PrescriptionDraft]:
    """The split and the stepped prescription, each 14 days from `start`."""
    end = start + timedelta(days=13)
    wording = intake_terms.Wording(
        closed_day_prior=True, supervise_on_collection=True, consult_after_3_missed=True
    )
    split = PrescriptionDraft(
        product_code="methadone-1mg-ml",
        daily_dose_mg=Decimal(40),
        form_type="FP10MDA",
        written_on=today,
        start_on=start,
        end_on=end,
        total_quantity=Decimal(560),
        total_quantity_words=number_to_words(560),
        supervised_days=MON_TO_SAT,
        collection_days=EVERY_DAY,
        wording=wording,
        direction_text="40mg (40ml) daily in two parts: 30mg (30ml) in the morning, supervised "
        "on collection days; 10mg (10ml) in the evening to take home in a separate container.",
        dose_parts=(
            DosePart("morning", Decimal(30), True),
            DosePart("evening", Decimal(10), False),
        ),
    )
    step_on = start + timedelta(days=7)
    stepped = PrescriptionDraft(
        product_code="methadone-1mg-ml",
        daily_dose_mg=Decimal(110),
        form_type="FP10MDA",
        written_on=today,
        start_on=start,
        end_on=end,
        total_quantity=Decimal(110 * 7 + 100 * 7),
        total_quantity_words=number_to_words(110 * 7 + 100 * 7),
        supervised_days=MON_TO_SAT,
        collection_days=EVERY_DAY,
        wording=wording,
        direction_text="Reducing: 110mg (110ml) daily for 7 days, then 100mg (100ml) daily. "
        "Supervised consumption on collection days.",
        steps=(DoseStep(step_on, Decimal(100)),),
    )
    return split, stepped


def seed(
    uow: UnitOfWork,
    settings: Settings,
    *,
    transcriber: Actor,
    checker: Actor,
    prescriber: UUID,
    patients: tuple[UUID, UUID],
    start: date,
    today: date,
    now: datetime,
) -> None:
    """Transcribe and check the split prescription for the first patient, the stepped one for
    the second."""
    for patient_id, draft in zip(patients, drafts(start, today), strict=True):
        checked(uow, settings, transcriber, checker, prescriber, patient_id, draft, today, now)


def checked(
    uow: UnitOfWork,
    settings: Settings,
    transcriber: Actor,
    checker: Actor,
    prescriber: UUID,
    patient_id: UUID,
    draft: PrescriptionDraft,
    today: date,
    now: datetime,
) -> UUID:
    """A demo prescription transcribed by one pharmacist and checked by another; the patient
    transferred in with yesterday's dose taken elsewhere."""
    assert draft.start_on is not None
    prescription, _ = transcription.transcribe(
        uow,
        actor=transcriber,
        data=transcription.PrescriptionInput(
            patient_id=patient_id,
            prescriber_id=prescriber,
            draft=draft,
            last_dose=transcription.LastDoseInput(
                draft.start_on - timedelta(days=1), "previous_pharmacy", "Demo: transferred in"
            ),
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
    return prescription.id
