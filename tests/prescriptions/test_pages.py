"""The prescription and register pages as the server renders them: who is offered which form,
which prescriptions wait for a check, and bad input answered in a sentence on a page."""

from __future__ import annotations

import pytest

from tests.builders import audit_facts, fp10mda, signed_in
from tests.factories import World

API = "/api/v1"


def pending(world: World, **kw: object) -> str:
    branch = kw.pop("branch", None)
    patient = world.patient(branch=branch) if branch else world.patient()
    created = world.post(f"{API}/prescriptions", fp10mda(world, patient["id"]), branch=branch)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def test_each_page_that_names_a_patient_logs_the_read(world: World) -> None:
    rx = pending(world)
    patient_id = world.get(f"{API}/prescriptions/{rx}").json()["patient_id"]
    browser = signed_in(world, "pharmacist")
    for path in (
        "/prescriptions",
        f"/prescriptions/{rx}",
        f"/patients/{patient_id}/prescriptions/new",
    ):
        assert browser.page(path).status_code == 200, path
    seen = {facts["by"] for facts in audit_facts(world, patient_id, "patient.listed")}
    assert seen == {"prescriptions_pending", "prescription_check", "prescription_intake"}


def test_the_pending_list_shows_this_pharmacys_prescriptions_until_they_are_checked(
    world: World,
) -> None:
    ours = pending(world)
    theirs = pending(world, branch=world.away)
    browser = signed_in(world, "pharmacist")

    listed = browser.page("/prescriptions")
    assert listed.status_code == 200, listed.text
    assert f'data-prescription="{ours}"' in listed.text
    assert theirs not in listed.text
    assert "(you)" in listed.text  # entered by this pharmacist: someone else checks it

    checked = world.post(f"{API}/prescriptions/{ours}/verify", {}, role="pharmacist2")
    assert checked.status_code == 200, checked.text
    assert ours not in browser.page("/prescriptions").text


def test_the_check_screen_offers_verify_to_pharmacists_and_cancel_not_to_technicians(
    world: World,
) -> None:
    rx = pending(world)
    mine = signed_in(world, "pharmacist").page(f"/prescriptions/{rx}")
    assert mine.status_code == 200, mine.text
    assert 'id="verify"' in mine.text
    assert "a different pharmacist must check it" in mine.text
    assert 'id="cancel"' in mine.text
    assert 'id="schedule"' in mine.text

    technician = signed_in(world, "technician").page(f"/prescriptions/{rx}")
    assert technician.status_code == 200, technician.text
    assert 'id="verify"' not in technician.text
    assert 'id="cancel"' not in technician.text
    assert 'id="supersede"' in technician.text

    intake = signed_in(world, "technician").page(
        f"/patients/{world.patient()['id']}/prescriptions/new"
    )
    assert intake.status_code == 200, intake.text
    assert "Last dose taken" not in intake.text  # a pharmacist's record


@pytest.mark.parametrize(
    ("role", "path"),
    [
        ("prescriber", "/register"),
        ("prescriber", "/prescriptions"),
        ("key_worker", "/prescriptions"),
        ("safeguarding_lead", "/prescriptions"),
    ],
)
def test_a_role_without_the_job_gets_a_page_saying_so(world: World, role: str, path: str) -> None:
    page = signed_in(world, role).page(path)
    assert page.status_code == 403
    assert "text/html" in page.headers["content-type"]
    assert "may not" in page.text


def test_the_register_is_read_only_for_the_safeguarding_lead(world: World) -> None:
    page = signed_in(world, "safeguarding_lead").page("/register")
    assert page.status_code == 200, page.text
    assert 'id="read-only"' in page.text
    assert 'id="receipt"' not in page.text
    technician = signed_in(world, "technician").page("/register")
    assert 'id="receipt"' in technician.text
    assert 'id="correction"' not in technician.text  # a pharmacist corrects


@pytest.mark.parametrize(
    ("path", "sentence"),
    [
        ("/register?product=%3Cscript%3Ealert(1)%3C/script%3E", "is not a Schedule 2 product"),
        ("/register?product=" + "x" * 65, "Product must be at most 64 characters."),
        ("/register?corrects=12", "Corrects does not name a record."),
        ("/prescriptions/not-an-id", "Prescription id does not name a record."),
        ("/patients/not-an-id/prescriptions/new", "Patient id does not name a record."),
    ],
)
def test_bad_input_on_a_page_is_a_sentence_not_json(world: World, path: str, sentence: str) -> None:
    page = signed_in(world, "pharmacist").page(path)
    assert page.status_code in (404, 422), page.text
    assert "text/html" in page.headers["content-type"]
    assert sentence in page.text
    assert "<script>alert" not in page.text
    assert '"errors"' not in page.text
