"""A replacement dose (issue 20 §1): a separate supply, authorised by the prescriber, that
replaces the dose of a recorded exception (vomited, spilt, lost, stolen, damaged).

A pharmacist's safety act (`supply_replacement`), refused without the authorisation (who,
when, how: `replacement_not_authorised`). It never reuses or changes the day's ledger row (one
row per patient, product and day, final once supplied): it is its own append-only row, one per
exception (`uq_dose_replacements_exception_id`), with its own CD register supply line, written
through the same path a double supply from an outage sheet takes (`paper_lines.Unledgered`),
and, when it goes home, its own label saying it is a replacement. Its dose is at most the
exception's, and a supervised replacement at most one day's dose (it is swallowed at one
visit: `supervised_more_than_a_day`).

It is methadone leaving the CD cupboard like any handover, so the counter's own decision is
asked first (`app.dosing.replacement_checks`): the prescription active, the missed-dose
threshold, the pharmacist's attestation that the patient is not intoxicated (required for a
supervised replacement), today's dose not withheld, and for a take-home the household checks
and warnings. A refusal is a problem with the counter's code and sentence, and is audited.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import NoReturn
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import require_safety_act
from app.config import PolicySettings
from app.db import UnitOfWork, retrying
from app.dosing import (
    counter,
    exception_rules,
    exception_supplies,
    paper_lines,
    replacement_checks,
)
from app.dosing.exception_models import (
    AuthorisedHow,
    DoseException,
    DoseReplacement,
    ExceptionKind,
)
from app.dosing.models import Mode
from app.errors import Conflict, InvalidInput, NotFound, Refused
from app.kit import new_id
from app.labelling import replacement as replacement_label
from app.labelling.content import LabelRefused
from app.labelling.models import PrintJob
from app.patients import repository as patients_repository
from app.patients.models import Patient
from app.prescriptions.products import PRODUCTS
from app.register import supplies as register_supplies
from app.safeguarding import rules as safeguarding_rules
from app.safeguarding.exception_alerts import EXCEPTION_WORDS

# An authorisation older than this is not for the replacement being supplied now.
AUTHORISATION_DAYS = 7
# Swallowed at the counter unless it replaces a take-home.
AT_COUNTER = frozenset({ExceptionKind.VOMITED, ExceptionKind.SPILT})


@dataclass(frozen=True, slots=True)
class NewReplacement:
    exception_id: UUID
    authorised_by: str | None
    authorised_at: datetime | None
    authorised_how: str | None
    dose_mg: Decimal | None = None  # None: the exception's whole dose
    mode: str | None = None  # None: supervised for a dose lost at the counter, else take-home
    note: str = ""
    # The pharmacist's attestation (required for a supervised replacement); False refuses.
    not_intoxicated: bool | None = None
    # The counter's take-home warnings acknowledged (`replacement_checks.ACKNOWLEDGE`).
    acknowledged: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Replaced:
    replacement: DoseReplacement
    register_entry_id: UUID | None
    label_job: PrintJob | None


def _authorised(new: NewReplacement, now: datetime) -> None:
    if not (new.authorised_by or "").strip() or new.authorised_at is None or not new.authorised_how:
        raise Refused(
            "A replacement is supplied only on the prescriber's authorisation: record who "
            "authorised it, when and how (phone, written, in person or email)",
            code="replacement_not_authorised",
            field="authorised_by"
            if not (new.authorised_by or "").strip()
            else ("authorised_at" if new.authorised_at is None else "authorised_how"),
        )
    if new.authorised_how not in set(AuthorisedHow):
        raise InvalidInput("authorised_how", "known_how", "is phone, written, in_person or email")
    if new.authorised_at > now:
        raise InvalidInput("authorised_at", "not_in_future", "is still to come")
    if new.authorised_at < now - timedelta(days=AUTHORISATION_DAYS):
        raise InvalidInput(
            "authorised_at",
            "recent",
            f"is more than {AUTHORISATION_DAYS} days ago: ask the prescriber again",
        )


def _why(exception: DoseException) -> str:
    days = ", ".join(date.fromisoformat(d).strftime("%d/%m/%Y") for d in exception.dose_dates)
    again = " (its replacement)" if exception.replacement_id is not None else ""
    return f"for {days}{again} {EXCEPTION_WORDS[exception.kind]}"


@retrying
def supply_replacement(
    uow: UnitOfWork,
    *,
    actor: Actor,
    new: NewReplacement,
    today: date,
    now: datetime,
    policy: PolicySettings,
) -> Replaced:
    """Supply the replacement: its own row, register line and label, in one transaction."""
    require_safety_act(actor, "supply_replacement")
    with uow:
        session = uow.session
        exception = session.get(DoseException, new.exception_id)
        if exception is None or exception.pharmacy_id != actor.pharmacy_id:
            raise NotFound("dose exception", new.exception_id)
        patient = patients_repository.load_visible(
            session, actor, exception.patient_id, for_update=True
        )
        _authorised(new, now)
        if exception.kind == ExceptionKind.RETURNED:
            raise Conflict(
                "A dose returned unused is not replaced: the patient brought it back",
                code="not_replaceable",
            )
        if session.scalar(
            select(DoseReplacement.id).where(DoseReplacement.exception_id == exception.id)
        ):
            raise Conflict(
                "This exception's dose was replaced already: one replacement per exception",
                code="already_replaced",
            )
        dose_mg = Decimal(exception.dose_mg) if new.dose_mg is None else new.dose_mg
        if dose_mg <= 0:
            raise InvalidInput("dose_mg", "positive", "is more than 0 mg")
        if dose_mg > Decimal(exception.dose_mg):
            raise InvalidInput(
                "dose_mg",
                "not_more_than_exception",
                f"is more than the {Decimal(exception.dose_mg).normalize():f} mg the exception "
                "concerns",
            )
        mode = new.mode or (Mode.SUPERVISED if exception.kind in AT_COUNTER else Mode.TAKE_HOME)
        if mode not in set(Mode):
            raise InvalidInput("mode", "known_mode", "is supervised or take_home")
        # The ledger days, or for a replacement's exception the replacement's own parts.
        days = exception_supplies.concerned_days(session, exception)
        _one_visit(exception, days, mode, dose_mg)
        if mode == Mode.SUPERVISED and new.not_intoxicated is None:
            raise InvalidInput(
                "not_intoxicated",
                "attestation_required",
                "confirm the patient is not intoxicated: a supervised replacement is swallowed "
                "here, as at the handover",
            )
        parts = exception_rules.spread(exception.kind, days, dose_mg)
        checked = replacement_checks.check(
            session,
            actor,
            patient,
            exception,
            mode=mode,
            parts=parts,
            intoxicated=new.not_intoxicated is False,
            acknowledged=new.acknowledged,
            today=today,
            policy=policy,
        )
        if checked.standing:
            _refuse(session, uow, actor, patient, exception, checked, mode, today, now, policy)
        return _supply(
            session, uow, actor, patient, exception, new, dose_mg, mode, parts, today, now, policy
        )


def _one_visit(
    exception: DoseException,
    days: Sequence[exception_rules.SuppliedDay],
    mode: str,
    dose_mg: Decimal,
) -> None:
    """A supervised replacement is swallowed at one visit: at most one day's dose."""
    largest = exception_rules.largest_day_mg(exception.kind, days)
    if mode == Mode.SUPERVISED and dose_mg > largest:
        raise Refused(
            f"A supervised replacement is swallowed at one visit, so it is at most one day's "
            f"dose ({largest.normalize():f} mg), not {dose_mg.normalize():f} mg. Give less, or "
            "supply it as a take-home if the prescriber authorised that",
            code="supervised_more_than_a_day",
            field="dose_mg",
        )


