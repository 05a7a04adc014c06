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

Throughput (issue 21: >= 500 deliveries/s on two shared cores) comes from the following, none
of which loosens the above:
- A batch's outcomes are recorded in one transaction of a few statements (its rows locked and
  re-checked, one UPDATE for the delivered ones, one multi-row INSERT of the attempts), not a
  savepoint, an UPDATE and an INSERT per delivery. Only an outcome that may make a delivery
  dead gets a savepoint of its own, because telling the subject's owner writes more.
- Claims read plain columns (UPDATE … RETURNING, then contacts and subjects by id), not ORM
  objects.
- `run` overlaps batches (`drain`): while a full batch sends, the next one is claimed and
  queued behind it, so the sending threads never wait for the database, and each batch is
  recorded on a thread of its own while the next one sends. A batch is claimed only once a
  delivery was answered since the last claim, so a worker holds at most three batches, and
  one while all its receivers hang; a claimed delivery still waiting for a thread when its
  lease runs out is not sent (another worker may have it by then).
"""

from __future__ import annotations

import logging
import queue
import random
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from app.clock import Clock
from app.config import Settings
from app.notify import links, payloads
from app.notify.channels import EmailSender, Result, WebhookSender, elapsed_ms, mail_sender
from app.notify.jobs import (
    CONTACTS,
    DELIVERIES,
    DeadDelivery,
    DeadHandler,
    Job,
    Outcome,
    PassTask,
    Recording,
    SubjectLoader,
    next_delay,
)
from app.notify.models import DeliveryState
from app.notify.recording import Recorder

log = logging.getLogger("dosekeeper.notify")

# Names other modules import from here, defined in app.notify.jobs since the split.
__all__ = [
    "DeadDelivery",
    "DeadHandler",
    "Job",
    "PassTask",
    "Recording",
    "SubjectLoader",
    "Worker",
    "next_delay",
]

# Sending threads per worker (the HTTP client's keep-alive pool, 20 by default, covers them).
SEND_THREADS = 16


@dataclass
class _Batch:
    """One claimed batch being sent: outcomes arrive on `done` as the threads finish them."""

    jobs: list[Job]
    done: queue.SimpleQueue[Outcome | None] = field(default_factory=queue.SimpleQueue)
    outcomes: list[Outcome] = field(default_factory=list)
    received: int = 0
    handed: bool = False  # its outcomes are with the recorder

    def wait(self, count: int) -> None:
        """Block until `count` of the batch's jobs are finished (sent, or skipped)."""
        while self.received < min(count, len(self.jobs)):
            item = self.done.get()
            self.received += 1
            if item is not None:
                self.outcomes.append(item)

    def finish(self) -> list[Outcome]:
        self.wait(len(self.jobs))
        return self.outcomes


