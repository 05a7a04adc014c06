"""Fixtures for alert delivery.

Each test here gets a database of its own: the worker claims every due delivery and escalation
scans every open alert, so another test's backlog (or its clock) must not be in the way. Building
one costs ~0.1 s on SQLite and ~0.3 s on PostgreSQL.

Receivers are real servers on 127.0.0.1 (tests/notify/receivers.py); workers are the real
`Worker` driven by the test's `FixedClock`, so retry delays, leases and SLAs pass by advancing
the clock, not by sleeping.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.config import Settings
from app.notify.worker import Worker
from app.safeguarding.delivery import alert_worker
from tests.databases import Database, build_database, drop_database
from tests.notify.helpers import with_notify
from tests.notify.receivers import MailReceiver, WebhookReceiver, assert_all_verified


@pytest.fixture
def database(
    request: pytest.FixtureRequest, tmp_path: Path, database: Database
) -> Iterator[Database]:
    """Overrides the worker-wide database: a fresh one per delivery test (see above). Modules
    that run no worker and scope every query to their own pharmacy set SHARED_DATABASE = True
    and use the worker-wide one (creating and dropping databases is the slow part on
    PostgreSQL)."""
    if getattr(request.module, "SHARED_DATABASE", False):
        yield database  # the worker-wide one (the fixture this one overrides)
        return
    db = build_database(f"dk_notify_{uuid.uuid4().hex[:10]}", tmp_path)
    yield db
    db.engine.dispose()
    drop_database(db.url)


@pytest.fixture
def hooks(request: pytest.FixtureRequest) -> Iterator[Callable[..., WebhookReceiver]]:
    """Start any number of webhook receivers; all are stopped after the test.

    Every request they received must have verified (the receivers answer 401 otherwise), so
    no delivery test can pass on payloads it never checked: a test that sends an unsigned or
    wrongly signed request on purpose says so with `@pytest.mark.unsigned_webhooks`."""
    started: list[WebhookReceiver] = []

    def start(**kw: Any) -> WebhookReceiver:
        hook = WebhookReceiver(**kw).start()
        started.append(hook)
        return hook

    yield start
    for hook in started:
        hook.stop()
    if request.node.get_closest_marker("unsigned_webhooks") is None:
        assert_all_verified(started)


@pytest.fixture
def receiver(hooks: Callable[..., WebhookReceiver]) -> WebhookReceiver:
    return hooks()


@pytest.fixture
def mail() -> Iterator[MailReceiver]:
    smtp = MailReceiver().start()
    yield smtp
    smtp.stop()


@pytest.fixture
def nsettings(settings: Settings, mail: MailReceiver) -> Settings:
    """The test settings with email to the aiosmtpd receiver and a short retry schedule."""
    return with_notify(settings, mail.url)


@pytest.fixture
def workers(
    session_factory: sessionmaker[Session], nsettings: Settings, clock: FixedClock
) -> Iterator[Callable[..., Worker]]:
    """Make workers (closed after the test): `workers("w1")`, or with other settings/clock."""
    made: list[Worker] = []

    def make(
        name: str = "w1", *, settings: Settings | None = None, clock_: FixedClock | None = None
    ) -> Worker:
        worker = alert_worker(
            session_factory, settings or nsettings, clock_ or clock, name=name, seed=7
        )
        made.append(worker)
        return worker

    yield make
    for worker in made:
        worker.close()
