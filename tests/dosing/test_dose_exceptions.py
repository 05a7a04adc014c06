"""Dose exceptions and their replacements (issue 20 §1), replayed over a week.

A mother of a four-year-old, on a twice-weekly take-home (40 mg a day, collected Monday for
Monday to Wednesday and Thursday for Thursday to Sunday). Tuesday morning she reports Tuesday's
and Wednesday's doses lost: the social worker and key worker are alerted urgently. The
pharmacist may not replace the dose without the prescriber's authorisation; with it (by phone)
the replacement is its own record with its own CD register line and label, and the ledger's
Tuesday and Wednesday stay as they were. Friday she brings back 20 mL unused: a second
exception within 28 days, so the prescriber hears of it; the return goes in the patient
returns record, never the CD register.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import fhir.resources.R4B as resources  # a dev dependency: missing is an error
import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError

from app.clock import FixedClock
from app.dosing.exception_models import DoseException, DoseReplacement
from app.labelling.models import Label
from tests.builders import (
    API,
    MONDAY,
    alerts,
    ledger,
    prescribe,
    signed_in,
    twice_weekly_take_home,
)
from tests.databases import Database
from tests.factories import World
from tests.register.support import at, close_day, hand_over, register

TUE, WED, THU, FRI = (MONDAY + timedelta(days=n) for n in range(1, 5))
# The counter's take-home warnings for a home with a small child, acknowledged.
AT_HOME = ["young_child_take_home", "household_methadone_high"]


def mother_with_a_child(world: World, clock: FixedClock) -> str:
    house = world.household(address="7 Exception Row, Testtown")
    world.child(
        house["id"],
        name="L.E.",
        date_of_birth="2022-06-01",
        protection_status="child_in_need",
        social_worker_id=str(world.social_worker_id),
    )
    patient = world.patient(house["id"], given_name="Lena", family_name="Except")["id"]
    prescribe(world, patient, **twice_weekly_take_home(40))
    clock.set(at(MONDAY, 8))
    box = world.post(
        f"{API}/patients/{patient}/box-confirmations",
        {"seen_on": MONDAY.isoformat(), "method": "seen_at_home"},
        role="key_worker",
    )
    assert box.status_code == 201, box.text
    confirmed = world.post(f"{API}/households/{house['id']}/confirmations", {})
    assert confirmed.status_code == 201, confirmed.text
    return str(patient)


def report(world: World, patient: str, role: str = "technician", **body: Any) -> Any:
    return world.post(f"{API}/patients/{patient}/dose-exceptions", body, role=role)


def replace(world: World, exception_id: str, role: str = "pharmacist", **body: Any) -> Any:
    return world.post(f"{API}/dose-exceptions/{exception_id}/replacement", body, role=role)


def authorised(day: date, **extra: Any) -> dict[str, Any]:
    return {
        "authorised_by": "Dr A. Prescriber",
        "authorised_at": at(day, 9).isoformat(),
        "authorised_how": "phone",
        **extra,
    }


def supply_lines(world: World, patient: str, day: date) -> list[dict[str, Any]]:
    return [
        e
        for e in register(world)["items"]
        if e["kind"] == "supply"
        and e.get("patient_id") == patient
        and day.isoformat() in (e.get("dose_dates") or [])
    ]


def deliveries_to(alert: dict[str, Any]) -> set[str]:
    return {d["contact_id"] for d in alert["deliveries"]}


@pytest.mark.hazard("H-29.1", "H-29.2", "H-29.3")
def test_a_lost_take_home_in_a_home_with_a_child_then_a_return(
    world: World, clock: FixedClock
) -> None:
    patient = mother_with_a_child(world, clock)
    hand_over(world, clock, patient, MONDAY, outcome="collected")
    before = ledger(world, patient)

    # Thursday's dose has not been handed over: nothing of it can be lost.
    clock.set(at(TUE, 9, 15))
    never = report(world, patient, kind="lost", dose_dates=[THU.isoformat()])
    assert never.status_code == 409, never.text
    assert never.json()["code"] == "day_not_supplied"

    lost = report(
        world, patient, kind="lost", dose_dates=[TUE.isoformat(), WED.isoformat()], note="Bag"
    )
    assert lost.status_code == 201, lost.text
    exception = lost.json()
    assert exception["dose_mg"] in ("80", "80.00")
    assert exception["volume_ml"] in ("80", "80.00")
    raised = [a for a in alerts(world, patient_id=patient) if a["id"] in exception["alerts"]]
    (urgent,) = [a for a in raised if a["kind"] == "dose_lost_with_children"]
    assert urgent["severity"] == "urgent"
    assert {str(world.social_worker_id), str(world.key_worker_id)} <= deliveries_to(urgent)
    assert "reported lost" in urgent["message"]
    assert "80 mL" in urgent["message"]
    assert "01/12/2026" in urgent["message"]
    assert not [a for a in raised if a["kind"] == "repeated_dose_exceptions"]  # the first

    # The same dose is not lost twice.
    again = report(world, patient, kind="stolen", dose_dates=[WED.isoformat()])
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "exception_recorded"

    # No replacement without the prescriber's authorisation; a technician may not supply one.
    refused = replace(world, exception["id"])
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "replacement_not_authorised"
    technician = replace(world, exception["id"], role="technician", **authorised(TUE))
    assert technician.status_code == 403, technician.text
    assert technician.json()["code"] == "permission_denied"
    too_much = replace(world, exception["id"], **authorised(TUE, dose_mg="100"))
    assert too_much.status_code == 422, too_much.text
    assert too_much.json()["errors"][0]["field"] == "dose_mg"
    # Another pharmacy's pharmacist finds nothing.
    theirs = world.post(
        f"{API}/dose-exceptions/{exception['id']}/replacement",
        authorised(TUE),
        branch=world.away,
    )
    assert theirs.status_code == 404, theirs.text

    # The counter's take-home warnings for a home with a small child are acknowledged first.
    unacknowledged = replace(world, exception["id"], **authorised(TUE))
    assert unacknowledged.status_code == 422, unacknowledged.text
    assert unacknowledged.json()["code"] == "young_child_take_home"
    assert unacknowledged.json()["field"] == "acknowledged"
    replaced = replace(world, exception["id"], **authorised(TUE, acknowledged=AT_HOME))
    assert replaced.status_code == 201, replaced.text
    replacement = replaced.json()
    assert replacement["mode"] == "take_home"
    assert replacement["dose_dates"] == [TUE.isoformat(), WED.isoformat()]
    assert replacement["register_entry_id"] is not None
    assert replacement["label_job_id"] is not None
    twice = replace(world, exception["id"], **authorised(TUE, acknowledged=AT_HOME))
    assert twice.status_code == 409, twice.text
    assert twice.json()["code"] == "already_replaced"

    # The ledger is untouched; the register has the handover's line and the replacement's.
    assert ledger(world, patient) == before
    lines = supply_lines(world, patient, TUE)
    assert len(lines) == 2
    (own,) = [e for e in lines if e["id"] == replacement["register_entry_id"]]
    assert own["quantity_ml"] in ("80", "80.00", "80.000")
    assert "Replacement" in (own["collector_details"] or "")
    assert "Dr A. Prescriber" in own["collector_details"]
    with world.uow:
        (label,) = world.uow.session.scalars(
            select(Label).where(Label.handover_id == uuid.UUID(replacement["id"]))
        )
        texts = [line["text"] for line in label.lines]
    assert texts[0] == "** REPLACEMENT SUPPLY **"
    assert "reported lost" in texts[1]
    assert "Quantity: 80 mL = 80 mg" in texts

    listed = world.get(f"{API}/patients/{patient}/dose-exceptions")
    assert listed.status_code == 200, listed.text
    (item,) = listed.json()["items"]
    assert item["replacement"]["authorised_how"] == "phone"

    # Thursday's collection; Friday she brings 20 mL of Friday's dose back unused.
    hand_over(world, clock, patient, THU, outcome="collected")
    register_before = register(world)["items"]
    clock.set(at(FRI, 11))
    back = report(
        world, patient, kind="returned", dose_dates=[FRI.isoformat()], volume_ml="20", note="Sick"
    )
    assert back.status_code == 201, back.text
    returned = back.json()
    assert returned["volume_ml"] in ("20", "20.00")
    repeated = [
        a
        for a in alerts(world, patient_id=patient)
        if a["id"] in returned["alerts"] and a["kind"] == "repeated_dose_exceptions"
    ]
    assert len(repeated) == 1
    assert str(world.prescriber_id) in deliveries_to(repeated[0])
    assert "20 mL" in repeated[0]["message"]
    assert "04/12/2026" in repeated[0]["message"]
    # A return is not lost methadone: nothing urgent for the children.
    assert "dose_lost_with_children" not in [
        a["kind"] for a in alerts(world, patient_id=patient) if a["id"] in returned["alerts"]
    ]
    # Not in the CD register: the register reads as before.
    assert register(world)["items"] == register_before
    record = world.get(f"{API}/dose-returns", params={"from": MONDAY.isoformat()})
    assert record.status_code == 200, record.text
    (line,) = [r for r in record.json()["items"] if r["patient_id"] == patient]
    assert line["exception_id"] == returned["id"]
    assert line["destroyed_on"] is None
    # Returned liquid is not replaced; its destruction is recorded in the returns record.
    assert replace(world, returned["id"], **authorised(FRI)).json()["code"] == "not_replaceable"
    destroyed = world.post(
        f"{API}/dose-returns/{returned['id']}/destruction",
        {"method": "Denaturing kit", "witness": "B. Technician"},
    )
    assert destroyed.status_code == 201, destroyed.text
    assert destroyed.json()["destroyed_on"] == FRI.isoformat()
    assert register(world)["items"] == register_before
    # Another pharmacy sees neither the exceptions nor the return.
    assert (
        world.get(f"{API}/patients/{patient}/dose-exceptions", branch=world.away).status_code == 404
    )
    away = world.post(
        f"{API}/patients/{patient}/dose-exceptions",
        {"kind": "lost", "dose_dates": [SAT.isoformat()]},
        branch=world.away,
    )
    assert away.status_code == 404, away.text
    assert not [
        r
        for r in world.get(f"{API}/dose-returns", branch=world.away).json()["items"]
        if r["patient_id"] == patient
    ]

    # The pages: the patient's exceptions and the returns record.
    browser = signed_in(world, "pharmacist")
    page = browser.page(f"/patients/{patient}/dose-exceptions")
    assert page.status_code == 200, page.text
    assert "Reported lost" in page.text or "reported lost" in page.text
    assert "Dr A. Prescriber" in page.text
    returns_page = browser.page("/counter/returns")
    assert returns_page.status_code == 200, returns_page.text
    assert "Denaturing kit" in returns_page.text


SAT = MONDAY + timedelta(days=5)


@pytest.mark.hazard("H-29.1")
def test_a_vomited_supervised_dose_is_replaced_at_the_counter_on_authorisation(
    world: World, clock: FixedClock
) -> None:
    patient = world.patient(family_name="Vomitus")["id"]
    prescribe(world, patient)  # 60 mg supervised Monday to Saturday
    hand_over(world, clock, patient, MONDAY)
    # Tomorrow's dose has not been swallowed: a vomited dose is today's.
    early = report(world, patient, kind="vomited", dose_dates=[TUE.isoformat()], minutes_after=5)
    assert early.status_code == 422, early.text
    no_minutes = report(world, patient, kind="vomited", dose_dates=[MONDAY.isoformat()])
    assert no_minutes.status_code == 422, no_minutes.text
    assert no_minutes.json()["errors"][0]["field"] == "minutes_after"
    lost = report(world, patient, kind="lost", dose_dates=[MONDAY.isoformat()])
    assert lost.json()["code"] == "not_a_take_home"
    vomited = report(
        world, patient, kind="vomited", dose_dates=[MONDAY.isoformat()], minutes_after=10
    )
    assert vomited.status_code == 201, vomited.text
    assert vomited.json()["minutes_after"] == 10
    half = replace(
        world, vomited.json()["id"], **authorised(MONDAY, dose_mg="30", not_intoxicated=True)
    )
    assert half.status_code == 201, half.text
    assert half.json()["mode"] == "supervised"
    assert half.json()["label_job_id"] is None  # swallowed at the counter: no label
    lines = supply_lines(world, patient, MONDAY)
    assert sorted(e["quantity_ml"].rstrip("0").rstrip(".") for e in lines) == ["30", "60"]


@pytest.mark.hazard("H-29.3")
def test_exception_records_are_append_only(
    world: World, clock: FixedClock, database: Database
) -> None:
    patient = world.patient(family_name="Appendonly")["id"]
    prescribe(world, patient)
    hand_over(world, clock, patient, MONDAY)
    spilt = report(world, patient, kind="spilt", dose_dates=[MONDAY.isoformat()])
    assert spilt.status_code == 201, spilt.text
    spilt_back = replace(world, spilt.json()["id"], **authorised(MONDAY, not_intoxicated=True))
    assert spilt_back.status_code == 201, spilt_back.text
    mine = uuid.UUID(spilt.json()["id"])
    with database.engine.connect() as conn:
        for table, where in (
            (DoseException.__table__, DoseException.__table__.c.id == mine),
            (DoseReplacement.__table__, DoseReplacement.__table__.c.exception_id == mine),
        ):
            for statement in (
                update(table).where(where).values(note="x"),
                delete(table).where(where),
            ):
                with pytest.raises(DBAPIError, match="append-only"):
                    conn.execute(statement)
                conn.rollback()


@pytest.mark.hazard("H-29.1")
def test_the_replacement_is_its_own_dispense_in_fhir_and_the_chronology_lists_both(
    world: World, clock: FixedClock
) -> None:
    patient = mother_with_a_child(world, clock)
    handed = hand_over(world, clock, patient, MONDAY, outcome="collected")
    clock.set(at(TUE, 9, 15))
    stolen = report(
        world, patient, kind="stolen", dose_dates=[TUE.isoformat()], police_reference="MET/123"
    )
    assert stolen.status_code == 201, stolen.text
    replaced = replace(world, stolen.json()["id"], **authorised(TUE, acknowledged=AT_HOME))
    assert replaced.status_code == 201, replaced.text

    exported = world.get(
        f"{API}/patients/{patient}/fhir",
        params={"from": MONDAY.isoformat(), "to": (MONDAY + timedelta(days=6)).isoformat()},
    )
    assert exported.status_code == 200, exported.text
    bundle = exported.json()
    for entry in bundle["entry"]:
        model = resources.get_fhir_model_class(entry["resource"]["resourceType"])
        model.model_validate(entry["resource"])
    found = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    (observation,) = [r for r in found.values() if r["resourceType"] == "Observation"]
    assert observation["code"]["coding"][0]["code"] == "stolen"
    assert "40 mL" in observation["valueString"]
    (replacement,) = [
        r
        for r in found.values()
        if r["resourceType"] == "MedicationDispense"
        and r["identifier"][0]["value"] == replaced.json()["id"]
    ]
    assert replacement["status"] == "completed"
    assert replacement["dosageInstruction"][0]["timing"]["event"] == [TUE.isoformat()]
    assert "Dr A. Prescriber" in replacement["note"][0]["text"]
    references = [s["reference"] for s in replacement["supportingInformation"]]
    assert f"urn:uuid:{observation['id']}" in references
    # The original handover's dispense is still there, unchanged, and referenced.
    (original,) = [
        r
        for r in found.values()
        if r["resourceType"] == "MedicationDispense"
        and r["identifier"][0]["value"] == handed["handover_id"]
    ]
    assert f"urn:uuid:{original['id']}" in references
    assert TUE.isoformat() in original["dosageInstruction"][0]["timing"]["event"]

    household = world.get(f"{API}/patients/{patient}").json()["household_id"]
    conference = world.get(
        f"{API}/households/{household}/conference-report",
        role="safeguarding_lead",
        params={"from": MONDAY.isoformat(), "to": (MONDAY + timedelta(days=6)).isoformat()},
    )
    assert conference.status_code == 200, conference.text
    kinds = {e["kind"]: e for e in conference.json()["chronology"]}
    assert "reported stolen" in kinds["dose_exception"]["summary"]
    assert "MET/123" in kinds["dose_exception"]["summary"]
    assert "Dr A. Prescriber" in kinds["replacement"]["summary"]


# --- review fixes: split doses, the counter's checks, one supervised day, one alert a window ---

SPLIT = [
    {"when": "morning", "dose_mg": "40", "supervised": True},
    {"when": "evening", "dose_mg": "20", "supervised": False},
]
SPLIT_DIRECTION = "60mg (60ml) daily in two parts: 40mg morning supervised; 20mg evening take home."


def home_with_a_small_child(world: World, box_seen: date) -> tuple[dict[str, Any], str]:
    """A household with a two-year-old, its children confirmed, the patient's box seen."""
    house = world.household()
    world.child(
        house["id"], date_of_birth="2024-06-01", social_worker_id=str(world.social_worker_id)
    )
    patient = str(world.patient(house["id"])["id"])
    box = world.post(
        f"{API}/patients/{patient}/box-confirmations",
        {"seen_on": box_seen.isoformat(), "method": "shown_at_pharmacy"},
    )
    assert box.status_code == 201, box.text
    confirmed = world.post(f"{API}/households/{house['id']}/confirmations", {"note": "Seen"})
    assert confirmed.status_code == 201, confirmed.text
    return house, patient


