"""The demo pharmacy's pack table (issue 20 §5): outside production the seed table knows the GS1
example GTIN 05012345678900 as standard methadone 1 mg/mL (`app.register.packs.seed_for`); a
pharmacist here has mapped two more fictional GTINs (a sugar-free bottle and a 10 mg/mL
concentrate, confirmed as a confusable strength), so a newcomer can scan a right bottle, a
wrong one and an unknown one at the counter. Codes to type into the counter's bottle field (or
its scan box, with a patient open):

    (01)05012345678900(17)271231(10)DEMO1    standard 1 mg/mL: right for most demo patients
    (01)05012345678917(17)271231(10)DEMO2    concentrate 10 mg/mL: WRONG BOTTLE
    (01)05012345678924(17)271231(10)DEMO3    sugar-free 1 mg/mL: wrong for a standard prescription
    (01)05012345678931(17)271231(10)DEMO4    not mapped: a warning to read the label and acknowledge
"""

from __future__ import annotations

from datetime import date, datetime

from app.actor import Actor
from app.db import UnitOfWork
from app.register import pack_table
from app.register.packs import seed_for

MAPPINGS = (
    ("05012345678917", "methadone-10mg-ml", "Demo: label reads Methadone 10mg/mL concentrate"),
    ("05012345678924", "methadone-1mg-ml-sf", "Demo: label reads Methadone 1mg/mL sugar free"),
)


def seed(uow: UnitOfWork, pharmacist: Actor, today: date, now: datetime) -> None:
    """Two mappings a pharmacist of the demo pharmacy made, with their reasons."""
    for gtin, product, reason in MAPPINGS:
        pack_table.add_mapping(
            uow,
            actor=pharmacist,
            gtin=gtin,
            product=product,
            reason=reason,
            today=today,
            now=now,
            confirm_change=True,  # the concentrate: a confusable strength, read twice
            seed=seed_for("development"),
        )
