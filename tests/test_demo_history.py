"""The demo's history (`scripts/run` seeds it): a newcomer can try every page and every block
with nothing but the demo data. What each role sees is asserted through the API and the pages,
as they would see it."""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.clock import SystemClock, local_date
from app.db import UnitOfWork, make_session_factory
from app.demo import DEMO_PASSWORD, seed
from app.main import create_app
from tests.databases import build_database, drop_database
from tests.test_demo import demo_settings

API = "/api/v1"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    db = build_database(f"dk_story_{uuid.uuid4().hex[:10]}", tmp_path_factory.mktemp("story"))
    settings = demo_settings(db)
    summary = seed(UnitOfWork(make_session_factory(db.engine)), settings, history=True)
    assert "Pending second check: Billie Ash" in summary
    # issue 20 §1: replaced on authorisation, or refused as the counter would refuse it
    assert "reported lost" in summary
    app = create_app(settings, make_session_factory(db.engine))  # the real clock, as served
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
    db.engine.dispose()
    drop_database(db.url)


def signed_in(client: TestClient, username: str) -> dict[str, str]:
    token = client.post(f"{API}/auth/token", data={"username": username, "password": DEMO_PASSWORD})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def patient(client: TestClient, who: dict[str, str], name: str) -> dict[str, Any]:
    family = name.split()[-1]
    found = client.get(f"{API}/patients", params={"q": family}, headers=who).json()["items"]
    (match,) = [p for p in found if f"{p['given_name']} {p['family_name']}" == name]
    return match


def test_the_blocked_patient_is_refused_at_the_counter_until_the_prescriber_reviews(
    client: TestClient,
) -> None:
    pharmacist = signed_in(client, "pharmacist")
    jamie = patient(client, pharmacist, "Jamie Reed")

    decision = client.post(
        f"{API}/counter/check", json={"patient_id": jamie["id"]}, headers=pharmacist
    ).json()

    assert decision["allowed"] is False
    assert "missed_threshold_reached" in [b["code"] for b in decision["blocks"]]
    assert decision["last_dose"]["days_without_dose"] == 3


def test_the_withheld_day_shows_on_the_prescribers_pages_with_the_same_figures(
    client: TestClient,
) -> None:
    prescriber = signed_in(client, "prescriber")
    frankie = patient(client, prescriber, "Frankie Moss")
    today = local_date(SystemClock().now(), "Europe/London")

    days = client.get(
        f"{API}/patients/{frankie['id']}/adherence",
        params={"from": (today - timedelta(days=3)).isoformat(), "to": today.isoformat()},
        headers=prescriber,
    ).json()["days"]
    states = {d["dose_date"]: d["state"] for d in days}
    assert states[(today - timedelta(days=2)).isoformat()] == "withheld"
    assert states[(today - timedelta(days=1)).isoformat()] == "supervised"

    caseload = client.get("/prescriber", headers=prescriber).text
    row = re.search(r"Frankie Moss</a></td>(.*?)</tr>", caseload, re.S)
    assert row is not None
    cells = re.findall(r"<td>(.*?)</td>", row.group(1), re.S)
    missed, withheld = cells[2], cells[3]
    page = client.get(f"/prescriber/patients/{frankie['id']}", headers=prescriber).text
    assert f"Missed: {missed}; withheld: {withheld};" in page
    assert withheld == "1"
    jamie = patient(client, prescriber, "Jamie Reed")
    page = client.get(f"/prescriber/patients/{jamie['id']}", headers=prescriber).text
    assert "Missed: 3; withheld: 0;" in page


def test_the_lead_sees_acknowledged_alerts_with_their_notes_and_last_nights_escalated(
    client: TestClient,
) -> None:
    lead = signed_in(client, "safeguarding")
    alerts = client.get(f"{API}/alerts", params={"limit": 100}, headers=lead).json()["items"]
    by_state: dict[str, list[dict[str, Any]]] = {}
    for alert in alerts:
        by_state.setdefault(alert["state"], []).append(alert)

    (escalated,) = by_state["escalated"]
    assert escalated["kind"] == "missed_threshold_reached"
    assert escalated["severity"] == "urgent"
    assert {a["kind"] for a in by_state["acknowledged"]} >= {
        "dose_withheld_intoxicated",
        "missed_dose",
    }
    detail = client.get(f"{API}/alerts/{by_state['acknowledged'][0]['id']}", headers=lead).json()
    notes = [h["note"] for h in detail["history"] if h["action"] == "acknowledged"]
    assert notes
    assert "key worker" in notes[0]
    inbox = client.get("/safeguarding", headers=lead).text
    assert re.search(r"acknowledged by <strong>Pat Lead</strong>, .*?: “Demo: spoke", inbox)