def lost_on_tuesday(world: World, clock: FixedClock, box_seen: date) -> tuple[str, str, str]:
    """Monday's collection (Monday to Wednesday); Tuesday, Tuesday's and Wednesday's doses
    reported lost. The patient, the prescription and the exception."""
    clock.set(at(MONDAY, 8))
    _, patient = home_with_a_small_child(world, box_seen)
    rx = prescribe(world, patient, **twice_weekly_take_home(40))
    hand_over(world, clock, patient, MONDAY, outcome="collected")
    clock.set(at(TUE, 9, 15))
    lost = report(world, patient, kind="lost", dose_dates=[TUE.isoformat(), WED.isoformat()])
    assert lost.status_code == 201, lost.text
    return patient, str(rx["id"]), str(lost.json()["id"])


@pytest.mark.hazard("H-29.1", "H-29.2")
def test_a_split_days_evening_part_is_a_take_home_and_vomited_is_the_morning_part(
    world: World, clock: FixedClock
) -> None:
    _, patient = home_with_a_small_child(world, MONDAY - timedelta(days=3))
    prescribe(world, patient, dose_parts=SPLIT, direction_text=SPLIT_DIRECTION)
    hand_over(world, clock, patient, MONDAY)  # 40 mg swallowed here, 20 mg taken home

    # The morning part brought up: the exception is the 40 mg swallowed, not the evening's.
    clock.set(at(MONDAY, 11))
    vomited = report(
        world, patient, kind="vomited", dose_dates=[MONDAY.isoformat()], minutes_after=5
    )
    assert vomited.status_code == 201, vomited.text
    assert vomited.json()["dose_mg"] in ("40", "40.00")
    whole_day = replace(
        world, vomited.json()["id"], **authorised(MONDAY, dose_mg="60", not_intoxicated=True)
    )
    assert whole_day.status_code == 422, whole_day.text
    assert whole_day.json()["errors"][0]["field"] == "dose_mg"
    morning = replace(world, vomited.json()["id"], **authorised(MONDAY, not_intoxicated=True))
    assert morning.status_code == 201, morning.text
    assert morning.json()["dose_mg"] in ("40", "40.00")
    assert morning.json()["mode"] == "supervised"

    # The evening part went home: it can be lost like any take-home, only its 20 mg, and the
    # children's social worker and key worker hear of it urgently.
    clock.set(at(MONDAY, 15))
    lost = report(world, patient, kind="lost", dose_dates=[MONDAY.isoformat()])
    assert lost.status_code == 201, lost.text
    assert lost.json()["dose_mg"] in ("20", "20.00")
    assert lost.json()["volume_ml"] in ("20", "20.00")
    raised = [a for a in alerts(world, patient_id=patient) if a["id"] in lost.json()["alerts"]]
    (urgent,) = [a for a in raised if a["kind"] == "dose_lost_with_children"]
    assert urgent["severity"] == "urgent"
    assert "20 mL" in urgent["message"]
    assert {str(world.social_worker_id), str(world.key_worker_id)} <= deliveries_to(urgent)
    # The evening part is lost once; a supervised dose of one part still is not a take-home.
    again = report(world, patient, kind="stolen", dose_dates=[MONDAY.isoformat()])
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "exception_recorded"


