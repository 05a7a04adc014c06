"""Backups restore and verify; the off-database anchor notices a database rewritten or rolled back."""

from __future__ import annotations

import uuid
from pathlib import Path

from app.actor import SYSTEM
from app.audit import anchors as audit_anchors
from app.audit import service as audit_service
from app.config import AuthSettings, Settings
from app.db import UnitOfWork, make_engine, make_session_factory
from app.demo import seed
from app.ops import backups
from app.pharmacies import service as pharmacies_service
from tests.databases import Database, create_database, drop_database
from tests.factories import NOW

KEY = "k" * 40


def test_a_restored_backup_verifies_and_matches_its_anchor(
    fresh_database: Database, tmp_path: Path
) -> None:
    settings = Settings(
        _env_file=None,
        database_url=fresh_database.url,  # type: ignore[call-arg]
        auth=AuthSettings(password_profile="cheapest"),
        data_dir=tmp_path,
    )
    uow = UnitOfWork(make_session_factory(fresh_database.engine))
    seed(uow, settings)
    with uow:
        anchors = audit_anchors.anchor(uow.session, tmp_path / "anchors", key=KEY, now=NOW)
    copy = backups.backup(fresh_database.url, tmp_path / "backups", now=NOW)

    # More happens after the backup and is anchored too.
    pharmacies_service.create_pharmacy(
        uow,
        actor=SYSTEM,
        name="Later",
        ods_code="FLATE1",
        address="2 Road",
        phone="01632 960999",
        open_weekdays=[0],
        now=NOW,
    )
    with uow:
        audit_anchors.anchor(uow.session, tmp_path / "anchors", key=KEY, now=NOW)

    target_url = create_database(f"dk_restore_{uuid.uuid4().hex[:8]}", tmp_path)
    try:
        backups.restore(copy, target_url)
        engine = make_engine(target_url)
        restored = UnitOfWork(make_session_factory(engine))
        with restored:
            report = audit_service.verify(restored.session)
            problems = audit_anchors.check_anchors(restored.session, anchors, key=KEY)
        engine.dispose()
    finally:
        drop_database(target_url)
    assert report.ok, report.reason
    assert report.events > 50
    # The restored copy predates the second anchor: the missing events are named.
    assert len(problems) == 1
    assert "missing or changed" in problems[0]


def test_an_anchor_signed_with_another_key_is_refused(
    fresh_database: Database, tmp_path: Path
) -> None:
    uow = UnitOfWork(make_session_factory(fresh_database.engine))
    pharmacies_service.create_pharmacy(
        uow,
        actor=SYSTEM,
        name="Only",
        ods_code="FONLY1",
        address="3 Road",
        phone="01632 960998",
        open_weekdays=[0],
        now=NOW,
    )
    with uow:
        path = audit_anchors.anchor(uow.session, tmp_path, key=KEY, now=NOW)
        assert audit_anchors.check_anchors(uow.session, path, key=KEY) == []
        assert audit_anchors.check_anchors(uow.session, path, key="x" * 40) == [
            "anchor line 1 is not signed by this key"
        ]
