"""The dosing sheet printed for an outage (issue 19 §5, in part): replayed over a week with
close-day each evening, printed at the close for the next day, as the pharmacist would read it
on paper: who is due, the daily dose, supervised or take-home, the children at home and the box,
and every reason not to supply as it stood when printed. Also as CSV, and audited."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.clock import FixedClock
from tests.builders import MONDAY, prescribe, signed_in, twice_weekly_take_home
from tests.factories import World
from tests.register.support import at, close_day, hand_over

MON, TUE, WED, THU = (MONDAY + timedelta(days=n) for n in range(4))


@pytest.mark.hazard("H-25.1")
def test_the_sheet_printed_at_close_shows_tomorrows_doses_and_every_reason_to_stop(
    world: World, clock: FixedClock
) -> None:
    household = world.household()
    world.child(
        household["id"],
        date_of_birth="2023-04-01",
        protection_status="child_protection_plan",
        social_worker_id=str(world.social_worker_id),
    )
    mum = world.patient(household["id"], given_name="Ava", family_name="Sheetwood")
    dad = world.patient(household["id"], given_name="Ben", family_name="Sheetwood")
    lone = world.patient(given_name="=HYPERLINK(1)", family_name="Absentley")
    clock.set(at(MON, 8))
    prescribe(world, mum["id"])  # 60 mg, supervised Monday to Saturday
    prescribe(world, dad["id"], **twice_weekly_take_home(40))
    prescribe(world, lone["id"])
    for day in (MON, TUE, WED):
        hand_over(world, clock, mum["id"], day)
        close_day(world, clock, day)  # the lone patient never comes: three days missed
    clock.set(at(WED, 19, 30))
    browser = signed_in(world, "pharmacist")
    sheet = browser.page(f"/counter/sheet?date={THU.isoformat()}")
    assert sheet.status_code == 200, sheet.text
    text = sheet.text
    assert "Dosing sheet for Thu 03/12/2026" in text
    assert "Sheetwood, Ava" in text
    assert "Sheetwood, Ben" in text
    assert "60 mg (60 mL) daily" in text
    assert "<strong>Supervised</strong>: swallowed in front of you" in text
    # The father's Thursday collection: four days home to a child of 3 on a plan.
    assert "<strong>Take-home</strong>: 4 days, 03/12/2026 to 06/12/2026" in text
    assert "1 child at home, youngest 3; 1 known to social care" in text
    assert "Lockable box: not seen" in text
    assert "Do not supply:" in text  # the father: no box seen for a take-home
    # The patient who missed three days: blocked on paper as at the counter.
    row = text[text.index("Absentley") :].split("</tr>")[0]
    assert "Do not supply:" in row
    assert "3 consecutive days without a dose taken" in row

    # The same sheet as CSV: one line per patient, names made safe for a spreadsheet.
    download = browser.page(f"/counter/sheet.csv?date={THU.isoformat()}")
    assert download.status_code == 200, download.text
    assert download.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert [(r["family_name"], r["mode"]) for r in rows] == [
        ("Absentley", "supervised"),
        ("Sheetwood", "supervised"),
        ("Sheetwood", "take_home"),
    ]
    assert rows[0]["given_name"] == "'=HYPERLINK(1)"
    assert rows[0]["blocks"]
    assert rows[2]["children_known_to_social_care"] == "1"
    assert rows[2]["dose_dates"].split() == [
        (THU + timedelta(days=n)).isoformat() for n in range(4)
    ]

    # Printing it is a read of each patient listed: the audit names them.
    with world.uow as uow:
        printed = uow.session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "counter.dosing_sheet_printed",
                AuditEvent.entity_id == str(world.home.pharmacy_id),
            )
        ).all()
    listed = [set(e.facts["patients"]) for e in printed]
    assert listed == [{mum["id"], dad["id"], lone["id"]}] * 2


@pytest.mark.hazard("H-25.1")
def test_another_pharmacys_patients_are_not_on_the_sheet_and_an_admin_has_none(
    world: World, clock: FixedClock
) -> None:
    elsewhere = world.patient(branch=world.away, family_name="Awaybranch")
    clock.set(at(MON, 8))
    prescribe(world, elsewhere["id"], branch=world.away)
    sheet = signed_in(world, "pharmacist").page(f"/counter/sheet?date={MON.isoformat()}")
    assert sheet.status_code == 200, sheet.text
    assert "Awaybranch" not in sheet.text
    technician = signed_in(world, "technician").page("/counter/sheet")
    assert technician.status_code == 200, technician.text
    admin = signed_in(world, "admin").page("/counter/sheet")
    assert admin.status_code == 403, admin.text
    assert '"code"' not in admin.text


def test_a_date_that_is_not_a_date_is_a_sentence_not_a_crash(world: World) -> None:
    page = signed_in(world, "pharmacist").page("/counter/sheet?date=31/02/2026")
    assert page.status_code == 422, page.text
    assert "<html" in page.text.lower()
    assert '"errors"' not in page.text
