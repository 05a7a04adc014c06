"""The pharmacy's contribution to a child-protection conference for the seed-case household:
every event exactly once, in time order, and figures computed from them (DESIGN §1.7, §4)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from app.clock import FixedClock
from tests.factories import World
from tests.register.support import API
from tests.reports.scenario import PERIOD, WEEK, period_params, seed_case


def report(world: World, household_id: str, role: str = "pharmacist", **kw: Any) -> Any:
    return world.get(
        f"{API}/households/{household_id}/conference-report",
        role=role,
        params=period_params(),
        **kw,
    )


def alert_ids(world: World, **params: str) -> set[str]:
    response = world.get(f"{API}/alerts", role="safeguarding_lead", params={"limit": 200, **params})
    assert response.status_code == 200, response.text
    return {a["id"] for a in response.json()["items"]}


def test_the_seed_case_chronology_has_every_event_once_in_time_order(
    world: World, clock: FixedClock
) -> None:
    case = seed_case(world, clock)
    response = report(world, case.household["id"], role="safeguarding_lead")
    assert response.status_code == 200, response.text
    body = response.json()
    events = body["chronology"]
    mum, dad = case.mum["id"], case.dad["id"]
    mon, tue, wed, thu, fri, sat, sun = (d.isoformat() for d in WEEK)

    # Exactly once: no record appears twice, and the kinds are what happened that week.
    assert len({(e["kind"], e["source"]) for e in events}) == len(events)
    by_kind = Counter(e["kind"] for e in events if e["kind"] != "alert")
    assert by_kind == {
        "supervised": 3,
        "take_home_collected": 3,
        "missed": 2,
        "intoxicated": 1,
        "child_seen": 2,
        "box_confirmed": 2,
        # The prescriber's review on Friday after three days without a dose, and the child
        # recorded in the household at the start of the period.
        "released": 1,
        "changed": 1,
    }
    # In time order: by the day each event concerns, then the instant it was recorded.
    keys = [(e["day"], datetime.fromisoformat(e["at"])) for e in events]
    assert keys == sorted(keys)

    def days_of(kind: str, patient: str) -> list[str]:
        return [e["day"] for e in events if e["kind"] == kind and e["patient_id"] == patient]

    assert days_of("supervised", dad) == [mon, fri, sat]
    assert days_of("missed", dad) == [tue, wed]
    assert days_of("intoxicated", dad) == [thu]
    take_homes = [e for e in events if e["kind"] == "take_home_collected"]
    assert [(e["patient_id"], e["dose_dates"], Decimal(str(e["dose_mg"]))) for e in take_homes] == [
        (mum, [mon, tue, wed], Decimal(120)),
        (mum, [thu, fri, sat, sun], Decimal(160)),
        (dad, [sun], Decimal(60)),
    ]
    assert "120 mg (120 mL)" in take_homes[0]["summary"]
    seen = [(e["patient_id"], e["day"]) for e in events if e["kind"] == "child_seen"]
    assert seen == [(mum, mon), (dad, thu)]
    assert [(e["patient_id"], e["day"]) for e in events if e["kind"] == "box_confirmed"] == [
        (mum, mon),
        (dad, sat),
    ]
    # Every alert about the household or its members is in, once; the acknowledged one says so.
    expected = alert_ids(world, household_id=case.household["id"])
    expected |= alert_ids(world, patient_id=mum) | alert_ids(world, patient_id=dad)
    listed = [e for e in events if e["kind"] == "alert"]
    assert {e["source"].removeprefix("alert:") for e in listed} == expected
    kinds = {e["details"]["alert_kind"] for e in listed}
    assert {
        "take_home_in_protected_household",
        "missed_dose",
        "dose_withheld_intoxicated",
        "intoxicated_with_child_present",
    } <= kinds
    acknowledged = next(e for e in listed if e["source"] == f"alert:{case.acknowledged_alert}")
    assert acknowledged["details"]["minutes_to_acknowledge"] is not None

    # The analysis is computed from the chronology.
    analysis = body["analysis"]
    per_patient = {p["patient_ref"]: p for p in analysis["patients"]}
    assert {k: per_patient[dad][k] for k in ("decided_days", "attended_days", "missed_days")} == {
        "decided_days": 7,
        "attended_days": 4,
        "missed_days": 2,
    }
    assert per_patient[dad]["withheld_days"] == 1
    assert Decimal(str(per_patient[dad]["attendance_percent"])) == Decimal("57.1")
    assert per_patient[dad]["longest_gap_days"] == 3  # Tuesday, Wednesday missed; Thursday withheld
    assert per_patient[dad]["trend"] == "improving"
    assert Decimal(str(per_patient[mum]["attendance_percent"])) == Decimal(100)
    assert Decimal(str(analysis["attendance_percent"])) == Decimal("78.6")  # 11 of 14 dose days
    assert analysis["longest_gap_days"] == 3
    assert (analysis["intoxicated_events"], analysis["child_seen_events"]) == (1, 2)
    assert Decimal(str(analysis["take_home_mg"])) == Decimal(340)
    assert analysis["alerts_acknowledged"] == 1
    assert any("longest run" in s for s in analysis["statements"])
    assert [c["protection_status"] for c in body["children"]] == ["child_protection_plan"]
    assert {m["id"] for m in body["members"]} == {mum, dad}
    assert (body["from"], body["to"]) == tuple(d.isoformat() for d in PERIOD)


def test_the_printable_report_lists_the_same_chronology(world: World, clock: FixedClock) -> None:
    case = seed_case(world, clock)
    data = report(world, case.household["id"]).json()
    page = world.get(
        f"{API}/households/{case.household['id']}/conference-report.html", params=period_params()
    )
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert html.count("<tr class=") == len(data["chronology"])
    assert "child protection plan" in html
    assert "David Seed" in html
    assert "The longest run of consecutive dose days without a dose was 3 days." in html


@pytest.mark.hazard("H-10.1")
def test_another_pharmacy_or_a_clinician_cannot_have_the_report(
    world: World, clock: FixedClock
) -> None:
    household = world.household()
    foreign = report(world, household["id"], branch=world.away)
    assert foreign.status_code == 404, foreign.text
    html = world.get(
        f"{API}/households/{household['id']}/conference-report.html", branch=world.away
    )
    assert html.status_code == 404, html.text
    assert report(world, household["id"], role="key_worker").status_code == 403
    empty = report(world, household["id"])
    assert empty.status_code == 200, empty.text
    assert empty.json()["chronology"] == []
    assert empty.json()["analysis"]["trend"] == "too few days"