@pytest.mark.hazard("H-29.1")
def test_a_replacement_goes_through_the_counters_checks(world: World, clock: FixedClock) -> None:
    # The box was seen 90 days before Monday: valid on Monday, expired from Tuesday.
    patient, _, lost = lost_on_tuesday(world, clock, MONDAY - timedelta(days=90))
    take_home = replace(world, lost, **authorised(TUE, acknowledged=AT_HOME))
    assert take_home.status_code == 422, take_home.text
    problem = take_home.json()
    assert problem["code"] == "no_lockable_box"
    assert problem["field"] == "mode"
    assert "no_lockable_box" in [b["code"] for b in problem["blocks"]]
    # As at the counter, the key worker hears that a take-home was refused for want of a box.
    refused_alerts = [a for a in alerts(world, patient_id=patient) if a["id"] in problem["alerts"]]
    assert [a["kind"] for a in refused_alerts] == ["take_home_blocked_no_box"]

    # The page offers the choice of supervised or take-home, the attestation, the warnings
    # and a note, each with its place for an error.
    page = signed_in(world, "pharmacist").page(f"/patients/{patient}/dose-exceptions")
    assert page.status_code == 200, page.text
    form = page.text[page.text.index(f'data-exception="{lost}"') :]
    for name in ("mode", "not_intoxicated", "acknowledged", "note", "dose_mg"):
        assert f'name="{name}"' in form
        assert f'data-field="{name}"' in form
    assert '<option value="take_home" selected>' in form

    # Supervised, it is swallowed here: at most one day's dose, with the attestation.
    two_days = replace(world, lost, **authorised(TUE, mode="supervised", not_intoxicated=True))
    assert two_days.status_code == 422, two_days.text
    assert two_days.json()["code"] == "supervised_more_than_a_day"
    assert two_days.json()["field"] == "dose_mg"
    unattested = replace(world, lost, **authorised(TUE, mode="supervised", dose_mg="40"))
    assert unattested.status_code == 422, unattested.text
    assert unattested.json()["errors"][0]["field"] == "not_intoxicated"
    intoxicated = replace(
        world, lost, **authorised(TUE, mode="supervised", dose_mg="40", not_intoxicated=False)
    )
    assert intoxicated.status_code == 422, intoxicated.text
    assert intoxicated.json()["code"] == "patient_intoxicated"
    assert intoxicated.json()["field"] == "not_intoxicated"
    one_day = replace(
        world, lost, **authorised(TUE, mode="supervised", dose_mg="40", not_intoxicated=True)
    )
    assert one_day.status_code == 201, one_day.text
    assert one_day.json()["dose_dates"] == [TUE.isoformat()]
    assert one_day.json()["label_job_id"] is None

    # The days have their exception: the refusal says to name the replacement instead, and a
    # replacement swallowed at the counter is no take-home to lose.
    clock.set(at(TUE, 16))
    lost_again = report(world, patient, kind="lost", dose_dates=[TUE.isoformat()])
    assert lost_again.status_code == 409, lost_again.text
    assert "replaced" in lost_again.json()["detail"]
    assert one_day.json()["id"] in lost_again.json()["detail"]
    named = report(world, patient, kind="lost", replacement_id=one_day.json()["id"])
    assert named.status_code == 409, named.text
    assert named.json()["code"] == "not_a_take_home"


