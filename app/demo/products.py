"""Demo products in use (issue 20 §3): in the Elder household Sky takes buprenorphine 16 mg
under the tongue (two 8 mg sublingual tablets) and Drew sugar-free methadone 40 mg, both
supervised Monday to Saturday, so the counter, labels and register show the two products."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from app.actor import Actor
from app.config import Settings
from app.db import UnitOfWork
from app.demo.doses import checked
from app.prescriptions import intake_terms
from app.prescriptions.products import PRODUCTS
from app.prescriptions.words import number_to_words

# (product, mg a day, how the prescriber writes the dose)
REGIMES = (
    ("buprenorphine-8mg-tablet", 16, "16mg (two 8mg tablets) daily, dissolved under the tongue."),
    ("methadone-1mg-ml-sf", 40, "40mg (40ml) sugar free oral solution daily."),
)


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
    """A checked 14-day FP10MDA for each of the two patients, from `start`."""
    for patient_id, (code, mg, dose_words) in zip(patients, REGIMES, strict=True):
        total = PRODUCTS[code].quantity(Decimal(mg)) * 14
        draft = intake_terms.PrescriptionDraft(
            product_code=code,
            daily_dose_mg=Decimal(mg),
            form_type="FP10MDA",
            written_on=today,
            start_on=start,
            end_on=start + timedelta(days=13),
            total_quantity=total,
            total_quantity_words=number_to_words(int(total)),
            supervised_days=frozenset(range(6)),
            collection_days=frozenset(range(7)),
            wording=intake_terms.Wording(
                closed_day_prior=True, supervise_on_collection=True, consult_after_3_missed=True
            ),
            direction_text=f"{dose_words} Supervised consumption on collection days.",
        )
        checked(uow, settings, transcriber, checker, prescriber, patient_id, draft, today, now)
