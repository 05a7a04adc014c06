"""Prescription intake through the HTTP API: transcribe, refuse, warn, check, list (DESIGN §3).

The pure intake and schedule rules are table- and property-tested in test_rules.py; these tests
pin what a pharmacy sees through the API on a real database: the schedule rows, the codes,
the second-person check, tenancy, and that a refusal writes nothing.

The suite's "now" is Saturday 28 November 2026; the home pharmacy opens Monday to Saturday.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import func, select

from app.clock import FixedClock
from app.prescriptions.models import Prescription
from tests.builders import (
    ALL_DAYS,
    API,
    BY_HAND,
    MON_SAT,
    MONDAY,
    active,
    at,
    audit_actions,
    codes,
    counts,
    d,
    daily,
    form,
    ledger,
    rows,
    transcribe,
    verify,
)
from tests.factories import World

SUN_1 = date(2026, 12, 6)
SUN_2 = date(2026, 12, 13)

# --- 1. the "done when" -----------------------------------------------------------


def test_the_real_fp10mda_becomes_the_hand_written_schedule_once_checked(world: World) -> None:
    patient = world.patient()
    created = transcribe(world, daily(world, patient["id"]))
    assert created["status"] == "pending_check"
    # 60 mg for a patient new to Dosekeeper is above the usual starting dose.
    assert [(w["code"], w["field"]) for w in created["warnings"]] == [
        ("first_dose_high", "daily_dose_mg")
    ]
    assert rows(created["schedule"]) == [(dd, c, m, Decimal(60), "planned") for dd, c, m in BY_HAND]
    assert {s["dose_ml"] for s in created["schedule"]} == {"60.00"}
    assert ledger(world, patient["id"]) == []  # the ledger waits for the check

    checked = verify(world, created["id"])
    assert checked["status"] == "active"
    assert checked["verified_by_id"] == str(world.home.users["pharmacist2"])
    assert checked["entered_by_id"] == str(world.home.users["pharmacist"])
    expected = [(dd, c, m, Decimal(60), "due") for dd, c, m in BY_HAND]
    assert rows(checked["schedule"]) == expected

    got = world.get(f"{API}/prescriptions/{created['id']}")
    assert got.status_code == 200, got.text
    assert rows(got.json()["schedule"]) == expected
    assert got.json()["collection_days"] == ALL_DAYS
    assert got.json()["supervised_days"] == MON_SAT
    assert got.json()["wording"]["closed_day_prior"] is True
    schedule = world.get(f"{API}/prescriptions/{created['id']}/schedule")
    assert schedule.status_code == 200, schedule.text
    assert rows(schedule.json()["items"]) == expected
    assert schedule.json()["next"] is None
    assert ledger(world, patient["id"]) == [
        (date.fromisoformat(dd), date.fromisoformat(c), m, "due", created["id"])
        for dd, c, m in BY_HAND
    ]
    assert audit_actions(world, created["id"])[:2] == [
        "prescription.transcribed",
        "prescription.verified",
    ]


@pytest.mark.hazard("H-12.2")
def test_without_the_closed_day_wording_it_is_refused_and_the_prescriber_is_asked(
    world: World,
) -> None:
    patient = world.patient()
    before = counts(world)
    body = daily(world, patient["id"], wording={}, direction_text="60mg (60ml) daily.")
    response = world.post(f"{API}/prescriptions", body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "prescription_refused"
    assert codes(problem["blocks"]) == ["closed_day_needs_amended_prescription"]
    assert problem["blocks"][0]["dates"] == [d(SUN_1), d(SUN_2)]
    assert "Sunday 6 December 2026" in problem["blocks"][0]["message"]
    assert "Sunday 13 December 2026" in problem["blocks"][0]["message"]

    # Nothing but the request to the prescriber is written.
    after = counts(world)
    assert after == {**before, "alerts": before["alerts"] + 1}
    with world.uow:
        assert (
            world.uow.session.scalar(
                select(func.count())
                .select_from(Prescription)
                .where(Prescription.patient_id == UUID(patient["id"]))
            )
            == 0
        )
    alerts = world.get(f"{API}/alerts", params={"patient_id": patient["id"]}).json()["items"]
    assert [a["kind"] for a in alerts] == ["closed_day_needs_amended_prescription"]
    assert alerts[0]["recipients"] == ["prescriber"]
    assert alerts[0]["facts"]["closed_dose_days"] == 2
    assert {(x["contact_id"], x["channel"]) for x in alerts[0]["deliveries"]} == {
        (str(world.prescriber_id), "email")
    }
    # The prescriber sees it in their own feed.
    mine = world.get(f"{API}/alerts", role="prescriber", params={"patient_id": patient["id"]})
    assert [a["id"] for a in mine.json()["items"]] == [alerts[0]["id"]]
    assert world.get(f"{API}/patients/{patient['id']}/prescriptions").json()["items"] == []


# --- 2. invalid forms ----------------------------------------------------------------------

INVALID: list[tuple[str, dict[str, Any], list[tuple[str, str | None]]]] = [
    (
        "start after end",
        {"end_on": "2026-11-29"},
        [("start_after_end", "end_on")],
    ),
    (
        "dates a year and more in the past",
        {
            "written_on": "2025-10-01",
            "start_on": "2025-10-06",
            "end_on": "2025-10-19",
        },
        [
            ("first_supply_window", "start_on"),
            ("date_out_of_range", "written_on"),
            ("date_out_of_range", "start_on"),
            ("date_out_of_range", "end_on"),
        ],
    ),
    (
        "start months ahead",
        {"start_on": "2027-03-01", "end_on": "2027-03-14"},
        [("date_out_of_range", "start_on")],
    ),
    (
        "signed in the future, after the start",
        {"written_on": "2026-12-01"},
        [("written_after_start", "written_on"), ("date_out_of_range", "written_on")],
    ),
    ("zero dose", {"daily_dose_mg": "0"}, [("dose_out_of_range", "daily_dose_mg")]),
    ("negative dose", {"daily_dose_mg": "-60"}, [("dose_out_of_range", "daily_dose_mg")]),
    (
        "absurd dose",
        {"daily_dose_mg": "1001"},
        [("dose_out_of_range", "daily_dose_mg")],
    ),
    ("unknown product", {"product": "methadone-5mg-ml"}, [("unknown_product", "product")]),
    (
        "not instalment-eligible",
        {
            "product": "pregabalin-75mg-capsule",
            "daily_dose_mg": "150",
            "total_quantity_ml": "28",
            "total_quantity_words": "twenty-eight capsules",
        },
        [("not_instalment_eligible", "product")],
    ),
    (
        "collection days outside the prescription",
        {
            "end_on": "2026-12-02",
            "total_quantity_ml": "180",
            "total_quantity_words": "one hundred and eighty",
            "collection_days": ["thu"],
            "supervised_days": [],
        },
        [("dose_before_first_collection", "start_on")],
    ),
    (
        "supervised on a day nothing is collected",
        {"collection_days": ["mon", "thu"], "supervised_days": ["mon", "tue"]},
        [("supervised_days_invalid", "supervised_days")],
    ),
    (
        "FP10MDA over 14 days",
        {
            "end_on": "2026-12-14",
            "total_quantity_ml": "900",
            "total_quantity_words": "nine hundred",
        },
        [("too_many_days", "end_on")],
    ),
    (
        "words are not the figures",
        {"total_quantity_words": "eight hundred"},
        [("schedule_inconsistent", "total_quantity_words")],
    ),
    (
        "figures are not the instalments",
        {"total_quantity_ml": "800", "total_quantity_words": "eight hundred"},
        [("schedule_inconsistent", "total_quantity_ml")],
    ),
    (
        "figures typed as words",
        {"total_quantity_words": "840"},
        [("quantity_words_unreadable", "total_quantity_words")],
    ),
]


def test_an_invalid_form_is_refused_naming_the_fault_and_writes_nothing(world: World) -> None:
    """One world for the whole table: building one costs more than the posts."""
    patient = world.patient()
    for name, change, expected in INVALID:
        before = counts(world)
        response = world.post(f"{API}/prescriptions", daily(world, patient["id"], **change))
        assert response.status_code == 422, (name, response.text)
        problem = response.json()
        assert problem["code"] == "prescription_refused", name
        assert [(b["code"], b["field"]) for b in problem["blocks"]] == expected, name
        assert all(b["message"] and b["source"] for b in problem["blocks"]), name
        assert counts(world) == before, name


@pytest.mark.hazard("H-13.1")
def test_every_fault_is_named_at_once(world: World) -> None:
    patient = world.patient()
    before = counts(world)
    body = daily(
        world,
        patient["id"],
        product="pregabalin-75mg-capsule",
        daily_dose_mg="1500",
        written_on="2026-12-05",
        end_on="2026-12-20",
        total_quantity_ml="500",
        total_quantity_words="four hundred",
        collection_days=["mon", "thu"],
        supervised_days=["mon", "tue"],
        direction_text=None,
    )
    response = world.post(f"{API}/prescriptions", body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert codes(problem["blocks"]) == [
        "missing_field",
        "too_many_days",
        "schedule_inconsistent",
        "not_instalment_eligible",
        "written_after_start",
        "date_out_of_range",
        "dose_out_of_range",
        "supervised_days_invalid",
    ]
    assert [(b["code"], b["field"]) for b in problem["blocks"]][0] == (
        "missing_field",
        "direction_text",
    )
    assert counts(world) == before


@pytest.mark.hazard("H-13.1")
def test_a_form_with_nothing_on_it_names_every_missing_element(world: World) -> None:
    patient = world.patient()
    before = counts(world)
    body = {"patient_id": patient["id"], "prescriber_id": str(world.prescriber_id)}
    response = world.post(f"{API}/prescriptions", body)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "prescription_refused"
    assert {b["code"] for b in problem["blocks"]} == {"missing_field"}
    assert [b["field"] for b in problem["blocks"]] == [
        "product",
        "form_type",
        "written_on",
        "daily_dose_mg",
        "total_quantity_ml",
        "total_quantity_words",
        "collection_days",
        "start_on",
        "end_on",
        "direction_text",
    ]
    assert counts(world) == before


def test_each_missing_element_is_named(world: World) -> None:
    patient = world.patient()
    for missing, message in (
        ("total_quantity_ml", "given in words"),
        ("total_quantity_words", "given in figures"),
        ("daily_dose_mg", "As directed"),
        ("form_type", "not valid without it"),
        ("written_on", "not valid without it"),
        ("collection_days", "not valid without it"),
        ("product", "not valid without it"),
    ):
        body = daily(world, patient["id"])
        del body[missing]
        if missing == "collection_days":
            body["supervised_days"] = []  # else named too: supervised but never collected
        response = world.post(f"{API}/prescriptions", body)
        assert response.status_code == 422, (missing, response.text)
        blocks = response.json()["blocks"]
        assert [(b["code"], b["field"]) for b in blocks] == [("missing_field", missing)]
        assert message in blocks[0]["message"], missing


@pytest.mark.hazard("H-13.1")
def test_the_first_supply_window_is_checked_at_intake_and_again_at_the_check(
    world: World, clock: FixedClock
) -> None:
    """Written 26 November, starting 30 November: day 28 is 28 December."""
    patient = world.patient()
    before = counts(world)
    clock.set(at(date(2026, 12, 29)))
    late = world.post(f"{API}/prescriptions", daily(world, patient["id"]))
    assert late.status_code == 422, late.text
    assert [(b["code"], b["field"]) for b in late.json()["blocks"]] == [
        ("first_supply_window", "start_on")
    ]
    assert "Monday 28 December 2026" in late.json()["blocks"][0]["message"]
    assert counts(world) == before

    clock.set(at(date(2026, 12, 28)))
    created = transcribe(world, daily(world, patient["id"]))
    clock.set(at(date(2026, 12, 29)))
    checked = world.post(f"{API}/prescriptions/{created['id']}/verify", {}, role="pharmacist2")
    assert checked.status_code == 422, checked.text
    assert codes(checked.json()["blocks"]) == ["first_supply_window"]
    assert world.get(f"{API}/prescriptions/{created['id']}").json()["status"] == "pending_check"
    assert ledger(world, patient["id"]) == []


BAD_INPUT: list[tuple[dict[str, Any], str, str]] = [
    ({"daily_dose_mg": "sixty"}, "daily_dose_mg", "decimal_parsing"),
    ({"daily_dose_mg": [60]}, "daily_dose_mg", "decimal_type"),
    ({"start_on": "30/11/2026"}, "start_on", "date_from_datetime_parsing"),
    ({"collection_days": ["monday"]}, "collection_days.0", "literal_error"),
    ({"supervised_days": "mon"}, "supervised_days", "list_type"),
    ({"form_type": "FP10"}, "form_type", "enum"),
    ({"wording": {"closed_day_prior": "perhaps"}}, "wording.closed_day_prior", "bool_parsing"),
    ({"wording": {"closed_days": True}}, "wording.closed_days", "extra_forbidden"),
    ({"frequency": "daily"}, "frequency", "extra_forbidden"),
    ({"patient_id": "not-a-uuid"}, "patient_id", "uuid_parsing"),
    ({"patient_id": None}, "patient_id", "uuid_type"),
]


def test_bad_input_is_refused_naming_the_field(world: World) -> None:
    patient = world.patient()
    for change, field, rule in BAD_INPUT:
        before = counts(world)
        response = world.post(f"{API}/prescriptions", daily(world, patient["id"]) | change)
        assert response.status_code == 422, (change, response.text)
        problem = response.json()
        assert problem["code"] == "invalid_input", change
        assert [(e["field"], e["rule"]) for e in problem["errors"]] == [(field, rule)], change
        assert counts(world) == before, change


def test_who_the_prescription_is_for_and_from_must_be_known(world: World) -> None:
    home = world.patient()
    foreign = world.patient(branch=world.away, key_worker_id=None, prescriber_id=None)
    before = counts(world)

    elsewhere = world.post(f"{API}/prescriptions", daily(world, foreign["id"]))
    assert elsewhere.status_code == 404, elsewhere.text
    assert elsewhere.json()["code"] == "not_found"
    missing = "00000000-0000-4000-8000-000000000000"
    nobody = world.post(f"{API}/prescriptions", daily(world, missing))
    assert nobody.status_code == 404, nobody.text
    assert nobody.json() | {"instance": None, "detail": None} == elsewhere.json() | {
        "instance": None,
        "detail": None,
    }

    unknown = world.post(f"{API}/prescriptions", daily(world, home["id"], prescriber_id=missing))
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["code"] == "not_found"

    key_worker = daily(world, home["id"], prescriber_id=str(world.key_worker_id))
    wrong_kind = world.post(f"{API}/prescriptions", key_worker)
    assert wrong_kind.status_code == 422, wrong_kind.text
    assert wrong_kind.json()["code"] == "invalid_input"
    assert [(e["field"], e["rule"]) for e in wrong_kind.json()["errors"]] == [
        ("prescriber_id", "contact_kind")
    ]
    assert counts(world) == before


def test_only_pharmacy_staff_transcribe(world: World) -> None:
    patient = world.patient()
    for role in ("prescriber", "key_worker", "safeguarding_lead", "admin"):
        response = world.post(f"{API}/prescriptions", daily(world, patient["id"]), role=role)
        assert response.status_code == 403, (role, response.text)
        assert response.json()["code"] == "permission_denied", role


# --- 3. warnings -----------------------------------------------------------------------------


@pytest.mark.hazard("H-02.2")
def test_a_high_first_dose_warns_of_both(world: World) -> None:
    patient = world.patient()
    created = transcribe(world, form(world, patient["id"], MONDAY, 14, dose_mg=120))
    assert codes(created["warnings"]) == ["high_dose", "first_dose_high"]
    assert all(w["message"] and w["source"] for w in created["warnings"])
    got = world.get(f"{API}/prescriptions/{created['id']}").json()
    assert codes(got["warnings"]) == ["high_dose", "first_dose_high"]


def test_a_new_patient_on_a_usual_starting_dose_has_no_warning(world: World) -> None:
    patient = world.patient()
    created = transcribe(world, form(world, patient["id"], MONDAY, 14, dose_mg=30))
    assert created["warnings"] == []


@pytest.mark.hazard("H-02.2")
def test_a_large_increase_over_the_previous_prescription_warns(world: World) -> None:
    patient = world.patient()
    active(world, daily(world, patient["id"]))
    following = MONDAY + timedelta(days=14)
    nudge = transcribe(world, form(world, patient["id"], following, 14, dose_mg=70))
    assert nudge["warnings"] == []  # +10 mg is within guidance
    world.post(f"{API}/prescriptions/{nudge['id']}/cancel", {"reason": "entered twice"})
    jump = transcribe(world, form(world, patient["id"], following, 14, dose_mg=80))
    assert codes(jump["warnings"]) == ["large_increase"]
    assert "60 mg to 80 mg" in jump["warnings"][0]["message"]


def test_methadone_for_a_patient_on_diazepam_warns_of_the_pair(world: World) -> None:
    patient = world.patient()
    diazepam = daily(
        world,
        patient["id"],
        product="diazepam-5mg-tablet",
        daily_dose_mg="10",
        total_quantity_ml="28",
        total_quantity_words="twenty-eight tablets",
        direction_text="Diazepam 5mg tablets, 10mg (two tablets) daily. Dispense instalments "
        "due on pharmacy closed days on a prior suitable day.",
    )
    first = active(world, diazepam)
    assert first["warnings"] == []
    methadone = transcribe(world, daily(world, patient["id"]))
    assert codes(methadone["warnings"]) == ["first_dose_high", "benzodiazepine_coprescribed"]


# --- 4. the second-person check ---------------------------------------------------------


@pytest.mark.hazard("H-02.4", "H-13.2")
def test_the_check_needs_a_second_pharmacist(world: World) -> None:
    patient = world.patient()
    # A technician may transcribe, but the last dose taken is a pharmacist's to record.
    body = daily(world, patient["id"])
    body.pop("last_dose")
    created = transcribe(world, body, role="technician")
    path = f"{API}/prescriptions/{created['id']}/verify"

    technician = world.post(path, {}, role="technician")
    assert technician.status_code == 403, technician.text
    assert technician.json()["code"] == "permission_denied"
    prescriber = world.post(path, {}, role="prescriber")
    assert prescriber.status_code == 403, prescriber.text
    foreign = world.post(path, {}, branch=world.away)
    assert foreign.status_code == 404, foreign.text
    assert foreign.json()["code"] == "not_found"
    assert ledger(world, patient["id"]) == []

    checked = world.post(path, {})  # a pharmacist who did not transcribe it
    assert checked.status_code == 200, checked.text
    assert checked.json()["status"] == "active"
    again = world.post(path, {}, role="pharmacist2")
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "not_pending_check"
    assert len(ledger(world, patient["id"])) == 14


@pytest.mark.hazard("H-02.4", "H-13.2")
def test_the_transcriber_cannot_check_their_own_work(world: World, clock: FixedClock) -> None:
    patient = world.patient()
    created = transcribe(world, daily(world, patient["id"]))
    own = world.post(f"{API}/prescriptions/{created['id']}/verify", {})
    assert own.status_code == 403, own.text
    assert own.json()["code"] == "second_person_required"
    assert world.get(f"{API}/prescriptions/{created['id']}").json()["status"] == "pending_check"
    assert ledger(world, patient["id"]) == []
    # Not supplied before the check.
    clock.set(at(MONDAY))
    check = world.post(f"{API}/counter/check", {"patient_id": patient["id"]})
    assert check.status_code == 200, check.text
    assert check.json()["allowed"] is False
    # (The counter adds not_due_today, as the unchecked prescription has no ledger rows yet.)
    assert codes(check.json()["blocks"])[0] == "prescription_not_active"


# --- 8. listing and tenancy ----------------------------------------------------------------


def test_a_patients_prescriptions_are_listed_for_those_who_may_see_them(world: World) -> None:
    patient = world.patient()
    first = active(world, daily(world, patient["id"]))
    second = transcribe(world, form(world, patient["id"], MONDAY + timedelta(days=14), 14))
    path = f"{API}/patients/{patient['id']}/prescriptions"
    for role in ("pharmacist", "technician", "prescriber", "key_worker", "admin"):
        listed = world.get(path, role=role)
        assert listed.status_code == 200, (role, listed.text)
        items = listed.json()["items"]
        assert [(p["id"], p["status"]) for p in items] == [
            (second["id"], "pending_check"),
            (first["id"], "active"),
        ], role
        assert listed.json()["next"] is None

    for role in ("pharmacist", "technician", "prescriber", "key_worker", "safeguarding_lead"):
        for url in (
            path,
            f"{API}/prescriptions/{first['id']}",
            f"{API}/prescriptions/{first['id']}/schedule",
        ):
            foreign = world.get(url, role=role, branch=world.away)
            assert foreign.status_code == 404, (role, url, foreign.text)
            assert foreign.json()["code"] == "not_found"
            assert set(foreign.json()) == {"type", "title", "status", "code", "instance", "detail"}


def test_every_read_of_a_prescription_is_audited(world: World) -> None:
    patient = world.patient()
    created = transcribe(world, daily(world, patient["id"]))
    world.get(f"{API}/prescriptions/{created['id']}")
    world.get(f"{API}/prescriptions/{created['id']}/schedule", role="technician")
    assert audit_actions(world, created["id"]) == [
        "prescription.transcribed",
        "prescription.viewed",
        "prescription.viewed",
    ]
