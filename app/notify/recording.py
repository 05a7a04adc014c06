"""Recording what the delivery worker's sends came to: a batch's outcomes in one transaction.

Split from `app.notify.worker` (issue 21): the worker claims and sends, and this mixin records,
so each part of the at-least-once guarantee can be read on its own. `Worker` provides the
attributes declared here.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from app import metrics
from app.clock import Clock
from app.config import Settings
from app.contacts.models import Contact
from app.db import UnitOfWork
from app.kit import new_id
from app.notify.channels import Result
from app.notify.jobs import (
    ATTEMPTS,
    DELIVERIES,
    FINAL,
    DeadDelivery,
    DeadHandler,
    Job,
    Outcome,
    Recording,
    next_delay,
)
from app.notify.models import Delivery, DeliveryAttempt, DeliveryState

log = logging.getLogger("dosekeeper.notify")


class Recorder:
    """The recording half of `app.notify.worker.Worker`."""

    session_factory: sessionmaker[Session]
    settings: Settings
    clock: Clock
    rng: random.Random
    name: str
    on_dead: DeadHandler

    def uow(self) -> UnitOfWork:
        """A unit of work of its own: claims, recordings and pass tasks each commit alone."""
        return UnitOfWork(self.session_factory)

    def record(self, outcomes: Sequence[Outcome]) -> None:
        """Record a batch's outcomes in one transaction, each on its own: a failure while
        recording one becomes that delivery's failed attempt and never undoes the others'.

        The rows are locked and re-checked first (still `sending`, still leased to this
        worker); one whose lease ran out and that another worker took is theirs to record.
        `_record_one` decides each row's changes; the rows and their attempts are then
        written by `_write_rows` in a few statements, instead of a savepoint, an UPDATE and an
        INSERT per delivery (four round trips each: half of the drain's time before issue 21).
        Should that transaction fail, it is done again with each delivery written in a
        savepoint of its own, so one bad row never costs the batch its records."""
        if not outcomes:
            return
        try:
            self._record(outcomes, together=True)
        except Exception:
            log.exception("recording %d outcomes together failed; recording each", len(outcomes))
            self._record(outcomes, together=False)

    def _record(self, outcomes: Sequence[Outcome], *, together: bool) -> None:
        now = self.clock.now()
        d = DELIVERIES.c
        with self.uow() as uow:
            session = uow.session
            # FOR UPDATE: between this check and the write, no other worker can reclaim a row
            # whose lease has just run out (its claim skips locked rows). SQLite drops it; its
            # BEGIN IMMEDIATE already keeps every other writer out.
            rows = {
                row.id: row
                for row in session.execute(
                    select(
                        d.id,
                        d.alert_id,
                        d.attempts,
                        d.created_at,
                        d.next_attempt_at,
                        d.last_error,
                        d.delivered_at,
                    )
                    .where(
                        d.id.in_([job.delivery_id for job, _, _ in outcomes]),
                        d.state == DeliveryState.SENDING,
                        d.locked_by == self.name,
                    )
                    .with_for_update()
                )
            }
            recorded: list[Recording] = []
            for job, result, took in outcomes:
                row = rows.get(job.delivery_id)
                if row is None:
                    continue  # our lease ran out and another worker took it: theirs to record
                delivery = Recording(
                    row.id,
                    row.alert_id,
                    row.attempts,
                    row.created_at,
                    row.next_attempt_at,
                    row.last_error,
                    row.delivered_at,
                )
                try:
                    if together and result.outcome == "delivered":
                        # Changes only `delivery` (written below): nothing to undo if it fails.
                        self._record_one(session, delivery, job, result, took, now)
                    else:
                        # May make it dead, which writes the subject owner's records (and a
                        # 410 disables the contact's webhook): undone together if it fails.
                        with session.begin_nested():
                            self._record_one(session, delivery, job, result, took, now)
                            if not together:
                                self._write_rows(session, [delivery])
                except Exception as exc:
                    log.exception("recording delivery %s failed", job.delivery_id)
                    self._record_failure(session, job.delivery_id, exc, took, now)
                    continue
                if together:
                    recorded.append(delivery)
            if recorded:
                self._write_rows(session, recorded)
            uow.commit()

    @staticmethod
    def _write_rows(session: Session, rows: Sequence[Recording]) -> None:
        """Write the rows' new state and insert their attempts. Delivered rows with the same
        new values (in practice the whole batch: first attempts, delivered now) take one
        UPDATE … WHERE id IN (…), the rest one executemany UPDATE (pipelined by psycopg), and
        the attempts one multi-row INSERT."""
        if not rows:
            return
        d = DELIVERIES.c
        delivered: dict[tuple[int, datetime | None], list[UUID]] = {}
        others: list[dict[str, Any]] = []
        for row in rows:
            if row.state == DeliveryState.DELIVERED and row.last_error is None:
                # next_attempt_at is left as it was: a delivered row is never due again.
                delivered.setdefault((row.attempts, row.delivered_at), []).append(row.id)
            else:
                others.append(
                    {
                        "b_id": row.id,
                        "b_state": row.state,
                        "b_attempts": row.attempts,
                        "b_next_attempt_at": row.next_attempt_at,
                        "b_last_error": row.last_error,
                        "b_delivered_at": row.delivered_at,
                    }
                )
        for (attempts, delivered_at), ids in delivered.items():
            session.execute(
                update(DELIVERIES)
                .where(d.id.in_(ids))
                .values(
                    state=DeliveryState.DELIVERED,
                    attempts=attempts,
                    locked_until=None,
                    locked_by=None,
                    last_error=None,
                    delivered_at=delivered_at,
                )
            )
        if others:
            session.execute(
                update(DELIVERIES)
                .where(d.id == bindparam("b_id"))
                .values(
                    state=bindparam("b_state"),
                    attempts=bindparam("b_attempts"),
                    locked_until=None,
                    locked_by=None,
                    next_attempt_at=bindparam("b_next_attempt_at"),
                    last_error=bindparam("b_last_error"),
                    delivered_at=bindparam("b_delivered_at"),
                ),
                others,
            )
        inserts = [row.attempt for row in rows if row.attempt is not None]
        if inserts:
            session.execute(insert(ATTEMPTS), inserts)

    def _record_one(
        self,
        session: Session,
        delivery: Recording,
        job: Job,
        result: Result,
        took: int,
        now: datetime,
    ) -> None:
        """Decide one delivery's new state and its attempt, in `delivery` (written with the
        batch by `record`). Only an outcome other than delivered touches `session`: a dead
        delivery is handed to `on_dead`, and a 410 disables the contact's webhook."""
        retry_for = timedelta(seconds=self.settings.notify.retry_for_seconds)
        delivery.attempts += 1
        outcome = "delivered"
        # The wait a retry would have (honouring Retry-After) decides whether one still
        # fits in the window; a receiver asking for longer makes it dead now, so the
        # lead is told instead of the alert waiting unseen for days.
        delay = next_delay(delivery.attempts, self.settings, self.rng)
        if result.retry_after is not None:
            delay = max(delay, result.retry_after)
        # Past the window means dead; capping keeps the date arithmetic finite.
        delay = min(delay, retry_for.total_seconds() + 1)
        if result.outcome == "delivered":
            delivery.state = DeliveryState.DELIVERED
            delivery.delivered_at = now
            delivery.last_error = None
            metrics.DELIVERY_SECONDS.labels(job.channel).observe(
                max(0.0, (now - job.ref.raised_at).total_seconds())
            )
        elif (
            result.outcome in FINAL
            or now + timedelta(seconds=delay) > delivery.created_at + retry_for
        ):
            outcome = FINAL.get(result.outcome, "dead")
            delivery.state = DeliveryState.DEAD
            delivery.last_error = result.detail[:500]
            if result.outcome == "gone" and job.channel == "webhook":
                contact = session.get(Contact, job.contact_id)
                if contact is not None and contact.webhook_disabled_at is None:
                    contact.webhook_disabled_at = now
            cause = result.outcome if result.outcome in FINAL else "retries"
            self.on_dead(
                session,
                DeadDelivery(
                    delivery_id=delivery.id,
                    subject_id=delivery.alert_id,
                    contact_id=job.contact_id,
                    channel=job.channel,
                    cause=cause,
                    detail=delivery.last_error or cause,
                    at=now,
                ),
            )
            session.flush()  # inside the caller's savepoint, so a failure here undoes it all
        else:
            outcome = "retry"
            delivery.state = DeliveryState.PENDING
            delivery.next_attempt_at = now + timedelta(seconds=delay)
            delivery.last_error = result.detail[:500]
        delivery.attempt = {
            "id": new_id(),
            "delivery_id": delivery.id,
            "at": now,
            "outcome": outcome,
            "status_code": result.status_code,
            "detail": result.detail[:500],
            "duration_ms": took,
            "worker": self.name,
        }

    def _record_failure(
        self, session: Session, delivery_id: UUID, exc: Exception, took: int, now: datetime
    ) -> None:
        """The outcome could not be recorded: the delivery is retried after the first backoff,
        and the attempt says why. If even that fails, the lease runs out and it is sent again."""
        detail = f"internal error recording the outcome ({type(exc).__name__})"
        delay = next_delay(1, self.settings, self.rng)
        try:
            with session.begin_nested():
                delivery = session.get(Delivery, delivery_id, populate_existing=True)
                if delivery is None:
                    return
                delivery.attempts += 1
                delivery.state = DeliveryState.PENDING
                delivery.locked_until = None
                delivery.locked_by = None
                delivery.next_attempt_at = now + timedelta(seconds=delay)
                delivery.last_error = detail
                session.add(
                    DeliveryAttempt(
                        delivery_id=delivery_id,
                        at=now,
                        outcome="retry",
                        status_code=None,
                        detail=detail,
                        duration_ms=took,
                        worker=self.name,
                    )
                )
                session.flush()
        except Exception:
            log.exception("could not record the failure of delivery %s either", delivery_id)
