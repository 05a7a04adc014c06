"""The look-up itself: one NHS number in, the few facts a ward needs out, every ask recorded.

One transaction: hold the caller's rate limit (their look-ups in the last hour, counted in the
database under a lock, so it holds across processes), find the patient by NHS number, apply the
link's scope (a patient of another pharmacy answers exactly as an unknown number), ask the
counter's own decision machinery about today, write the look-up log row and the patient's audit
event, commit. A refusal for the rate limit is audited too.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import zlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.actor import Actor
from app.audit import service as audit_service
from app.auth.policy import require_role
from app.auth.roles import Role
from app.clock import local_date
from app.config import Settings
from app.db import UnitOfWork
from app.dosing import counter, facts
from app.dosing.decision_inputs import LastDose
from app.errors import DomainError, InvalidInput, TooManyAttempts
from app.kit import new_id
from app.lookup import doses, rules
from app.lookup.links import LinkHolder
from app.lookup.models import LookupEvent, LookupResult
from app.patients import repository as patients_repository
from app.patients.models import Patient
from app.patients.rules import is_valid_nhs_number, normalise_nhs_number
from app.pharmacies.models import Pharmacy
from app.prescriptions import repository as prescriptions_repository
from app.prescriptions.models import Status, SuspensionEvent
from app.prescriptions.products import PRODUCTS

WINDOW = timedelta(hours=1)


class PatientNotFound(DomainError):
    """No patient with the number, or one outside the link's pharmacy: one answer for both."""

    status = 404
    code = "not_found"
    title = "Not found"

    def __init__(self) -> None:
        super().__init__(
            "No patient with this NHS number is available to you: check the number, or phone "
            "the dispensing pharmacy when it opens"
        )


