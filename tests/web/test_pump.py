"""The dose pump on the counter page: "Dispense on pump" beside the handover measures today's
dose on a simulated pump (a real pty) and fills what it measured into the handover form, which
refuses a short measure and records a matching one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from app.pharmacies.models import Pharmacy
from devices import SerialPump
from devices.pump_simulator import PumpBehaviour, PumpSimulator
from tests.web.browser import counter_ready, describe, open_patient, serious_violations, sign_in
from tests.web.live import LiveServer

pytestmark = pytest.mark.browser


@pytest.fixture
def pump(live: LiveServer) -> Iterator[PumpSimulator]:
    """The served app with a pump on a pty for this test only."""
    app = live.server.config.app
    pharmacy_id = live.user("pharmacist").pharmacy_id
    with live.uow:
        pharmacy = live.uow.session.get(Pharmacy, pharmacy_id)
        assert pharmacy is not None
        ods = pharmacy.ods_code
    with PumpSimulator() as simulator:
        # The pharmacy's own pump (DOSEKEEPER_PUMP_URLS), by its ODS code.
        app.state.pumps = {ods: SerialPump(simulator.path, ack_timeout=1.0, dispense_timeout=2.0)}
        try:
            yield simulator
        finally:
            app.state.pumps = {}


def test_the_pump_fills_the_measured_volume_into_the_handover(
    page: Page, live: LiveServer, pump: PumpSimulator
) -> None:
    patient = live.add_supervised_patient("Robin")
    sign_in(page, "pharmacist")
    counter_ready(page)
    open_patient(page, patient.card_code, f"Robin {patient.family_name}")

    page.get_by_role("button", name="Dispense on pump").click()
    measured = page.get_by_label("Measured by the pump (mL)")
    expect(measured).to_have_value("40.00")
    expect(page.locator("#pump-status .banner.green")).to_contain_text(
        "The pump measured 40.00 mL, as asked, for the supervised dose"
    )
    assert pump.received[-1].startswith("DISPENSE 40.00 ")
    violations = serious_violations(page)
    assert not violations, describe(violations)

    pump.behaviour = PumpBehaviour.SHORT
    page.get_by_role("button", name="Dispense on pump").click()
    expect(measured).to_have_value("38.50")
    expect(page.locator("#pump-status .banner.red")).to_contain_text("do not hand this over")

    # The handover takes the pump's figure and refuses a short measure.
    page.get_by_label("I have checked: the patient is not intoxicated").check()
    page.get_by_role("button", name="Record supervised dose").click()
    expect(page.locator("#action-status")).to_contain_text("The pump reports 38.5")

    pump.behaviour = PumpBehaviour.SILENT
    page.get_by_role("button", name="Dispense on pump").click()
    expect(page.locator("#pump-status .banner.red")).to_contain_text("did not answer")
    expect(measured).to_have_value("")

    pump.behaviour = PumpBehaviour.EXACT
    page.get_by_role("button", name="Dispense on pump").click()
    expect(measured).to_have_value("40.00")
    page.get_by_role("button", name="Record supervised dose").click()
    expect(page.locator("#action-status")).to_have_text("Recorded: 1 day(s), 40 mg.")
