"""What the intake rules are asked with, and how their answers are told.

Transcription and the second pharmacist's check run the same intake rules against the same
facts (the patient's other prescriptions, the last dose taken, the pharmacy calendar), so those
facts are gathered here once; a closed collection day that only the prescriber can fix is
raised from here by both, and by the re-planning around closures.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.config import PolicySettings
from app.dosing import facts as dosing_facts
from app.dosing import rules as dosing_rules
from app.households.repository import current_children
from app.patients.models import Patient
from app.prescriptions import intake_terms
from app.prescriptions.models import Prescription, Status
from app.prescriptions.products import PRODUCTS, Product
from app.safeguarding import rules as safeguarding_rules
from app.safeguarding import service as safeguarding_service


def intake_policy(policy: PolicySettings) -> intake_terms.IntakePolicy:
    return intake_terms.IntakePolicy(
        high_dose_mg=policy.high_dose_mg,
        large_increase_mg=policy.large_increase_mg,
        first_dose_mg=policy.first_dose_mg,
    )


# The rules name the draft's fields; the API names two of them differently.
API_FIELDS = {"product_code": "product", "total_quantity": "total_quantity_ml"}


def findings(items: Sequence[intake_terms.Finding]) -> list[dict[str, Any]]:
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


def intake_context(
    session: Session,
    *,
    patient: Patient,
    product: Product | None,
    today: date,
    exclude: UUID | None = None,
    last_dose_given: bool = False,
) -> intake_terms.IntakeContext:
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
    # The latest earlier prescription of the same drug, whatever its product: a change of
    # product (sugar-free, standard, concentrate) is warned, and the dose compared across it.
    latest = next(
        (
            p
            for p in others
            if product is not None
            and dosing_facts.drug_of(p.product) == product.drug
            and p.status != Status.CANCELLED
        ),
        None,
    )
    previous = latest.daily_dose_mg if latest is not None else None
    benzo = False
    if product is not None:
        for other in others:
            other_product = PRODUCTS.get(other.product)
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
    return intake_terms.IntakeContext(
        today=today,
        previous_daily_dose_mg=previous,
        benzodiazepine_coprescribed=benzo,
        pregnant=patient.pregnant,
        last_dose_known=known,
        previous_product_code=latest.product if latest is not None else None,
    )


def raise_closed_day_alerts(
    session: Session,
    problems: Sequence[intake_terms.Finding],
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
    closed = [
        f for f in problems if f.code == intake_terms.Code.CLOSED_DAY_NEEDS_AMENDED_PRESCRIPTION
    ]
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


def alert_if_lapsed(
    session: Session,
    *,
    actor: Actor,
    patient: Patient,
    prescription: Prescription,
    today: date,
    now: datetime,
    policy: PolicySettings,
) -> None:
    """A late prescription (or a suspension with no dose confirmed elsewhere) can leave the
    patient days without a dose the pharmacy could not supply: when those days reach the
    threshold, the prescriber hears now, not at tomorrow's counter (the block and the alert
    follow the same count)."""
    pair = (patient.id, prescription.product)
    lapse = dosing_facts.lapses(
        session, [pair], through=today - timedelta(days=1), pharmacy_id=prescription.pharmacy_id
    )[pair]
    threshold = dosing_rules.threshold_for(
        prescription.wording_consult_after_3_missed,
        policy.missed_threshold_for(dosing_facts.drug_of(prescription.product)),
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
