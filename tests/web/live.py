"""The real app served by uvicorn on 127.0.0.1, over a database of its own seeded with the demo
data, and the Chromium that drives it. Shared by the browser tests and scripts/screenshots.py.

The clock is a FixedClock the tests move; the demo seed reads the system clock, so the fixed
"now" starts on the day the demo prescriptions start.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import uvicorn
from sqlalchemy import select

from app import demo
from app.actor import SYSTEM
from app.auth import service as auth_service
from app.auth.models import User
from app.auth.service import actor_for
from app.clock import FixedClock, SystemClock, local_date
from app.config import AuthSettings, Settings
from app.contacts.models import Contact
from app.db import UnitOfWork, make_session_factory
from app.dosing import close_day as dosing_close_day
from app.dosing import handover as dosing_handover
from app.households import boxes
from app.households import children as household_children
from app.households import service as households_service
from app.intake import transcribe as transcription
from app.intake import verify as verification
from app.main import create_app
from app.patients import service as patients_service
from app.patients.models import Patient
from app.pharmacies import service as pharmacies_service
from app.prescriptions import intake_terms
from app.prescriptions.models import Prescription
from app.prescriptions.words import number_to_words
from tests.databases import Database, build_database, drop_database

PASSWORD = demo.DEMO_PASSWORD
# Debian's package (never a browser downloaded by Playwright): on PATH, usually /usr/bin.
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-gpu",
]
VIEWPORT = {"width": 1280, "height": 800}


def launch_chromium(playwright: Any) -> Any:
    """Debian's Chromium, headless, with nothing phoning home."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


def _demo_start(today: date) -> date:
    """The weekday the browser tests' world starts: today, or the next Monday to Friday that
    is not Christmas Day. On a Saturday a supervised patient's Saturday would also carry
    Sunday's take-home (the pharmacy shuts on Sundays), so the tests that supply a plain
    supervised dose run in a weekday's world whatever day CI runs on."""
    start = today
    while start.weekday() >= 5 or start == date(today.year, 12, 25):
        start += timedelta(days=1)
    return start


