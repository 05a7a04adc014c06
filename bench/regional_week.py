"""A regional week on PostgreSQL (issue 21): N patients across M pharmacies, D counter days
shaped like a real morning peak, close of day at every pharmacy every evening, the alert traffic
that produces delivered by the app's own worker, then the invariants checked in the database.

The region (defaults: 20,000 patients, 200 pharmacies, 7 days; `--scale` multiplies patients and
pharmacies alike, so a pharmacy keeps ~100 patients and its close-day stays representative):

- Setup through the services for what carries identity and secrets: pharmacies with two
  pharmacists and a technician each, signed in (bearer tokens); the region's contacts (key
  workers ~1 per 50 patients, prescribers ~1 per 200, social workers, a MASH) and each pharmacy's
  safeguarding lead, every one reached by webhook only at a local receiver
  (`bench/hook_receiver.py`) that verifies each signature with that contact's own secret; a CD
  stock receipt per pharmacy. Everything else in bulk (`common.bulk_load`: COPY): patients,
  households, children, lockable-box and household confirmations, last-dose statements,
  prescriptions and their ledger rows, scheduled by the app's own `build_schedule`.
- Fictional, realistic mix. Pharmacy sizes are log-normal around the mean; 1 in 5 opens every
  day, the rest Monday-Saturday (Sunday's dose collected on Saturday under the closed-day
  wording, so even daily-supervised patients take one dose home). 75 % of patients are
  supervised daily, 15 % collect twice a week (Monday, Thursday; supervised on collection
  days, the rest taken home), 10 % collect weekly to take home. Doses 30-120 mg. Everyone lives
  in a household on record (5 % share it with another patient); 25 % of households have
  children under 16 (some on a child-in-need or protection plan, with a social worker); 97 %
  of those patients have a lockable box seen within 60 days, the rest are overridden at the
  counter with a reason (an urgent alert). 5 % of daily patients are chaotic (miss a
  collection with p = 0.35), the rest miss with p = 0.01; 0.3 % of visits are withheld as
  intoxicated. Every 14-day prescription starts on day 0 (Monday 30 Nov 2026), the patient's
  last dose elsewhere recorded as the day before.
- Each counter day, through the real HTTP server (`bench/regional_server.py`, `--workers`
  uvicorn processes, the clock moved per request to the simulated day and minute): every
  patient due to collect visits at a minute drawn from the hourly arrival profile `HOURLY`
  (09:00-18:00, peaking 10:00-12:00); the terminal scans their card (60 %) or checks them by
  id (40 %), then a pharmacist hands over with the warnings acknowledged, the storage block
  overridden where it stands, the measuring device recorded for a multi-day take-home and an
  Idempotency-Key (a 503 `database_unavailable`, nothing recorded, is retried up to 3 times
  with the same key, as a terminal would). A patient the check blocks (3 days without a dose)
  is sent away. Each pharmacy loads its due list at 09:00, 11:00, 13:00 and 15:00, and from
  day 1 reads its open and escalated alerts at 09:00 and acknowledges 70 % of them with a
  note. 90 visits of day 1's peak hour go open-loop at the whole region's real arrival rate
  (`--paced-visits`): the latency a counter would see. The rest of each hour's work runs
  closed-loop over `concurrency(hour)` connections, proportional to the hour's share (peak
  `--peak-concurrency`, at least 2): the day is time-compressed, and its shape is the share of
  visits and the number of terminals busy at once.
- Each evening at 19:00 every pharmacy's day is closed through the API (`--close-concurrency`
  at a time; each timed, and the total), then the alert worker (`app.safeguarding.delivery.
  alert_worker`, the app's own) drains the outbox at 19:00 and runs its passes at 19:20, 19:40,
  23:30 and 03:45 (escalating what nobody acknowledged: urgent after 15 min, warnings after
  4 h), each pass `Worker.drain` (as the running worker does) until it finds nothing.
- Recorded: throughput per day and per hour, p50/p90/p99 per endpoint, close-day per pharmacy
  (p50/max) and in total, alerts raised and delivered, the drain rate, `pg_database_size`
  before and after and the growth per patient-week extrapolated to a year for the region,
  and the invariants afterwards (see `check_invariants`).
"""

from __future__ import annotations

import asyncio
import math
import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.actor import SYSTEM
from app.audit import service as audit_service
from app.audit.models import AuditEvent
from app.clock import FixedClock
from app.contacts import service as contacts_service
from app.dosing.models import (
    NOT_TAKEN_STATES,
    TAKEN_STATES,
    DoseState,
    InstalmentDay,
    LastDoseRecord,
)
from app.households.models import (
    BoxConfirmation,
    Child,
    Household,
    HouseholdConfirmation,
    ProtectionStatus,
)
from app.households.rules import ChildFacts
from app.kit import age_on
from app.notify.models import Delivery, DeliveryState
from app.patients.models import Patient
from app.prescriptions import intake_terms
from app.prescriptions.models import Prescription
from app.prescriptions.schedule import build_schedule
from app.register import chain as register_chain
from app.register import receipts as register_receipts
from app.register import rules as register_rules
from app.register.models import RegisterEntry
from app.safeguarding import rules as safeguarding_rules
from app.safeguarding import service as safeguarding_service
from app.safeguarding.delivery import alert_worker
from app.safeguarding.models import Alert, AlertHistory
from bench import common
from devices import make_patient_card_code

REGION_PATIENTS = 20_000
REGION_PHARMACIES = 200
API = "/api/v1"
# Day 0 at midnight: London is on GMT in winter, so UTC and local agree.
EPOCH = datetime(common.TODAY.year, common.TODAY.month, common.TODAY.day, tzinfo=UTC)
OPEN_HOUR = 9
# Share of the day's visits arriving in each hour from 09:00 to 17:00 (the morning peak).
HOURLY = (0.10, 0.18, 0.16, 0.11, 0.08, 0.09, 0.10, 0.10, 0.08)
DUE_LIST_HOURS = (0, 2, 4, 6)  # hours after opening at which each pharmacy loads its due list
CLOSE_MINUTE = 19 * 60
# The worker's passes after the close (minutes): the evening, then the night's escalations.
DRAIN_PASSES = (0, 20, 40, 270, 525)
RETRIES = 3  # a terminal retries a 503 (database unavailable) this many times
OVERRIDABLE = {"no_lockable_box", "children_not_confirmed"}
THRESHOLD = 3  # every prescription carries Home Office wording 3 (consult after 3 missed)
MISSED_KINDS = {
    str(safeguarding_rules.EventKind.MISSED_DOSE),
    str(safeguarding_rules.EventKind.MISSED_THRESHOLD_REACHED),
}
EVERY_DAY = frozenset(range(7))
REGIMES = {
    # name: (collection days, supervised days, supervise on collection)
    "daily_supervised": (EVERY_DAY, EVERY_DAY, True),
    "twice_weekly": (frozenset({0, 3}), frozenset(), True),
    "weekly_take_home": (frozenset({0}), frozenset(), False),
}
DIRECTIONS = {
    "daily_supervised": "{mg}mg ({mg}ml) daily, supervised consumption every day.",
    "twice_weekly": "{mg}mg ({mg}ml) daily, collect Monday and Thursday; supervise consumption "
    "on collection days, the remaining doses to take home.",
    "weekly_take_home": "{mg}mg ({mg}ml) daily, collect weekly on Monday, to take home.",
}
DOSES_MG = (30, 40, 50, 60, 60, 60, 70, 70, 80, 80, 90, 100, 110, 120)


# --- the region's plan ------------------------------------------------------------------------------


