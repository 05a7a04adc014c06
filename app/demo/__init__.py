"""Fictional demo data. Every name, address and NHS number here is invented; NHS numbers come
from the 999 range, which is never issued to real people.

Refused in production: demo accounts have published passwords.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from sqlalchemy import func, select

from app.actor import SYSTEM
from app.auth import service as auth_service
from app.auth.models import User
from app.auth.service import actor_for
from app.clock import SystemClock, local_date
from app.config import Settings
from app.contacts import service as contacts_service
from app.db import UnitOfWork
from app.demo import doses as demo_doses
from app.demo import exceptions as demo_exceptions
from app.demo import history as demo_history
from app.demo import home_safety as demo_home_safety
from app.demo import injections as demo_injections
from app.demo import packs as demo_packs
from app.demo import products as demo_products
from app.households import children as household_children
from app.households import service as households_service
from app.intake import transcribe as transcription
from app.intake import verify as verification
from app.lookup import links as lookup_links
from app.patients import service as patients_service
from app.pharmacies import service as pharmacies_service
from app.pharmacies.models import Pharmacy
from app.prescriptions import intake_terms
from app.prescriptions.words import number_to_words

DEMO_PASSWORD = demo_history.PASSWORD
DEMO_ODS = "FDK01"


def test_range_nhs_number(serial: int) -> str:
    """A valid NHS number in the never-issued 999 range, for demos and tests."""
    while True:
        body = f"999{serial:06d}"
        check = 11 - sum(int(d) * w for d, w in zip(body, range(10, 1, -1), strict=True)) % 11
        check = 0 if check == 11 else check
        if check != 10:
            return body + str(check)
        serial += 1


def uow_users(uow: UnitOfWork) -> list[User]:
    with uow:
        return list(uow.session.scalars(select(User)))


def seed(
    uow: UnitOfWork,
    settings: Settings,
    *,
    only_if_empty: bool = False,
    history: bool = False,
    now: datetime | None = None,
) -> str:
    """Create the demo pharmacy, staff, contacts, households and patients; return a summary.

    With `history`, two more patients have a week and a half of treatment behind them
    (replayed through the API day by day: a withheld dose, a blocked patient, acknowledged and
    escalated alerts) and a third has a prescription waiting for its second check, so every
    page and every block can be tried from `scripts/run` alone. Without it (the browser tests'
    world) every prescription starts today."""
    if settings.environment == "production":
        raise SystemExit("demo data is refused in production")
    with uow:
        existing = uow.session.scalar(select(func.count()).select_from(Pharmacy))
    if existing and only_if_empty:
        return "database already has data; demo seed skipped"
    with uow:
        if uow.session.scalar(select(Pharmacy).where(Pharmacy.ods_code == DEMO_ODS)):
            return "demo data already present"
    # `now`: the browser tests seed a weekday's world whatever day they run on.
    now = now or SystemClock().now()
    today = local_date(now, settings.timezone)
    auth = settings.auth

    # With a history to replay, the pharmacy, its staff and its patients exist before it.
    made = now - timedelta(days=demo_history.HISTORY_DAYS + 1) if history else now
    pharmacy = pharmacies_service.create_pharmacy(
        uow,
        actor=SYSTEM,
        name="Riverside Community Pharmacy (demo)",
        ods_code=DEMO_ODS,
        address="1 Example Parade, Demotown",
        phone="01632 960000",
        open_weekdays=[0, 1, 2, 3, 4, 5],
        closures=[(date(today.year, 12, 25), "Christmas Day")],
        now=made,
    )
    other = pharmacies_service.create_pharmacy(
        uow,
        actor=SYSTEM,
        name="Hillside Pharmacy (demo)",
        ods_code="FDK02",
        address="9 Sample Hill, Demotown",
        phone="01632 960001",
        open_weekdays=[0, 1, 2, 3, 4],
        now=made,
    )

    def contact(name: str, org: str, kind: str, email: str) -> UUID:
        c, _ = contacts_service.create_contact(
            uow,
            actor=SYSTEM,
            name=name,
            organisation=org,
            address=f"{org}, 2 Fictional Way, Demotown DT1 1AA",
            kind=kind,
            email=email,
            webhook_url=None,
            allowed_webhook_hosts=frozenset(),
            allow_http_webhooks=False,
            now=made,
        )
        return c.id

    key_worker = contact(
        "Sam Keyworker", "Demotown Drug Service", "key_worker", "keyworker@drugservice.example"
    )
    prescriber = contact(
        "Dr Alex Prescriber",
        "Demotown Drug Service",
        "prescriber",
        "prescriber@drugservice.example",
    )
    social_worker = contact(
        "Jo Socialworker", "Demotown Children's Services", "social_worker", "sw@childrens.example"
    )
    contact("Pat Lead", "Riverside Pharmacy Group", "safeguarding_lead", "lead@pharmacy.example")
    contact("Demotown MASH", "Demotown Council", "mash", "mash@council.example")

    accounts = [
        ("pharmacist", "pharmacist", pharmacy.id, None, "Priya Pharmacist"),
        ("pharmacist2", "pharmacist", pharmacy.id, None, "Owen Secondcheck"),
        ("technician", "technician", pharmacy.id, None, "Terry Technician"),
        ("prescriber", "prescriber", None, prescriber, "Dr Alex Prescriber"),
        ("keyworker", "key_worker", None, key_worker, "Sam Keyworker"),
        ("safeguarding", "safeguarding_lead", pharmacy.id, None, "Pat Lead"),
        ("admin", "admin", None, None, "Ada Admin"),
        ("hillside", "pharmacist", other.id, None, "Hana Hillside"),
        # The out-of-hours look-up (issue 19 §4): a clinician account belongs to no pharmacy.
        ("clinician", "clinician", None, None, "Dr Casey Clinician (A&E)"),
    ]
    for username, role, pharmacy_id, contact_id, display in accounts:
        auth_service.add_user(
            uow,
            actor=SYSTEM,
            username=username,
            password=DEMO_PASSWORD,
            role=role,
            display_name=display,
            pharmacy_id=pharmacy_id,
            contact_id=contact_id,
            now=made,
            settings=auth,
        )

    households = []
    streets = [
        "Acacia Avenue",
        "Birch Close",
        "Cedar Road",
        "Damson Way",
        "Elm Court",
        "Fir Lane",
        "Gorse Walk",
        "Hazel Row",
    ]
    for i, street in enumerate(streets):
        households.append(
            households_service.create_household(
                uow,
                actor=SYSTEM,
                address=f"{i + 2} {street}, Demotown",
                postcode=f"DT{i + 1} 1AA",
                pharmacy_id=pharmacy.id,
                now=made,
            ).id
        )

    def child(h: int, name: str, years: int, status: str = "none") -> None:
        household_children.add_child(
            uow,
            actor=SYSTEM,
            household_id=households[h],
            name=name,
            date_of_birth=today - timedelta(days=int(years * 365.25) + 40),
            protection_status=status,
            social_worker_id=social_worker if status != "none" else None,
            lives_from=None,
            today=today,
            now=made,
        )

    child(0, "L.M.", 3, "child_protection_plan")  # the seed case: two parents on methadone
    child(0, "K.M.", 9)
    child(2, "R.T.", 1, "child_in_need")
    child(4, "A.B.", 12)
    child(4, "C.B.", 15)
    child(6, "D.E.", 6)
    for h in (0, 2, 4):
        household_children.confirm_children(
            uow,
            actor=SYSTEM,
            household_id=households[h],
            confirmed_on=today,
            note="demo",
            today=today,
            now=now,
        )

    patient_ids: list[UUID] = []
    people = [
        ("Morgan", "Marsh", 0),
        ("Casey", "Marsh", 0),
        ("Jordan", "Birch", 1),
        ("Riley", "Thorn", 2),
        ("Avery", "Dale", 3),
        ("Quinn", "Brook", 4),
        ("Rowan", "Fenn", 5),
        ("Sky", "Elder", 6),
        ("Drew", "Elder", 6),
        ("Charlie", "Hale", 7),
        ("Frankie", "Moss", 1),
        ("Jamie", "Reed", 3),
    ]
    if history:
        people.append(("Billie", "Ash", 5))  # the prescription waiting for its second check
        people.append(("Sasha", "Wren", 7))  # in hospital: prescription suspended
    for i, (given, family, h) in enumerate(people):
        registered = patients_service.register_patient(
            uow,
            actor=SYSTEM,
            given_name=given,
            family_name=family,
            date_of_birth=date(1975 + i, 1 + i % 12, 3 + i),
            nhs_number=test_range_nhs_number(i * 7 + 1),
            pharmacy_id=pharmacy.id,
            household_id=households[h],
            key_worker_id=key_worker,
            prescriber_id=prescriber,
            today=today,
            now=made,
        )
        patient_ids.append(registered.id)

    staff = {u.username: u for u in uow_users(uow)}
    transcriber = actor_for(staff["pharmacist"])
    checker = actor_for(staff["pharmacist2"])
    # Start on the next day the pharmacy opens (today on a weekday), so a seed on a Sunday
    # or Christmas Day gives the same kind of schedule.
    start = today
    while start.weekday() == 6 or start == date(today.year, 12, 25):
        start += timedelta(days=1)
    daily = frozenset(range(7))
    twice_weekly = frozenset({start.weekday(), (start.weekday() + 3) % 7})
    regimes = [
        # (patient index, mg, supervised days, collection days)
        (0, 60, frozenset(range(6)), daily),  # Morgan Marsh: supervised Mon-Sat
        (1, 50, frozenset(), twice_weekly),  # Casey Marsh: twice-weekly take-home, child on a plan
        (2, 40, frozenset(range(6)), daily),
        (3, 80, frozenset(range(6)), daily),  # a baby on a child-in-need plan at home
        (4, 30, frozenset({0, 2, 4}), daily),
        (5, 90, frozenset(range(6)), daily),
        # Rowan Fenn (6): 110 mg stepping down to 100 mg, and Charlie Hale (9): a split dose,
        # are app/demo/doses.py's.
    ]

    def prescribe(
        index: int,
        mg: int,
        supervised: frozenset[int],
        collection: frozenset[int],
        *,
        first: date,
        on: date,
        at: datetime,
        check: bool = True,
    ) -> UUID:
        """A 14-day FP10MDA written, transcribed (and checked, unless `check` is False) on `on`."""
        days = 14
        total = mg * days
        draft = intake_terms.PrescriptionDraft(
            product_code="methadone-1mg-ml",
            daily_dose_mg=Decimal(mg),
            form_type="FP10MDA",
            written_on=on,
            start_on=first,
            end_on=first + timedelta(days=days - 1),
            total_quantity=Decimal(total),
            total_quantity_words=number_to_words(total),
            supervised_days=supervised,
            collection_days=collection,
            wording=intake_terms.Wording(
                closed_day_prior=True,
                supervise_on_collection=bool(supervised),
                consult_after_3_missed=True,
            ),
            direction_text=f"{mg}mg ({mg}ml) daily. "
            + (
                "Supervised consumption on collection days."
                if supervised
                else "Collect twice weekly; take home."
            ),
        )
        prescription, _ = transcription.transcribe(
            uow,
            actor=transcriber,
            data=transcription.PrescriptionInput(
                patient_id=patient_ids[index],
                prescriber_id=prescriber,
                draft=draft,
                last_dose=transcription.LastDoseInput(
                    first - timedelta(days=1), "previous_pharmacy", "Demo: transferred in"
                ),
            ),
            policy=settings.policy,
            today=on,
            now=at,
        )
        if check:
            verification.verify(
                uow,
                actor=checker,
                prescription_id=prescription.id,
                policy=settings.policy,
                today=on,
                now=at,
            )
        return prescription.id

    story: list[str] = []
    if history:
        names = [f"{given} {family}" for given, family, _ in people]
        story = demo_history.replay(
            uow,
            settings,
            prescribe=prescribe,
            patients=dict(zip(names, patient_ids, strict=True)),
            pharmacy_id=pharmacy.id,
            index_of=names.index,
            now=now,
        )
    # Today's prescriptions after the story, so their alerts are today's and still open.
    for index, mg, supervised, collection in regimes:
        prescribe(index, mg, supervised, collection, first=start, on=today, at=now)

    demo_home_safety.seed(uow, transcriber, households[4], patient_ids[5], today, now)
    demo_products.seed(uow, settings, transcriber=transcriber, checker=checker, prescriber=prescriber, patients=(patient_ids[7], patient_ids[8]), start=start, today=today, now=now)  # fmt: skip
    demo_packs.seed(uow, transcriber, today, now)
    demo_doses.seed(uow, settings, transcriber=transcriber, checker=checker, prescriber=prescriber, patients=(patient_ids[9], patient_ids[6]), start=start, today=today, now=now)  # fmt: skip
    story += demo_exceptions.seed(uow, settings, pharmacy.id, today, now)
    story.append(
        demo_injections.seed(
            uow,
            settings,
            patient_id=patient_ids[8],  # Drew Elder: no methadone, monthly Buvidal
            pharmacist=transcriber,
            today=today,
            now=now,
        )
    )
    # A hospital ward the pharmacy sent a look-up link (shown once, here, to try it with).
    ward = contact(
        "Ward 7 (demo)", "Demotown General Hospital", "care_service", "ward7@hospital.example"
    )
    with uow:
        issuer = uow.session.scalar(select(User).where(User.username == "pharmacist"))
    assert issuer is not None
    ward_link = lookup_links.issue(
        uow,
        actor=actor_for(issuer),
        contact_id=ward,
        pharmacy_id=None,
        secret=settings.secret_key.get_secret_value(),
        settings=settings.lookup,
        now=now,
    )
    lookup_url = f"{settings.notify.public_base_url.rstrip('/')}/lookup#link={ward_link.token}"

    lines = [
        "Demo data created (fictional).",
        f"Pharmacy: {pharmacy.name} id={pharmacy.id}",
        f"Every demo account's password: {DEMO_PASSWORD}",
        "Accounts: " + ", ".join(f"{u} ({r})" for u, r, *_ in accounts),
        f"Ward 7's look-up link (valid {settings.lookup.link_hours} hours): {lookup_url}",
        *story,
    ]
    return "\n".join(lines)
