"""Balance checks: a physical count by two people against the book balance (NICE NG46). Its own
module because it alone checks a second person's password (with the sign-in limiter's memory)
and raises a `register_discrepancy` alert when the count is outside the tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.actor import Actor
from app.auth import service as auth_service
from app.auth.models import User
from app.auth.policy import require_role
from app.auth.roles import Role
from app.config import AuthSettings, PolicySettings
from app.db import UnitOfWork
from app.errors import PermissionDenied
from app.register import rules
from app.register.access import WRITERS, own_pharmacy, register_product
from app.register.chain import append, lock_register
from app.register.models import RegisterEntry
from app.register.rules import EntryKind, ml
from app.register.writing import audit_entry, refuse, stamp_author
from app.safeguarding import rules as safeguarding_rules
from app.safeguarding import service as safeguarding_service

WITNESSES = {Role.PHARMACIST, Role.TECHNICIAN}


@dataclass(frozen=True, slots=True)
class BalanceCheck:
    product: str
    counted_on: date
    counted_ml: Decimal
    witness_username: str
    witness_password: str
    explanation: str | None = None
    late_reason: str | None = None


def _witness(
    session: Session, actor: Actor, username: str, password: str, now: datetime, auth: AuthSettings
) -> User:
    """The second person confirms with their own password: a name typed by the first person
    proves nothing. Failures count as failed sign-ins for that account."""
    user = auth_service.confirm_password(
        session, username, password, client="register-witness", now=now, settings=auth
    )
    if user.id == actor.id or user.pharmacy_id != actor.pharmacy_id or user.role not in WITNESSES:
        raise PermissionDenied(
            "A balance check is witnessed by a second pharmacist or technician of this pharmacy",
            code="second_person_required",
        )
    return user


def book_balance(session: Session, pharmacy_id: UUID, product: str, through: date) -> Decimal:
    """The register balance at the close of `through`: every change dated that day or before."""
    total = session.scalar(
        select(func.coalesce(func.sum(RegisterEntry.change_ml), 0)).where(
            RegisterEntry.pharmacy_id == pharmacy_id,
            RegisterEntry.product == product,
            RegisterEntry.transaction_date <= through,
        )
    )
    return ml(Decimal(str(total or 0)))


def record_balance_check(
    uow: UnitOfWork,
    *,
    actor: Actor,
    check: BalanceCheck,
    today: date,
    now: datetime,
    policy: PolicySettings,
    auth: AuthSettings,
) -> tuple[RegisterEntry, rules.BalanceAssessment]:
    """A physical count by two people against the book balance (NICE NG46).

    Outside the liquid-overage tolerance the variance is a discrepancy: it needs an explanation
    and raises a `register_discrepancy` alert to the pharmacy's safeguarding lead in the same
    transaction. A failed witness password is kept (the sign-in limiter's memory) even though the
    check itself is refused.
    """
    require_role(actor, WRITERS, "record CD balance checks")
    product = register_product(check.product)
    refuse(
        rules.entry_date_findings(
            transaction_date=check.counted_on,
            today=today,
            late_reason=check.late_reason,
            field="counted_on",
        )
    )
    with uow:
        session = uow.session
        pharmacy = own_pharmacy(session, actor)
        try:
            witness = _witness(
                session, actor, check.witness_username, check.witness_password, now, auth
            )
        except PermissionDenied:
            uow.commit()  # keep the failed attempt
            raise
        lock_register(session, pharmacy.id, product.code)
        assessment = rules.assess_balance(
            expected_ml=book_balance(session, pharmacy.id, product.code, check.counted_on),
            counted_ml=check.counted_ml,
            tolerance_percent=Decimal(str(policy.register_tolerance_percent)),
            liquid=product.unit == "mL",
        )
        explanation = (check.explanation or "").strip() or None
        if assessment.discrepancy and explanation is None:
            refuse(
                (
                    rules.Finding(
                        rules.Code.EXPLANATION_REQUIRED,
                        f"The count differs from the register by {assessment.variance_ml} mL, "
                        f"outside the {assessment.tolerance_ml} mL tolerance: record what was "
                        "found (explanation).",
                        "explanation",
                        "NICE NG46; PSI methadone balance-check advice",
                    ),
                )
            )
        entry = RegisterEntry(
            pharmacy_id=pharmacy.id,
            product=product.code,
            kind=EntryKind.BALANCE_CHECK,
            transaction_date=check.counted_on,
            entered_on=today,
            late_reason=(check.late_reason or None) if check.counted_on < today else None,
            quantity_ml=assessment.counted_ml,
            change_ml=Decimal(0),
            expected_ml=assessment.expected_ml,
            variance_ml=assessment.variance_ml,
            tolerance_ml=assessment.tolerance_ml,
            discrepancy=assessment.discrepancy,
            reason=explanation,
            witness_id=witness.id,
            witness_name=witness.username,
        )
        if assessment.discrepancy:
            (event,) = safeguarding_rules.register_discrepancy_events(
                product=product.code,
                variance_ml=str(assessment.variance_ml),
                tolerance_ml=str(assessment.tolerance_ml),
            )
            alert = safeguarding_service.raise_alert(
                session,
                event,
                actor=actor,
                pharmacy_id=pharmacy.id,
                patient_id=None,
                household_id=None,
                day=today,
                now=now,
                routing=policy.alert_routing,
            )
            entry.alert_id = alert.id
        stamp_author(entry, actor, now)
        append(session, entry)
        audit_entry(session, actor, "register.balance_checked", entry, now)
        uow.commit()
        return entry, assessment
