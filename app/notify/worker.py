"""The delivery worker: claim due deliveries, send them outside any transaction, record what
happened, and hand a dead delivery back to whoever owns its subject.

The worker knows deliveries, contacts and channels, not alerts: what a delivery is about
(`subjects`), what a dead delivery means (`on_dead`) and any work to do before each pass
(`before_pass`: safeguarding's escalation) are given to it by the caller that owns them
(`app/safeguarding/delivery.py` builds the alert worker).

Claiming is one UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) that also sets a lease,
so on PostgreSQL several workers never claim the same row, and on SQLite (one worker,
BEGIN IMMEDIATE) the same statement is serialised. A worker killed mid-send leaves rows in
`sending` whose lease runs out; the next claim takes them again and sends them with the same
`webhook-id` (at-least-once).
"""

from __future__ import annotations

import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from app import metrics
from app.clock import Clock
from app.config import Settings
from app.contacts.models import Contact
from app.db import UnitOfWork
from app.notify import links, payloads
from app.notify.channels import EmailSender, Result, WebhookSender, elapsed_ms, mail_sender
from app.notify.models import Delivery, DeliveryAttempt, DeliveryState

log = logging.getLogger("dosekeeper.notify")


# Outcomes that make a delivery dead at once, and the attempt's outcome for each.
FINAL = {"gone": "disabled", "refused": "refused", "no_channel": "no_channel"}


def next_delay(attempts: int, settings: Settings, rng: random.Random) -> float:
    """Seconds before retry number `attempts` (1-based), with jitter so retries spread out."""
    delays = settings.notify.retry_delays_seconds or (60.0,)
    base = delays[min(attempts, len(delays)) - 1]
    jitter = settings.notify.retry_jitter
    return max(0.0, base * (1 + rng.uniform(-jitter, jitter)))


# What each delivery is about, by subject id, loaded in the claim's transaction.
SubjectLoader = Callable[[Session, Sequence[UUID]], Mapping[UUID, payloads.Subject]]


@dataclass(frozen=True, slots=True)
class DeadDelivery:
    """A delivery that will not be attempted again, and why (`cause`: retries, gone, refused,
    no_channel)."""

    delivery_id: UUID
    subject_id: UUID
    contact_id: UUID
    channel: str
    cause: str
    detail: str
    at: datetime


# Told of a dead delivery in the transaction that records it: it must never be only a log line.
DeadHandler = Callable[[Session, DeadDelivery], None]
# Work run in its own unit of work before each pass (returns how many things it did).
PassTask = Callable[[UnitOfWork, datetime], int]


@dataclass
class Job:
    delivery_id: UUID
    event_id: str
    channel: str
    attempts: int
    created_at: datetime
    alert_kind: str
    url: str | None
    secret: str | None
    email: str | None
    contact_id: UUID
    ref: payloads.AlertRef
    webhook_disabled_at: datetime | None = None


