"""Adherence for a prescriber's or key worker's caseload (JSON and CSV), and the commissioner's
summary, on the seed-case week."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from app.clock import FixedClock
from tests.factories import World
from tests.register.support import API
from tests.reports.scenario import period_params, seed_case


def test_the_caseload_report_is_the_signed_in_clinicians_patients(
    world: World, clock: FixedClock
) -> None:
    case = seed_case(world, clock)
    other = world.patient(key_worker_id=None, prescriber_id=None)  # not on this caseload
    response = world.get(f"{API}/reports/caseload", role="key_worker", params=period_params())
    assert response.status_code == 200, response.text
    body = response.json()
    rows = {r["patient_id"]: r for r in body["items"]}
    assert set(rows) == {case.mum["id"], case.dad["id"]}
    assert other["id"] not in rows
    dad = rows[case.dad["id"]]
    assert {k: dad[k] for k in ("supervised", "collected", "missed", "withheld")} == {
        "supervised": 3,
        "collected": 1,
        "missed": 2,
        "withheld": 1,
    }
    assert Decimal(str(dad["attended_percent"])) == Decimal("57.1")
    # Tuesday to Thursday without a dose: the withheld Thursday counts (issue 14 #11).
    assert (dad["longest_missed_streak"], dad["current_missed_streak"]) == (3, 0)
    # The last visit (Saturday), not the last dose date (Sunday's dose went home on Saturday).
    assert dad["last_attended"] == "2026-12-05"
    assert (dad["collected"], dad["take_home_collections"]) == (1, 1)
    assert "withheld" in body["definitions"]["longest_missed_streak"]
    assert dad["product"] == "methadone-1mg-ml"
    assert dad["open_alerts"] >= 1
    assert body["totals"]["patients"] == 2
    assert body["totals"]["missed"] == 2

    exported = world.get(f"{API}/reports/caseload.csv", role="prescriber", params=period_params())
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(exported.text)))
    assert {r["patient_id"] for r in table} == {case.mum["id"], case.dad["id"]}
    assert next(r for r in table if r["patient_id"] == case.dad["id"])["missed"] == "2"


def test_only_prescribers_and_key_workers_have_a_caseload(world: World) -> None:
    for role in ("pharmacist", "technician", "safeguarding_lead", "admin"):
        response = world.get(f"{API}/reports/caseload", role=role)
        assert response.status_code == 403, (role, response.text)


def test_the_commissioner_summary_counts_without_naming_anyone(
    world: World, clock: FixedClock
) -> None:
    case = seed_case(world, clock)
    response = world.get(f"{API}/reports/commissioner", params=period_params())
    assert response.status_code == 200, response.text
    body = response.json()
    months = {m["month"]: m for m in body["months"]}
    assert set(months) == {"2026-11", "2026-12"}
    # Monday 30 November is in November: dad's first supervised dose and mum's Monday.
    assert months["2026-11"] == {
        "month": "2026-11",
        "supervised": 1,
        "take_home": 1,
        "missed": 0,
        "withheld": 0,
        "households_with_children_on_take_homes": 1,
    }
    assert months["2026-12"] == {
        "month": "2026-12",
        "supervised": 2,
        "take_home": 7,  # mum's Tuesday to Sunday and dad's Sunday
        "missed": 2,
        "withheld": 1,
        "households_with_children_on_take_homes": 1,
    }
    assert body["households_with_children_on_take_homes"] == 1
    assert body["box_confirmation"] == {
        "take_home_collections_with_young_children": 3,
        "with_valid_box": 3,
        "rate_percent": 100.0,
    }
    urgent = body["alert_acknowledgement"]["urgent"]
    assert urgent["acknowledged"] == 1
    assert urgent["raised"] >= 2
    assert urgent["median_minutes"] is not None
    text = response.text
    for name in ("Seed", case.mum["nhs_number"], case.household["address"]):
        assert name not in text

    # An admin may name the pharmacy; another pharmacy's staff may not.
    admin = world.get(
        f"{API}/reports/commissioner",
        role="admin",
        params={**period_params(), "pharmacy_id": str(world.home.pharmacy_id)},
    )
    assert admin.status_code == 200, admin.text
    assert admin.json()["months"] == body["months"]
    foreign = world.get(
        f"{API}/reports/commissioner",
        branch=world.away,
        params={**period_params(), "pharmacy_id": str(world.home.pharmacy_id)},
    )
    assert foreign.status_code == 404, foreign.text
    assert world.get(f"{API}/reports/commissioner", role="prescriber").status_code == 403
