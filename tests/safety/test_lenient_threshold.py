"""H-04.3 end to end: the prescriber's Home Office wording 3 ("consult the prescriber if 3 or
more consecutive days are missed") caps a pharmacy's more lenient local threshold at 3.

The module runs with a local threshold of 5 (its own `settings`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from app.clock import FixedClock
from app.config import PolicySettings, Settings
from tests.dosing.test_counter_api import at, check, close_day, codes, prescribe, supervised_daily
from tests.factories import World
from tests.prescriptions.test_api import MONDAY


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"policy": PolicySettings(missed_threshold=5)})


def supervised(consult_after_3_missed: bool) -> dict[str, Any]:
    wording = {
        "supervise_on_collection": True,
        "closed_day_prior": True,
        "consult_after_3_missed": consult_after_3_missed,
    }
    return {**supervised_daily(60), "wording": wording}


@pytest.mark.hazard("H-04.3")
@pytest.mark.parametrize(("wording", "blocked"), [(True, True), (False, False)])
def test_the_home_office_wording_3_caps_a_lenient_local_threshold(
    world: World, clock: FixedClock, wording: bool, blocked: bool
) -> None:
    patient = world.patient()
    prescribe(world, patient["id"], **supervised(wording))
    for offset in range(3):
        day = MONDAY + timedelta(days=offset)
        clock.set(at(day, 19))
        close_day(world, day)
    clock.set(at(MONDAY + timedelta(days=3)))

    decision = check(world, patient["id"])

    assert decision["last_dose"]["days_without_dose"] == 3
    assert ("missed_threshold_reached" in codes(decision["blocks"])) is blocked, decision
