"""Which safeguarding events a fact raises, how urgent each is, and who is told, by role.

Pure (STYLE B3): facts in, events out; no database, clock or I/O. The service writes each event
as an alert in the same transaction as its cause (DESIGN §1.5); routing resolves the roles to
contacts and may refine them (DESIGN §4).

An event's message may be sent outside the system, so it is plain and factual and never holds
a name, date of birth or address; `facts` holds references and numbers only. The receiver
fetches detail through the authenticated, audited API.

Severities and recipients follow DESIGN §3 where it is explicit and domain-rules §4 otherwise.
Choices made where the rules are silent (each is pinned by a test):

- "On a plan" means a child protection plan, a child-in-need plan, or looked after: a looked-
  after child living at home has an allocated social worker and a care plan, and is as well
  known to children's social care as the other two (Working Together: share proactively).
- The ladder counts days without a dose taken (missed, withheld, not dispensed), the same count
  the counter blocks on; a lone withheld day raises nothing more than the withhold's own alert.
- One missed day with children at home but none on a plan tells the key worker, as information:
  domain-rules §4.1 has the pharmacy share missed doses with the key worker, but nothing calls
  for social care. One missed day with no children raises nothing (NI Formulary: key worker
  after two).
- Once a child on a plan lives there, the social worker hears of every missed-dose event, not
  only the first, because two days in a row is worse news than one.
- The threshold event repeats for each further missed day (the alert dedupes per day), so a
  patient who stays away after the block keeps showing up until the prescriber reviews.
- A withheld dose because of intoxication goes to the key worker and prescriber (domain-rules
  §2.3), and to the social worker when a child on a plan lives there.

The household's own alerts (regimes, methadone at home, a child joining) are in `household_alerts`,
a recorded concern's in `concern_alerts`; the words and message helpers all of them share are in
`alert_vocabulary` and `alert_messages` (all in `app.safeguarding`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from app.households.rules import ChildFacts, StorageBlock
from app.safeguarding.alert_messages import children_note, fact_map
from app.safeguarding.alert_vocabulary import (
    DELIVERY_FAILURE_CAUSES,
    DedupeScope,
    FactValue,
    Severity,
    children_on_plan,
)

__all__ = [
    "EventKind",
    "Recipient",
    "SafeguardingEvent",
    "closed_day_events",
    "delivery_failed_events",
    "intoxication_events",
    "missed_dose_events",
    "override_events",
    "prescription_ending_events",
    "refused_take_home_events",
    "register_discrepancy_events",
    "register_negative_balance_events",
    "unchecked_dose_events",
]


class EventKind(StrEnum):
    """Stable alert kinds: routing, dedupe keys and templates look them up. Never rename one."""

    MISSED_DOSE = "missed_dose"
    MISSED_THRESHOLD_REACHED = "missed_threshold_reached"
    DOSE_WITHHELD_INTOXICATED = "dose_withheld_intoxicated"
    INTOXICATED_WITH_CHILD_PRESENT = "intoxicated_with_child_present"
    TAKE_HOME_BLOCKED_NO_BOX = "take_home_blocked_no_box"
    BOX_OVERRIDE = "box_override"
    CHILDREN_NOT_CONFIRMED_OVERRIDE = "children_not_confirmed_override"
    TAKE_HOME_IN_PROTECTED_HOUSEHOLD = "take_home_in_protected_household"
    HOUSEHOLD_REGIME_MISMATCH = "household_regime_mismatch"
    HOUSEHOLD_METHADONE_HIGH = "household_methadone_high"
    # A child joined a household where methadone goes home (born, added, moved in, unborn).
    HOUSEHOLD_CHILD_JOINED = "household_child_joined"
    PRESCRIPTION_ENDING = "prescription_ending"
    CLOSED_DAY_NEEDS_AMENDED_PRESCRIPTION = "closed_day_needs_amended_prescription"
    # An alert could not be delivered to someone after every retry: the lead must act.
    DELIVERY_FAILED = "delivery_failed"
    # A CD register balance check found a variance outside the liquid-overage tolerance.
    REGISTER_DISCREPANCY = "register_discrepancy"
    # A supply took a CD register's running balance below zero: a receipt is missing.
    REGISTER_NEGATIVE_BALANCE = "register_negative_balance"
    # A supervised dose was recorded against the wrong patient; the patient who took it had not
    # been checked at the counter, and the checks now say they should not have had it.
    DOSE_GIVEN_UNCHECKED = "dose_given_unchecked"
    # What a person saw or was told that no rule can see, recorded with who else was told.
    PHARMACIST_CONCERN = "pharmacist_concern"
    # Doses given on paper during an outage, entered afterwards: a day supplied twice, or a
    # supply the counter would have refused that day (`app.safeguarding.outage_alerts`).
    OUTAGE_DOUBLE_SUPPLY = "outage_double_supply"
    OUTAGE_BLOCK_IGNORED = "outage_block_ignored"
    # A long-acting buprenorphine injection past its window with no dose recorded, found at
    # close of day (`app.safeguarding.injection_alerts`); one per overdue dose.
    INJECTION_OVERDUE = "injection_overdue"
    # A take-home reported lost or stolen where children live, and a second dose exception of
    # a patient within 28 days (`app.safeguarding.exception_alerts`).
    DOSE_LOST_WITH_CHILDREN = "dose_lost_with_children"
    REPEATED_DOSE_EXCEPTIONS = "repeated_dose_exceptions"


class Recipient(StrEnum):
    """A role relative to the patient (or to each child, for the social worker)."""

    KEY_WORKER = "key_worker"
    PRESCRIBER = "prescriber"
    SOCIAL_WORKER = "social_worker"
    SAFEGUARDING_LEAD = "safeguarding_lead"
    MASH = "mash"


@dataclass(frozen=True, slots=True)
class SafeguardingEvent:
    kind: EventKind
    severity: Severity
    recipients: tuple[Recipient, ...]  # by role; the routing policy may refine them
    message: str  # plain and factual; no names, dates of birth or addresses (it may be sent)
    facts: Mapping[str, FactValue] = field(hash=False)  # references and numbers only
    dedupe_scope: DedupeScope  # one alert per kind, subject and day


def missed_dose_events(
    *,
    days_without_dose: int,
    children: tuple[ChildFacts, ...],
    policy_missed_threshold: int,
    withheld_today: bool = False,
) -> tuple[SafeguardingEvent, ...]:
    """Return the events for a patient's run of consecutive days without a dose taken, at the
    end of a day: the same count the counter blocks on (DESIGN §3: "the block and the alert
    follow the same count").

    The ladder (DESIGN §3): 1 day with a child on a plan → key worker and social worker;
    2 or more → key worker; the threshold (3 by default) or more → urgent to the prescriber and
    key worker, and the social worker where children live there. A run of one day that is
    today's withheld dose raises nothing here: the withhold raised its own alert. See the
    module docstring for the rungs DESIGN leaves open.
    """
    if days_without_dose < 1:
        return ()
    on_plan = children_on_plan(children)
    facts = fact_map(
        days_without_dose=days_without_dose,
        missed_threshold=policy_missed_threshold,
        children=len(children),
        children_on_plan=len(on_plan),
    )
    days = "1 day" if days_without_dose == 1 else f"{days_without_dose} consecutive days"
    if days_without_dose >= policy_missed_threshold:
        recipients = [Recipient.PRESCRIBER, Recipient.KEY_WORKER]
        if children:
            recipients.append(Recipient.SOCIAL_WORKER)
        return (
            SafeguardingEvent(
                EventKind.MISSED_THRESHOLD_REACHED,
                Severity.URGENT,
                tuple(recipients),
                f"No methadone dose taken for {days} (missed, withheld or not dispensed): "
                "supply is stopped until the prescriber reviews (risk of overdose from lost "
                f"tolerance).{children_note(children)}",
                facts,
                "patient",
            ),
        )
    if days_without_dose == 1 and withheld_today:
        return ()
    if days_without_dose == 1 and not on_plan:
        if not children:
            return ()
        return (
            SafeguardingEvent(
                EventKind.MISSED_DOSE,
                Severity.INFO,
                (Recipient.KEY_WORKER,),
                f"A methadone dose was missed (1 day).{children_note(children)}",
                facts,
                "patient",
            ),
        )
    recipients = [Recipient.KEY_WORKER]
    if on_plan:
        recipients.append(Recipient.SOCIAL_WORKER)
    what = (
        "A methadone dose was missed (1 day)."
        if days_without_dose == 1
        else f"No methadone dose taken for {days} (missed or withheld)."
    )
    return (
        SafeguardingEvent(
            EventKind.MISSED_DOSE,
            Severity.WARNING,
            tuple(recipients),
            f"{what}{children_note(children)}",
            facts,
            "patient",
        ),
    )


def intoxication_events(
    *, children_present: int, children_in_household: tuple[ChildFacts, ...]
) -> tuple[SafeguardingEvent, ...]:
    """Return the events for a dose withheld because the patient presented intoxicated.

    `children_present` counts the children who came to the counter with the patient; they may
    or may not live in the household.
    """
    on_plan = children_on_plan(children_in_household)
    facts = fact_map(
        children_present=children_present,
        children_in_household=len(children_in_household),
        children_on_plan=len(on_plan),
    )
    recipients = [Recipient.KEY_WORKER, Recipient.PRESCRIBER]
    if on_plan:
        recipients.append(Recipient.SOCIAL_WORKER)
    events = [
        SafeguardingEvent(
            EventKind.DOSE_WITHHELD_INTOXICATED,
            Severity.WARNING,
            tuple(recipients),
            "The patient presented intoxicated and today's methadone dose was withheld."
            + children_note(children_in_household),
            facts,
            "patient",
        )
    ]
    if children_present > 0:
        count = "a child" if children_present == 1 else f"{children_present} children"
        events.append(
            SafeguardingEvent(
                EventKind.INTOXICATED_WITH_CHILD_PRESENT,
                Severity.URGENT,
                (Recipient.SOCIAL_WORKER, Recipient.KEY_WORKER),
                f"The patient presented intoxicated at the pharmacy with {count} in their care; "
                "the dose was withheld.",
                facts,
                "patient",
            )
        )
    return tuple(events)


def override_events(*, overridden: Iterable[str]) -> tuple[SafeguardingEvent, ...]:
    """Return one event per household-storage block a pharmacist overrode at the counter.

    The override reason is free text that may name people, so it stays in the record and is
    not copied into the event. Raises ValueError for a code that cannot be overridden: the
    counter must have refused such a handover, so reaching here is a bug.
    """
    codes = set(overridden)
    wrong = codes - set(StorageBlock)
    if wrong:
        raise ValueError(f"not overridable: {', '.join(sorted(wrong))}")
    events: list[SafeguardingEvent] = []
    if StorageBlock.NO_LOCKABLE_BOX in codes:
        events.append(
            SafeguardingEvent(
                EventKind.BOX_OVERRIDE,
                Severity.URGENT,
                (
                    Recipient.KEY_WORKER,
                    Recipient.PRESCRIBER,
                    Recipient.SOCIAL_WORKER,
                    Recipient.SAFEGUARDING_LEAD,
                ),
                "A take-home methadone dose was supplied without a valid lockable-box "
                "confirmation to a household where a young child lives; the pharmacist "
                "recorded a reason.",
                fact_map(overridden=str(StorageBlock.NO_LOCKABLE_BOX)),
                "patient",
            )
        )
    if StorageBlock.CHILDREN_NOT_CONFIRMED in codes:
        events.append(
            SafeguardingEvent(
                EventKind.CHILDREN_NOT_CONFIRMED_OVERRIDE,
                Severity.WARNING,
                (Recipient.KEY_WORKER, Recipient.SAFEGUARDING_LEAD),
                "A take-home methadone dose was supplied although the children living in the "
                "household have not been confirmed recently; the pharmacist recorded a reason. "
                "Please re-confirm who lives there.",
                fact_map(overridden=str(StorageBlock.CHILDREN_NOT_CONFIRMED)),
                "patient",
            )
        )
    return tuple(events)


def refused_take_home_events(*, standing: Iterable[str]) -> tuple[SafeguardingEvent, ...]:
    """Return the events for a take-home refused at the counter for want of a lockable box.

    `standing` is the codes of the refusal that stood (Decision.refusal). The key worker can
    check the box on a home visit, which is the quickest way to unblock the patient.
    """
    if StorageBlock.NO_LOCKABLE_BOX not in set(standing):
        return ()
    return (
        SafeguardingEvent(
            EventKind.TAKE_HOME_BLOCKED_NO_BOX,
            Severity.WARNING,
            (Recipient.KEY_WORKER, Recipient.PRESCRIBER),
            "A take-home methadone dose was not supplied because no valid lockable-box "
            "confirmation is recorded and a young child lives in the household. A box check "
            "(at the pharmacy or on a home visit) is needed.",
            fact_map(blocked=str(StorageBlock.NO_LOCKABLE_BOX)),
            "patient",
        ),
    )


def prescription_ending_events(
    *, days_left: int, has_successor: bool, policy_days: int
) -> tuple[SafeguardingEvent, ...]:
    """Return a reminder to the prescriber when a prescription ends soon with no successor.

    An unplanned gap in treatment is a relapse and overdose risk, so the prescriber hears
    before the patient runs out rather than after.
    """
    if has_successor or not 0 <= days_left <= policy_days:
        return ()
    return (
        SafeguardingEvent(
            EventKind.PRESCRIPTION_ENDING,
            Severity.INFO,
            (Recipient.PRESCRIBER, Recipient.KEY_WORKER),
            "A methadone prescription ends soon and no new prescription has been received.",
            fact_map(days_left=days_left),
            "patient",
        ),
    )


def closed_day_events(*, closed_dose_days: int) -> tuple[SafeguardingEvent, ...]:
    """Return a request to amend the prescription when doses fall on closed days.

    Without the Home Office closed-day wording a dose may not move to an earlier day
    (domain-rules §6), so only the prescriber can fix the schedule.
    """
    if closed_dose_days < 1:
        return ()
    return (
        SafeguardingEvent(
            EventKind.CLOSED_DAY_NEEDS_AMENDED_PRESCRIPTION,
            Severity.WARNING,
            (Recipient.PRESCRIBER,),
            "Doses on this prescription fall on days the pharmacy is closed and the "
            "prescription has no closed-day wording: an amended prescription is needed.",
            fact_map(closed_dose_days=closed_dose_days),
            "patient",
        ),
    )


def delivery_failed_events(
    *, original_kind: str, channel: str, cause: str = "retries"
) -> tuple[SafeguardingEvent, ...]:
    """Return the event telling the safeguarding lead an alert never reached a recipient.

    "Shared" is not "received": a dead delivery means someone who should know does not, so a
    person must pick up the phone. A failure to deliver this alert itself raises nothing more
    (it stays visible on the web feed), so failures cannot cascade. `cause` is a key of
    `DELIVERY_FAILURE_CAUSES`.
    """
    if original_kind == EventKind.DELIVERY_FAILED:
        return ()
    why = DELIVERY_FAILURE_CAUSES.get(cause, DELIVERY_FAILURE_CAUSES["retries"])
    return (
        SafeguardingEvent(
            EventKind.DELIVERY_FAILED,
            Severity.URGENT,
            (Recipient.SAFEGUARDING_LEAD,),
            f"A {original_kind.replace('_', ' ')} alert could not be delivered by {channel} "
            f"{why}: contact the recipient another way.",
            fact_map(original_kind=original_kind, channel=channel, cause=cause),
            "patient",
        ),
    )


def register_discrepancy_events(
    *, product: str, variance_ml: str, tolerance_ml: str
) -> tuple[SafeguardingEvent, ...]:
    """Return the event for a CD register balance check outside the tolerance.

    A controlled-drug discrepancy is investigated and reported to the CD accountable officer
    (Controlled Drugs (Supervision of Management and Use) Regulations 2013); the pharmacy's
    safeguarding lead stands in for that role in the routing table until it has its own. Missing
    methadone is also a child-safety matter: less than 10 mL can kill a small child. The scope is
    the pharmacy, so one register's discrepancies never merge with another pharmacy's.
    """
    return (
        SafeguardingEvent(
            EventKind.REGISTER_DISCREPANCY,
            Severity.WARNING,
            (Recipient.SAFEGUARDING_LEAD,),
            "A controlled drugs register balance check found a discrepancy outside the "
            "tolerance: investigate and report it to the CD accountable officer.",
            fact_map(product=product, variance_ml=variance_ml, tolerance_ml=tolerance_ml),
            "pharmacy",
        ),
    )


def register_negative_balance_events(
    *, product: str, balance_ml: str
) -> tuple[SafeguardingEvent, ...]:
    """Return the event for a supply that left a CD register's running balance below zero.

    Stock cannot be negative: a receipt was not entered, or a supply was recorded against the
    wrong product. Until it is put right every later balance check is meaningless, so the lead
    hears of it the day it happens rather than at the next count. The supply itself stands (it
    happened, and the register must say so); one alert per pharmacy and day.
    """
    return (
        SafeguardingEvent(
            EventKind.REGISTER_NEGATIVE_BALANCE,
            Severity.WARNING,
            (Recipient.SAFEGUARDING_LEAD,),
            "A controlled drugs register shows a negative running balance after a supply: a "
            "receipt may not have been entered. Check the stock and enter the receipt or a "
            "correction.",
            fact_map(product=product, balance_ml=balance_ml),
            "pharmacy",
        ),
    )


def unchecked_dose_events(*, blocks: Iterable[str]) -> tuple[SafeguardingEvent, ...]:
    """Return the event for a dose taken by a patient the counter never checked.

    A supervised dose recorded against the wrong patient is corrected to the patient who took
    it; the counter's checks ran on the other patient. When the checks for the one who took it
    would have refused the dose (days without a dose and loss of tolerance, a prescriber's
    review pending, a dose already taken), they have had methadone they should not have: the
    prescriber and key worker must hear of it now, as for an override. Nothing when the
    checks pass (the record was wrong, the supply was not).
    """
    codes = sorted(set(blocks))
    if not codes:
        return ()
    return (
        SafeguardingEvent(
            EventKind.DOSE_GIVEN_UNCHECKED,
            Severity.URGENT,
            (Recipient.PRESCRIBER, Recipient.KEY_WORKER),
            "A supervised dose was recorded against another patient and corrected: the patient "
            "who took it had not been checked at the counter, and the checks would have refused "
            "it. Review the patient today (tolerance, intoxication, next dose).",
            fact_map(blocks=",".join(codes)),
            "patient",
        ),
    )