def _refuse(
    session: Session,
    uow: UnitOfWork,
    actor: Actor,
    patient: Patient,
    exception: DoseException,
    checked: replacement_checks.Checked,
    mode: str,
    today: date,
    now: datetime,
    policy: PolicySettings,
) -> NoReturn:
    """Record the refusal (audited; a take-home refused for want of a box tells the key worker,
    as at the counter), commit it, and raise it with the counter's codes and sentences."""
    codes = [str(r.code) for r in checked.standing]
    alerts = paper_lines.raise_events(
        session,
        safeguarding_rules.refused_take_home_events(standing=codes),
        actor,
        patient,
        today,
        now,
        policy,
    )
    audit_service.record(
        session,
        actor,
        "dose.replacement_refused",
        entity="patient",
        entity_id=patient.id,
        at=now,
        pharmacy_id=patient.pharmacy_id,
        facts={"exception_id": exception.id, "mode": mode, "standing": codes},
    )
    uow.commit()
    raise Refused(
        " ".join(r.message for r in checked.standing),
        code=codes[0],
        field=checked.field,
        blocks=counter.reasons(checked.blocks),
        warnings=counter.reasons(checked.warnings),
        unacknowledged=[c for c in codes if c in replacement_checks.ACKNOWLEDGE],
        alerts=alerts,
    )