class Worker:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        settings: Settings,
        clock: Clock,
        *,
        subjects: SubjectLoader,
        on_dead: DeadHandler,
        before_pass: Sequence[PassTask] = (),
        name: str | None = None,
        webhooks: WebhookSender | None = None,
        mail: EmailSender | None = None,
        seed: int | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.settings = settings
        self.clock = clock
        self.subjects = subjects
        self.on_dead = on_dead
        self.before_pass = tuple(before_pass)
        self.name = name or f"{socket.gethostname()}:{threading.get_native_id()}"
        self.webhooks = webhooks or WebhookSender(
            timeout=settings.notify.webhook_timeout_seconds,
            allowed_hosts=settings.webhook_allowed_hosts,
        )
        self.mail = mail or mail_sender(settings.smtp_url, settings.data_dir)
        self.rng = random.Random(seed)
        self.pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="deliver")

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.session_factory)

    # -- claiming ---------------------------------------------------------------------------

    def claim(self) -> list[Job]:
        now = self.clock.now()
        lease = now + timedelta(seconds=self.settings.notify.lease_seconds)
        notify = self.settings.notify
        with self.uow() as uow:
            session = uow.session
            due = (
                select(Delivery.id)
                .where(
                    or_(
                        (Delivery.state == DeliveryState.PENDING)
                        & (Delivery.next_attempt_at <= now),
                        (Delivery.state == DeliveryState.SENDING) & (Delivery.locked_until <= now),
                    )
                )
                .order_by(Delivery.next_attempt_at)
                .limit(notify.batch_size)
                .with_for_update(skip_locked=True)
            )
            claimed = list(
                session.scalars(
                    update(Delivery)
                    .where(Delivery.id.in_(due))
                    .values(state=DeliveryState.SENDING, locked_until=lease, locked_by=self.name)
                    .returning(Delivery.id)
                    .execution_options(synchronize_session=False)
                )
            )
            if not claimed:
                uow.commit()
                return []
            rows = session.execute(
                select(Delivery, Contact)
                .join(Contact, Contact.id == Delivery.contact_id)
                .where(Delivery.id.in_(claimed))
            ).all()
            subjects = self.subjects(session, list({d.alert_id for d, _ in rows}))
            uow.commit()
        base = notify.public_base_url.rstrip("/")
        secret = self.settings.secret_key.get_secret_value()
        jobs = []
        for delivery, contact in rows:
            subject = subjects[delivery.alert_id]
            ref = payloads.AlertRef(
                alert_id=str(delivery.alert_id),
                kind=subject.kind,
                severity=subject.severity,
                pharmacy_ods=subject.pharmacy_ods,
                escalation_level=delivery.escalation_level,
                raised_at=subject.raised_at,
                link=f"{base}/alerts/{delivery.alert_id}",
                acknowledge_link=links.acknowledge_link(
                    base, secret, alert_id=delivery.alert_id, contact_id=contact.id, now=now
                ),
            )
            jobs.append(
                Job(
                    delivery.id,
                    str(delivery.event_id),
                    delivery.channel,
                    delivery.attempts,
                    delivery.created_at,
                    subject.kind,
                    # An endpoint that answered 410 Gone gets nothing more (not even what was
                    # already queued for it): the delivery is dead and the lead is told.
                    contact.webhook_url if contact.webhook_disabled_at is None else None,
                    contact.webhook_secret,
                    contact.email,
                    contact.id,
                    ref,
                    contact.webhook_disabled_at,
                )
            )
        return jobs

    # -- sending ----------------------------------------------------------------------------

    def send(self, job: Job) -> tuple[Result, int]:
        """Send one delivery. Never raises: whatever goes wrong is this delivery's failed
        attempt, recorded like any other, and never the batch's."""
        started = time.perf_counter()
        try:
            return self._send(job, started)
        except Exception as exc:
            log.exception("sending delivery %s failed unexpectedly", job.delivery_id)
            return Result("retry", detail=f"unexpected error ({type(exc).__name__})"), elapsed_ms(
                started
            )

    def _send(self, job: Job, started: float) -> tuple[Result, int]:
        if job.channel == "webhook":
            if not job.url or not job.secret:
                # Disabled after it was queued, with email still working: as a 410 (the email
                # delivery is separate). With nothing left: no working channel at all.
                gone = job.webhook_disabled_at is not None and bool(job.email)
                return Result("gone" if gone else "no_channel", detail=self._no_webhook(job)), 0
            body = payloads.cloud_event(job.ref, event_id=job.event_id)
            result = self.webhooks.send(job.url, job.secret, event_id=job.event_id, body=body)
        else:
            if not job.email:
                return Result("no_channel", detail=self._no_email(job)), 0
            domain = self.settings.notify.mail_from.rsplit("@", 1)[-1].strip("> ")
            message = payloads.email(
                job.ref,
                event_id=job.event_id,
                to=job.email,
                sender=self.settings.notify.mail_from,
                domain=domain,
            )
            result = self.mail.send(message)
        return result, elapsed_ms(started)

    @staticmethod
    def _no_email(job: Job) -> str:
        if job.url and job.secret:
            return "the contact has no email address (their webhook delivery is separate)"
        return "no working channel: the contact has no email address and no working webhook"

    @staticmethod
    def _no_webhook(job: Job) -> str:
        if job.webhook_disabled_at is not None:
            why = (
                "the contact's webhook was disabled at "
                f"{job.webhook_disabled_at:%Y-%m-%d %H:%M} UTC after it answered 410 Gone"
            )
        else:
            why = "the contact has no webhook"
        if job.email:
            return f"{why} (their email delivery is separate)"
        return f"no working channel: {why} and no email"

    # -- recording --------------------------------------------------------------------------

    def record(self, outcomes: list[tuple[Job, Result, int]]) -> None:
        """Record each delivery's outcome on its own (a savepoint each): a failure while
        recording one becomes that delivery's failed attempt and never undoes the others'."""
        now = self.clock.now()
        with self.uow() as uow:
            session = uow.session
            # The whole batch in one query. (One session.get per job also autoflushed the
            # previous job's UPDATE and INSERT first: three round trips per delivery.)
            ids = [job.delivery_id for job, _, _ in outcomes]
            loaded = {
                d.id: d for d in session.scalars(select(Delivery).where(Delivery.id.in_(ids)))
            }
            for job, result, took in outcomes:
                delivery = loaded.get(job.delivery_id)
                if (
                    delivery is None
                    or delivery.state != DeliveryState.SENDING
                    or delivery.locked_by != self.name
                ):
                    continue  # our lease ran out and another worker took it: theirs to record
                try:
                    with session.begin_nested():
                        self._record_one(session, delivery, job, result, took, now)
                except Exception as exc:
                    log.exception("recording delivery %s failed", job.delivery_id)
                    self._record_failure(session, job.delivery_id, exc, took, now)
            uow.commit()

    def _record_one(
        self,
        session: Session,
        delivery: Delivery,
        job: Job,
        result: Result,
        took: int,
        now: datetime,
    ) -> None:
        retry_for = timedelta(seconds=self.settings.notify.retry_for_seconds)
        delivery.attempts += 1
        delivery.locked_until = None
        delivery.locked_by = None
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
        else:
            outcome = "retry"
            delivery.state = DeliveryState.PENDING
            delivery.next_attempt_at = now + timedelta(seconds=delay)
            delivery.last_error = result.detail[:500]
        session.add(
            DeliveryAttempt(
                delivery_id=delivery.id,
                at=now,
                outcome=outcome,
                status_code=result.status_code,
                detail=result.detail[:500],
                duration_ms=took,
                worker=self.name,
            )
        )
        session.flush()

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

    # -- loop -------------------------------------------------------------------------------

    def run_tasks(self) -> int:
        """Run the work due before a pass, each task in its own unit of work."""
        return sum(task(self.uow(), self.clock.now()) for task in self.before_pass)

    def run_once(self) -> int:
        """One pass: the tasks before it (escalation), then claim and deliver one batch.
        Returns deliveries attempted."""
        self.run_tasks()
        jobs = self.claim()
        if not jobs:
            return 0
        outcomes = []
        for job, (result, took) in zip(jobs, self.pool.map(self.send, jobs), strict=True):
            outcomes.append((job, result, took))
        self.record(outcomes)
        return len(jobs)

    def run(
        self, stop: threading.Event, *, on_error: Callable[[BaseException], None] | None = None
    ) -> None:
        """Deliver until `stop` is set; the current batch always finishes first."""
        while not stop.is_set():
            try:
                busy = self.run_once()
            except Exception as exc:  # keep delivering: a bad row must not stop every alert
                log.exception("delivery pass failed")
                if on_error:
                    on_error(exc)
                busy = 0
            if not busy:
                stop.wait(self.settings.notify.worker_poll_seconds)

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.webhooks.close()
