"""A take-home label as the printer receives it: the app, configured with
`DOSEKEEPER_PRINTER_URL=tcp://127.0.0.1:<port>` (the printer setting, as a deployment sets it),
hands over a take-home through the HTTP API; the label goes over TCP to emupos, an independent
ESC/POS printer simulator on 127.0.0.1, and what emupos decoded from the bytes is checked for
every legal field and both child warnings.

Expected wording is written out here, not imported from app.labelling.content, so a change to
what is printed has to change this test too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.clock import FixedClock
from app.config import Settings
from tests.builders import FROM_SATURDAY, SUNDAY_LABEL_DAY, fp10mda, take_home
from tests.builders import prescribe as active
from tests.devices.simulator import Emupos, emupos_interpreter, run_emupos
from tests.factories import World


@pytest.fixture(scope="module")
def emupos_python() -> Path:
    return emupos_interpreter()


@pytest.fixture(scope="module")
def emupos(emupos_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emupos]:
    with run_emupos(emupos_python, tmp_path_factory.mktemp("emupos")) as daemon:
        yield daemon


@pytest.fixture
def settings(settings: Settings, emupos: Emupos) -> Settings:
    """The suite's settings with the printer setting pointing at emupos: the app builds its
    printer from this URL in create_app, as it does when served."""
    return settings.model_copy(update={"printer_url": emupos.printer_url})


def flowed(text: str) -> str:
    """The receipt's words on one line: the printer wraps at 48 columns wherever it must."""
    return " ".join(text.split())


@pytest.mark.hazard("H-08.1")
def test_a_take_home_label_printed_over_tcp_reads_back_with_every_legal_field(
    world: World, clock: FixedClock, emupos: Emupos
) -> None:
    patient = world.patient()
    prescription = fp10mda(world, patient["id"], **FROM_SATURDAY)
    active(world, patient["id"], **FROM_SATURDAY)
    pharmacy = world.get(f"/api/v1/pharmacies/{world.home.pharmacy_id}").json()
    clock.set(SUNDAY_LABEL_DAY)  # Saturday 5 December: Sunday's dose goes home
    before = len(emupos.receipts())

    response = take_home(world, patient)

    assert response.status_code == 201, response.text
    [job] = response.json()["label"]["jobs"]
    assert job["state"] == "printed", job
    printed = emupos.wait_for_receipt(before + 1)
    assert len(emupos.receipts()) == before + 1  # one container, one label
    text = flowed(printed)
    legal = {
        "patient": f"{patient['given_name']} {patient['family_name']}",
        "pharmacy name": pharmacy["name"],
        "pharmacy address": pharmacy["address"],
        "date of supply": "Supplied Sat 5 Dec 2026",
        "medicine and strength": "Methadone 1mg/mL oral solution",
        "dose in mL and mg": "Take 60 mL (60 mg) ONCE a day.",
        "directions": flowed(prescription["direction_text"]),
        "quantity": "Quantity: 60 mL = 60 mg",
        "days covered": "For: Sun 6 Dec 2026",
        "children warning": "Keep out of the sight and reach of children.",
        "danger to children": (
            "Methadone can kill a child: less than 10 mL can seriously poison a small child."
        ),
    }
    missing = {field: wording for field, wording in legal.items() if wording not in text}
    assert missing == {}, printed
    label = world.get(f"/api/v1/labels/{job['label_id']}").json()
    assert printed.splitlines()[-1] == f"[barcode CODE128 {job['code']}]"
    assert label["jobs"][0]["printer"] == emupos.printer_url
    assert "?" not in text  # python-escpos turns what it cannot encode into "?"
