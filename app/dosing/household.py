"""The household rules as the ledger sees them (DESIGN §3): each adult's regime, the
methadone at home, protected children; run after a take-home, a new prescription or a change
to who lives in the household.

Households publish `HouseholdChanged` (`app.events`) rather than importing this capability;
`on_household_changed` answers it here, where the ledger these rules read is owned, and raises
the alerts through safeguarding in the publisher's transaction.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import events
from app.config import PolicySettings
from app.dosing import facts as dosing_facts
from app.dosing.models import DoseState, InstalmentDay, Mode
from app.households.events import HouseholdChanged
from app.households.repository import current_children
from app.patients.models import Patient
from app.prescriptions import dose_plan
from app.safeguarding import household_alerts
from app.safeguarding import rules as safeguarding_rules
from app.safeguarding import service as safeguarding_service

# The regime comparison looks at this many days of each member's doses.
REGIME_DAYS = 14


def member_regimes(
    session: Session, household_id: UUID, today: date
) -> list[household_alerts.MemberRegime]:
    """Each member's regime from what was prescribed and collected: the share of supervised
    dose days over the last 14 days, or over the next 14 for a member whose treatment here has
    barely begun (fewer than 7 dose days behind them), and whether methadone goes home."""
    window = timedelta(days=REGIME_DAYS - 1)
    rows: dict[UUID, list[tuple[date, str, str, bool]]] = {}
    for patient_id, dose_date, mode, state, parts in session.execute(
        select(
            InstalmentDay.patient_id,
            InstalmentDay.dose_date,
            InstalmentDay.mode,
            InstalmentDay.state,
            InstalmentDay.parts,
        )
        .join(Patient, Patient.id == InstalmentDay.patient_id)
        .where(
            Patient.household_id == household_id,
            InstalmentDay.dose_date >= today - window,
            InstalmentDay.dose_date <= today + window,
        )
    ):
        # The evening part of a split dose goes home on a supervised day (issue 20 §2).
        part_home = dose_plan.home_part_mg(parts) > 0
        rows.setdefault(patient_id, []).append((dose_date, mode, state, part_home))
    regimes = []
    for patient_id, days in sorted(rows.items()):
        past = [d for d in days if d[0] <= today]
        counted = past if len(past) >= REGIME_DAYS // 2 else [d for d in days if d[0] >= today]
        supervised = sum(
            1
            for _, mode, state, _ in counted
            if state == DoseState.SUPERVISED
            or (state != DoseState.COLLECTED and mode == Mode.SUPERVISED)
        )
        regimes.append(
            household_alerts.MemberRegime(
                patient_ref=str(patient_id),
                has_take_home=any(
                    dose_date >= today
                    and (
                        state == DoseState.COLLECTED
                        or (state == DoseState.DUE and mode == Mode.TAKE_HOME)
                        or (part_home and state in (DoseState.DUE, DoseState.SUPERVISED))
                    )
                    for dose_date, mode, state, part_home in days
                ),
                supervised_share=Decimal(supervised) / len(counted) if counted else Decimal(0),
                dose_days=len(counted),
            )
        )
    return regimes


def household_events(
    session: Session, patient: Patient, today: date, policy: PolicySettings
) -> list[safeguarding_rules.SafeguardingEvent]:
    """Household rules after a take-home, a new prescription or a change to who lives there:
    regimes compared, protected children, methadone at home."""
    if patient.household_id is None:
        return []
    children = dosing_facts.children_facts(
        current_children(session, patient.household_id, today), today
    )
    return list(
        household_alerts.household_events(
            members=tuple(member_regimes(session, patient.household_id, today)),
            children=children,
            methadone_at_home_mg=dosing_facts.methadone_at_home(
                session, patient.household_id, today
            ),
            policy_household_mg=Decimal(policy.household_methadone_mg),
            child_age_years=policy.child_age_years,
        )
    )


def on_household_changed(session: Session, event: HouseholdChanged) -> None:
    """Run the household rules after a change to the household, raising their alerts in the
    caller's transaction."""
    member = session.scalar(
        select(Patient).where(Patient.household_id == event.household_id).limit(1)
    )
    if member is None:
        return
    found = household_events(session, member, event.today, event.policy)
    if event.joined is not None:
        regimes = member_regimes(session, event.household_id, event.today)
        found += household_alerts.child_joined_events(
            how=event.joined, take_home=any(m.has_take_home for m in regimes)
        )
    for alert_event in found:
        safeguarding_service.raise_alert(
            session,
            alert_event,
            actor=event.actor,
            pharmacy_id=member.pharmacy_id,
            patient_id=member.id,
            household_id=event.household_id,
            day=event.today,
            now=event.now,
            routing=event.policy.alert_routing,
        )


events.subscribe(HouseholdChanged, on_household_changed)
