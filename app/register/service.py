"""Use cases for the CD register: supplies from handovers, receipts, balance checks, corrections,
reading, exporting and verifying the chain.

Every entry goes through `_append`, which takes the register's lock, numbers the line, computes
the running balance from the previous line and links the hash chain, all in the caller's
transaction. A supply is appended inside the handover's transaction (`record_supply`, called by
`app.dosing.handover.hand_over`), so a dose and its register line commit or fail together.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

import devices
from app.actor import Actor
from app.audit import service as audit_service
from app.audit.service import canonical
from app.auth.models import LoginAttempt, User
from app.auth.passwords import dummy_hash, verify_password
from app.auth.policy import may_see_pharmacy, pharmacy_scope, require_role
from app.auth.roles import Role
from app.config import AuthSettings, PolicySettings
from app.contacts.models import Contact
from app.db import UnitOfWork
from app.errors import InvalidInput, NotFound, PermissionDenied, Refused, TooManyAttempts
from app.households.models import Household
from app.kit import new_id
from app.patients.models import Patient
from app.pharmacies.models import Pharmacy
from app.prescriptions.models import Prescription
from app.prescriptions.products import PRODUCTS, Product
from app.register import rules
from app.register.models import RegisterEntry
from app.register.packs import PACKS
from app.register.rules import EntryKind, ml
from app.safeguarding import rules as safeguarding_rules
from app.safeguarding import service as safeguarding_service

GENESIS = "0" * 64
WRITERS = {Role.PHARMACIST, Role.TECHNICIAN}
CORRECTORS = {Role.PHARMACIST}
READERS = {Role.PHARMACIST, Role.TECHNICIAN, Role.SAFEGUARDING_LEAD, Role.ADMIN}
WITNESSES = {Role.PHARMACIST, Role.TECHNICIAN}
# Advisory-lock namespace for register chains (the two-key form never meets the audit log's
# one-key locks: PostgreSQL keeps the two key spaces apart).
LOCK_NAMESPACE = 0x52474953  # "RGIS"


# --- the chain ---------------------------------------------------------------------------


def _dec(value: Decimal | None) -> Decimal | None:
    return None if value is None else ml(value)


def entry_body(entry: RegisterEntry) -> dict[str, Any]:
    """Everything an entry says, as hashed: a change to any of it breaks the chain."""
    return {
        "id": entry.id,
        "pharmacy_id": entry.pharmacy_id,
        "product": entry.product,
        "line": entry.line,
        "kind": entry.kind,
        "transaction_date": entry.transaction_date,
        "entered_on": entry.entered_on,
        "late_reason": entry.late_reason,
        "quantity_ml": _dec(entry.quantity_ml),
        "change_ml": _dec(entry.change_ml),
        "balance_ml": _dec(entry.balance_ml),
        "party_name": entry.party_name,
        "party_address": entry.party_address,
        "prescriber": entry.prescriber,
        # Added later: hashed only when set, so entries made before it still verify.
        **({"prescriber_address": entry.prescriber_address} if entry.prescriber_address else {}),
        "collector": entry.collector,
        "collector_details": entry.collector_details,
        "id_asked": entry.id_asked,
        "id_shown": entry.id_shown,
        "patient_id": entry.patient_id,
        "handover_id": entry.handover_id,
        "dose_dates": entry.dose_dates,
        "invoice_ref": entry.invoice_ref,
        "gtin": entry.gtin,
        "batch": entry.batch,
        "expiry": entry.expiry,
        "corrects_id": entry.corrects_id,
        "reason": entry.reason,
        "expected_ml": _dec(entry.expected_ml),
        "variance_ml": _dec(entry.variance_ml),
        "tolerance_ml": _dec(entry.tolerance_ml),
        "discrepancy": entry.discrepancy,
        "witness_id": entry.witness_id,
        "witness_name": entry.witness_name,
        "alert_id": entry.alert_id,
        "author_id": entry.author_id,
        "author_name": entry.author_name,
        "created_at": entry.created_at,
    }


def _digest(prev_hash: str, entry: RegisterEntry) -> str:
    return hashlib.sha256((prev_hash + canonical(entry_body(entry))).encode()).hexdigest()


def _lock(session: Session, pharmacy_id: UUID, product: str) -> None:
    """Serialise appends to one register so two writers never take the same line or head."""
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(f"{pharmacy_id}:{product}".encode()) & 0x7FFFFFFF
        session.execute(
            text("SELECT pg_advisory_xact_lock(:ns, :k)"), {"ns": LOCK_NAMESPACE, "k": key}
        )
    # SQLite: every transaction began with BEGIN IMMEDIATE and already holds the write lock.


def _head(session: Session, pharmacy_id: UUID, product: str) -> RegisterEntry | None:
    return session.scalar(
        select(RegisterEntry)
        .where(RegisterEntry.pharmacy_id == pharmacy_id, RegisterEntry.product == product)
        .order_by(RegisterEntry.line.desc())
        .limit(1)
    )


def _append(session: Session, entry: RegisterEntry) -> RegisterEntry:
    """Number the line, compute the running balance and link the chain, then insert."""
    _lock(session, entry.pharmacy_id, entry.product)
    head = _head(session, entry.pharmacy_id, entry.product)
    entry.id = entry.id or new_id()  # hashed, so it must exist before the insert assigns it
    entry.line = head.line + 1 if head else 1
    entry.change_ml = ml(entry.change_ml)
    entry.quantity_ml = ml(entry.quantity_ml)
    entry.balance_ml = ml((head.balance_ml if head else Decimal(0)) + entry.change_ml)
    entry.prev_hash = head.hash if head else GENESIS
    entry.hash = _digest(entry.prev_hash, entry)
    session.add(entry)
    session.flush()
    return entry


def _author(entry: RegisterEntry, actor: Actor, now: datetime) -> None:
    entry.author_id = actor.id
    entry.author_name = actor.name
    entry.created_at = now


def _product(code: str, field_name: str = "product") -> Product:
    product = PRODUCTS.get(code)
    if product is None or not rules.is_register_product(code):
        raise InvalidInput(
            field_name,
            str(rules.Code.NOT_IN_REGISTER),
            f"{code} is not a Schedule 2 product: it has no CD register",
        )
    return product


def _refuse(findings: Sequence[rules.Finding]) -> None:
    if findings:
        first = findings[0]
        raise Refused(
            first.message,
            code=str(first.code),
            blocks=[
                {"code": str(f.code), "message": f.message, "source": f.source, "field": f.field}
                for f in findings
            ],
        )


# --- supplies: from the handover, never typed ------------------------------------------------


def _party_address(session: Session, patient: Patient) -> str | None:
    if patient.household_id is None:
        return None
    household = session.get(Household, patient.household_id)
    return f"{household.address}, {household.postcode}" if household else None


class SuppliedDay(Protocol):
    """A day of the dosing ledger as the register reads it when the dose leaves.

    A shape rather than dosing's model: the register sits below dosing (dosing writes a supply
    line in the handover's transaction), so it names only the fields a supply line is made of.
    """

    @property
    def product(self) -> str: ...
    @property
    def dose_mg(self) -> Decimal: ...
    @property
    def dose_date(self) -> date: ...
    @property
    def pharmacy_id(self) -> UUID: ...
    @property
    def handover_id(self) -> UUID | None: ...
    @property
    def authorisation_id(self) -> UUID | None: ...
    @property
    def collector(self) -> str | None: ...
    @property
    def collector_details(self) -> str | None: ...
    @property
    def id_asked(self) -> bool | None: ...
    @property
    def id_shown(self) -> bool | None: ...


def record_supply(
    session: Session,
    *,
    actor: Actor,
    patient: Patient,
    prescription_id: UUID,
    rows: Sequence[SuppliedDay],
    today: date,
    now: datetime,
    routing: Mapping[str, Sequence[str]],
    supplied_on: date | None = None,
) -> RegisterEntry | None:
    """Append the supply line for a handover, in the handover's transaction (never commits).

    `supplied_on` is the day the methadone left, when the line is entered later (a late dose
    recorded by correction the next morning): the register is dated by the supply, and
    `entered_on` says when it was written.

    One line per handover: the quantity that left the CD cupboard at once, with the dose dates it
    covers. A product outside Schedule 2 has no register, so nothing is written for it; a
    withheld or missed dose never reaches here, so it never makes a line.
    """
    if not rows or not rules.is_register_product(rows[0].product):
        return None
    product = PRODUCTS[rows[0].product]
    first = rows[0]
    prescription = session.get(Prescription, prescription_id)
    prescriber = session.get(Contact, prescription.prescriber_id) if prescription else None
    quantity = sum((rules.quantity_ml(product, Decimal(r.dose_mg)) for r in rows), Decimal(0))
    address = (prescription.prescriber_address if prescription else None) or (
        prescriber.address if prescriber else None
    )
    details = first.collector_details
    if any(r.authorisation_id for r in rows):
        # A supervised day taken home by a representative: the register says on whose direction.
        details = f"{details or ''} (supervised day taken home on the prescriber's direction)"
        details = details.strip()
    entry = RegisterEntry(
        pharmacy_id=first.pharmacy_id,
        product=product.code,
        kind=EntryKind.SUPPLY,
        transaction_date=supplied_on or today,
        entered_on=today,
        quantity_ml=quantity,
        change_ml=-quantity,
        party_name=f"{patient.given_name} {patient.family_name}",
        party_address=_party_address(session, patient),
        prescriber=f"{prescriber.name}, {prescriber.organisation}" if prescriber else None,
        prescriber_address=address,
        collector=first.collector,
        collector_details=details,
        id_asked=first.id_asked,
        id_shown=first.id_shown,
        patient_id=patient.id,
        handover_id=first.handover_id,
        dose_dates=[r.dose_date.isoformat() for r in rows],
    )
    _author(entry, actor, now)
    _append(session, entry)
    if entry.balance_ml < 0:
        (event,) = safeguarding_rules.register_negative_balance_events(
            product=product.code, balance_ml=str(entry.balance_ml)
        )
        safeguarding_service.raise_alert(
            session,
            event,
            actor=actor,
            pharmacy_id=entry.pharmacy_id,
            patient_id=None,
            household_id=None,
            day=today,
            now=now,
            routing=routing,
        )
    return entry


# --- receipts ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Receipt:
    received_on: date
    supplier_name: str
    supplier_address: str
    quantity_ml: Decimal
    invoice_ref: str
    product: str | None = None
    barcode: str | None = None
    batch: str | None = None
    expiry: date | None = None
    late_reason: str | None = None


@dataclass(frozen=True, slots=True)
class PackDetails:
    product: str
    gtin: str | None
    batch: str | None
    expiry: date | None


def _pack_details(receipt: Receipt, today: date, packs: Mapping[str, str]) -> PackDetails:
    """What the receipt is of: the scanned pack fills product, batch and expiry."""
    if not receipt.barcode:
        if not receipt.product:
            raise InvalidInput("product", "required", "name the product or scan the pack")
        return PackDetails(receipt.product, None, receipt.batch, receipt.expiry)
    scan = devices.interpret(receipt.barcode, today=today)
    if scan.kind != devices.ScanKind.STOCK_PACK:
        raise InvalidInput("barcode", "stock_pack", "is not a medicine pack barcode")
    if not scan.accepted or scan.pack is None:
        raise Refused(scan.message, code="pack_refused", field="barcode")
    pack = scan.pack
    known = packs.get(pack.gtin)
    if known and receipt.product and receipt.product != known:
        raise InvalidInput(
            "product", "matches_pack", f"the scanned pack is {known}, not {receipt.product}"
        )
    product = known or receipt.product
    if not product:
        raise InvalidInput(
            "product",
            "required",
            f"pack {pack.gtin} is not in the pack table: name the product it contains",
        )
    return PackDetails(
        product, pack.gtin, pack.batch or receipt.batch, pack.expiry or receipt.expiry
    )


def record_receipt(
    uow: UnitOfWork,
    *,
    actor: Actor,
    receipt: Receipt,
    today: date,
    now: datetime,
    packs: Mapping[str, str] = PACKS,
) -> RegisterEntry:
    """Stock received from a supplier (MDR reg 19(1)(d)): date, supplier, quantity, invoice."""
    require_role(actor, WRITERS, "record CD receipts")
    details = _pack_details(receipt, today, packs)
    product = _product(details.product)
    _refuse(
        rules.entry_date_findings(
            transaction_date=receipt.received_on,
            today=today,
            late_reason=receipt.late_reason,
            field="received_on",
        )
    )
    if details.expiry is not None and details.expiry < receipt.received_on:
        raise InvalidInput("expiry", "not_expired", "the pack had expired when it was received")
    with uow:
        session = uow.session
        pharmacy = _own_pharmacy(session, actor)
        entry = RegisterEntry(
            pharmacy_id=pharmacy.id,
            product=product.code,
            kind=EntryKind.RECEIPT,
            transaction_date=receipt.received_on,
            entered_on=today,
            late_reason=(receipt.late_reason or None) if receipt.received_on < today else None,
            quantity_ml=receipt.quantity_ml,
            change_ml=receipt.quantity_ml,
            party_name=receipt.supplier_name,
            party_address=receipt.supplier_address,
            invoice_ref=receipt.invoice_ref,
            gtin=details.gtin,
            batch=details.batch,
            expiry=details.expiry,
        )
        _author(entry, actor, now)
        _append(session, entry)
        _audit(session, actor, "register.receipt_recorded", entry, now)
        uow.commit()
        return entry


# --- balance checks ----------------------------------------------------------------------


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
    username = username.strip().lower()[:64]
    since = now - timedelta(seconds=auth.login_window_seconds)
    failures = session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(
            LoginAttempt.username == username,
            LoginAttempt.at >= since,
            LoginAttempt.succeeded.is_(False),
        )
    )
    if (failures or 0) >= auth.login_free_failures:
        raise TooManyAttempts(
            "Too many failed attempts for this witness; try again later",
            retry_after=auth.login_window_seconds,
        )
    user = session.scalar(select(User).where(User.username == username))
    stored = user.password_hash if user else dummy_hash(auth.password_profile)
    ok = verify_password(password, stored, profile=auth.password_profile)
    if not ok or user is None or not user.active:
        session.add(
            LoginAttempt(username=username, client="register-witness", at=now, succeeded=False)
        )
        raise PermissionDenied(
            "The witness's username or password is wrong", code="second_person_required"
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
    product = _product(check.product)
    _refuse(
        rules.entry_date_findings(
            transaction_date=check.counted_on,
            today=today,
            late_reason=check.late_reason,
            field="counted_on",
        )
    )
    with uow:
        session = uow.session
        pharmacy = _own_pharmacy(session, actor)
        try:
            witness = _witness(
                session, actor, check.witness_username, check.witness_password, now, auth
            )
        except PermissionDenied:
            uow.commit()  # keep the failed attempt
            raise
        _lock(session, pharmacy.id, product.code)
        assessment = rules.assess_balance(
            expected_ml=book_balance(session, pharmacy.id, product.code, check.counted_on),
            counted_ml=check.counted_ml,
            tolerance_percent=Decimal(str(policy.register_tolerance_percent)),
            liquid=product.unit == "mL",
        )
        explanation = (check.explanation or "").strip() or None
        if assessment.discrepancy and explanation is None:
            _refuse(
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
        _author(entry, actor, now)
        _append(session, entry)
        _audit(session, actor, "register.balance_checked", entry, now)
        uow.commit()
        return entry, assessment


# --- corrections -------------------------------------------------------------------------


def record_correction(
    uow: UnitOfWork,
    *,
    actor: Actor,
    corrects_id: UUID,
    change_ml: Decimal,
    reason: str,
    today: date,
    now: datetime,
) -> RegisterEntry:
    """A dated note on an earlier entry (MDR reg 20(c)): the original stays as it was.

    `change_ml` is the signed adjustment to the balance the correction makes (0 for a detail
    such as an invoice number); the reason and the author are part of the entry.
    """
    require_role(actor, CORRECTORS, "correct the CD register")
    if not reason.strip():
        raise InvalidInput("reason", "required", "a correction states its reason")
    with uow:
        session = uow.session
        original = session.scalar(select(RegisterEntry).where(RegisterEntry.id == corrects_id))
        if original is None or original.pharmacy_id != actor.pharmacy_id:
            raise NotFound("register entry", corrects_id)
        entry = append_correction(
            session,
            actor=actor,
            original=original,
            change_ml=change_ml,
            reason=reason,
            today=today,
            now=now,
        )
        uow.commit()
        return entry


def append_correction(
    session: Session,
    *,
    actor: Actor,
    original: RegisterEntry,
    change_ml: Decimal,
    reason: str,
    today: date,
    now: datetime,
) -> RegisterEntry:
    """Append a correction of `original` in the caller's transaction (never commits): the
    register page's corrections and the counter's dose corrections write the same line."""
    entry = RegisterEntry(
        pharmacy_id=original.pharmacy_id,
        product=original.product,
        kind=EntryKind.CORRECTION,
        transaction_date=today,
        entered_on=today,
        quantity_ml=abs(change_ml),
        change_ml=change_ml,
        corrects_id=original.id,
        reason=reason.strip(),
    )
    _author(entry, actor, now)
    _append(session, entry)
    _audit(session, actor, "register.corrected", entry, now, corrects_line=original.line)
    return entry


def supply_for_handover(session: Session, handover_id: UUID) -> RegisterEntry | None:
    """The supply line a handover wrote (None for a product with no register)."""
    return session.scalar(
        select(RegisterEntry).where(
            RegisterEntry.handover_id == handover_id, RegisterEntry.kind == EntryKind.SUPPLY
        )
    )


# --- reading -----------------------------------------------------------------------------


def _own_pharmacy(session: Session, actor: Actor) -> Pharmacy:
    if actor.pharmacy_id is None:
        raise InvalidInput(
            "pharmacy", "required", "the register is per pharmacy: sign in as its staff"
        )
    pharmacy = session.get(Pharmacy, actor.pharmacy_id)
    if pharmacy is None:
        raise NotFound("pharmacy", actor.pharmacy_id)
    return pharmacy


def readable_pharmacy(session: Session, actor: Actor, pharmacy_id: UUID | None) -> Pharmacy:
    """The caller's own pharmacy, or (admin, area lead) the one they name."""
    require_role(actor, READERS, "read the CD register")
    wanted = pharmacy_id or pharmacy_scope(actor)
    if wanted is None:
        raise InvalidInput("pharmacy_id", "required", "name the pharmacy whose register to read")
    pharmacy = session.get(Pharmacy, wanted)
    if pharmacy is None or not may_see_pharmacy(actor, pharmacy.id):
        raise NotFound("pharmacy", wanted)
    return pharmacy