@pytest.mark.hazard("H-29.1")
@pytest.mark.parametrize(
    ("change", "code"),
    [
        ("cancel", "prescription_not_active"),
        ("suspend", "prescription_not_active"),
        ("lapse", "missed_threshold_reached"),
    ],
)
def test_a_replacement_is_refused_when_the_counter_would_refuse_a_supply(
    world: World, clock: FixedClock, change: str, code: str
) -> None:
    patient, rx, _ = lost_on_tuesday(world, clock, MONDAY - timedelta(days=3))
    lost = world.get(f"{API}/patients/{patient}/dose-exceptions").json()["items"][0]["id"]
    when = TUE
    if change == "cancel":
        done = world.post(f"{API}/prescriptions/{rx}/cancel", {"reason": "Prescriber stopped it"})
        assert done.status_code == 200, done.text
    elif change == "suspend":
        done = world.post(
            f"{API}/patients/{patient}/suspend",
            {"from_date": TUE.isoformat(), "reason": "hospital"},
        )
        assert done.status_code == 200, done.text
    else:  # Thursday's collection never made: by Sunday, three days without a dose
        when = MONDAY + timedelta(days=6)
        for day in (THU, FRI, SAT):
            close_day(world, clock, day)
        clock.set(at(when, 9, 15))
    body = authorised(when, acknowledged=AT_HOME)
    refused = replace(world, lost, **body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == code
    assert refused.json()["detail"]
    assert code in [b["code"] for b in refused.json()["blocks"]]
    supervised = replace(
        world, lost, **{**body, "mode": "supervised", "dose_mg": "40", "not_intoxicated": True}
    )
    assert supervised.status_code == 422, supervised.text
    assert supervised.json()["code"] == code
    listed = world.get(f"{API}/patients/{patient}/dose-exceptions").json()["items"]
    assert listed[0]["replacement"] is None


@pytest.mark.hazard("H-29.2")
def test_the_prescriber_hears_of_repeated_exceptions_once_in_28_days(
    world: World, clock: FixedClock
) -> None:
    clock.set(at(MONDAY, 8))
    house = world.household()
    confirmed = world.post(f"{API}/households/{house['id']}/confirmations", {"note": "None"})
    assert confirmed.status_code == 201, confirmed.text
    patient = str(world.patient(house["id"], family_name="Repeatwindow")["id"])
    # 60 mg supervised Monday to Saturday (Sunday's taken home Saturday); a new form each
    # fortnight, received a few days before it starts.
    prescribe(world, patient)
    forms = {10: (14, 14, "eight hundred and forty"), 24: (28, 7, "four hundred and twenty")}

    def next_form(n: int) -> None:
        start, days, words = forms[n]
        first = MONDAY + timedelta(days=start)
        prescribe(
            world,
            patient,
            written_on=(MONDAY + timedelta(days=n)).isoformat(),
            start_on=first.isoformat(),
            end_on=(first + timedelta(days=days - 1)).isoformat(),
            total_quantity_ml=str(60 * days),
            total_quantity_words=words,
        )

    def day(n: int) -> date:
        return MONDAY + timedelta(days=n)

    def exception(n: int, hour: int, kind: str = "vomited") -> list[str]:
        clock.set(at(day(n), hour))
        extra = {"minutes_after": 10} if kind == "vomited" else {}
        made = report(world, patient, kind=kind, dose_dates=[day(n).isoformat()], **extra)
        assert made.status_code == 201, made.text
        return [
            a["id"]
            for a in alerts(world, patient_id=patient)
            if a["id"] in made.json()["alerts"] and a["kind"] == "repeated_dose_exceptions"
        ]

    def repeated() -> list[dict[str, Any]]:
        return [
            a for a in alerts(world, patient_id=patient) if a["kind"] == "repeated_dose_exceptions"
        ]

    for n in range(30):
        if day(n).weekday() == 6:  # Sunday: closed, taken home on Saturday
            continue
        hand_over(world, clock, patient, day(n))
        if n in forms:
            next_form(n)
        if n == 0:
            assert exception(0, 11) == []  # the first: no pattern yet
        elif n == 1:
            (first,) = exception(1, 11, "spilt")  # the second within 28 days: the prescriber
        elif n == 2:
            assert exception(2, 11) == [first]  # the third repeats that alert, not another
            assert len(repeated()) == 1
    # 28 days after the first alert the window has rolled on: the next pair is told again.
    (later,) = exception(29, 14)
    assert later != first
    assert len(repeated()) == 2
    assert str(world.prescriber_id) in deliveries_to([a for a in repeated() if a["id"] == later][0])
