"""Which alerts a household as a whole raises: the adults' regimes compared, take-home
methadone where a child is on a plan, the methadone kept at home, and a child joining.

Pure (STYLE B3): facts in, events out, like `app.safeguarding.rules`, which holds the alert
kinds, the roles and the alerts about one patient (missed doses, intoxication, storage blocks
at the counter); these are the ones whose facts are the household's (DESIGN §3, household
rules), kept apart so each module can be read whole. Choices made where the rules are silent
(each is pinned by a test):

- Regimes are compared by each adult's share of supervised dose days; a difference of half the
  days or more (`REGIME_MISMATCH_SHARE`) in a household with children is "markedly different".
- `household_methadone_high` is a warning when a child under the age setting lives there and
  information otherwise; `take_home_in_protected_household` is urgent when a child is on a child
  protection plan, a warning for the other plans.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from app.households.rules import ChildFacts
from app.safeguarding.alert_messages import children_note, fact_map, format_mg, format_percent
from app.safeguarding.alert_vocabulary import Severity, children_on_plan
from app.safeguarding.rules import EventKind, Recipient, SafeguardingEvent

__all__ = [
    "REGIME_MISMATCH_SHARE",
    "MemberRegime",
    "child_joined_events",
    "household_events",
]


@dataclass(frozen=True, slots=True)
class MemberRegime:
    """One methadone patient in a household, as the household rules see them."""

    patient_ref: str  # an opaque reference (id), never a name
    has_take_home: bool  # any take-home dose scheduled from today on, or at home now
    # Share of the member's dose days that are supervised (0 to 1), from what was prescribed
    # and collected over the last 14 days (or the next 14 for a new prescription).
    supervised_share: Decimal = Decimal(0)
    dose_days: int = 0  # how many dose days the share is over (0: no regime to compare)


# Adults whose supervised shares differ by at least this much are on "markedly different"
# regimes (e.g. 6 days in 7 supervised against twice-weekly take-homes: 0.86 against 0).
REGIME_MISMATCH_SHARE = Decimal("0.5")


def household_events(
    *,
    members: tuple[MemberRegime, ...],
    children: tuple[ChildFacts, ...],
    methadone_at_home_mg: Decimal,
    policy_household_mg: Decimal,
    child_age_years: int,
) -> tuple[SafeguardingEvent, ...]:
    """Return the events the household as a whole raises (DESIGN §3, household rules).

    Run on prescription intake, box, child and handover changes; the alert's household dedupe
    keeps a re-run on the same day from raising the same alert twice.
    """
    events: list[SafeguardingEvent] = []
    on_plan = children_on_plan(children)
    young = [child for child in children if child.age_years < child_age_years]
    take_home = [m.patient_ref for m in members if m.has_take_home]
    compared = sorted(
        (m for m in members if m.dose_days > 0), key=lambda m: (m.supervised_share, m.patient_ref)
    )
    if (
        children
        and len(compared) >= 2
        and compared[-1].supervised_share - compared[0].supervised_share >= REGIME_MISMATCH_SHARE
    ):
        most, least = compared[-1], compared[0]
        recipients = [Recipient.PRESCRIBER, Recipient.KEY_WORKER]
        if on_plan:
            recipients.append(Recipient.SOCIAL_WORKER)
        events.append(
            SafeguardingEvent(
                EventKind.HOUSEHOLD_REGIME_MISMATCH,
                Severity.WARNING,
                tuple(recipients),
                "In one household where children live, methadone patients are on markedly "
                f"different regimes: one is supervised on {format_percent(most.supervised_share)} of "
                f"dose days, another on {format_percent(least.supervised_share)}. Methadone taken "
                "home by one adult is within reach of the children whatever the other's "
                f"supervision: please review the household's regimes together."
                f"{children_note(children)}",
                fact_map(
                    supervised_members=most.patient_ref,
                    take_home_members=",".join(take_home) or least.patient_ref,
                    most_supervised_percent=format_percent(most.supervised_share),
                    least_supervised_percent=format_percent(least.supervised_share),
                    children=len(children),
                ),
                "household",
            )
        )
    if take_home and on_plan:
        protection = sum(1 for c in on_plan if c.protection_status == "child_protection_plan")
        events.append(
            SafeguardingEvent(
                EventKind.TAKE_HOME_IN_PROTECTED_HOUSEHOLD,
                Severity.URGENT if protection else Severity.WARNING,
                (Recipient.SOCIAL_WORKER, Recipient.KEY_WORKER, Recipient.PRESCRIBER),
                "Take-home methadone is scheduled in a household where a child is on a child "
                "protection, child-in-need or care plan.",
                fact_map(
                    take_home_members=",".join(take_home),
                    children_on_plan=len(on_plan),
                    children_on_protection_plan=protection,
                ),
                "household",
            )
        )
    # Accumulation matters where a child lives; elsewhere it would be noise nobody acts on.
    if methadone_at_home_mg > policy_household_mg and children:
        recipients = [Recipient.KEY_WORKER, Recipient.PRESCRIBER]
        if on_plan:
            recipients.append(Recipient.SOCIAL_WORKER)
        events.append(
            SafeguardingEvent(
                EventKind.HOUSEHOLD_METHADONE_HIGH,
                Severity.WARNING if young else Severity.INFO,
                tuple(recipients),
                f"The household has {format_mg(methadone_at_home_mg)} mg of take-home methadone at "
                f"home, above the {format_mg(policy_household_mg)} mg limit.{children_note(children)}",
                fact_map(
                    methadone_at_home_mg=format_mg(methadone_at_home_mg),
                    limit_mg=format_mg(policy_household_mg),
                    children_under_age=len(young),
                    members=len(members),
                ),
                "household",
            )
        )
    return tuple(events)


_JOINED: Mapping[str, str] = MappingProxyType(
    {
        "born": "A baby has been born into",
        "unborn": "An unborn child (expected) has been recorded in",
        "added": "A child has been recorded as living in",
        "moved_in": "A child has moved into",
    }
)


def child_joined_events(*, how: str, take_home: bool) -> tuple[SafeguardingEvent, ...]:
    """Return the event for a child joining a household where methadone goes home: the social
    worker and the key worker hear, and the children must be re-confirmed before the next
    take-home (the counter refuses until then). Nothing when no methadone goes home."""
    if not take_home:
        return ()
    return (
        SafeguardingEvent(
            EventKind.HOUSEHOLD_CHILD_JOINED,
            Severity.WARNING,
            (Recipient.SOCIAL_WORKER, Recipient.KEY_WORKER),
            f"{_JOINED.get(how, _JOINED['added'])} a household where take-home methadone is "
            "kept. Please review safe storage and supervision; the pharmacy will re-confirm "
            "who lives there before the next take-home.",
            fact_map(how=how),
            "household",
        ),
    )