@dataclass
class RegisterPage:
    pharmacy: Pharmacy
    product: Product
    opening_balance_ml: Decimal
    closing_balance_ml: Decimal
    entries: list[RegisterEntry]
    # Original entry id -> the corrections that annotate it (footnotes).
    corrections: dict[UUID, list[RegisterEntry]] = field(default_factory=dict)
    lines: dict[UUID, int] = field(default_factory=dict)  # entry id -> line, for references
    next_cursor: str | None = None


def read_register(
    uow: UnitOfWork,
    *,
    actor: Actor,
    product: str,
    start: date | None,
    end: date | None,
    now: datetime,
    pharmacy_id: UUID | None = None,
    after_line: int = 0,
    limit: int | None = None,
) -> RegisterPage:
    """One product's register in entry order, with the balance before the first line shown.

    `start`/`end` filter on the transaction date; reading is logged (entries name patients).
    """
    known = _product(product)
    if start and end and end < start:
        raise InvalidInput("to", "after_from", "must not be before 'from'")
    with uow:
        session = uow.session
        pharmacy = readable_pharmacy(session, actor, pharmacy_id)
        query = (
            select(RegisterEntry)
            .where(
                RegisterEntry.pharmacy_id == pharmacy.id,
                RegisterEntry.product == known.code,
                RegisterEntry.line > after_line,
            )
            .order_by(RegisterEntry.line)
        )
        if start is not None:
            query = query.where(RegisterEntry.transaction_date >= start)
        if end is not None:
            query = query.where(RegisterEntry.transaction_date <= end)
        if limit is not None:
            query = query.limit(limit + 1)
        entries = list(session.scalars(query))
        more = limit is not None and len(entries) > limit
        entries = entries[:limit] if limit is not None else entries
        ids = [e.id for e in entries]
        corrections: dict[UUID, list[RegisterEntry]] = {}
        lines: dict[UUID, int] = {e.id: e.line for e in entries}
        if ids:
            for c in session.scalars(
                select(RegisterEntry)
                .where(RegisterEntry.corrects_id.in_(ids))
                .order_by(RegisterEntry.line)
            ):
                assert c.corrects_id is not None
                corrections.setdefault(c.corrects_id, []).append(c)
                lines[c.id] = c.line
            referenced = {e.corrects_id for e in entries if e.corrects_id} - set(lines)
            if referenced:
                for entry_id, line in session.execute(
                    select(RegisterEntry.id, RegisterEntry.line).where(
                        RegisterEntry.id.in_(referenced)
                    )
                ):
                    lines[entry_id] = line
        head = _head(session, pharmacy.id, known.code)
        audit_service.record(
            session,
            actor,
            "register.viewed",
            entity="pharmacy",
            entity_id=pharmacy.id,
            at=now,
            pharmacy_id=pharmacy.id,
            facts={"product": known.code, "from": start, "to": end, "entries": len(entries)},
        )
        uow.commit()
    opening = ml(entries[0].balance_ml - entries[0].change_ml) if entries else Decimal("0.00")
    closing = entries[-1].balance_ml if entries else (head.balance_ml if head else opening)
    return RegisterPage(
        pharmacy=pharmacy,
        product=known,
        opening_balance_ml=opening,
        closing_balance_ml=ml(closing),
        entries=entries,
        corrections=corrections,
        lines=lines,
        next_cursor=str(entries[-1].line) if more and entries else None,
    )


