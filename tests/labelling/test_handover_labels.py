"""Take-home handovers print lawful labels after the dose commits; printer faults lose nothing."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.clock import FixedClock
from app.labelling.content import DANGER, KEEP_AWAY
from devices import open_printer
from tests.builders import FROM_SATURDAY, SUNDAY_LABEL_DAY, take_home
from tests.builders import prescribe as active
from tests.factories import World
from tests.notify.receivers import free_port


@pytest.mark.hazard("H-02.1", "H-08.1")
def test_a_take_home_prints_a_label_with_every_legal_field(world: World, clock: FixedClock) -> None:
    patient = world.patient()
    active(world, patient["id"], **FROM_SATURDAY)
    clock.set(SUNDAY_LABEL_DAY)
    response = take_home(world, patient)
    assert response.status_code == 201, response.text
    jobs = response.json()["label"]["jobs"]
    assert [j["state"] for j in jobs] == ["printed"]
    preview = jobs[0]["preview"]
    for text in ("Methadone", patient["family_name"], "60 mL (60 mg)", "Sun 6 Dec 2026", KEEP_AWAY):
        assert text in preview.replace("\n", " "), text
    assert DANGER.split(":")[0] in preview
    label = world.get(f"/api/v1/labels/{jobs[0]['label_id']}").json()
    assert label["dose_dates"] == ["2026-12-06"]


@pytest.mark.hazard("H-08.3", "H-16.1")
def test_a_printer_that_is_off_leaves_the_dose_recorded_and_the_label_reprintable(
    world: World, clock: FixedClock, client: TestClient
) -> None:
    patient = world.patient()
    active(world, patient["id"], **FROM_SATURDAY)
    clock.set(SUNDAY_LABEL_DAY)
    app = client.app
    working = app.state.printer  # type: ignore[attr-defined]
    app.state.printer = open_printer(  # type: ignore[attr-defined]
        f"tcp://127.0.0.1:{free_port()}?timeout=0.5", preview_dir=world.settings.data_dir
    )
    try:
        response = take_home(world, patient)
    finally:
        app.state.printer = working  # type: ignore[attr-defined]
    assert response.status_code == 201, response.text
    job = response.json()["label"]["jobs"][0]
    assert job["state"] == "failed"
    assert job["error"]
    states = world.get(
        f"/api/v1/patients/{patient['id']}/adherence",
        params={"from": "2026-12-05", "to": "2026-12-06"},
    ).json()["days"]
    assert [d["state"] for d in states] == ["supervised", "collected"]
    reprinted = world.post(f"/api/v1/labels/{job['label_id']}/reprint", {})
    assert reprinted.status_code == 201, reprinted.text
    assert reprinted.json()["state"] == "printed"
    assert reprinted.json()["reprint"] is True
    assert "REPRINT" in reprinted.json()["preview"]


@pytest.mark.hazard("H-01.2")
def test_scanning_another_patients_label_flags_the_wrong_bottle(
    world: World, clock: FixedClock
) -> None:
    first, second = world.patient(), world.patient()
    active(world, first["id"], **FROM_SATURDAY)
    clock.set(SUNDAY_LABEL_DAY)
    code = take_home(world, first).json()["label"]["jobs"][0]["code"]
    right = world.post("/api/v1/counter/scan", {"code": code, "patient_id": first["id"]}).json()
    assert right["matches_patient"] is True
    wrong = world.post("/api/v1/counter/scan", {"code": code, "patient_id": second["id"]}).json()
    assert wrong["matches_patient"] is False
    assert wrong["accepted"] is False
    assert "WRONG BOTTLE" in wrong["message"]
    card = world.post("/api/v1/counter/scan", {"code": first["card_code"]}).json()
    assert card["patient_id"] == first["id"]
    assert card["decision"]["blocks"][0]["code"] == "already_recorded"
