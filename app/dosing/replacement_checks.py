"""The counter's safety checks, applied to a replacement supply (issue 20 §1).

A replacement is methadone leaving the CD cupboard like any handover, so it goes through the
counter's own decision (`rules.decide`, with the facts `gather` reads for the patient today):
not on a prescription that is not active (cancelled, suspended, completed, awaiting its check)
or has ended, not once the patient has gone the missed-dose threshold without a dose, not to a
patient the pharmacist finds intoxicated (attested for a supervised replacement, as at the
handover), not while today's dose stands withheld; and a take-home replacement goes through
the household checks (a valid lockable box where children live, the children confirmed) and
needs the counter's take-home warnings acknowledged (a young child at home, the methadone at
home). The replacement is put to the decision as the instalment to hand over today (one
supervised dose, or the take-home days it replaces), so every rule reads it as the counter
would.

Where it differs from the counter, the safer choice (docs/decisions.md): the household blocks
cannot be overridden for a replacement (supply it supervised, or confirm the box and the
children first), and of the counter's warnings only the household's two must be acknowledged
(the others are about the prescription's own doses, already acknowledged at the handover).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from app.actor import Actor
from app.config import PolicySettings
from app.dosing import counter, gather, rules
from app.dosing import counter_wording as wording
from app.dosing.decision_inputs import InstalmentDay, Suspension
from app.dosing.exception_models import DoseException
from app.patients.models import Patient
from app.prescriptions import repository as prescriptions_repository
from app.prescriptions.models import Prescription

__all__ = ["ACKNOWLEDGE", "Checked", "check"]

# The counter's warnings a replacement must have acknowledged: what a take-home adds at home.
ACKNOWLEDGE = frozenset({rules.Code.YOUNG_CHILD_TAKE_HOME, rules.Code.HOUSEHOLD_METHADONE_HIGH})
# Where a refusal is shown on the replacement form.
_FIELD = {
    rules.Code.PATIENT_INTOXICATED: "not_intoxicated",
    rules.Code.NO_LOCKABLE_BOX: "mode",
    rules.Code.CHILDREN_NOT_CONFIRMED: "mode",
    rules.Code.YOUNG_CHILD_TAKE_HOME: "acknowledged",
    rules.Code.HOUSEHOLD_METHADONE_HIGH: "acknowledged",
}


@dataclasses.dataclass(frozen=True, slots=True)
class Checked:
    """The counter's reasons about this replacement: `standing` refuses it."""

    blocks: tuple[rules.Reason, ...]
    warnings: tuple[rules.Reason, ...]
    standing: tuple[rules.Reason, ...]

    @property
    def field(self) -> str:
        return _FIELD.get(self.standing[0].code, "form") if self.standing else "form"


def _prescription_reason(
    session: Session, exception: DoseException, today: date
) -> rules.Reason | None:
    """The dose was supplied on a prescription the counter no longer supplies on."""
    rx = session.get(Prescription, exception.prescription_id)
    if rx is None:  # pragma: no cover - a foreign key
        return rules.Reason(rules.Code.NO_PRESCRIPTION, *wording.NO_PRESCRIPTION_TODAY)
    if rx.status != "active":
        suspension = prescriptions_repository.current_suspensions(session, [rx.id]).get(rx.id)
        held = (
            None if suspension is None else Suspension(suspension.effective_on, suspension.reason)
        )
        return rules.Reason(
            rules.Code.PRESCRIPTION_NOT_ACTIVE,
            *wording.not_active(rx.status, held),  # type: ignore[arg-type]
        )
    if today > rx.end_on:
        return rules.Reason(rules.Code.NO_PRESCRIPTION, *wording.prescription_ended(rx.end_on))
    return rules.Reason(
        rules.Code.PRESCRIPTION_NOT_ACTIVE,
        "Another prescription is in force today than the one this dose was supplied on — do "
        "not supply the replacement on the old one; ask the prescriber.",
        "MDR 2001 reg 16: supply only against a valid prescription",
    )


def _days(
    mode: str, parts: Sequence[tuple[date, Decimal]], today: date
) -> tuple[InstalmentDay, ...]:
    """The replacement as the instalment handed over today: one supervised dose swallowed
    here, or each day it replaces going home."""
    if mode == "supervised":
        total = sum((mg for _, mg in parts), Decimal(0))
        return (InstalmentDay(today, today, "supervised", total, "due"),)
    return tuple(InstalmentDay(day, today, "take_home", mg, "due") for day, mg in parts)


def check(
    session: Session,
    actor: Actor,
    patient: Patient,
    exception: DoseException,
    *,
    mode: str,
    parts: Sequence[tuple[date, Decimal]],
    intoxicated: bool,
    acknowledged: Iterable[str],
    today: date,
    policy: PolicySettings,
) -> Checked:
    """The counter's decision for this replacement today: every reason, and those standing."""
    (view,) = counter.views(
        session,
        actor,
        [patient],
        product=exception.product,
        today=today,
        intoxicated=intoxicated,
        policy=policy,
    )
    if view.prescription_id != exception.prescription_id:
        reason = _prescription_reason(session, exception, today)
        assert reason is not None
        return Checked((reason,), (), (reason,))
    facts = dataclasses.replace(
        view.facts,
        instalments=_days(mode, parts, today),
        collector="patient",
        measuring_device=None,
        bottle=None,
    )
    decision = rules.decide(facts, gather.counter_policy(policy))
    # Today's own dose withheld by a pharmacist stands for the replacement too.
    withheld = [r for r in view.decision.blocks if r.code == rules.Code.WITHHELD_TODAY]
    blocks = tuple(decision.blocks) + tuple(withheld)
    warnings = tuple(r for r in decision.warnings if r.code in ACKNOWLEDGE)
    said = frozenset(acknowledged)
    standing = blocks + tuple(r for r in warnings if r.code not in said)
    return Checked(blocks, warnings, standing)
