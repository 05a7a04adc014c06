"""The label of a replacement dose (issue 20 §1): a separate supply, authorised by the
prescriber, replacing a take-home lost, stolen or damaged. Queued in the replacement's own
transaction, like a handover's labels; it says at the top that it is a replacement and which
dose it replaces, so nobody at home mistakes it for an extra dose."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy.orm import Session

from app.actor import Actor
from app.errors import NotFound
from app.labelling import content
from app.labelling.models import JobState, Label, PrintJob
from app.labelling.service import _as_json, facts_for
from app.patients.models import Patient
from app.pharmacies.models import Pharmacy
from app.prescriptions.models import Prescription

REPLACEMENT = "** REPLACEMENT SUPPLY **"


def queue_replacement(
    session: Session,
    *,
    actor: Actor,
    patient: Patient,
    prescription_id: UUID,
    replacement_id: UUID,
    dose_dates: Sequence[date],
    dose_mg: Decimal,
    why: str,
    today: date,
    now: datetime,
) -> PrintJob:
    """Write the replacement's label (one container for the dose replaced) and its print job.

    Raises content.LabelRefused when a legal field is missing: no methadone leaves without a
    lawful label.
    """
    prescription = session.get(Prescription, prescription_id)
    pharmacy = session.get(Pharmacy, actor.pharmacy_id or patient.pharmacy_id)
    if prescription is None or pharmacy is None:
        raise NotFound("prescription", prescription_id)
    days = tuple(sorted(dose_dates))
    facts = facts_for(patient, pharmacy, prescription, days, today)
    # The replacement's whole dose in one container, said per day when it covers several.
    per_day = dose_mg / len(days)
    facts = dataclasses.replace(facts, dose_mg=per_day, separate_containers=False)
    lines = [
        content.Line(REPLACEMENT, bold=True, centre=True),
        content.Line(f"Replaces the dose {why}"),
        *content.label_lines(facts, days, number=1, of=1),
    ]
    label = Label(
        handover_id=replacement_id,
        patient_id=patient.id,
        pharmacy_id=pharmacy.id,
        dose_dates=[d.isoformat() for d in days],
        lines=_as_json(lines),
        created_by_id=actor.id,
        created_at=now,
    )
    session.add(label)
    session.flush()
    job = PrintJob(label_id=label.id, state=JobState.QUEUED, created_at=now)
    session.add(job)
    session.flush()
    return job