@dataclass
class Pharm:
    index: int
    branch: common.Branch
    open_weekdays: tuple[int, ...]
    lead: str  # the safeguarding lead contact's receiver name
    people: list[int] = field(default_factory=list)

    @property
    def pharmacists(self) -> list[str]:
        return self.branch.tokens[:2]


@dataclass
class Person:
    id: UUID
    card: str
    pharmacy: int
    regime: str
    mg: int
    household_id: UUID
    children: list[tuple[date, str]]  # (date of birth, protection status)
    boxed: bool
    chaotic: bool
    collections: list[date] = field(default_factory=list)  # collection days inside the week


@dataclass
class Visit:
    minute: int
    kind: str  # visit | due | alerts
    pharmacy: int
    person: int = -1
    scan: bool = False
    withhold: bool = False


@dataclass
class Region:
    pharms: list[Pharm]
    people: list[Person]
    contacts: dict[str, UUID]  # receiver name -> contact id
    days: int
    # (person, day) -> "visit" | "miss" | "withhold": what each collection day was planned as.
    plan: dict[tuple[int, int], str] = field(default_factory=dict)
    receipts_ml: dict[int, Decimal] = field(default_factory=dict)
    setup_s: dict[str, float] = field(default_factory=dict)


def contact(world: common.World, kind: str, name: str, receiver: str, secrets: dict[str, str],
            actor: Any = SYSTEM) -> UUID:  # fmt: skip
    made, secret = contacts_service.create_contact(
        world.uow,
        actor=actor,
        name=name,
        organisation="Benchshire Recovery Partnership",
        address="1 Bench Road, Benchtown BT1 1AA",
        kind=kind,
        email=None,
        webhook_url=f"{receiver}/hooks/{name}",
        allowed_webhook_hosts=frozenset({"127.0.0.1"}),
        allow_http_webhooks=True,
        now=common.NOW - timedelta(days=400),
    )
    assert secret.webhook_secret is not None
    secrets[name] = secret.webhook_secret
    return made.id


def schedule_for(regime: str, open_weekdays: tuple[int, ...]) -> list[intake_terms.ScheduledDose]:
    collection, supervised, on_collection = REGIMES[regime]
    draft = intake_terms.PrescriptionDraft(
        product_code=common.PRODUCT,
        daily_dose_mg=Decimal(1),
        form_type="FP10MDA",
        written_on=common.TODAY - timedelta(days=2),
        start_on=common.TODAY,
        end_on=common.TODAY + timedelta(days=13),
        total_quantity=Decimal(14),
        total_quantity_words="fourteen",
        supervised_days=supervised,
        collection_days=collection,
        wording=intake_terms.Wording(
            closed_day_prior=True,
            consult_after_3_missed=True,
            supervise_on_collection=on_collection,
        ),
        direction_text="",
    )
    schedule, problems = build_schedule(draft, intake_terms.Calendar(frozenset(open_weekdays)))
    assert not problems, problems
    return list(schedule)