class Worker(Recorder):
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
        self.pool = ThreadPoolExecutor(max_workers=SEND_THREADS, thread_name_prefix="deliver")
        # `drain` records each batch here while it claims the next: one thread, so batches
        # are recorded one at a time and in order.
        self.recorder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="record")

    # -- claiming ---------------------------------------------------------------------------

    def claim(self) -> list[Job]:
        """Take up to `batch_size` due deliveries (pending and due, or sending with a lapsed
        lease) and lease them to this worker; returns what is needed to send each."""
        now = self.clock.now()
        lease = now + timedelta(seconds=self.settings.notify.lease_seconds)
        send_by = time.monotonic() + self.settings.notify.lease_seconds
        notify = self.settings.notify
        d = DELIVERIES.c
        with self.uow() as uow:
            session = uow.session
            # Two ordered index scans, not one OR: the OR was planned as a bitmap of every due
            # row and a sort, a claim costing more the longer the backlog (11.6 ms at 10 000
            # due). Lapsed leases first (a worker died mid-send: those are the oldest), then
            # the pending rows in the order they fell due.
            due = list(
                session.scalars(
                    select(d.id)
                    .where(d.state == DeliveryState.SENDING, d.locked_until <= now)
                    .order_by(d.next_attempt_at)
                    .limit(notify.batch_size)
                    .with_for_update(skip_locked=True)
                )
            )
            if len(due) < notify.batch_size:
                due += session.scalars(
                    select(d.id)
                    .where(d.state == DeliveryState.PENDING, d.next_attempt_at <= now)
                    .order_by(d.next_attempt_at)
                    .limit(notify.batch_size - len(due))
                    .with_for_update(skip_locked=True)
                )
            if not due:
                uow.commit()
                return []
            # Plain rows, straight from RETURNING: nothing is read twice, no ORM object is built.
            claimed = session.execute(
                update(DELIVERIES)
                .where(d.id.in_(due))
                .values(state=DeliveryState.SENDING, locked_until=lease, locked_by=self.name)
                .returning(
                    d.id,
                    d.event_id,
                    d.alert_id,
                    d.contact_id,
                    d.channel,
                    d.attempts,
                    d.created_at,
                    d.escalation_level,
                )
            ).all()
            if not claimed:
                uow.commit()
                return []
            c = CONTACTS.c
            contacts = {
                row.id: row
                for row in session.execute(
                    select(
                        c.id, c.webhook_url, c.webhook_secret, c.email, c.webhook_disabled_at
                    ).where(c.id.in_({row.contact_id for row in claimed}))
                )
            }
            subjects = self.subjects(session, list({row.alert_id for row in claimed}))
            uow.commit()
        base = notify.public_base_url.rstrip("/")
        secret = self.settings.secret_key.get_secret_value()
        jobs = []
        for row in claimed:
            subject = subjects[row.alert_id]
            contact = contacts[row.contact_id]
            ref = payloads.AlertRef(
                alert_id=str(row.alert_id),
                kind=subject.kind,
                severity=subject.severity,
                pharmacy_ods=subject.pharmacy_ods,
                escalation_level=row.escalation_level,
                raised_at=subject.raised_at,
                link=f"{base}/alerts/{row.alert_id}",
                acknowledge_link=links.acknowledge_link(
                    base, secret, alert_id=row.alert_id, contact_id=contact.id, now=now
                ),
            )
            jobs.append(
                Job(
                    row.id,
                    str(row.event_id),
                    row.channel,
                    row.attempts,
                    row.created_at,
                    subject.kind,
                    # An endpoint that answered 410 Gone gets nothing more (not even what was
                    # already queued for it): the delivery is dead and the lead is told.
                    contact.webhook_url if contact.webhook_disabled_at is None else None,
                    contact.webhook_secret,
                    contact.email,
                    contact.id,
                    ref,
                    contact.webhook_disabled_at,
                    send_by,
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

    def _send_leased(self, job: Job) -> Outcome | None:
        """Send a delivery unless its lease ran out while it waited for a thread (None): once
        the lease is gone another worker may claim and send it, so this one must not."""
        if time.monotonic() > job.send_by:
            log.warning(
                "delivery %s not sent: its lease ran out before a thread was free", job.delivery_id
            )
            return None
        result, took = self.send(job)
        return job, result, took

    # -- loop -------------------------------------------------------------------------------

    def run_tasks(self) -> int:
        """Run the work due before a pass, each task in its own unit of work."""
        return sum(task(self.uow(), self.clock.now()) for task in self.before_pass)

    def run_once(self) -> int:
        """One pass: the tasks before it (escalation), then claim, deliver and record one
        batch. Returns deliveries attempted."""
        self.run_tasks()
        jobs = self.claim()
        if not jobs:
            return 0
        outcomes = [o for o in self.pool.map(self._send_leased, jobs) if o is not None]
        self.record(outcomes)
        return len(outcomes)

    def _start(self) -> _Batch | None:
        """Claim a batch and queue it for sending, behind any batch still being sent. None
        when nothing is due."""
        jobs = self.claim()
        if not jobs:
            return None
        batch = _Batch(jobs)
        for job in jobs:
            self.pool.submit(self._send_leased, job).add_done_callback(self._reporter(batch, job))
        return batch

    def _record_then_tasks(self, outcomes: Sequence[Outcome], tasks: bool) -> None:
        """The recorder thread's work for one batch: record it, then, when due, the tasks
        before the next pass (escalation), off the thread that claims."""
        self.record(outcomes)
        if tasks:
            self.run_tasks()

    @staticmethod
    def _reporter(batch: _Batch, job: Job) -> Callable[[Future[Outcome | None]], None]:
        """A done-callback putting the job's outcome on its batch's queue."""

        def report(future: Future[Outcome | None]) -> None:
            exc = future.exception()
            if exc is None:
                batch.done.put(future.result())
            else:  # send() never raises: this is the pool itself failing under us
                result = Result("retry", detail=f"unexpected error ({type(exc).__name__})")
                batch.done.put((job, result, 0))

        return report

    def drain(self, stop: threading.Event | None = None) -> int:
        """Deliver until nothing is due or `stop` is set, overlapping batches: while a full
        batch sends, the next one is claimed and queued behind it, so the sending threads
        never wait for the database, and each batch is recorded on the recorder thread while
        the next one sends. What was claimed is always sent and recorded before this returns
        or raises. Returns deliveries attempted.

        A batch is claimed only once some delivery was answered since the last claim, and
        handed to the recorder only once the one before it is recorded: a worker holds at
        most three batches (one being recorded, one sending, one queued), and just the one
        while all its receivers hang."""
        size = self.settings.notify.batch_size
        # The tasks (escalation) run before the first claim, as in `run_once`; during a
        # backlog at most once per poll interval, as for an idle worker, and on the recorder
        # thread: before every batch they would cost about as much as recording it.
        every = self.settings.notify.worker_poll_seconds
        self.run_tasks()
        tasks_at = time.monotonic()
        attempted = 0
        answered = 0  # answers from the batches already finished
        answered_at_claim = 0  # answers there were when the last batch was claimed
        recording: Future[None] | None = None
        batch = self._start()
        following: _Batch | None = None
        try:
            while batch is not None:
                following = None
                failure: Exception | None = None
                if len(batch.jobs) >= size and not (stop and stop.is_set()):
                    if answered + batch.received == answered_at_claim:
                        batch.wait(batch.received + 1)  # an answer since the last claim
                    if not (stop and stop.is_set()):
                        answered_at_claim = answered + batch.received
                        try:
                            following = self._start()
                        except Exception as exc:  # what is in flight is still recorded first
                            failure = exc
                outcomes = batch.finish()
                answered += batch.received
                attempted += len(outcomes)
                if recording is not None:
                    recording.result()  # raises if the batch before could not be recorded
                tasks = following is not None and time.monotonic() - tasks_at >= every
                if tasks:
                    tasks_at = time.monotonic()
                recording = self.recorder.submit(self._record_then_tasks, outcomes, tasks)
                batch.handed = True
                if failure is not None:
                    raise failure
                batch = following
            if recording is not None:
                recording.result()
        except BaseException:
            self._salvage(recording, batch, following)
            raise
        return attempted

    def _salvage(self, recording: Future[None] | None, *batches: _Batch | None) -> None:
        """After a failure in `drain`: wait for the recorder, then send out and record what is
        still claimed, each on its own (a row left `sending` is only sent again once its lease
        runs out, so everything that can be recorded now is)."""
        if recording is not None:
            try:
                recording.result()
            except Exception:
                log.exception("recording a batch failed; its leases will run out")
        for batch in batches:
            if batch is not None and not batch.handed:
                try:
                    self.record(batch.finish())
                except Exception:
                    log.exception("recording a batch failed; its leases will run out")

    def run(
        self, stop: threading.Event, *, on_error: Callable[[BaseException], None] | None = None
    ) -> None:
        """Deliver until `stop` is set; what was claimed is always sent and recorded first."""
        while not stop.is_set():
            try:
                busy = self.drain(stop)
            except Exception as exc:  # keep delivering: a bad row must not stop every alert
                log.exception("delivery pass failed")
                if on_error:
                    on_error(exc)
                busy = 0
            if not busy:
                stop.wait(self.settings.notify.worker_poll_seconds)

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.recorder.shutdown(wait=True)
        self.webhooks.close()
