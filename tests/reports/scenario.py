"""The seed case, through the API: two methadone patients in one household, a child on a child
protection plan, missed days, a withheld dose (intoxicated, with the child at the counter),
take-homes and lockable-box confirmations, over the week of Monday 30 November 2026."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from app.clock import FixedClock
from tests.builders import MONDAY, prescribe
from tests.factories import World
from tests.register.support import API, at, close_day, hand_over, withhold

WEEK = [MONDAY + timedelta(days=n) for n in range(7)]  # Monday 30 November .. Sunday 6 December
PERIOD = (MONDAY - timedelta(days=2), WEEK[-1])  # from the suite's "today" to Sunday


def twice_weekly_take_home(mg: int = 40) -> dict[str, Any]:
    """Collect Monday and Thursday for the days to the next collection; nothing supervised."""
    return {
        "daily_dose_mg": str(mg),
        "total_quantity_ml": str(mg * 14),
        "total_quantity_words": "five hundred and sixty",
        "supervised_days": [],
        "collection_days": ["mon", "thu"],
        "wording": {"closed_day_prior": True},
        "direction_text": f"{mg}mg ({mg}ml) daily. Collect Monday and Thursday for the days to "
        "the next collection. If the pharmacy is closed, supply on the prior open day.",
    }


@dataclass
class SeedCase:
    household: dict[str, Any]
    child: dict[str, Any]
    mum: dict[str, Any]  # take-home twice a week
    dad: dict[str, Any]  # supervised Monday to Saturday, Sunday taken home on Saturday
    handovers: dict[str, list[dict[str, Any]]]  # patient id -> handover bodies
    acknowledged_alert: str


def seed_case(world: World, clock: FixedClock) -> SeedCase:
    household = world.household(address="14 Seed Street, Testtown")
    child = world.child(
        household["id"],
        name="C.S.",
        date_of_birth="2022-03-01",
        protection_status="child_protection_plan",
        social_worker_id=str(world.social_worker_id),
    )
    mum = world.patient(household["id"], given_name="Mary", family_name="Seed")
    dad = world.patient(household["id"], given_name="David", family_name="Seed")
    prescribe(world, mum["id"], **twice_weekly_take_home(40))
    dad_rx = prescribe(world, dad["id"])
    handovers: dict[str, list[dict[str, Any]]] = {mum["id"]: [], dad["id"]: []}
    mon, tue, wed, thu, fri, sat, _sun = WEEK

    clock.set(at(mon, 9))
    for body, path in (
        ({"seen_on": mon.isoformat(), "method": "shown_at_pharmacy"}, "box"),
        ({"note": "Seen at the counter with mum"}, "confirm"),
    ):
        url = (
            f"{API}/patients/{mum['id']}/box-confirmations"
            if path == "box"
            else f"{API}/households/{household['id']}/confirmations"
        )
        response = world.post(url, body)
        assert response.status_code == 201, response.text
    handovers[mum["id"]].append(
        hand_over(world, clock, mum["id"], mon, outcome="collected", children_present=[child["id"]])
    )
    handovers[dad["id"]].append(hand_over(world, clock, dad["id"], mon))
    feed = world.get(
        f"{API}/alerts",
        role="safeguarding_lead",
        params={"household_id": household["id"], "kind": "take_home_in_protected_household"},
    ).json()["items"]
    clock.set(at(mon, 12))
    acknowledged = world.post(
        f"{API}/alerts/{feed[0]['id']}/acknowledge",
        {"note": "Spoke to the social worker; plan reviewed"},
        role="safeguarding_lead",
    )
    assert acknowledged.status_code == 200, acknowledged.text
    close_day(world, clock, mon)
    close_day(world, clock, tue)  # dad missed
    close_day(world, clock, wed)  # dad missed again
    withhold(world, clock, dad["id"], thu, children_present=[child["id"]])
    handovers[mum["id"]].append(hand_over(world, clock, mum["id"], thu, outcome="collected"))
    close_day(world, clock, thu)
    # Tuesday to Thursday without a dose (the withheld Thursday counts): the counter refuses on
    # Friday morning until the prescriber has reviewed him.
    clock.set(at(fri, 8, 30))
    released = world.post(
        f"{API}/prescriptions/{dad_rx['id']}/release",
        {"note": "Reviewed by phone after 3 days without a dose; continue at 60 mg"},
        role="prescriber",
    )
    assert released.status_code == 201, released.text
    handovers[dad["id"]].append(hand_over(world, clock, dad["id"], fri))
    close_day(world, clock, fri)
    clock.set(at(sat, 9))
    box = world.post(
        f"{API}/patients/{dad['id']}/box-confirmations",
        {"seen_on": sat.isoformat(), "method": "shown_at_pharmacy"},
    )
    assert box.status_code == 201, box.text
    handovers[dad["id"]].append(hand_over(world, clock, dad["id"], sat))
    close_day(world, clock, sat)
    clock.set(at(WEEK[-1] + timedelta(days=1), 9))  # Monday 7 December: the report is asked for
    return SeedCase(household, child, mum, dad, handovers, feed[0]["id"])


def period_params() -> dict[str, str]:
    return {"from": PERIOD[0].isoformat(), "to": PERIOD[1].isoformat()}


def dates(*days: date) -> list[str]:
    return [d.isoformat() for d in days]
