"""No methadone leaves without a lawful label, end to end: a take-home whose label would lack a
legal field is refused over HTTP (422 `label_refused`, naming the field) and nothing of it is
recorded: no dose, no CD register line, no label or print job, no alert, nothing printed.

The API refuses a blank pharmacy name or address, but the pharmacy service does not (and rows
written before that check, or by a script, may hold one): the pharmacy is made through the
service, as tests/factories.py makes every pharmacy, with the field blank.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import func, select

from app.clock import FixedClock
from app.labelling.models import Label, PrintJob
from tests.builders import FROM_SATURDAY, SUNDAY_LABEL_DAY, prescribe
from tests.factories import Branch, World, make_branch, make_contact
from tests.register.support import PRODUCT

API = "/api/v1"


def take_home_body(patient_id: str) -> dict[str, Any]:
    """Saturday's supervised dose and Sunday's take-home, every prompt answered."""
    return {
        "patient_id": patient_id,
        "date": "2026-12-05",
        "outcome": "supervised",
        "intoxicated": False,
        "acknowledged": ["dose_changed"],
        "override": {"code": "children_not_confirmed", "reason": "Lives alone, confirmed"},
    }


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


@pytest.mark.parametrize(
    ("pharmacy", "field", "named"),
    [
        ({"address": ""}, "pharmacy_address", "pharmacy address"),
        ({"name": "  "}, "pharmacy_name", "pharmacy name"),
    ],
)
@pytest.mark.hazard("H-08.2")
def test_a_label_missing_a_legal_field_refuses_the_take_home_and_records_nothing(
    world: World, clock: FixedClock, pharmacy: dict[str, str], field: str, named: str
) -> None:
    branch: Branch = make_branch(
        world.uow,
        world.settings,
        contacts={
            "key_worker": make_contact(world.uow, "key_worker"),
            "prescriber": make_contact(world.uow, "prescriber"),
        },
        **pharmacy,
    )
    patient = world.patient(branch=branch)
    prescribe(world, patient["id"], branch=branch, **FROM_SATURDAY)
    clock.set(SUNDAY_LABEL_DAY)
    check = world.post(f"{API}/counter/check", {"patient_id": patient["id"]}, branch=branch)
    assert check.json()["allowed"] is False, "the decision itself does not look at the label"
    assert [b["code"] for b in check.json()["blocks"]] == ["children_not_confirmed"]
    register_before = world.get(f"{API}/register", branch=branch, params={"product": PRODUCT})
    assert register_before.status_code == 200, register_before.text

    refused = world.post(f"{API}/counter/handover", take_home_body(patient["id"]), branch=branch)

    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["code"] == "label_refused"
    assert problem["field"] == field
    assert named in problem["detail"]

    days = world.get(
        f"{API}/patients/{patient['id']}/adherence",
        branch=branch,
        params={"from": "2026-12-05", "to": "2026-12-06"},
    ).json()["days"]
    assert [d["state"] for d in days] == ["due", "due"], "a dose was recorded"
    register_after = world.get(f"{API}/register", branch=branch, params={"product": PRODUCT})
    assert register_after.json() == register_before.json(), "a register line was written"
    alerts = world.get(
        f"{API}/alerts",
        role="safeguarding_lead",
        branch=branch,
        params={"patient_id": patient["id"]},
    ).json()["items"]
    assert alerts == [], "the override's alert outlived the refused handover"
    patient_id = UUID(patient["id"])
    with world.uow as uow:
        labels = uow.session.scalar(
            select(func.count()).select_from(Label).where(Label.patient_id == patient_id)
        )
        jobs = uow.session.scalar(
            select(func.count())
            .select_from(PrintJob)
            .join(Label, Label.id == PrintJob.label_id)
            .where(Label.patient_id == patient_id)
        )
    assert (labels, jobs) == (0, 0)
    assert files_under(world.settings.data_dir / "labels") == [], "something was printed"