def test_a_prescription_waits_for_its_second_check(client: TestClient) -> None:
    pharmacist = signed_in(client, "pharmacist")
    billie = patient(client, pharmacist, "Billie Ash")

    (prescription,) = client.get(
        f"{API}/patients/{billie['id']}/prescriptions", headers=pharmacist
    ).json()["items"]

    assert prescription["status"] == "pending_check"
    decision = client.post(
        f"{API}/counter/check", json={"patient_id": billie["id"]}, headers=pharmacist
    ).json()
    assert decision["allowed"] is False


def test_todays_dosing_sheet_marks_the_blocked_patient(client: TestClient) -> None:
    """The README sends a newcomer to the outage sheet: Jamie is on it, marked not to supply."""
    pharmacist = signed_in(client, "pharmacist")
    sheet = client.get("/counter/sheet.csv", headers=pharmacist)
    assert sheet.status_code == 200, sheet.text
    rows = {
        f"{r['given_name']} {r['family_name']}": r for r in csv.DictReader(io.StringIO(sheet.text))
    }
    assert "without a dose" in rows["Jamie Reed"]["blocks"]
    assert rows["Morgan Marsh"]["mode"] == "supervised"


def test_the_patient_in_hospital_is_refused_at_the_counter_naming_the_admission(
    client: TestClient,
) -> None:
    """The README sends a newcomer to Sasha: suspended two days ago for a hospital admission,
    nothing missed since, and the resume form on her prescription's page."""
    pharmacist = signed_in(client, "pharmacist")
    sasha = patient(client, pharmacist, "Sasha Wren")
    today = local_date(SystemClock().now(), "Europe/London")

    decision = client.post(
        f"{API}/counter/check", json={"patient_id": sasha["id"]}, headers=pharmacist
    ).json()
    (block,) = [b for b in decision["blocks"] if b["code"] == "prescription_not_active"]
    assert block["message"].startswith("Suspended since ")
    assert "(hospital admission) — do not supply" in block["message"]
    (event,) = client.get(f"{API}/patients/{sasha['id']}/suspensions", headers=pharmacist).json()[
        "items"
    ]
    assert (event["change"], event["reason"]) == ("suspended", "hospital")
    assert event["effective_on"] == (today - timedelta(days=2)).isoformat()
    days = client.get(
        f"{API}/patients/{sasha['id']}/adherence",
        params={"from": (today - timedelta(days=5)).isoformat(), "to": today.isoformat()},
        headers=pharmacist,
    ).json()["days"]
    assert days, "supplied before the admission"
    assert all(d["state"] != "missed" for d in days), days  # nor since: those days are no one's
    page = client.get(f"/prescriptions/{event['prescription_id']}", headers=pharmacist).text
    assert "Resume the prescription today" in page
    assert (
        "Resume all of this patient&#39;s prescriptions today"
        in client.get(f"/patients/{sasha['id']}", headers=pharmacist).text
    )


def test_frankie_is_dosed_at_hillside_as_a_guest_from_today(client: TestClient) -> None:
    pharmacist = signed_in(client, "pharmacist")
    hillside = signed_in(client, "hillside")
    frankie = patient(client, pharmacist, "Frankie Moss")

    (stay,) = client.get(f"{API}/guest-grants", headers=hillside).json()["items"]
    assert stay["patient"]["id"] == frankie["id"]
    # From today, or from Monday when the seed ran at the weekend (Hillside is shut then).
    today = local_date(SystemClock().now(), "Europe/London")
    assert stay["live"] is (stay["from_date"] == today.isoformat())
    assert stay["home_pharmacy"]["name"] == "Riverside Community Pharmacy (demo)"
    at_hillside = client.post(
        f"{API}/counter/check", json={"patient_id": frankie["id"]}, headers=hillside
    )
    at_home = client.post(
        f"{API}/counter/check", json={"patient_id": frankie["id"]}, headers=pharmacist
    ).json()
    if stay["live"]:
        assert at_hillside.status_code == 200, at_hillside.text
        assert "dosed_at_guest_pharmacy" in [b["code"] for b in at_home["blocks"]]
    else:  # not begun: Frankie is unknown at Hillside until then
        assert at_hillside.status_code == 404
    # Nothing else of Frankie's record opens at Hillside.
    assert client.get(f"{API}/patients/{frankie['id']}", headers=hillside).status_code == 404