# --- verifying ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChainReport:
    entries: int
    broken_at_line: int | None
    reason: str | None

    @property
    def ok(self) -> bool:
        return self.broken_at_line is None


def _iter_register(session: Session, pharmacy_id: UUID, product: str) -> Iterator[RegisterEntry]:
    return iter(
        session.scalars(
            select(RegisterEntry)
            .where(RegisterEntry.pharmacy_id == pharmacy_id, RegisterEntry.product == product)
            .order_by(RegisterEntry.line)
            .execution_options(yield_per=2000)
        )
    )


def verify_chain(session: Session, pharmacy_id: UUID, product: str) -> ChainReport:
    """Walk one register: lines without gaps, each linked to the last, each hash and running
    balance recomputed. Reports the first line that does not hold."""
    prev, balance, count = GENESIS, Decimal("0.00"), 0
    for entry in _iter_register(session, pharmacy_id, product):
        count += 1
        if entry.line != count:
            return ChainReport(count, entry.line, f"line {count} is missing")
        if entry.prev_hash != prev:
            return ChainReport(count, entry.line, f"line {entry.line} does not link to the last")
        if _digest(prev, entry) != entry.hash:
            return ChainReport(count, entry.line, f"line {entry.line} was altered")
        balance = ml(balance + entry.change_ml)
        if ml(entry.balance_ml) != balance:
            return ChainReport(count, entry.line, f"line {entry.line} has a wrong balance")
        prev = entry.hash
    return ChainReport(count, None, None)


def verify(
    uow: UnitOfWork, *, actor: Actor, product: str, pharmacy_id: UUID | None = None
) -> ChainReport:
    known = _product(product)
    with uow:
        pharmacy = readable_pharmacy(uow.session, actor, pharmacy_id)
        return verify_chain(uow.session, pharmacy.id, known.code)


def _audit(
    session: Session, actor: Actor, action: str, entry: RegisterEntry, now: datetime, **facts: Any
) -> None:
    audit_service.record(
        session,
        actor,
        action,
        entity="register_entry",
        entity_id=entry.id,
        at=now,
        pharmacy_id=entry.pharmacy_id,
        facts={
            "product": entry.product,
            "line": entry.line,
            "change_ml": entry.change_ml,
            **facts,
        },
    )
