"""Many terminals at one new pharmacy, with the worker escalating at the same time: no 5xx
(issue 16 #14).

The deadlock found by the attack run: a new pharmacy with no stock receipt entered and only a
prescriber on file. Every supply takes the CD register below zero, so each handover touches the
pharmacy's one `register_negative_balance` alert of the day (a history line referencing the
alert row) while holding the pharmacy's audit-chain lock; the worker, escalating that alert
because nobody holds the role it is meant for, locks the alert row and then wants the audit
lock. Locks are now taken in one order in every use case (the audit chain last, at commit),
and a transaction that still loses a race is run again.
"""

from __future__ import annotations

import threading
import time
from uuid import UUID

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.audit import service as audit_service
from app.clock import FixedClock
from app.register import chain as register_chain
from app.safeguarding.delivery import alert_worker
from app.safeguarding.models import Alert
from tests.builders import API, MONDAY, at, handover, prescribe, race
from tests.factories import Branch, World, make_branch, make_contact

TERMINALS = 16
PATIENTS_EACH = 4


def new_pharmacy(world: World) -> tuple[Branch, UUID]:
    """A pharmacy with only a prescriber on file and no stock receipt entered yet."""
    prescriber = make_contact(world.uow, "prescriber")
    return make_branch(world.uow, world.settings, contacts={"prescriber": prescriber}), prescriber


def test_sixteen_terminals_at_a_new_pharmacy_while_the_worker_escalates_get_no_5xx(
    world: World, clock: FixedClock, session_factory: sessionmaker[Session]
) -> None:
    branch, prescriber = new_pharmacy(world)
    patients = []
    for _ in range(TERMINALS * PATIENTS_EACH):
        patient = world.patient(branch=branch, key_worker_id=None, prescriber_id=str(prescriber))
        prescribe(world, patient["id"], branch=branch)
        patients.append(patient["id"])
    clock.set(at(MONDAY))
    app = world.client.app
    worker = alert_worker(session_factory, world.settings, clock, name="lock-order", seed=3)
    stop = threading.Event()
    escalations: list[int] = []

    def escalate() -> None:
        while not stop.is_set():
            escalations.append(worker.run_tasks())

    escalating = threading.Thread(target=escalate, name="worker")
    escalating.start()
    try:

        def terminal(index: int) -> list[int]:
            client = TestClient(app, raise_server_exceptions=False, client=(f"10.8.0.{index}", 1))
            codes = []
            for patient_id in patients[index::TERMINALS]:
                response = client.post(
                    f"{API}/counter/handover",
                    json=handover(patient_id, MONDAY),
                    headers=branch.headers(),
                )
                codes.append(response.status_code)
            return codes

        results = race(TERMINALS, terminal)
        # One whole pass after the last handover, so an alert raised by it has been seen by
        # the escalator (on a loaded machine the thread may not have run again yet).
        passes = len(escalations)
        deadline = time.monotonic() + 60
        while len(escalations) < passes + 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        escalating.join(timeout=60)
        worker.close()
    for result in results:
        assert not isinstance(result, BaseException), repr(result)
    statuses = [code for codes in results for code in codes]  # type: ignore[union-attr]
    assert statuses == [201] * len(patients), sorted(set(statuses))
    assert escalations, "the worker never ran"

    with world.uow:
        session = world.uow.session
        (negative,) = session.scalars(
            select(Alert).where(
                Alert.pharmacy_id == branch.pharmacy_id, Alert.kind == "register_negative_balance"
            )
        )
        assert negative.escalation_level >= 1  # nobody holds the role: escalated meanwhile
        report = register_chain.verify_chain(session, branch.pharmacy_id, "methadone-1mg-ml")
        assert report.ok, report
        assert report.entries == len(patients)
        assert audit_service.verify(session).ok
