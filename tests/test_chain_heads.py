"""The audit chain heads an anchor records (app/audit/service.py: chain_heads) are each chain's
newest event, found by probing the (chain, seq) index per chain instead of grouping the whole
log: the same answer as a GROUP BY, whatever the chains are called and however they interleave.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.actor import SYSTEM
from app.audit import anchors as audit_anchors
from app.audit import service as audit_service
from app.audit.models import AuditEvent
from app.db import UnitOfWork, make_session_factory
from tests.databases import Database
from tests.factories import NOW, World


def grouped_heads(session: Session) -> dict[str, tuple[int, str]]:
    """The heads as the whole log grouped by chain says they are (the query chain_heads
    replaced): the oracle."""
    newest = (
        select(AuditEvent.chain, func.max(AuditEvent.seq).label("seq"))
        .group_by(AuditEvent.chain)
        .subquery()
    )
    rows = session.execute(
        select(AuditEvent.chain, AuditEvent.seq, AuditEvent.hash).join(
            newest, (AuditEvent.chain == newest.c.chain) & (AuditEvent.seq == newest.c.seq)
        )
    )
    return {chain: (seq, digest) for chain, seq, digest in rows}


def append(uow: UnitOfWork, pharmacy_id: uuid.UUID | None, n: int) -> None:
    with uow:
        for i in range(n):
            audit_service.record(
                uow.session,
                SYSTEM,
                "test.appended",
                entity="test",
                entity_id=i,
                at=NOW,
                pharmacy_id=pharmacy_id,
            )
        uow.commit()


def test_an_empty_log_has_no_heads(fresh_database: Database) -> None:
    uow = UnitOfWork(make_session_factory(fresh_database.engine))
    with uow:
        assert audit_service.chain_heads(uow.session) == grouped_heads(uow.session) == {}


def test_every_chain_s_head_is_its_newest_event_as_a_group_by_finds_it(
    fresh_database: Database,
) -> None:
    """Interleaved appends to many chains (the global one, which sorts after every pharmacy
    id, and ids at both ends of their range), one chain with a single event: every chain is
    found, each at its newest event."""
    uow = UnitOfWork(make_session_factory(fresh_database.engine))
    pharmacies: list[uuid.UUID | None] = [
        None,
        uuid.UUID(int=0),
        uuid.UUID(int=2**128 - 1),
        *(uuid.uuid4() for _ in range(20)),
    ]
    rng = random.Random(21)
    for _ in range(60):
        append(uow, rng.choice(pharmacies), rng.randint(1, 4))
    lonely = uuid.uuid4()
    append(uow, lonely, 1)
    append(uow, None, 1)  # the global chain's head is the very last event

    with uow:
        heads = audit_service.chain_heads(uow.session)
        assert heads == grouped_heads(uow.session)
        last = uow.session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert last is not None
    assert heads[audit_service.GLOBAL_CHAIN] == (last.seq, last.hash)
    assert str(lonely) in heads
    chains_written = {str(p) if p else audit_service.GLOBAL_CHAIN for p in pharmacies}
    assert chains_written | {str(lonely)} >= set(heads) >= {str(lonely), "global"}


def test_the_shared_test_database_s_heads_match_the_group_by(
    database: Database, world: World
) -> None:
    """Whatever the other tests left in the worker's database (many pharmacies' chains)."""
    uow = UnitOfWork(make_session_factory(database.engine))
    with uow:
        heads = audit_service.chain_heads(uow.session)
        assert heads == grouped_heads(uow.session)
    assert heads


def test_an_anchor_records_every_chain_s_head_and_checks_against_it(
    fresh_database: Database, tmp_path: Path
) -> None:
    uow = UnitOfWork(make_session_factory(fresh_database.engine))
    pharmacy = uuid.uuid4()
    append(uow, pharmacy, 3)
    append(uow, None, 2)
    folder = tmp_path / "anchors"
    key = "k" * 40

    with uow:
        path = audit_anchors.anchor(uow.session, folder, key=key, now=NOW + timedelta(hours=1))
        expected = grouped_heads(uow.session)
        assert audit_anchors.check_anchors(uow.session, path, key=key) == []
    written = json.loads(path.read_text().splitlines()[-1])["heads"]
    assert {c: (h["seq"], h["hash"]) for c, h in written.items()} == expected
    assert set(written) == {str(pharmacy), audit_service.GLOBAL_CHAIN}