def _supply(
    session: Session,
    uow: UnitOfWork,
    actor: Actor,
    patient: Patient,
    exception: DoseException,
    new: NewReplacement,
    dose_mg: Decimal,
    mode: str,
    parts: list[tuple[date, Decimal]],
    today: date,
    now: datetime,
    policy: PolicySettings,
) -> Replaced:
    assert new.authorised_at is not None
    assert new.authorised_how is not None
    product = PRODUCTS.get(exception.product)
    replacement = DoseReplacement(
        id=new_id(),
        exception_id=exception.id,
        pharmacy_id=exception.pharmacy_id,
        patient_id=exception.patient_id,
        prescription_id=exception.prescription_id,
        product=exception.product,
        mode=mode,
        dose_mg=dose_mg,
        volume_ml=product.quantity(dose_mg) if product and product.unit == "mL" else None,
        dose_dates=[day.isoformat() for day, _ in parts],
        authorised_by=(new.authorised_by or "").strip()[:300],
        authorised_at=new.authorised_at,
        authorised_how=new.authorised_how,
        note=new.note.strip()[:2000],
        supplied_on=today,
        supplied_by_id=actor.id,
        supplied_at=now,
    )
    session.add(replacement)
    try:
        session.flush()
    except IntegrityError as exc:  # a second replacement raced this one
        raise Conflict(
            "This exception's dose was replaced already: one replacement per exception",
            code="already_replaced",
        ) from exc
    how = new.authorised_how.replace("_", " ")
    entry = register_supplies.record_supply(
        session,
        actor=actor,
        patient=patient,
        prescription_id=exception.prescription_id,
        rows=[
            paper_lines.Unledgered(
                product=exception.product,
                dose_mg=mg,
                dose_date=day,
                pharmacy_id=exception.pharmacy_id,
                handover_id=replacement.id,
                collector_details=(
                    f"Replacement of the dose {_why(exception)}; authorised by "
                    f"{replacement.authorised_by} ({how})"
                )[:500],
            )
            for day, mg in parts
        ],
        today=today,
        now=now,
        routing=policy.alert_routing,
    )
    job = None
    if mode == Mode.TAKE_HOME:
        try:
            job = replacement_label.queue_replacement(
                session,
                actor=actor,
                patient=patient,
                prescription_id=exception.prescription_id,
                replacement_id=replacement.id,
                dose_dates=[day for day, _ in parts],
                dose_mg=dose_mg,
                why=_why(exception),
                today=today,
                now=now,
            )
        except LabelRefused as exc:  # no methadone leaves without a lawful label
            raise Refused(str(exc), code="label_refused", field=exc.field) from exc
    audit_service.record(
        session,
        actor,
        "dose.replacement_supplied",
        entity="patient",
        entity_id=patient.id,
        at=now,
        pharmacy_id=patient.pharmacy_id,
        facts={
            "replacement_id": replacement.id,
            "exception_id": exception.id,
            "dose_mg": str(dose_mg),
            "mode": mode,
            "authorised_by": replacement.authorised_by,
            "authorised_at": replacement.authorised_at,
            "authorised_how": replacement.authorised_how,
            "not_intoxicated": new.not_intoxicated,
            "acknowledged": sorted(new.acknowledged),
            "register_entry_id": entry.id if entry else None,
        },
    )
    uow.commit()
    return Replaced(replacement, entry.id if entry else None, job)
