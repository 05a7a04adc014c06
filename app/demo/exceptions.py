"""Demo dose exception (issue 20 §1): the most recent take-home the replayed history handed
over is reported lost today, and the pharmacist supplies a replacement on the prescriber's
authorisation by phone, with its own CD register line and a label headed "REPLACEMENT SUPPLY".
The counter's checks apply to a replacement: where the history leaves no patient the counter
would supply today, the replacement is refused and the demo's summary says why. Only with the
history (a take-home must have gone home first); fictional, as the rest."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from uuid import UUID

from sqlalchemy import select

from app.auth.models import User
from app.auth.service import actor_for
from app.config import Settings
from app.db import UnitOfWork
from app.dosing import counter, exception_replacements, exceptions, replacement_checks, rules
from app.dosing.models import DoseState, InstalmentDay
from app.errors import Refused
from app.patients.models import Patient
from app.prescriptions.models import Prescription, Status


def seed(
    uow: UnitOfWork, settings: Settings, pharmacy_id: UUID, today: date, now: datetime
) -> list[str]:
    """Report the latest take-home lost and replace it; a line for the demo's summary."""
    with uow:
        pharmacist = uow.session.scalar(select(User).where(User.username == "pharmacist"))
        found = _candidate(uow, settings, pharmacist, pharmacy_id, today) if pharmacist else None
    if pharmacist is None or found is None:
        return []
    actor = actor_for(pharmacist)
    patient_id, day = found
    lost = exceptions.record_exception(
        uow,
        actor=actor,
        new=exceptions.NewException(
            patient_id=patient_id,
            kind="lost",
            dose_dates=(day,),
            note="Demo: the bottle was left on the bus; reported at the counter this morning.",
        ),
        today=today,
        now=now,
        timezone=settings.timezone,
        policy=settings.policy,
    )
    try:
        exception_replacements.supply_replacement(
            uow,
            actor=actor,
            new=exception_replacements.NewReplacement(
                exception_id=lost.exception.id,
                authorised_by="Dr Ada Prescriber (demo)",
                authorised_at=now - timedelta(minutes=20),
                authorised_how="phone",
                note="Demo: prescriber agreed by phone; storage counselled again.",
                acknowledged=frozenset(replacement_checks.ACKNOWLEDGE),
            ),
            today=today,
            now=now,
            policy=settings.policy,
        )
    except Refused as refused:  # the counter's checks refused it: the demo shows why
        return [
            f"A take-home for {day.isoformat()} reported lost; its replacement was refused "
            f"({refused.code}) (see /patients/{patient_id}/dose-exceptions)"
        ]
    return [
        f"A take-home for {day.isoformat()} reported lost and replaced on authorisation "
        f"(patient id={patient_id}: see /patients/{patient_id}/dose-exceptions)"
    ]


# The counter's blocks about today's own slot, which say nothing of a replacement.
_SLOT = frozenset({rules.Code.NOT_DUE_TODAY, rules.Code.ALREADY_RECORDED})


def _candidate(
    uow: UnitOfWork, settings: Settings, pharmacist: User, pharmacy_id: UUID, today: date
) -> tuple[UUID, date] | None:
    """The latest take-home collected whose patient the counter would supply today (on a
    prescription in force, not past the missed-dose threshold): its replacement is allowed.
    Failing one, the latest take-home: the demo then shows its replacement refused."""
    session = uow.session
    actor = actor_for(pharmacist)
    rows = session.scalars(
        select(InstalmentDay)
        .join(Prescription, Prescription.id == InstalmentDay.prescription_id)
        .where(
            InstalmentDay.pharmacy_id == pharmacy_id,
            InstalmentDay.state == DoseState.COLLECTED,
            InstalmentDay.dose_date >= today - timedelta(days=exceptions.REPORT_WINDOW_DAYS),
            Prescription.status == Status.ACTIVE,
            Prescription.start_on <= today,
            Prescription.end_on >= today,
        )
        .order_by(InstalmentDay.dose_date.desc())
        .limit(40)
    ).all()
    for row in rows:
        patient = session.get(Patient, row.patient_id)
        if patient is None:
            continue
        (view,) = counter.views(
            session,
            actor,
            [patient],
            product=row.product,
            today=today,
            intoxicated=False,
            policy=settings.policy,
        )
        if view.prescription_id == row.prescription_id and not [
            b for b in view.decision.blocks if b.code not in _SLOT
        ]:
            return row.patient_id, row.dose_date
    return (rows[0].patient_id, rows[0].dose_date) if rows else None
