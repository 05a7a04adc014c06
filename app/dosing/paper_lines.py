"""One line of an outage sheet checked and recorded (`app.dosing.paper_doses` enters the
sheet): a supply the ledger takes or a double supply it cannot, the register line either way, a
withhold, and the alerts each raises. Split from `paper_doses.py`, which checks the sheet as a
whole and enters it in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from app.actor import Actor
from app.config import PolicySettings
from app.dosing import counter as dosing_counter
from app.dosing import ledger, rules
from app.dosing.corrections import MISSED_DAY_ALERTS, correction_row
from app.dosing.household import household_events
from app.dosing.models import (
    TAKEN_STATES,
    DoseState,
    InstalmentDay,
    Mode,
    PaperDose,
    PaperFinding,
    PaperOutcome,
)
from app.errors import Conflict, InvalidInput
from app.patients.models import Patient
from app.register import supplies as register_supplies
from app.safeguarding import acknowledgement
from app.safeguarding import rules as safeguarding_rules
from app.safeguarding import service as safeguarding_service
from app.safeguarding.outage_alerts import outage_dose_events

PAPER_DOSE = "paper_dose"
# The counter's codes about the day's slot itself, which the reconciliation decides from the
# ledger (a double supply, nothing due) rather than as a block the sheet ignored; a measuring
# device is not on the sheet.
SLOT_CODES = frozenset(
    {
        rules.Code.ALREADY_RECORDED,
        rules.Code.NOT_DUE_TODAY,
        rules.Code.MEASURING_DEVICE_NOT_RECORDED,
    }
)


@dataclass(frozen=True, slots=True)
class _Supplied:
    """A supply the ledger cannot take (a second supply of a day, a day not due), in the shape
    the CD register reads: the methadone left, so the register line is written all the same."""

    product: str
    dose_mg: Decimal
    dose_date: date
    pharmacy_id: UUID
    handover_id: UUID | None
    authorisation_id: UUID | None = None
    collector: str | None = "patient"
    collector_details: str | None = None
    id_asked: bool | None = None
    id_shown: bool | None = None


# The same shape for any supply the ledger does not take: a replacement dose
# (`app.dosing.exceptions`) writes its own register line through it too.
Unledgered = _Supplied


def field_of(index: int, name: str) -> str:
    # As a schema error names it (`entries.0.given_at`), so a page places both alike.
    return f"entries.{index}.{name}"


def _mode_of(outcome: str) -> str:
    return Mode.SUPERVISED if outcome == PaperOutcome.SUPERVISED else Mode.TAKE_HOME


def _open(row: InstalmentDay) -> bool:
    """Still able to take the supply: due, or marked missed by a close of day and not yet
    corrected."""
    return row.state == DoseState.DUE or (
        row.state == DoseState.MISSED and row.correction_id is None
    )


def record_supplied(
    session: Session,
    actor: Actor,
    patient: Patient,
    view: dosing_counter.CounterView,
    paper: PaperDose,
    *,
    index: int,
    today: date,
    now: datetime,
    timezone: str,
    policy: PolicySettings,
) -> list[str]:
    # The rows handed over that day, as at the counter: the day's own dose and any take-home
    # days collected with it (Saturday's supervised dose and Sunday's bottle).
    # Only the days this counter holds (a day granted to a guest pharmacy is not the home
    # counter's to fill in, nor the guest's a day outside its grant).
    rows = [r for r in view.rows if r.pharmacy_id == paper.pharmacy_id]
    day_row = next((r for r in rows if r.dose_date == paper.dose_date), None)
    if day_row is not None and _open(day_row) and day_row.mode != _mode_of(paper.outcome):
        wanted = "supervised" if day_row.mode == Mode.SUPERVISED else "collected"
        raise InvalidInput(
            field_of(index, "outcome"),
            "matches_prescription",
            f"that day's instalment is {day_row.mode.replace('_', '-')}: enter it as {wanted}",
        )
    open_rows = [r for r in rows if _open(r)]
    taken = [r for r in rows if r.state in TAKEN_STATES]
    if day_row is not None and day_row.state in TAKEN_STATES:
        # The day's own dose was supplied already: this is a second one, whatever else is due.
        open_rows, taken = [], [day_row]
    blocks = [str(b.code) for b in view.decision.blocks if b.code not in SLOT_CODES]
    findings: list[str] = []
    supplied: Sequence[register_supplies.SuppliedDay]
    if open_rows:
        _record_on_ledger(session, actor, patient, open_rows, paper, now=now, timezone=timezone)
        supplied = open_rows
        findings.append(PaperFinding.ENTERED)
    elif taken:
        findings.append(PaperFinding.DOUBLE_SUPPLY)
        supplied = [_unledgered(paper, r.product, Decimal(r.dose_mg), r.dose_date) for r in taken]
    else:
        prescription = view.facts.prescription
        if prescription is None or view.product is None:
            raise Conflict(
                "There is no prescription to enter this dose against: a dose given without one "
                "is a dispensing incident to report, not a record to enter",
                code="no_prescription",
                field=field_of(index, "patient_id"),
            )
        withheld = [r for r in rows if r.state == DoseState.WITHHELD]
        if not withheld:
            findings.append(PaperFinding.NOT_DUE)
        dose = Decimal(withheld[0].dose_mg) if withheld else Decimal(prescription.daily_dose_mg)
        supplied = [_unledgered(paper, view.product, dose, paper.dose_date)]
    if blocks:
        findings.append(PaperFinding.BLOCK_IGNORED)
    paper.findings = findings
    paper.blocks = blocks
    paper.dose_dates = [s.dose_date.isoformat() for s in supplied]
    paper.dose_mg = sum((Decimal(s.dose_mg) for s in supplied), Decimal(0))
    if view.prescription_id is not None:
        register_supplies.record_supply(
            session,
            actor=actor,
            patient=patient,
            prescription_id=view.prescription_id,
            rows=supplied,
            today=today,
            now=now,
            routing=policy.alert_routing,
            supplied_on=paper.dose_date,
        )
    events = list(
        outage_dose_events(
            double_supply=PaperFinding.DOUBLE_SUPPLY in findings,
            blocks=blocks,
            not_due=PaperFinding.NOT_DUE in findings,
        )
    )
    if paper.outcome == PaperOutcome.COLLECTED:
        # Methadone went home: the household's own alerts (children, methadone at home).
        events += household_events(session, patient, paper.dose_date, policy)
    return raise_events(session, events, actor, patient, paper.dose_date, now, policy)


def _unledgered(paper: PaperDose, product: str, dose_mg: Decimal, day: date) -> _Supplied:
    return _Supplied(
        product=product,
        dose_mg=dose_mg,
        dose_date=day,
        pharmacy_id=paper.pharmacy_id,
        handover_id=paper.id,
    )


def _record_on_ledger(
    session: Session,
    actor: Actor,
    patient: Patient,
    rows: Sequence[InstalmentDay],
    paper: PaperDose,
    *,
    now: datetime,
    timezone: str,
) -> None:
    """The day's rows take the paper supply: dated and timed as on the sheet, naming the entry;
    a row a close of day marked missed meanwhile is corrected, and the alerts it raised go."""
    record = {
        "paper_dose_id": str(paper.id),
        "sheet_reference": paper.sheet_reference,
        "given_by": paper.given_by,
        "entered_at": now.isoformat(),
    }
    corrected = False
    for row in rows:
        target = (
            DoseState.SUPERVISED
            if paper.outcome == PaperOutcome.SUPERVISED
            and row.dose_date == paper.dose_date
            and row.mode == Mode.SUPERVISED
            else DoseState.COLLECTED
        )
        values: dict[str, Any] = {
            "state": target,
            "handover_id": paper.id,
            "recorded_by_id": actor.id,
            "recorded_at": paper.given_at,
            "collector": "patient",
            "decision": {"paper": record},
        }
        if row.collect_on < paper.dose_date:
            values["collect_on"] = paper.dose_date
        expected = row.state
        if row.state == DoseState.MISSED:
            correction = correction_row(
                PAPER_DOSE,
                row,
                target,
                paper.given_at,
                f"Given on paper during an outage (sheet {paper.sheet_reference}, "
                f"{paper.given_by})",
                actor,
                now,
            )
            session.add(correction)
            session.flush()
            values["correction_id"] = correction.id
            corrected = True
        ledger.change_day(session, row.id, expected=expected, values=values)
    session.flush()
    for row in rows:
        session.refresh(row)
    if corrected:
        acknowledgement.resolve_for_patient(
            session,
            actor=actor,
            patient_id=patient.id,
            kinds=MISSED_DAY_ALERTS,
            why=f"The day marked missed ({paper.dose_date.isoformat()}) was given on paper "
            f"during an outage (sheet {paper.sheet_reference}).",
            now=now,
            raised_since=datetime.combine(paper.dose_date, time(0), tzinfo=ZoneInfo(timezone)),
            cause=PAPER_DOSE,
        )


def record_withheld(
    session: Session,
    actor: Actor,
    patient: Patient,
    view: dosing_counter.CounterView,
    paper: PaperDose,
    *,
    index: int,
    now: datetime,
    policy: PolicySettings,
) -> list[str]:
    """A dose withheld on paper (intoxication): the day is withheld if still due, and the
    withhold's alerts go out as at the counter. Withholding a day the record shows supplied
    contradicts the record, so it is refused for the pharmacist to check the sheet."""
    rows = [r for r in view.rows if r.pharmacy_id == paper.pharmacy_id]
    taken = [r for r in rows if r.state in TAKEN_STATES]
    if taken:
        raise Conflict(
            "The record shows this day's dose supplied: check the sheet. If the dose was both "
            "withheld and later given, enter it as given",
            code="already_recorded",
            field=field_of(index, "outcome"),
        )
    due = [r for r in rows if r.state == DoseState.DUE]
    for row in due:
        ledger.change_day(
            session,
            row.id,
            expected=DoseState.DUE,
            values={
                "state": DoseState.WITHHELD,
                "recorded_by_id": actor.id,
                "recorded_at": paper.given_at,
                "reason": f"intoxicated: withheld on paper during an outage (sheet "
                f"{paper.sheet_reference}, {paper.given_by})"[:500],
                "decision": {"paper": {"paper_dose_id": str(paper.id)}},
            },
        )
    paper.findings = [PaperFinding.ENTERED] if due else []
    paper.blocks = []
    paper.dose_dates = [r.dose_date.isoformat() for r in due]
    paper.dose_mg = None
    children = view.facts.household.children if view.facts.household else ()
    events = safeguarding_rules.intoxication_events(
        children_present=0, children_in_household=children
    )
    return raise_events(session, events, actor, patient, paper.dose_date, now, policy)


def raise_events(
    session: Session,
    events: Sequence[safeguarding_rules.SafeguardingEvent],
    actor: Actor,
    patient: Patient,
    day: date,
    now: datetime,
    policy: PolicySettings,
) -> list[str]:
    raised = safeguarding_service.raise_alerts(
        session,
        [
            safeguarding_service.Raise(event, patient.pharmacy_id, patient.id, patient.household_id)
            for event in events
        ],
        actor=actor,
        day=day,
        now=now,
        routing=policy.alert_routing,
    )
    return [str(alert.id) for alert in raised]
