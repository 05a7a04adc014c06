from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime
from app.kit import new_id, one_of
from app.register.rules import EntryKind


class RegisterEntry(Base):
    """One line of a pharmacy's CD register for one product (append-only, hash-chained).

    `line` numbers the entries of one (pharmacy, product) register from 1, and
    `uq_register_entries_pharmacy_id_product_line` makes a forked chain impossible even if two
    writers ever slipped past the chain lock. `uq_register_entries_handover_id` makes a second
    supply entry for the same handover impossible. Database triggers refuse UPDATE, DELETE and
    (PostgreSQL) TRUNCATE.
    """

    __tablename__ = "register_entries"
    __table_args__ = (
        UniqueConstraint("pharmacy_id", "product", "line"),
        UniqueConstraint("handover_id"),
        one_of("kind", EntryKind),
        one_of("collector", ["patient", "representative", "hcp"]),
        Index(
            "ix_register_entries_pharmacy_id_product_transaction_date",
            "pharmacy_id",
            "product",
            "transaction_date",
        ),
    )

    # Global order of entry; within a register, `line` gives the same order.
    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    id: Mapped[UUID] = mapped_column(unique=True, default=new_id)
    pharmacy_id: Mapped[UUID] = mapped_column(ForeignKey("pharmacies.id"))
    product: Mapped[str] = mapped_column(String(64))
    line: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    # The day the stock was received, supplied or counted, or the day of the correction.
    transaction_date: Mapped[date] = mapped_column(Date)
    # The pharmacy-local day the entry was made; the day after needs `late_reason`.
    entered_on: Mapped[date] = mapped_column(Date)
    late_reason: Mapped[str | None] = mapped_column(String(500))
    # As written: received, supplied, counted, or the size of a correction (never negative).
    quantity_ml: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    # The signed effect on the running balance (0 for a balance check).
    change_ml: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    # The running balance after this entry, computed by the system, never typed.
    balance_ml: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    # Receipt: supplier; supply: the patient (name and address).
    party_name: Mapped[str | None] = mapped_column(String(200))
    party_address: Mapped[str | None] = mapped_column(String(600))
    # Supply: the prescriber's details (authority to possess).
    prescriber: Mapped[str | None] = mapped_column(String(400))
    prescriber_address: Mapped[str | None] = mapped_column(String(500))
    collector: Mapped[str | None] = mapped_column(String(16))
    collector_details: Mapped[str | None] = mapped_column(String(500))
    id_asked: Mapped[bool | None] = mapped_column(Boolean)
    id_shown: Mapped[bool | None] = mapped_column(Boolean)
    patient_id: Mapped[UUID | None] = mapped_column(ForeignKey("patients.id"), index=True)
    handover_id: Mapped[UUID | None]
    dose_dates: Mapped[list[str] | None] = mapped_column(JSON)
    # Receipt: invoice and the scanned pack.
    invoice_ref: Mapped[str | None] = mapped_column(String(100))
    gtin: Mapped[str | None] = mapped_column(String(14))
    batch: Mapped[str | None] = mapped_column(String(40))
    expiry: Mapped[date | None] = mapped_column(Date)
    # Correction: the entry it annotates (same register), and why.
    corrects_id: Mapped[UUID | None] = mapped_column(ForeignKey("register_entries.id"))
    reason: Mapped[str | None] = mapped_column(String(1000))
    # Balance check: the book balance, the variance, the tolerance used, and the witness.
    expected_ml: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    variance_ml: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    tolerance_ml: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    discrepancy: Mapped[bool | None] = mapped_column(Boolean)
    witness_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"))
    witness_name: Mapped[str | None] = mapped_column(String(200))
    alert_id: Mapped[UUID | None] = mapped_column(ForeignKey("alerts.id"))
    # Who made the entry and when (UTC).
    author_id: Mapped[UUID | None] = mapped_column(ForeignKey("users.id"))
    author_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class PackMapping(Base):
    """A pharmacist's mapping of a pack's GTIN to the product it holds, in one pharmacy's pack
    table (issue 20 §5): who, when and why. Append-only: the latest mapping of a GTIN wins, and
    the seed table (`app.register.packs.PACKS`) answers for a GTIN never mapped here.
    """

    __tablename__ = "pack_mappings"
    __table_args__ = (Index("ix_pack_mappings_pharmacy_id_gtin", "pharmacy_id", "gtin"),)

    # Order of entry: the latest mapping of a GTIN is the one with the highest `seq`.
    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    id: Mapped[UUID] = mapped_column(unique=True, default=new_id)
    pharmacy_id: Mapped[UUID] = mapped_column(ForeignKey("pharmacies.id"))
    gtin: Mapped[str] = mapped_column(String(14))
    product: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(500))
    mapped_by_id: Mapped[UUID] = mapped_column(ForeignKey("users.id"))
    mapped_by_name: Mapped[str] = mapped_column(String(200))
    mapped_at: Mapped[datetime] = mapped_column(UTCDateTime)