@dataclass
class LiveServer:
    url: str
    settings: Settings
    database: Database
    uow: UnitOfWork
    clock: FixedClock
    today: date
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.database.engine.dispose()
        drop_database(self.database.url)

    # --- reading the demo world -----------------------------------------------------------

    def patient(self, given_name: str, family_name: str) -> Patient:
        with self.uow:
            found = self.uow.session.scalar(
                select(Patient).where(
                    Patient.given_name == given_name, Patient.family_name == family_name
                )
            )
            assert found is not None, (given_name, family_name)
            self.uow.session.expunge(found)
            return found

    def user(self, username: str) -> User:
        with self.uow:
            found = self.uow.session.scalar(select(User).where(User.username == username))
            assert found is not None, username
            self.uow.session.expunge(found)
            return found

    def contact_id(self, name: str) -> uuid.UUID:
        with self.uow:
            found = self.uow.session.scalar(select(Contact.id).where(Contact.name == name))
            assert found is not None, name
            return found

    def prescription_of(self, patient_id: uuid.UUID) -> uuid.UUID:
        """The patient's most recent prescription."""
        with self.uow:
            found = self.uow.session.scalar(
                select(Prescription.id)
                .where(Prescription.patient_id == patient_id)
                .order_by(Prescription.start_on.desc())
                .limit(1)
            )
            assert found is not None, patient_id
            return found

    # --- scenarios the demo seed does not have ---------------------------------------------

    def _prescribe(
        self,
        patient_id: uuid.UUID,
        *,
        start: date,
        mg: int,
        transcriber: str,
        checker: str,
        take_home_on: frozenset[int] | None = None,
    ) -> uuid.UUID:
        """A 14-day prescription, supervised Monday to Saturday (like Morgan's), or with
        `take_home_on` collected on those weekdays for the days to the next, nothing
        supervised; transcribed and checked on its first day: only days from the check
        onwards are scheduled."""
        days = 14
        draft = intake_terms.PrescriptionDraft(
            product_code="methadone-1mg-ml",
            daily_dose_mg=Decimal(mg),
            form_type="FP10MDA",
            written_on=start,
            start_on=start,
            end_on=start + timedelta(days=days - 1),
            total_quantity=Decimal(mg * days),
            total_quantity_words=number_to_words(mg * days),
            supervised_days=frozenset() if take_home_on else frozenset(range(6)),
            collection_days=take_home_on or frozenset(range(7)),
            wording=intake_terms.Wording(
                closed_day_prior=True,
                supervise_on_collection=not take_home_on,
                consult_after_3_missed=True,
            ),
            direction_text=(
                f"{mg}mg ({mg}ml) daily. Collect for the days to the next collection."
                if take_home_on
                else f"{mg}mg ({mg}ml) daily. Supervised consumption on collection days."
            ),
        )
        now = self._morning(start)
        prescription, _ = transcription.transcribe(
            self.uow,
            actor=actor_for(self.user(transcriber)),
            data=transcription.PrescriptionInput(
                patient_id=patient_id,
                prescriber_id=self.contact_id("Dr Alex Prescriber"),
                draft=draft,
                last_dose=transcription.LastDoseInput(None, "induction"),
            ),
            policy=self.settings.policy,
            today=start,
            now=now,
        )
        verification.verify(
            self.uow,
            actor=actor_for(self.user(checker)),
            prescription_id=prescription.id,
            policy=self.settings.policy,
            today=start,
            now=now,
        )
        return prescription.id

    def _morning(self, day: date) -> datetime:
        """09:00 at the pharmacy on `day`, or the clock's now if that is earlier."""
        nine = datetime(day.year, day.month, day.day, 9, tzinfo=ZoneInfo(self.settings.timezone))
        return min(nine.astimezone(UTC), self.clock.now())

    def _register(
        self,
        given_name: str,
        family_name: str,
        pharmacy_id: uuid.UUID,
        *,
        on: date,
        household_id: uuid.UUID | None = None,
    ) -> Patient:
        return patients_service.register_patient(
            self.uow,
            actor=SYSTEM,
            given_name=given_name,
            family_name=family_name,
            date_of_birth=date(1984, 6, 9),
            nhs_number=demo.test_range_nhs_number(500_000 + uuid.uuid4().int % 400_000),
            pharmacy_id=pharmacy_id,
            household_id=household_id,
            key_worker_id=self.contact_id("Sam Keyworker"),
            prescriber_id=self.contact_id("Dr Alex Prescriber"),
            today=on,
            now=self._morning(on),
        )

    def add_blocked_patient(self, given_name: str, family_name: str | None = None) -> Patient:
        """A patient of the demo pharmacy who stopped coming six days ago: the days up to
        yesterday are closed as missed, so the counter blocks supply until a prescriber's
        review."""
        family_name = family_name or f"Stray{uuid.uuid4().hex[:4]}"
        pharmacy_id = self.user("pharmacist").pharmacy_id
        assert pharmacy_id is not None
        start = self.today - timedelta(days=6)
        while start.weekday() == 6 or (start.month, start.day) == (12, 25):
            start -= timedelta(days=1)  # the demo pharmacy is closed: start the day before
        patient = self._register(given_name, family_name, pharmacy_id, on=start)
        self._prescribe(
            patient.id,
            start=start,
            mg=50,
            transcriber="pharmacist",
            checker="pharmacist2",
        )
        dosing_close_day.close_day(
            self.uow,
            actor=SYSTEM,
            pharmacy_id=pharmacy_id,
            day=self.today - timedelta(days=1),
            today=self.today,
            policy=self.settings.policy,
            now=self.clock.now(),
        )
        return self.patient(given_name, family_name)

    def add_supervised_patient(self, given_name: str) -> Patient:
        """A new patient of the demo pharmacy on 40 mg supervised Monday to Saturday from
        today (checked), with nothing recorded yet."""
        pharmacy_id = self.user("pharmacist").pharmacy_id
        assert pharmacy_id is not None
        family_name = f"Due{uuid.uuid4().hex[:4]}"
        patient = self._register(given_name, family_name, pharmacy_id, on=self.today)
        self._prescribe(
            patient.id, start=self.today, mg=40, transcriber="pharmacist", checker="pharmacist2"
        )
        return self.patient(given_name, family_name)

    def add_registered_patient(self, given_name: str) -> Patient:
        """A new patient of the demo pharmacy, registered today, with no prescription."""
        pharmacy_id = self.user("pharmacist").pharmacy_id
        assert pharmacy_id is not None
        family_name = f"New{uuid.uuid4().hex[:4]}"
        self._register(given_name, family_name, pharmacy_id, on=self.today)
        return self.patient(given_name, family_name)

    def add_take_home_patient(
        self,
        given_name: str,
        *,
        pharmacist: str = "pharmacist",
        checker: str = "pharmacist2",
        child_born: date | None = None,
        hand_over: bool = True,
    ) -> Patient:
        """A new patient of `pharmacist`'s pharmacy on 10 mg taken home, collected today and
        three days later for the days to the next collection (checked by `checker`), living in
        a household of their own confirmed today as without children, a lockable box seen
        today, and today's collection handed over by `pharmacist` (it leaves the register's
        balance lower: a small dose)."""
        pharmacy_id = self.user(pharmacist).pharmacy_id
        assert pharmacy_id is not None
        family_name = f"Home{uuid.uuid4().hex[:4]}"
        now = self.clock.now()
        household = households_service.create_household(
            self.uow,
            actor=SYSTEM,
            address=f"1 {family_name} Close, Demotown",
            postcode="DT9 9ZZ",
            pharmacy_id=pharmacy_id,
            now=now,
        )
        if child_born is not None:  # a child lives there (`hand_over` False: nothing at home)
            household_children.add_child(
                self.uow,
                actor=SYSTEM,
                household_id=household.id,
                name="T.C.",
                date_of_birth=child_born,
                protection_status="none",
                social_worker_id=None,
                lives_from=None,
                today=self.today,
                now=now,
            )
        household_children.confirm_children(
            self.uow,
            actor=SYSTEM,
            household_id=household.id,
            confirmed_on=self.today,
            note="No children live here" if child_born is None else "One child lives here",
            today=self.today,
            now=now,
        )
        patient = self._register(
            given_name, family_name, pharmacy_id, on=self.today, household_id=household.id
        )
        weekday = self.today.weekday()
        self._prescribe(
            patient.id,
            start=self.today,
            mg=10,
            transcriber=pharmacist,
            checker=checker,
            take_home_on=frozenset({weekday, (weekday + 3) % 7}),
        )
        actor = actor_for(self.user(pharmacist))
        policy = self.settings.policy
        boxes.record_box(
            self.uow,
            actor=actor,
            patient_id=patient.id,
            seen_on=self.today,
            method="shown_at_pharmacy",
            note="",
            today=self.today,
            policy=policy,
            now=now,
        )
        if not hand_over:
            return self.patient(given_name, family_name)
        dosing_handover.hand_over(
            self.uow,
            actor=actor,
            handover=dosing_handover.Handover(
                patient_id=patient.id,
                date=self.today,
                outcome="collected",
                collector="patient",
                collector_details=None,
                id_checked=True,
                id_shown=True,
                children_present=(),
                intoxicated=False,
                acknowledged=frozenset(
                    {"household_methadone_high", "dose_changed", "prescription_ending"}
                ),
                overrides={},
                measuring_device=True,
            ),
            today=self.today,
            policy=policy,
            now=now,
        )
        return self.patient(given_name, family_name)

    def add_pending_prescription(
        self, given_name: str, *, by: str = "pharmacist"
    ) -> tuple[Patient, uuid.UUID]:
        """A new patient of the demo pharmacy with a 14-day prescription from today, entered by
        `by` and waiting for a second pharmacist's check."""
        pharmacy_id = self.user("pharmacist").pharmacy_id
        assert pharmacy_id is not None
        patient = self._register(
            given_name, f"Intake{uuid.uuid4().hex[:4]}", pharmacy_id, on=self.today
        )
        start = self.today
        draft = intake_terms.PrescriptionDraft(
            product_code="methadone-1mg-ml",
            daily_dose_mg=Decimal(30),
            form_type="FP10MDA",
            written_on=start,
            start_on=start,
            end_on=start + timedelta(days=13),
            total_quantity=Decimal(420),
            total_quantity_words=number_to_words(420),
            supervised_days=frozenset(range(6)),
            collection_days=frozenset(range(6)),
            wording=intake_terms.Wording(closed_day_prior=True, supervise_on_collection=True),
            direction_text="Thirty milligrams (30 mL) daily, supervised on collection days.",
        )
        prescription, _ = transcription.transcribe(
            self.uow,
            actor=actor_for(self.user(by)),
            data=transcription.PrescriptionInput(
                patient_id=patient.id,
                prescriber_id=self.contact_id("Dr Alex Prescriber"),
                draft=draft,
                last_dose=transcription.LastDoseInput(None, "induction"),
            ),
            policy=self.settings.policy,
            today=start,
            now=self.clock.now(),
        )
        return patient, prescription.id

    def add_pharmacy(self) -> tuple[str, Patient]:
        """A pharmacy of its own, open every day, with a pharmacist and one patient due today:
        for a test that closes the day without touching the demo pharmacy's counter."""
        now = self.clock.now()
        tag = uuid.uuid4().hex[:6]
        pharmacy = pharmacies_service.create_pharmacy(
            self.uow,
            actor=SYSTEM,
            name=f"Lakeside Pharmacy {tag}",
            ods_code=f"FL{tag}".upper(),
            address="4 Lake Road, Demotown",
            phone="01632 960002",
            open_weekdays=range(7),
            now=now,
        )
        usernames = (f"lake{tag}", f"lake{tag}b")
        for username in usernames:
            auth_service.add_user(
                self.uow,
                actor=SYSTEM,
                username=username,
                password=PASSWORD,
                role="pharmacist",
                display_name=f"Lee Lakeside {username[-1]}",
                pharmacy_id=pharmacy.id,
                now=now,
                settings=self.settings.auth,
            )
        patient = self._register("Robin", f"Lake{tag}", pharmacy.id, on=self.today)
        self._prescribe(
            patient.id,
            start=self.today,
            mg=40,
            transcriber=usernames[0],
            checker=usernames[1],
        )
        return usernames[0], patient


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def start_live_server(tmp: Path) -> LiveServer:
    """Build a fresh database, seed the demo, and serve the app in a background thread."""
    database = build_database(f"dk_web_{uuid.uuid4().hex[:10]}", tmp)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        database_url=database.url,
        data_dir=tmp / "data",
        auth=AuthSettings(password_profile="cheapest"),
    )
    # `dosekeeper serve` runs in a working folder; the preview printer writes labels under it.
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    session_factory = make_session_factory(database.engine)
    uow = UnitOfWork(session_factory)
    real_now = SystemClock().now()
    # Mid-morning on the first day of the demo prescriptions, or now if that is later.
    start = _demo_start(local_date(real_now, settings.timezone))
    morning = datetime(
        start.year, start.month, start.day, 9, 30, tzinfo=ZoneInfo(settings.timezone)
    )
    clock = FixedClock(max(real_now, morning.astimezone(UTC)))
    demo.seed(uow, settings, now=clock.now())
    today = local_date(clock.now(), settings.timezone)

    app = create_app(settings, session_factory, clock, with_worker=False)
    sock = _listening_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="live-server", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.02)
    return LiveServer(
        url=f"http://127.0.0.1:{port}",
        settings=settings,
        database=database,
        uow=uow,
        clock=clock,
        today=today,
        server=server,
        thread=thread,
    )
