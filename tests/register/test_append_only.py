"""The register cannot be altered (MDR 2001 reg 20(c); reliability §3): the database refuses
UPDATE, DELETE and TRUNCATE whoever asks, concurrent writers never fork a register, and a DBA who
drops the triggers and edits a line is caught by the hash chain."""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError

from app.actor import SYSTEM, Actor
from app.db import UnitOfWork, make_session_factory
from app.pharmacies import service as pharmacies_service
from app.register import chain as register_chain
from app.register import receipts as register_receipts
from app.register.models import RegisterEntry
from tests.databases import Database
from tests.factories import NOW, unique
from tests.register.support import PRODUCT

TODAY = date(2026, 11, 28)  # tests.factories.NOW in London


def pharmacist_of(uow: UnitOfWork) -> Actor:
    pharmacy = pharmacies_service.create_pharmacy(
        uow,
        actor=SYSTEM,
        name=unique("Register "),
        ods_code=unique("R")[:8].upper(),
        address="3 Ledger Lane",
        phone="01632 960777",
        open_weekdays=(0, 1, 2, 3, 4, 5),
        now=NOW,
    )
    return Actor(id=None, name="register-test", role="pharmacist", pharmacy_id=pharmacy.id)


def receive(uow: UnitOfWork, actor: Actor, quantity: str = "500") -> RegisterEntry:
    return register_receipts.record_receipt(
        uow,
        actor=actor,
        receipt=register_receipts.Receipt(
            received_on=TODAY,
            supplier_name="Wholesaler",
            supplier_address="1 Depot Road",
            quantity_ml=Decimal(quantity),
            invoice_ref="INV-1",
            product=PRODUCT,
        ),
        today=TODAY,
        now=NOW,
    )


@pytest.fixture
def entry(database: Database) -> RegisterEntry:
    uow = UnitOfWork(make_session_factory(database.engine))
    return receive(uow, pharmacist_of(uow))


@pytest.mark.hazard("H-15.1")
def test_update_is_refused_by_the_database(database: Database, entry: RegisterEntry) -> None:
    with database.engine.begin() as conn, pytest.raises(DBAPIError, match="append-only"):
        conn.execute(
            update(RegisterEntry).where(RegisterEntry.seq == entry.seq).values(quantity_ml=1)
        )


@pytest.mark.hazard("H-15.1")
def test_delete_is_refused_by_the_database(database: Database, entry: RegisterEntry) -> None:
    with database.engine.begin() as conn, pytest.raises(DBAPIError, match="append-only"):
        conn.execute(delete(RegisterEntry).where(RegisterEntry.seq == entry.seq))
    with database.engine.begin() as conn, pytest.raises(DBAPIError, match="append-only"):
        conn.execute(delete(RegisterEntry))


@pytest.mark.postgres  # SQLite has no TRUNCATE; DELETE without WHERE is refused above
def test_truncate_is_refused_on_postgresql(fresh_database: Database) -> None:
    uow = UnitOfWork(make_session_factory(fresh_database.engine))
    receive(uow, pharmacist_of(uow))
    with fresh_database.engine.begin() as conn, pytest.raises(DBAPIError, match="append-only"):
        conn.execute(text("TRUNCATE register_entries"))
    with fresh_database.engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM register_entries")) == 1


def test_concurrent_writers_never_fork_a_register(database: Database) -> None:
    factory = make_session_factory(database.engine)
    actor = pharmacist_of(UnitOfWork(factory))
    start = threading.Barrier(6)
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            start.wait()
            for _ in range(4):
                receive(UnitOfWork(factory), actor, "10")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    uow = UnitOfWork(factory)
    with uow:
        assert actor.pharmacy_id is not None
        report = register_chain.verify_chain(uow.session, actor.pharmacy_id, PRODUCT)
        balances = list(
            uow.session.scalars(
                select(RegisterEntry.balance_ml)
                .where(RegisterEntry.pharmacy_id == actor.pharmacy_id)
                .order_by(RegisterEntry.line)
            )
        )
    assert report.ok, report
    assert report.entries == 24
    assert balances == [Decimal(10 * n) for n in range(1, 25)]


def test_a_line_altered_behind_the_triggers_is_found(fresh_database: Database) -> None:
    uow = UnitOfWork(make_session_factory(fresh_database.engine))
    actor = pharmacist_of(uow)
    assert actor.pharmacy_id is not None
    for quantity in ("500", "250", "100"):
        receive(uow, actor, quantity)
    with fresh_database.engine.begin() as conn:
        if fresh_database.dialect == "postgresql":
            conn.execute(text("DROP TRIGGER register_entries_append_only ON register_entries"))
        else:
            conn.execute(text("DROP TRIGGER register_entries_no_update"))
        conn.execute(
            update(RegisterEntry)
            .where(RegisterEntry.pharmacy_id == actor.pharmacy_id, RegisterEntry.line == 2)
            .values(quantity_ml=Decimal(25))
        )
    with uow:
        report = register_chain.verify_chain(uow.session, actor.pharmacy_id, PRODUCT)
    assert (report.ok, report.broken_at_line) == (False, 2)
    assert report.reason == "line 2 was altered"