class TooManyLookups(TooManyAttempts):
    code = "too_many_lookups"
    title = "Too many look-ups"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is looking up: a clinician account (any patient in the deployment) or a contact
    through a link (the issuing pharmacy's patients only)."""

    actor: Actor
    name: str
    user_id: UUID | None = None
    link: LinkHolder | None = None

    @property
    def scope(self) -> UUID | None:
        return self.link.pharmacy_id if self.link is not None else None


def clinician(actor: Actor, display_name: str) -> Caller:
    require_role(actor, {Role.CLINICIAN}, "use the last-dose look-up")
    return Caller(actor=actor, name=display_name[:200], user_id=actor.id)


def link_holder(holder: LinkHolder) -> Caller:
    return Caller(actor=holder.actor, name=holder.name, link=holder)


@dataclass(frozen=True, slots=True)
class Answer:
    """Everything a look-up discloses, and nothing more (schemas.LookupRead is its shape)."""

    patient: Patient
    looked_up_at: datetime
    product: str | None
    prescription_status: str | None
    daily_dose_mg: str | None
    daily_dose_ml: str | None
    last_dose: LastDose | None
    went_home: rules.WentHome | None
    last_dose_text: str
    blocks: tuple[rules.BlockCategory, ...]
    suspension: SuspensionEvent | None
    pharmacy: Pharmacy

    @property
    def product_name(self) -> str | None:
        known = PRODUCTS.get(self.product or "")
        return known.name if known is not None else self.product


def nhs_number_hash(secret: str, nhs: str) -> str:
    """An HMAC, not a plain hash: ten digits with a check digit are quickly enumerated."""
    return hmac.new(secret.encode(), f"nhs|{nhs}".encode(), hashlib.sha256).hexdigest()


def _hold_rate_limit(session: Session, caller: Caller, *, now: datetime, per_hour: int) -> None:
    """Refuse a caller who has used up the last hour's look-ups. The caller's look-ups are
    serialised first (an advisory lock on PostgreSQL; SQLite's write lock is already held), so
    two processes cannot both take the last one."""
    ident = caller.user_id or (caller.link.link_id if caller.link else None)
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(f"lookup|{ident}".encode()) & 0x7FFFFFFF
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
    mine = (
        LookupEvent.user_id == caller.user_id
        if caller.user_id is not None
        else LookupEvent.link_id == (caller.link.link_id if caller.link else None)
    )
    count, oldest = session.execute(
        select(func.count(), func.min(LookupEvent.at)).where(mine, LookupEvent.at > now - WINDOW)
    ).one()
    if count < per_hour:
        return
    wait = max(1, math.ceil((oldest + WINDOW - now).total_seconds())) if oldest else 60
    audit_service.record(
        session,
        caller.actor,
        "lookup.rate_limited",
        entity="lookup",
        entity_id=ident,
        at=now,
        pharmacy_id=caller.scope,
        facts={"in_last_hour": count, "limit": per_hour},
    )
    raise TooManyLookups(
        f"{per_hour} look-ups an hour is the limit; try again in {wait} seconds, or phone the "
        "pharmacy when it opens",
        retry_after=wait,
    )


def look_up(
    uow: UnitOfWork, *, caller: Caller, nhs_number: str, settings: Settings, now: datetime
) -> Answer:
    """Answer one look-up by NHS number, or refuse it; either way it is on the record."""
    nhs = normalise_nhs_number(nhs_number)
    if not is_valid_nhs_number(nhs):
        raise InvalidInput(
            "nhs_number", "modulus_11", "is not a valid NHS number: check the ten digits"
        )
    secret = settings.secret_key.get_secret_value()
    with uow:
        session = uow.session
        try:
            _hold_rate_limit(session, caller, now=now, per_hour=settings.lookup.per_hour)
        except TooManyLookups:
            uow.commit()  # the refusal is on the record
            raise
        patient = patients_repository.by_nhs_number(session, nhs)
        outside = patient is not None and caller.scope not in (None, patient.pharmacy_id)
        found = patient is not None and not outside
        event = LookupEvent(
            id=new_id(),
            at=now,
            user_id=caller.user_id,
            link_id=caller.link.link_id if caller.link else None,
            contact_id=caller.link.contact_id if caller.link else None,
            caller=caller.name,
            nhs_number_hash=nhs_number_hash(secret, nhs),
            result=LookupResult.FOUND if found else LookupResult.NOT_FOUND,
            patient_id=patient.id if patient else None,
            pharmacy_id=patient.pharmacy_id if patient else None,
            outside_scope=outside,
        )
        session.add(event)
        answer = _answer(session, caller, patient, settings, now) if found and patient else None
        audit_facts = {
            "result": event.result,
            "via": "link" if caller.link else "clinician",
            "link_id": caller.link.link_id if caller.link else None,
            "lookup_id": event.id,
        }
        if patient is not None:
            audit_service.record(
                session,
                caller.actor,
                "lookup.last_dose" if found else "lookup.refused",
                entity="patient",
                entity_id=patient.id,
                at=now,
                pharmacy_id=patient.pharmacy_id,
                facts={**audit_facts, **({"outside_scope": True} if outside else {})},
            )
        else:
            audit_service.record(
                session,
                caller.actor,
                "lookup.not_found",
                entity="lookup",
                entity_id=event.id,
                at=now,
                pharmacy_id=caller.scope,
                facts=audit_facts,
            )
        uow.commit()
    if answer is None:
        raise PatientNotFound()
    return answer


def _answer(
    session: Session, caller: Caller, patient: Patient, settings: Settings, now: datetime
) -> Answer:
    """The counter's view of the patient today, as their own pharmacy's counter sees it, cut
    down to what a look-up discloses."""
    today = local_date(now, settings.timezone)
    at_home_pharmacy = replace(caller.actor, pharmacy_id=patient.pharmacy_id)
    (view,) = counter.views(
        session,
        at_home_pharmacy,
        [patient],
        product=None,
        today=today,
        intoxicated=False,
        policy=settings.policy,
    )
    body = counter.decision_body(view)
    rx = view.prescription
    suspended = rx is not None and rx.status == Status.SUSPENDED
    product = view.product or doses.latest_product(session, patient.id)
    last: LastDose | None = None
    went_home = None
    if product is not None:
        # Through today, not yesterday as the counter's block counts: a dose given this
        # morning is the one a ward must not double.
        lapse = facts.lapses(
            session, [(patient.id, product)], through=today, pharmacy_id=patient.pharmacy_id
        )[(patient.id, product)]
        last = lapse.last_dose
        paper = doses.latest_paper_supply(session, patient.id, today)
        if paper is not None and (
            last is None or last.taken_on is None or paper[0] > last.taken_on
        ):
            # Given on paper during an outage, after anything the ledger holds.
            last = LastDose(
                paper[0], "here", "supervised" if paper[1] == "supervised" else "take_home"
            )
        if last is not None and last.taken_on is not None and last.source == "here":
            went_home = doses.went_home(
                session, patient.id, product, last.taken_on, settings.timezone
            )
    pharmacy = session.get(Pharmacy, patient.pharmacy_id)
    assert pharmacy is not None  # a patient's pharmacy is a foreign key
    return Answer(
        patient=patient,
        looked_up_at=now,
        product=view.product,
        prescription_status=rx.status if rx is not None else None,
        daily_dose_mg=body["daily_dose_mg"],
        daily_dose_ml=body["daily_dose_ml"],
        last_dose=last,
        went_home=went_home,
        last_dose_text=rules.describe(last, went_home, today),
        blocks=rules.block_categories(
            [str(b.code) for b in view.decision.blocks], suspended=suspended
        ),
        suspension=(
            prescriptions_repository.current_suspension(session, rx.id)
            if rx is not None and suspended
            else None
        ),
        pharmacy=pharmacy,
    )
