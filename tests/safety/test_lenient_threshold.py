"""H-04.3 end to end: the prescriber's Home Office wording 3 ("consult the prescriber if 3 or
more consecutive days are missed") caps a pharmacy's more lenient local threshold at 3.

The module runs with a local threshold of 5 (its own `settings`), or 4 where a test says so."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from app.clock import FixedClock
from app.config import PolicySettings, Settings
from tests.builders import (
    API,
    MONDAY,
    alerts,
    at,
    check,
    close_day,
    codes,
    prescribe,
    supervised_daily,
)
from tests.factories import World


@pytest.fixture
def settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    """A local threshold of 5, or what the test names (`indirect` parametrisation)."""
    threshold = getattr(request, "param", 5)
    return settings.model_copy(update={"policy": PolicySettings(missed_threshold=threshold)})


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


def threshold_alerts(world: World, patient_id: str) -> list[dict[str, Any]]:
    return [
        a for a in alerts(world, patient_id=patient_id) if a["kind"] == "missed_threshold_reached"
    ]


@pytest.mark.hazard("H-04.3")
@pytest.mark.parametrize("settings", [4, 5], indirect=True, ids=["local-4", "local-5"])
def test_close_of_day_alerts_at_3_days_only_where_the_current_prescription_says_so(
    world: World, clock: FixedClock
) -> None:
    """The same cap in the evening's close: three patients missing Monday to Wednesday at a
    pharmacy whose local threshold is 4 or 5. The prescriber whose prescription carries wording 3 is
    told on Wednesday evening; for the patient without it nothing is due until the local threshold;
    nor for a patient whose prescription with the wording was cancelled and replaced by one
    without (only the current prescription directs)."""
    worded, plain, replaced = (world.patient() for _ in range(3))
    prescribe(world, worded["id"], **supervised(True))
    prescribe(world, plain["id"], **supervised(False))
    cancelled = prescribe(world, replaced["id"], **supervised(True))
    gone = world.post(
        f"{API}/prescriptions/{cancelled['id']}/cancel", {"reason": "Wrong wording entered"}
    )
    assert gone.status_code == 200, gone.text
    prescribe(world, replaced["id"], **supervised(False))
    for offset in range(3):
        day = MONDAY + timedelta(days=offset)
        clock.set(at(day, 19))
        close_day(world, day)

    assert [a["created_at"][:10] for a in threshold_alerts(world, worded["id"])] == [
        str(MONDAY + timedelta(days=2))
    ]
    assert threshold_alerts(world, plain["id"]) == []
    assert threshold_alerts(world, replaced["id"]) == []