def build_region(
    db: common.BenchDB,
    world: common.World,
    receiver: str,
    patients: int,
    pharmacies: int,
    days: int,
    seed: int,
) -> tuple[Region, dict[str, str]]:
    rng = random.Random(seed)
    secrets: dict[str, str] = {}
    started = time.perf_counter()
    contacts: dict[str, UUID] = {}
    contacts["mash"] = contact(world, "mash", "mash", receiver, secrets)
    key_workers = [
        contact(world, "key_worker", f"kw-{i}", receiver, secrets)
        for i in range(max(2, patients // 50))
    ]
    prescribers = [
        contact(world, "prescriber", f"rx-{i}", receiver, secrets)
        for i in range(max(1, patients // 200))
    ]
    social_workers = [
        contact(world, "social_worker", f"sw-{i}", receiver, secrets)
        for i in range(max(1, patients // 400))
    ]
    for i, cid in enumerate(key_workers):
        contacts[f"kw-{i}"] = cid
    for i, cid in enumerate(prescribers):
        contacts[f"rx-{i}"] = cid
    for i, cid in enumerate(social_workers):
        contacts[f"sw-{i}"] = cid
    pharms = []
    for j in range(pharmacies):
        open_weekdays = tuple(range(7)) if j % 5 == 0 else tuple(range(6))
        branch = common.make_branch(
            world,
            key_worker_id=key_workers[0],
            prescriber_id=prescribers[0],
            open_weekdays=open_weekdays,
        )
        lead = f"lead-{j}"
        contacts[lead] = contact(
            world, "safeguarding_lead", lead, receiver, secrets, actor=branch.pharmacist
        )
        pharms.append(Pharm(j, branch, open_weekdays, lead))
    services_s = time.perf_counter() - started

    # Pharmacy sizes: log-normal around the mean (a few large, many small).
    weights = [rng.lognormvariate(0, 0.5) for _ in range(pharmacies)]
    schedules = {
        (regime, ph.open_weekdays): schedule_for(regime, ph.open_weekdays)
        for regime in REGIMES
        for ph in {p.open_weekdays: p for p in pharms}.values()
    }
    week = [common.TODAY + timedelta(days=d) for d in range(days)]
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    created = datetime(2026, 11, 1, 9, tzinfo=UTC)
    numbers = common.nhs_numbers(1000)
    people: list[Person] = []
    last_household: dict[int, tuple[UUID, list[tuple[date, str]]]] = {}
    for i in range(patients):
        j = rng.choices(range(pharmacies), weights)[0] if i >= pharmacies else i
        ph = pharms[j]
        roll = rng.random()
        regime = (
            "daily_supervised"
            if roll < 0.75
            else "twice_weekly"
            if roll < 0.90
            else "weekly_take_home"
        )
        mg = rng.choice(DOSES_MG)
        # The household: 5 % share the previous patient's at this pharmacy (a couple).
        if j in last_household and rng.random() < 0.05:
            household_id, children = last_household.pop(j)
        else:
            household_id, children = uuid.uuid4(), []
            if rng.random() < 0.25:
                count = 1 + (rng.random() < 0.4) + (rng.random() < 0.15)
                for _ in range(count):
                    born = common.TODAY - timedelta(days=rng.randint(60, 15 * 365))
                    status = rng.random()
                    protection = str(
                        ProtectionStatus.CHILD_PROTECTION_PLAN
                        if status < 0.05
                        else ProtectionStatus.CHILD_IN_NEED
                        if status < 0.20
                        else ProtectionStatus.NONE
                    )
                    children.append((born, protection))
            confirmed_on = common.TODAY - timedelta(days=rng.randint(1, 20))
            confirmed_at = datetime.combine(confirmed_on, datetime.min.time(), UTC) + timedelta(
                hours=11
            )
            rows["households"].append(
                {
                    "id": household_id,
                    "pharmacy_id": ph.branch.pharmacy_id,
                    "address": f"{1 + i % 180} {('Mill', 'Station', 'Church', 'Park')[i % 4]} "
                    f"Road, Benchtown",
                    "postcode": f"BT{1 + i % 9} {1 + i % 9}AA",
                    "notes": "",
                    "children_confirmed_on": confirmed_on,
                    "children_changed_at": None,
                    "children_confirmed_at": confirmed_at,
                    "created_at": created,
                }
            )
            rows["confirmations"].append(
                {
                    "id": uuid.uuid4(),
                    "household_id": household_id,
                    "confirmed_on": confirmed_on,
                    "confirmed_by_id": ph.branch.pharmacist.id,
                    "children_count": len(children),
                    "note": "Confirmed with the patient at the counter.",
                    "created_at": confirmed_at,
                }
            )
            for k, (born, protection) in enumerate(children):
                social = (
                    social_workers[rng.randrange(len(social_workers))]
                    if protection != ProtectionStatus.NONE
                    else None
                )
                rows["children"].append(
                    {
                        "id": uuid.uuid4(),
                        "household_id": household_id,
                        "name": f"{chr(65 + k)}.{chr(65 + i % 26)}.",
                        "date_of_birth": born,
                        "unborn": False,
                        "protection_status": protection,
                        "social_worker_id": social,
                        "lives_from": None,
                        "lives_to": None,
                        "created_at": created,
                    }
                )
            last_household[j] = (household_id, children)
        has_children = bool(children)
        boxed = rng.random() < (0.97 if has_children else 0.3)
        chaotic = regime == "daily_supervised" and rng.random() < 0.05
        patient_id = uuid.uuid4()
        person = Person(
            patient_id,
            make_patient_card_code(),
            j,
            regime,
            mg,
            household_id,
            children,
            boxed,
            chaotic,
        )
        rows["patients"].append(
            {
                "id": patient_id,
                "given_name": "Bench",
                "family_name": f"Regional {i:06d}",
                "date_of_birth": date(1965 + i % 35, 1 + i % 12, 1 + i % 28),
                "nhs_number": next(numbers),
                "pharmacy_id": ph.branch.pharmacy_id,
                "household_id": household_id,
                "key_worker_id": key_workers[rng.randrange(len(key_workers))],
                "prescriber_id": prescribers[rng.randrange(len(prescribers))],
                "pregnant": False,
                "card_code": person.card,
                "created_at": created,
            }
        )
        if boxed:
            seen = common.TODAY - timedelta(days=rng.randint(1, 60))
            rows["boxes"].append(
                {
                    "id": uuid.uuid4(),
                    "patient_id": patient_id,
                    "household_id": household_id,
                    "seen_on": seen,
                    "valid_until": seen + timedelta(days=90),
                    "method": "shown_at_pharmacy" if rng.random() < 0.7 else "seen_at_home",
                    "seen_by_id": ph.branch.pharmacist.id,
                    "note": "",
                    "created_at": datetime.combine(seen, datetime.min.time(), UTC)
                    + timedelta(hours=10),
                }
            )
        rows["last_doses"].append(
            {
                "id": uuid.uuid4(),
                "patient_id": patient_id,
                "drug": "methadone",
                "taken_on": common.TODAY - timedelta(days=1),
                "source": "previous_pharmacy",
                "detail": "Transferred in: last supervised dose at the previous pharmacy.",
                "recorded_by_id": ph.branch.pharmacist.id,
                "recorded_at": EPOCH - timedelta(hours=12),
            }
        )
        collection, supervised, on_collection = REGIMES[regime]
        prescription = common.prescription_row(
            patient_id=patient_id,
            pharmacy_id=ph.branch.pharmacy_id,
            prescriber_id=rows["patients"][-1]["prescriber_id"],
            start=common.TODAY,
            days=14,
            mg=mg,
            status="active",
            entered_by=ph.branch.pharmacist.id,
            verified_by=ph.branch.pharmacist2.id,
        )
        prescription.update(
            supervised_days=sorted(supervised),
            collection_days=sorted(collection),
            wording_closed_day_prior=True,
            wording_supervise_on_collection=on_collection,
            direction_text=DIRECTIONS[regime].format(mg=mg),
        )
        rows["prescriptions"].append(prescription)
        for dose in schedules[(regime, ph.open_weekdays)]:
            rows["instalments"].append(
                {
                    "id": uuid.uuid4(),
                    "prescription_id": prescription["id"],
                    "patient_id": patient_id,
                    "pharmacy_id": ph.branch.pharmacy_id,
                    "household_id": household_id,
                    "product": common.PRODUCT,
                    "dose_date": dose.dose_date,
                    "collect_on": dose.collect_on,
                    "mode": dose.mode,
                    "dose_mg": Decimal(mg),
                    "state": "due",
                    "remaining_collectable": False,
                }
            )
            if dose.collect_on in week and dose.collect_on not in person.collections:
                person.collections.append(dose.collect_on)
        ph.people.append(len(people))
        people.append(person)

    region = Region(pharms, people, contacts, days)
    # The counter's plan: who comes, who misses, whose dose is withheld.
    for n, person in enumerate(people):
        miss = 0.35 if person.chaotic else 0.01
        for day in person.collections:
            d = (day - common.TODAY).days
            r = rng.random()
            region.plan[(n, d)] = (
                "miss" if r < miss else "withhold" if r < miss + 0.003 else "visit"
            )
    # A CD receipt per pharmacy: the week's supplies and a quarter more, in 500 mL bottles.
    supplied: dict[int, Decimal] = defaultdict(Decimal)
    by_patient = {p.id: p for p in people}
    for row in rows["instalments"]:
        if row["collect_on"] in week:
            supplied[by_patient[row["patient_id"]].pharmacy] += row["dose_mg"]
    for ph in pharms:
        ml = Decimal(500 * math.ceil(float(supplied[ph.index]) * 1.25 / 500 + 1))
        register_receipts.record_receipt(
            world.uow,
            actor=ph.branch.pharmacist,
            receipt=register_receipts.Receipt(
                received_on=common.TODAY,
                supplier_name="Benchshire Wholesale Ltd",
                supplier_address="Unit 1, Benchtown Trading Estate",
                quantity_ml=ml,
                invoice_ref=f"INV-{ph.index:04d}-{uuid.uuid4().hex[:6]}",
                product=common.PRODUCT,
            ),
            today=common.TODAY,
            now=EPOCH + timedelta(hours=8),
        )
        region.receipts_ml[ph.index] = ml
    generated = time.perf_counter() - started - services_s
    tables: list[tuple[Any, list[dict[str, Any]]]] = [
        (Household.__table__, rows["households"]),
        (HouseholdConfirmation.__table__, rows["confirmations"]),
        (Child.__table__, rows["children"]),
        (Patient.__table__, rows["patients"]),
        (BoxConfirmation.__table__, rows["boxes"]),
        (LastDoseRecord.__table__, rows["last_doses"]),
        (Prescription.__table__, rows["prescriptions"]),
        (InstalmentDay.__table__, rows["instalments"]),
    ]
    common.bulk_load(db, tables)
    common.analyze(db)
    region.setup_s = {
        "services_s": services_s,
        "generate_and_receipts_s": generated,
        "bulk_load_s": time.perf_counter() - started - services_s - generated,
    }
    counts = {k: len(v) for k, v in rows.items()}
    print(
        f"  setup: {pharmacies} pharmacies ({sum(len(p.open_weekdays) == 7 for p in pharms)} open "
        f"7 days), {len(contacts)} webhook contacts, {len(pharms) * 3} staff signed in, through "
        f"the services in {services_s:.1f} s; in bulk: {counts} in "
        f"{region.setup_s['bulk_load_s']:.1f} s",
        flush=True,
    )
    return region, secrets


# --- the counter day through HTTP ---------------------------------------------------------------


@dataclass
class Sample:
    endpoint: str
    status: int
    ms: float
    day: int
    hour: int
    paced: bool = False


@dataclass
class Tally:
    samples: list[Sample] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    handovers: list[str] = field(default_factory=list)
    supplied: set[tuple[int, int]] = field(default_factory=set)
    withheld: set[tuple[int, int]] = field(default_factory=set)
    blocked: set[tuple[int, int]] = field(default_factory=set)
    errors: dict[str, str] = field(default_factory=dict)
    acknowledged: int = 0
    retried: Counter[str] = field(default_factory=Counter)  # 503s tried again
    unrecovered: Counter[str] = field(default_factory=Counter)  # 503 after every retry


def concurrency(hour: int, peak: int) -> int:
    return max(2, round(peak * HOURLY[hour] / max(HOURLY)))


def day_visits(region: Region, d: int, rng: random.Random) -> list[list[Visit]]:
    """The day's work by hour: visits at minutes drawn from the arrival profile, due lists,
    the morning's alert reading. Sorted by minute within each hour."""
    hours: list[list[Visit]] = [[] for _ in HOURLY]
    for (n, day), what in region.plan.items():
        if day != d or what == "miss":
            continue
        hour = rng.choices(range(len(HOURLY)), HOURLY)[0]
        minute = (OPEN_HOUR + hour) * 60 + rng.randrange(60)
        person = region.people[n]
        hours[hour].append(
            Visit(minute, "visit", person.pharmacy, n, rng.random() < 0.6, what == "withhold")
        )
    weekday = (common.TODAY + timedelta(days=d)).weekday()
    for ph in region.pharms:
        if weekday not in ph.open_weekdays:
            continue
        for hour in DUE_LIST_HOURS:
            hours[hour].append(Visit((OPEN_HOUR + hour) * 60 + rng.randrange(10), "due", ph.index))
        if d > 0:
            hours[0].append(Visit(OPEN_HOUR * 60 + rng.randrange(15), "alerts", ph.index))
    for work in hours:
        work.sort(key=lambda v: v.minute)
    return hours


class CounterDay:
    """Drives one day's counter work over HTTP and records every response."""

    def __init__(self, base_url: str, region: Region, tally: Tally, seed: int) -> None:
        self.base_url = base_url
        self.region = region
        self.tally = tally
        self.rng = random.Random(seed)
        self.paced = False

    async def call(
        self,
        client: httpx.AsyncClient,
        method: str,
        path: str,
        name: str,
        *,
        day: int,
        minute: int,
        token: str,
        body: Any = None,
        extra: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        headers = {
            "Authorization": f"Bearer {token}",
            "x-bench-day": str(day),
            "x-bench-minute": str(minute),
            **(extra or {}),
        }
        for attempt in range(1, RETRIES + 2):
            started = time.perf_counter()
            response = await client.request(method, path, json=body, headers=headers, params=params)
            ms = (time.perf_counter() - started) * 1000
            self.tally.samples.append(
                Sample(name, response.status_code, ms, day, minute // 60 - OPEN_HOUR, self.paced)
            )
            if response.status_code >= 300 and name not in self.tally.errors:
                self.tally.errors[name] = f"{response.status_code} {response.text[:300]}"
            # 503 database_unavailable says nothing was recorded: a terminal tries again in a
            # moment, with the same Idempotency-Key (a handover's retry is never a second dose).
            if response.status_code != 503 or attempt > RETRIES:
                break
            self.tally.retried[name] += 1
            await asyncio.sleep(0.5 * attempt)
        if response.status_code == 503:
            self.tally.unrecovered[name] += 1
        return response

    async def visit(self, client: httpx.AsyncClient, v: Visit, d: int) -> None:
        person = self.region.people[v.person]
        ph = self.region.pharms[v.pharmacy]
        terminal = ph.branch.tokens[self.rng.randrange(3)]
        common_args: dict[str, Any] = {"day": d, "minute": v.minute}
        if v.scan:
            r = await self.call(client, "POST", f"{API}/counter/scan", "POST /counter/scan",
                                token=terminal, body={"code": person.card}, **common_args)  # fmt: skip
            decision = r.json().get("decision") if r.status_code == 200 else None
        else:
            r = await self.call(client, "POST", f"{API}/counter/check", "POST /counter/check",
                                token=terminal, body={"patient_id": str(person.id)}, **common_args)  # fmt: skip
            decision = r.json() if r.status_code == 200 else None
        if not decision:
            self.tally.outcomes["not identified"] += 1
            return
        blocks = {b["code"] for b in decision["blocks"]}
        if blocks - OVERRIDABLE:
            self.tally.outcomes["sent away: " + ",".join(sorted(blocks - OVERRIDABLE))] += 1
            self.tally.blocked.add((v.person, d))
            return
        # The attestation (not intoxicated) and any override are a pharmacist's.
        pharmacist = ph.pharmacists[self.rng.randrange(2)]
        today = (common.TODAY + timedelta(days=d)).isoformat()
        if v.withhold:
            r = await self.call(client, "POST", f"{API}/counter/withhold", "POST /counter/withhold",
                                token=pharmacist, **common_args,
                                body={"patient_id": str(person.id), "date": today,
                                      "reason": "intoxicated", "children_present": []})  # fmt: skip
            if r.status_code == 201:
                self.tally.withheld.add((v.person, d))
                self.tally.outcomes["withheld"] += 1
            return
        body: dict[str, Any] = {
            "patient_id": str(person.id),
            "date": today,
            "outcome": "collected" if decision["mode"] == "take_home" else "supervised",
            "measuring_device": bool(decision["needs_measuring_device"]),
            "id_checked": True,
            "intoxicated": False,
            "acknowledged": [w["code"] for w in decision["warnings"]],
        }
        if blocks:
            body["overrides"] = [
                {"code": code, "reason": "Lockable box seen on a home visit last week; key "
                 "worker confirmed by phone today."}
                for code in sorted(blocks)
            ]  # fmt: skip
            self.tally.outcomes["override: " + ",".join(sorted(blocks))] += 1
        r = await self.call(client, "POST", f"{API}/counter/handover", "POST /counter/handover",
                            token=pharmacist, body=body, **common_args,
                            extra={"Idempotency-Key": str(uuid.uuid4())})  # fmt: skip
        if r.status_code == 201:
            self.tally.handovers.append(r.json()["handover_id"])
            self.tally.supplied.add((v.person, d))
            self.tally.outcomes[f"handed over: {body['outcome']}"] += 1

    async def due(self, client: httpx.AsyncClient, v: Visit, d: int) -> None:
        ph = self.region.pharms[v.pharmacy]
        await self.call(client, "GET", f"{API}/counter/due", "GET /counter/due", day=d,
                        minute=v.minute, token=ph.branch.tokens[self.rng.randrange(3)])  # fmt: skip

    async def alerts(self, client: httpx.AsyncClient, v: Visit, d: int) -> None:
        """At opening a pharmacist reads the open and escalated alerts and owns 70 % of them."""
        ph = self.region.pharms[v.pharmacy]
        token = ph.pharmacists[0]
        found = []
        for state in ("open", "escalated"):
            r = await self.call(client, "GET", f"{API}/alerts", "GET /alerts", day=d,
                                minute=v.minute, token=token,
                                params={"state": state, "limit": "200"})  # fmt: skip
            if r.status_code == 200:
                found += r.json()["items"]
        for alert in found:
            if self.rng.random() < 0.7:
                r = await self.call(client, "POST", f"{API}/alerts/{alert['id']}/acknowledge",
                                    "POST /alerts/{id}/acknowledge", day=d, minute=v.minute + 1,
                                    token=token,
                                    body={"note": "Seen at opening; key worker phoned."})  # fmt: skip
                self.tally.acknowledged += r.status_code == 200

    async def run_paced(self, work: Sequence[Visit], d: int, per_second: float) -> float:
        """Open loop: each visit starts at its own Poisson arrival instant at `per_second`
        (the whole region's real rate at the peak), however many are still in flight."""
        handlers = {"visit": self.visit, "due": self.due, "alerts": self.alerts}
        limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
        self.paced = True
        try:
            async with httpx.AsyncClient(
                base_url=self.base_url, limits=limits, timeout=120, trust_env=False
            ) as client:
                started = time.perf_counter()
                at, tasks = 0.0, []
                for v in work:
                    at += self.rng.expovariate(per_second)
                    delay = started + at - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    tasks.append(asyncio.create_task(handlers[v.kind](client, v, d)))
                await asyncio.gather(*tasks)
                return time.perf_counter() - started
        finally:
            self.paced = False

    async def run_hour(self, work: Sequence[Visit], d: int, connections: int) -> float:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        handlers = {"visit": self.visit, "due": self.due, "alerts": self.alerts}
        queue = iter(work)
        async with httpx.AsyncClient(
            base_url=self.base_url, limits=limits, timeout=120, trust_env=False
        ) as client:

            async def terminal() -> None:
                for v in queue:
                    await handlers[v.kind](client, v, d)

            started = time.perf_counter()
            await asyncio.gather(*(terminal() for _ in range(connections)))
            return time.perf_counter() - started

    async def close_days(self, d: int, connections: int) -> tuple[list[dict[str, Any]], float]:
        today = (common.TODAY + timedelta(days=d)).isoformat()
        results: list[dict[str, Any]] = []
        queue = iter(self.region.pharms)
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        async with httpx.AsyncClient(
            base_url=self.base_url, limits=limits, timeout=600, trust_env=False
        ) as client:

            async def closer() -> None:
                for ph in queue:
                    started = time.perf_counter()
                    r = await self.call(client, "POST",
                                        f"{API}/pharmacies/{ph.branch.pharmacy_id}/close-day",
                                        "POST /pharmacies/{id}/close-day", day=d,
                                        minute=CLOSE_MINUTE, token=ph.pharmacists[0],
                                        body={"date": today})  # fmt: skip
                    got = r.json() if r.status_code == 200 else {}
                    ms = (time.perf_counter() - started) * 1000
                    results.append({"pharmacy": ph.index, "status": r.status_code, "ms": ms,
                                    **got})  # fmt: skip

            started = time.perf_counter()
            await asyncio.gather(*(closer() for _ in range(connections)))
            return results, time.perf_counter() - started


# --- the evening's delivery --------------------------------------------------------------------


def drain(worker: Any, clock: FixedClock, d: int) -> dict[str, Any]:
    passes: list[dict[str, Any]] = []
    started = time.perf_counter()
    for offset in DRAIN_PASSES:
        clock.set(EPOCH + timedelta(days=d, minutes=CLOSE_MINUTE + offset))
        t, sent = time.perf_counter(), 0
        while batch := worker.drain():  # overlapping claim, send and record, as in production
            sent += batch
        passes.append({"at": clock.now().strftime("%a %H:%M"), "sent": sent,
                       "s": time.perf_counter() - t})  # fmt: skip
    took = time.perf_counter() - started
    sent = sum(p["sent"] for p in passes)
    return {"sent": sent, "s": took, "rate": sent / took if took else 0.0, "passes": passes}


# --- database size -------------------------------------------------------------------------------


def sizes(db: common.BenchDB) -> tuple[int, dict[str, int]]:
    with db.engine.connect() as conn:
        total = int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
        tables = {
            name: int(size)
            for name, size in conn.execute(
                text(
                    "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE c.relkind = 'r' AND n.nspname = 'public'"
                )
            )
        }
    return total, tables


# --- invariants ----------------------------------------------------------------------------------


def check_invariants(
    db: common.BenchDB, region: Region, tally: Tally, receiver: str
) -> dict[str, Any]:
    """Everything the week must leave true, read back from the database (and the receiver)."""
    out: dict[str, Any] = {}
    week_end = common.TODAY + timedelta(days=region.days)
    index = {p.id: n for n, p in enumerate(region.people)}
    with Session(db.engine) as session:
        rows = session.execute(
            select(
                InstalmentDay.patient_id,
                InstalmentDay.pharmacy_id,
                InstalmentDay.dose_date,
                InstalmentDay.collect_on,
                InstalmentDay.state,
                InstalmentDay.handover_id,
                InstalmentDay.dose_mg,
            )
        ).all()
        # 1. One dose per patient per day; one handover per patient per collection day.
        per_day = Counter((r.patient_id, r.dose_date) for r in rows if r.state in TAKEN_STATES)
        per_collection: dict[tuple[UUID, date], set[UUID]] = defaultdict(set)
        for r in rows:
            if r.state in TAKEN_STATES:
                per_collection[(r.patient_id, r.collect_on)].add(r.handover_id)
        out["one_dose_per_patient_per_day"] = {
            "ok": max(per_day.values(), default=0) <= 1
            and all(len(h) == 1 for h in per_collection.values()),
            "supplied_days": len(per_day),
            "handovers": len({h for hs in per_collection.values() for h in hs}),
        }
        # 2. Every supplied ledger day has its register line, and nothing else has one.
        supplies = session.execute(
            select(RegisterEntry.handover_id, RegisterEntry.dose_dates).where(
                RegisterEntry.kind == register_rules.EntryKind.SUPPLY
            )
        ).all()
        ledger_days = {(r.handover_id, r.dose_date) for r in rows if r.state in TAKEN_STATES}
        register_days = [
            (h, date.fromisoformat(str(x))) for h, dates in supplies for x in dates or ()
        ]
        out["register_line_for_every_supplied_day"] = {
            "ok": set(register_days) == ledger_days and len(register_days) == len(ledger_days),
            "ledger_days": len(ledger_days),
            "register_days": len(register_days),
            "register_supply_lines": len(supplies),
        }
        # 3. Each register's chain verifies; its balance is stock received less doses supplied.
        broken, wrong_balance = [], []
        supplied_ml: dict[UUID, Decimal] = defaultdict(Decimal)
        for r in rows:
            if r.state in TAKEN_STATES:
                supplied_ml[r.pharmacy_id] += Decimal(r.dose_mg)  # 1 mg/mL
        for ph in region.pharms:
            report = register_chain.verify_chain(session, ph.branch.pharmacy_id, common.PRODUCT)
            if not report.ok:
                broken.append((ph.index, report.reason))
            head = session.scalar(
                select(RegisterEntry.balance_ml)
                .where(RegisterEntry.pharmacy_id == ph.branch.pharmacy_id)
                .order_by(RegisterEntry.line.desc())
                .limit(1)
            )
            expected = region.receipts_ml[ph.index] - supplied_ml[ph.branch.pharmacy_id]
            if head is None or Decimal(head) != expected:
                wrong_balance.append((ph.index, str(head), str(expected)))
        out["register_chains_and_balances"] = {
            "ok": not broken and not wrong_balance,
            "registers": len(region.pharms),
            "broken": broken[:5],
            "wrong_balance": wrong_balance[:5],
        }
        # 4. The audit chains verify; one dose.handed_over per handover answered 201.
        started = time.perf_counter()
        audit = audit_service.verify(session)
        handed_over = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "dose.handed_over")
        )
        stored = {str(h) for _, hs in per_collection.items() for h in hs}
        answered = set(tally.handovers)
        out["audit_chains"] = {
            "ok": audit.ok
            and handed_over == len(stored)
            and answered == stored
            and len(answered) == len(tally.handovers),
            "events": audit.events,
            "chains": audit.chains,
            "reason": audit.reason,
            "dose.handed_over": handed_over,
            "handovers_201": len(tally.handovers),
            "verify_s": round(time.perf_counter() - started, 1),
        }
        # 5. The ledger says what the counter did: every visit supplied, withheld or sent away;
        # every planned miss (and nothing else) missed.
        state_of: dict[tuple[int, int], set[str]] = defaultdict(set)
        for r in rows:
            if common.TODAY <= r.collect_on < week_end:
                state_of[(index[r.patient_id], (r.collect_on - common.TODAY).days)].add(r.state)
        wrong = []
        for key, planned in region.plan.items():
            states = state_of.get(key, set())
            if key in tally.supplied:
                ok = states <= set(TAKEN_STATES)
            elif key in tally.withheld:
                ok = DoseState.WITHHELD in states
            elif planned == "miss" or key in tally.blocked:
                ok = states == {DoseState.MISSED}
            else:
                ok = False  # a visit that neither supplied, withheld nor was sent away
            if not ok:
                wrong.append((key, planned, sorted(states)))
        out["ledger_matches_the_counter"] = {
            "ok": not wrong,
            "collection_days": len(region.plan),
            "mismatches": len(wrong),
            "examples": [str(w) for w in wrong[:5]],
        }
        # 6. Every day without a dose raised what the ledger says (the alert ladder, recomputed
        # here from the ledger and the last-dose statements, compared by dedupe key).
        taken: dict[UUID, list[date]] = defaultdict(list)
        for r in rows:
            if r.state in TAKEN_STATES:
                taken[r.patient_id].append(r.dose_date)
        records = dict(
            session.execute(select(LastDoseRecord.patient_id, LastDoseRecord.taken_on)).all()
        )
        expected_keys: set[str] = set()
        for r in rows:
            if not (common.TODAY <= r.dose_date < week_end) or r.state not in NOT_TAKEN_STATES:
                continue
            last = max((x for x in taken[r.patient_id] if x <= r.dose_date), default=None)
            last = last or records.get(r.patient_id)
            days_without = (r.dose_date - last).days if last else 0
            person = region.people[index[r.patient_id]]
            children = tuple(
                ChildFacts(age_on(born, r.dose_date), status)  # type: ignore[arg-type]
                for born, status in person.children
            )
            for event in safeguarding_rules.missed_dose_events(
                days_without_dose=days_without,
                children=children,
                policy_missed_threshold=THRESHOLD,
                withheld_today=r.state == DoseState.WITHHELD,
            ):
                expected_keys.add(
                    safeguarding_service.dedupe_key(
                        event,
                        patient_id=r.patient_id,
                        household_id=person.household_id,
                        day=r.dose_date,
                    )
                )
        raised = {
            key
            for key, kind in session.execute(select(Alert.dedupe_key, Alert.kind))
            if kind in MISSED_KINDS
        }
        out["missed_days_raised_what_the_ledger_says"] = {
            "ok": raised == expected_keys,
            "expected": len(expected_keys),
            "raised": len(raised),
            "missing": sorted(expected_keys - raised)[:5],
            "unexpected": sorted(raised - expected_keys)[:5],
        }
        # 7. The outbox drained: every delivery delivered, each received once, signed for its
        # contact.
        deliveries = session.execute(
            select(Delivery.event_id, Delivery.contact_id, Delivery.state, Delivery.attempts)
        ).all()
        delivery_states = Counter(str(d.state) for d in deliveries)
    hits = httpx.get(f"{receiver}/hits", timeout=60, trust_env=False).json()["hits"]
    contact_of = region.contacts
    received = [(contact_of.get(name), wid) for name, wid, _ in hits]
    expected_pairs = {(d.contact_id, str(d.event_id)) for d in deliveries}
    out["outbox_delivered_and_verified"] = {
        "ok": delivery_states == {str(DeliveryState.DELIVERED): len(deliveries)}
        and all(ok for _, _, ok in hits)
        and set(received) == expected_pairs
        and len(received) == len(expected_pairs),
        "deliveries": len(deliveries),
        "states": dict(delivery_states),
        "received": len(hits),
        "unverified": sum(not ok for _, _, ok in hits),
    }
    # 8. No 5xx but the database's 503s, no status but the expected ones; and every 503 (nothing
    # recorded: the database out of reach, e.g. its connection slots taken) retried to an answer.
    statuses = Counter((s.endpoint, s.status) for s in tally.samples)
    expected_status = {
        "POST /counter/handover": {201},
        "POST /counter/withhold": {201},
        "POST /alerts/{id}/acknowledge": {200},
    }
    odd = {
        f"{name} {status}": n
        for (name, status), n in statuses.items()
        if status not in expected_status.get(name, {200}) and status != 503
    }
    out["no_500s_no_unexpected_status"] = {
        "ok": not odd,
        "requests": len(tally.samples),
        "5xx_other_than_503": sum(
            n for (_, status), n in statuses.items() if status >= 500 and status != 503
        ),
        "unexpected": odd,
        "first_errors": tally.errors,
    }
    out["every_503_retried_to_an_answer"] = {
        "ok": not tally.unrecovered,
        "503": sum(n for (_, status), n in statuses.items() if status == 503),
        "retried": dict(tally.retried),
        "unrecovered": dict(tally.unrecovered),
    }
    return out


# --- the run ---------------------------------------------------------------------------------------


def stats(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": common.percentile(values, 50),
        "p90": common.percentile(values, 90),
        "p99": common.percentile(values, 99),
        "max": max(values) if values else float("nan"),
    }


def run(args: Any) -> dict[str, Any]:
    patients = round(args.patients * args.scale)
    pharmacies = max(1, round(args.pharmacies * args.scale))
    common.banner(
        f"regional week on postgres: {patients} patients at {pharmacies} pharmacies, "
        f"{args.days} days, {args.workers} server process(es), peak {args.peak_concurrency} "
        f"connections"
    )
    load_start = common.load_average()
    wall = time.perf_counter()
    result: dict[str, Any] = {
        "patients": patients,
        "pharmacies": pharmacies,
        "days": args.days,
        "scale_of_region": patients / REGION_PATIENTS,
        "workers": args.workers,
        "peak_concurrency": args.peak_concurrency,
        "close_concurrency": args.close_concurrency,
        "hourly_profile": HOURLY,
        "concurrency_by_hour": [concurrency(h, args.peak_concurrency) for h in range(9)],
        "load_average_start": load_start,
    }
    with (
        common.database("postgres", "regional") as db,
        common.serve(module="bench.hook_receiver") as receiver,
    ):
        empty, _ = sizes(db)
        settings = common.settings_for(db.url)
        world = common.make_world(db, settings)
        region, secrets = build_region(
            db, world, receiver.base_url, patients, pharmacies, args.days, args.seed
        )
        httpx.post(f"{receiver.base_url}/configure", json={"secrets": secrets}, trust_env=False)
        db.dispose()
        before, tables_before = sizes(db)
        result["setup"] = region.setup_s
        tally = Tally()
        clock = FixedClock(EPOCH)
        worker = alert_worker(world.session_factory, settings, clock, name="regional-worker")
        days_out = []
        with common.serve(
            "--url", db.url, "--epoch", EPOCH.isoformat(), "--workers", str(args.workers),
            module="bench.regional_server",
        ) as server:  # fmt: skip
            counter = CounterDay(server.base_url, region, tally, args.seed + 1)
            peak_hour = HOURLY.index(max(HOURLY))
            paced: dict[str, Any] = {}
            rng = random.Random(args.seed + 2)
            for d in range(args.days):
                day = common.TODAY + timedelta(days=d)
                first = len(tally.samples)
                cpu0 = server.cpu_seconds()
                hours = day_visits(region, d, rng)
                hour_out: list[dict[str, Any]] = []
                for h, work in enumerate(hours):
                    visits = sum(v.kind == "visit" for v in work)
                    if h == peak_hour and d == min(1, args.days - 1) and args.paced_visits:
                        # A sample of the peak hour at the whole region's real arrival rate.
                        rate = visits / result["scale_of_region"] / 3600
                        sample = [v for v in work if v.kind == "visit"][: args.paced_visits]
                        took = asyncio.run(counter.run_paced(sample, d, rate))
                        paced = {"day": d, "visits": len(sample), "per_second": rate, "s": took}
                        chosen = {id(v) for v in sample}
                        work = [v for v in work if id(v) not in chosen]
                    # Closed loop: the hour's throughput and latencies (the paced sample apart).
                    n0 = len(tally.samples)
                    took = asyncio.run(
                        counter.run_hour(work, d, concurrency(h, args.peak_concurrency))
                    )
                    handovers = [
                        s.ms for s in tally.samples[n0:] if s.endpoint == "POST /counter/handover"
                    ]
                    hour_out.append(
                        {
                            "hour": f"{OPEN_HOUR + h:02d}:00",
                            "visits": visits,
                            "requests": len(tally.samples) - n0,
                            "s": took,
                            "rps": (len(tally.samples) - n0) / took if took else 0.0,
                            "connections": concurrency(h, args.peak_concurrency),
                            "handover": stats(handovers),
                        }
                    )
                counter_s = sum(x["s"] for x in hour_out)
                counter_cpu = server.cpu_seconds() - cpu0
                all_requests = len(tally.samples) - first
                counter_requests = sum(x["requests"] for x in hour_out)
                closed, close_s = asyncio.run(counter.close_days(d, args.close_concurrency))
                delivered = drain(worker, clock, d)
                close_ms = [c["ms"] for c in closed]
                days_out.append(
                    {
                        "day": day.isoformat(),
                        "weekday": day.strftime("%a"),
                        "visits": sum(x["visits"] for x in hour_out),
                        "requests": all_requests,
                        "closed_loop_requests": counter_requests,
                        "counter_s": counter_s,
                        "rps": counter_requests / counter_s if counter_s else 0.0,
                        "server_cpu_ms_per_request": counter_cpu / all_requests * 1000
                        if all_requests
                        else 0.0,
                        "hours": hour_out,
                        "close_total_s": close_s,
                        "close_ms": stats(close_ms),
                        "close_failed": sum(c["status"] != 200 for c in closed),
                        "missed": sum(c.get("missed", 0) for c in closed),
                        "alerts_raised_at_close": sum(c.get("alerts_raised", 0) for c in closed),
                        "drain": delivered,
                        "load_average": common.load_average(),
                    }
                )
                x = days_out[-1]
                print(
                    f"  {x['weekday']} {x['day']}: {x['visits']} visits, {x['requests']} "
                    f"requests in {counter_s:.0f} s ({x['rps']:.1f} req/s, server CPU "
                    f"{x['server_cpu_ms_per_request']:.1f} ms/req); close-day {close_s:.1f} s "
                    f"for {len(closed)} pharmacies (p50 {x['close_ms']['p50']:.0f} ms, max "
                    f"{x['close_ms']['max']:.0f} ms), {x['missed']} missed, "
                    f"{x['alerts_raised_at_close']} alerts; drain {delivered['sent']} in "
                    f"{delivered['s']:.1f} s; load {x['load_average']}",
                    flush=True,
                )
        worker.close()
        after, tables_after = sizes(db)
        with Session(db.engine) as session:
            alerts_by_kind = {
                f"{kind} ({severity})": n
                for kind, severity, n in session.execute(
                    select(Alert.kind, Alert.severity, func.count()).group_by(
                        Alert.kind, Alert.severity
                    )
                )
            }
            deliveries_by_reason = dict(
                session.execute(
                    select(Delivery.reason, func.count()).group_by(Delivery.reason)
                ).all()
            )
            alert_steps = dict(
                session.execute(
                    select(AlertHistory.action, func.count()).group_by(AlertHistory.action)
                ).all()
            )
        started = time.perf_counter()
        invariants = check_invariants(db, region, tally, receiver.base_url)
        invariants_s = time.perf_counter() - started
    # --- figures ---
    endpoints = defaultdict(list)
    for s in tally.samples:
        endpoints[s.endpoint].append(s.ms)
    by_endpoint = {name: stats(ms) for name, ms in sorted(endpoints.items())}
    counter_samples = [s for s in tally.samples if "close-day" not in s.endpoint]
    peak_hour = HOURLY.index(max(HOURLY))
    peak = [s.ms for s in counter_samples if s.hour == peak_hour]
    peak_handover = [
        s.ms
        for s in counter_samples
        if s.hour == peak_hour and s.endpoint == "POST /counter/handover"
    ]
    paced_samples: dict[str, list[float]] = defaultdict(list)
    for s in tally.samples:
        if s.paced:
            paced_samples[s.endpoint].append(s.ms)
    if paced:
        paced["endpoints"] = {name: stats(ms) for name, ms in sorted(paced_samples.items())}
        paced["all"] = stats([ms for v in paced_samples.values() for ms in v])
    # What the whole region asks of the server in real time, against what it served flat out.
    scale = result["scale_of_region"]
    visits = sum(x["visits"] for x in days_out)
    per_visit = sum(x["requests"] for x in days_out) / visits if visits else 0.0
    busiest = max(days_out, key=lambda x: x["visits"])
    demand = busiest["visits"] / scale * max(HOURLY) * per_visit / 3600
    capacity = sum(x["hours"][peak_hour]["rps"] for x in days_out) / len(days_out)
    region_figures = {
        "requests_per_visit": per_visit,
        "busiest_day": busiest["weekday"],
        "peak_hour_demand_rps": demand,
        "peak_hour_capacity_rps": capacity,
        "headroom": capacity / demand if demand else float("nan"),
        # Every request of the day at the closed-loop rate (the paced sample included).
        "counter_s_per_day_flat_out": sum(x["requests"] for x in days_out)
        / (sum(x["closed_loop_requests"] for x in days_out) / sum(x["counter_s"] for x in days_out))
        / len(days_out)
        / scale,
        "close_total_s_per_evening": sum(x["close_total_s"] for x in days_out)
        / len(days_out)
        / scale,
        "drain_s_per_evening": sum(x["drain"]["s"] for x in days_out) / len(days_out) / scale,
        "deliveries_per_evening": sum(x["drain"]["sent"] for x in days_out) / len(days_out) / scale,
    }
    weeks = args.days / 7
    growth = after - before
    per_patient_week = growth / patients / weeks
    intake_tables = ("prescriptions", "instalment_days")
    intake_bytes = sum(tables_before.get(t, 0) for t in intake_tables)
    intake_per_patient_fortnight = intake_bytes / patients  # 14-day scripts, one per patient
    per_year_region = (per_patient_week * 52 + intake_per_patient_fortnight * 26) * REGION_PATIENTS
    table_growth = sorted(
        ((t, tables_after.get(t, 0) - tables_before.get(t, 0)) for t in tables_after),
        key=lambda x: -x[1],
    )
    counter_s = sum(x["counter_s"] for x in days_out)
    result.update(
        {
            "days_out": days_out,
            "endpoints": by_endpoint,
            "paced_sample": paced,
            "region": region_figures,
            "peak_hour": {
                "hour": f"{OPEN_HOUR + peak_hour:02d}:00",
                "all": stats(peak),
                "handover": stats(peak_handover),
            },
            "outcomes": dict(tally.outcomes),
            "acknowledged": tally.acknowledged,
            "alerts_by_kind": alerts_by_kind,
            "deliveries_by_reason": deliveries_by_reason,
            "alert_history": alert_steps,
            "db_bytes": {"empty": empty, "seeded": before, "after": after, "growth": growth},
            "growth_per_patient_week_bytes": per_patient_week,
            "intake_per_patient_fortnight_bytes": intake_per_patient_fortnight,
            "region_growth_per_year_bytes": per_year_region,
            "table_growth_bytes": dict(table_growth[:12]),
            "invariants": invariants,
            "invariants_s": invariants_s,
            "counter_s": counter_s,
            "close_total_s": sum(x["close_total_s"] for x in days_out),
            "drain_total_s": sum(x["drain"]["s"] for x in days_out),
            "wall_s": time.perf_counter() - wall,
            "load_average_end": common.load_average(),
        }
    )
    report(result)
    common.dump("regional_week.postgres", result)
    return result


def mib(n: float) -> str:
    return f"{n / 1024 / 1024:,.1f} MiB"


def report(r: dict[str, Any]) -> None:
    print("\n  counter days (each hour closed-loop; connections follow the arrival profile):")
    rows = [
        [x["weekday"], x["visits"], x["requests"], f"{x['counter_s']:.0f}", f"{x['rps']:.1f}",
         f"{x['server_cpu_ms_per_request']:.1f}", f"{x['close_total_s']:.1f}",
         f"{x['close_ms']['p50']:.0f} / {x['close_ms']['max']:.0f}", x["missed"],
         x["alerts_raised_at_close"], x["drain"]["sent"], f"{x['drain']['s']:.1f}",
         x["load_average"].split()[0]]
        for x in r["days_out"]
    ]  # fmt: skip
    print(common.table(rows, ["day", "visits", "requests", "counter s", "req/s", "srv CPU ms/req",
                              "close-day s", "per pharmacy p50/max ms", "missed",
                              "alerts at close", "delivered", "drain s", "load"]))  # fmt: skip
    print("\n  the day's shape (all days):")
    hours: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"visits": 0, "requests": 0, "s": 0.0, "p99": []}
    )
    for x in r["days_out"]:
        for h in x["hours"]:
            acc = hours[h["hour"]]
            acc["visits"] += h["visits"]
            acc["requests"] += h["requests"]
            acc["s"] += h["s"]
            acc["p99"].append(h["handover"]["p99"])
            acc["connections"] = h["connections"]
    rows = [
        [hour, f"{share:.0%}", a["connections"], a["visits"], f"{a['requests'] / a['s']:.1f}",
         f"{max(a['p99']):.0f}"]
        for (hour, a), share in zip(sorted(hours.items()), r["hourly_profile"], strict=True)
    ]  # fmt: skip
    print(common.table(rows, ["hour", "share", "connections", "visits", "req/s",
                              "handover p99 ms (worst day)"]))  # fmt: skip
    print("\n  per endpoint (ms at the client, whole week):")
    rows = [
        [name, s["n"], f"{s['p50']:.0f}", f"{s['p90']:.0f}", f"{s['p99']:.0f}", f"{s['max']:.0f}"]
        for name, s in r["endpoints"].items()
    ]
    print(common.table(rows, ["endpoint", "requests", "p50", "p90", "p99", "max"]))
    ph = r["peak_hour"]
    print(
        f"  peak hour {ph['hour']}: all requests p99 {ph['all']['p99']:.0f} ms, handover p50 "
        f"{ph['handover']['p50']:.0f} / p99 {ph['handover']['p99']:.0f} ms"
    )
    p = r["paced_sample"]
    if p:
        rows = [
            [name, s["n"], f"{s['p50']:.0f}", f"{s['p90']:.0f}", f"{s['p99']:.0f}",
             f"{s['max']:.0f}"]
            for name, s in p["endpoints"].items()
        ]  # fmt: skip
        print(
            f"\n  a sample of the peak hour at the whole region's real arrival rate (open loop, "
            f"{p['visits']} visits at {p['per_second']:.2f}/s on day {p['day']}):"
        )
        print(common.table(rows, ["endpoint", "requests", "p50", "p90", "p99", "max"]))
    g = r["region"]
    print(
        f"\n  the region ({REGION_PATIENTS:,} patients, {REGION_PHARMACIES} pharmacies), from "
        f"this run at {r['scale_of_region']:.1%} of it: its busiest peak hour asks "
        f"{g['peak_hour_demand_rps']:.2f} req/s ({g['requests_per_visit']:.2f} requests a "
        f"visit); this machine served {g['peak_hour_capacity_rps']:.1f} req/s flat out in that "
        f"hour ({g['headroom']:.0f}x headroom). Flat out, a region's counter day takes "
        f"{g['counter_s_per_day_flat_out'] / 60:.0f} min of server time; its evening close "
        f"{g['close_total_s_per_evening']:.0f} s at {r['close_concurrency']} at a time; the "
        f"drain of ~{g['deliveries_per_evening']:.0f} deliveries "
        f"{g['drain_s_per_evening']:.0f} s."
    )
    print(f"  counter outcomes: {r['outcomes']}; alerts acknowledged at opening: "
          f"{r['acknowledged']}")  # fmt: skip
    print(f"  alerts raised by kind: {r['alerts_by_kind']}")
    print(f"  deliveries by reason: {r['deliveries_by_reason']}")
    b = r["db_bytes"]
    print(
        f"\n  database: empty {mib(b['empty'])}, seeded {mib(b['seeded'])}, after the week "
        f"{mib(b['after'])} (+{mib(b['growth'])}); {r['growth_per_patient_week_bytes'] / 1024:.1f} "
        f"KiB per patient-week of counter activity, {r['intake_per_patient_fortnight_bytes'] / 1024:.1f}"
        f" KiB per 14-day prescription's ledger; region of {REGION_PATIENTS:,} patients: "
        f"~{r['region_growth_per_year_bytes'] / 1024**3:.1f} GiB a year"
    )
    print(f"  growth by table: { {t: mib(n) for t, n in r['table_growth_bytes'].items()} }")
    print("\n  invariants:")
    for name, v in r["invariants"].items():
        detail = {k: x for k, x in v.items() if k != "ok"}
        print(f"    {'PASS' if v['ok'] else 'FAIL'}  {name}: {detail}")
    print(
        f"\n  wall {r['wall_s']:.0f} s (setup {sum(r['setup'].values()):.0f} s, counter "
        f"{r['counter_s']:.0f} s, close-day {r['close_total_s']:.0f} s, drain "
        f"{r['drain_total_s']:.0f} s, invariants {r['invariants_s']:.0f} s); load average "
        f"start {r['load_average_start']}, end {r['load_average_end']}"
    )


def main(argv: list[str] | None = None) -> None:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=REGION_PATIENTS)
    ap.add_argument("--pharmacies", type=int, default=REGION_PHARMACIES)
    ap.add_argument("--days", type=int, default=7, help="counter days (1-12)")
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies patients and pharmacies")
    ap.add_argument("--workers", type=int, default=2, help="uvicorn processes")
    ap.add_argument("--peak-concurrency", type=int, default=16, help="connections at the peak")
    ap.add_argument("--close-concurrency", type=int, default=4, help="close-days at a time")
    ap.add_argument(
        "--paced-visits",
        type=int,
        default=90,
        help="visits of day 1's peak hour sent open-loop at the whole region's real rate",
    )
    ap.add_argument("--seed", type=int, default=21)
    args = ap.parse_args(argv)
    if not 1 <= args.days <= 12:
        ap.error("--days must be 1..12 (the 14-day prescriptions warn they are ending after)")
    common.print_machine()
    run(args)


if __name__ == "__main__":
    main()
