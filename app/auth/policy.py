"""Who may do what, and which records they may see. Checked in the service layer so every entry
point (API, pages, CLI) is covered.

Scopes:
- pharmacist, technician: their own pharmacy's records.
- safeguarding_lead: their pharmacy's records, or every pharmacy when they have none (area lead).
- prescriber, key_worker: the patients who name them (through their linked contact).
- admin: everything.
An object outside the caller's scope is reported as not found, never as forbidden.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from uuid import UUID

from app.actor import Actor
from app.auth.roles import Role
from app.errors import PermissionDenied

STAFF = frozenset({Role.PHARMACIST, Role.TECHNICIAN})
CLINICIANS = frozenset({Role.PRESCRIBER, Role.KEY_WORKER})

# Acts that vouch for a patient's safety or lift a safety block, and who alone may perform
# them. They are professional judgements: the not-intoxicated attestation made at every
# handover, a withhold and its same-day reassessment, an override of a household-storage block
# are the pharmacist's (GPhC standards; domain-rules §2.3); the last dose taken elsewhere lifts
# or sets a loss-of-tolerance block, so it is the pharmacist's or the prescriber's; a release
# after days without a dose is the prescriber's review. The authorization tests read this table.
SAFETY_ACTS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "attest_not_intoxicated": frozenset({Role.PHARMACIST}),
        "override_block": frozenset({Role.PHARMACIST}),
        "withhold": frozenset({Role.PHARMACIST}),
        "reassess": frozenset({Role.PHARMACIST}),
        "record_last_dose": frozenset({Role.PHARMACIST, Role.PRESCRIBER}),
        "release": frozenset({Role.PRESCRIBER}),
        "correct_dose_record": frozenset({Role.PHARMACIST}),
        "supply_replacement": frozenset({Role.PHARMACIST}),
        "map_pack": frozenset({Role.PHARMACIST}),
    }
)
SAFETY_ACT_WORDS: Mapping[str, str] = MappingProxyType(
    {
        "attest_not_intoxicated": "attest that a patient is not intoxicated and hand over a "
        "dose (a pharmacist must)",
        "override_block": "override a safety block (a pharmacist must, with a reason)",
        "withhold": "withhold doses (a pharmacist must)",
        "reassess": "reassess a withheld patient (a pharmacist must)",
        "record_last_dose": "record the last dose taken (a pharmacist or the prescriber must)",
        "release": "release a patient after days without a dose (the prescriber's review)",
        "correct_dose_record": "correct a dose record (a pharmacist must, with a reason)",
        "supply_replacement": "supply a replacement dose (a pharmacist must, on the "
        "prescriber's authorisation)",
        "map_pack": "map a pack's GTIN to a product (a pharmacist must, with a reason)",
    }
)


def require_role(actor: Actor, allowed: Iterable[str], action: str) -> None:
    if actor.role not in set(allowed):
        raise PermissionDenied(f"A {actor.role} may not {action}")


def require_safety_act(actor: Actor, act: str) -> None:
    """Refuse a safety act to anyone the SAFETY_ACTS table does not name."""
    require_role(actor, SAFETY_ACTS[act], SAFETY_ACT_WORDS[act])


def sees_all_pharmacies(actor: Actor) -> bool:
    return actor.role == Role.ADMIN or (
        actor.role == Role.SAFEGUARDING_LEAD and actor.pharmacy_id is None
    )


def pharmacy_scope(actor: Actor) -> UUID | None:
    """The one pharmacy the caller is limited to, or None when they may see every pharmacy."""
    if sees_all_pharmacies(actor):
        return None
    return actor.pharmacy_id


def may_see_pharmacy(actor: Actor, pharmacy_id: UUID) -> bool:
    if sees_all_pharmacies(actor):
        return True
    return actor.pharmacy_id == pharmacy_id and actor.role not in CLINICIANS


def may_see_patient(
    actor: Actor, *, pharmacy_id: UUID, key_worker_id: UUID | None, prescriber_id: UUID | None
) -> bool:
    if actor.role in CLINICIANS:
        return actor.contact_id is not None and actor.contact_id in (key_worker_id, prescriber_id)
    return may_see_pharmacy(actor, pharmacy_id)
