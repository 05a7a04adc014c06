"""The products in use (issue 20 §3) through the API, on SQLite and PostgreSQL: a buprenorphine
patient's fortnight under buprenorphine's own missed-dose threshold, a concentrate that the
checking pharmacist must acknowledge, sugar-free and standard methadone kept apart on the label
and in the register, and the product list (hazard H-31).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from app.clock import FixedClock
from app.config import PolicySettings, Settings
from app.main import create_app
from app.prescriptions.products import PRODUCTS
from tests.builders import (
    FROM_SATURDAY,
    MONDAY,
    SUNDAY_LABEL_DAY,
    alerts,
    check,
    codes,
    fp10mda,
    prescribe,
    take_home,
)
from tests.factories import World
from tests.register.support import API, at, close_day, hand_over

FORTNIGHT = [MONDAY + timedelta(days=n) for n in range(14)]
SF = "methadone-1mg-ml-sf"
STANDARD = "methadone-1mg-ml"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Buprenorphine stops at 4 days without a dose here; methadone keeps the general 3."""
    policy = PolicySettings(missed_threshold_by_drug={"buprenorphine": 4})
    return settings.model_copy(update={"policy": policy})


def buprenorphine(**overrides: Any) -> dict[str, Any]:
    """8 mg sublingual daily for 14 days, supervised Monday to Saturday, Sunday's on Saturday."""
    return {
        "product": "buprenorphine-8mg-tablet",
        "daily_dose_mg": "8",
        "total_quantity_ml": "14",
        "total_quantity_words": "fourteen",
        "direction_text": "8mg (one 8mg tablet) daily under the tongue. Supervised consumption "
        "Mon-Sat. Sunday dose to be collected on Saturday.",
        **overrides,
    }


def missed_threshold_alerts(world: World, patient_id: str) -> int:
    return len(
        [a for a in alerts(world, patient_id=patient_id) if a["kind"] == "missed_threshold_reached"]
    )


@pytest.mark.hazard("H-31.3")
def test_a_buprenorphine_fortnight_follows_buprenorphines_own_threshold(
    world: World, clock: FixedClock
) -> None:
    """Both patients come on Monday and Tuesday and stay away from Wednesday. Methadone stops
    after 3 days without a dose, buprenorphine (set to 4 here) a day later; each counter says
    what the streak means for its drug; after the prescriber's review buprenorphine goes on."""
    # Households without children: Saturday's take-home needs no box.
    bup = world.patient(world.household()["id"], given_name="Bea", family_name="Sublingual")
    meth = world.patient(
        world.household(address="9 Other Road, Testtown")["id"],
        given_name="Max",
        family_name="Solution",
    )
    bup_rx = prescribe(world, bup["id"], **buprenorphine())
    prescribe(world, meth["id"])
    mon, tue, wed, thu, fri, sat, sun = FORTNIGHT[:7]
    seen: dict[str, list[int]] = {"bup": [], "meth": []}

    for day in FORTNIGHT:
        clock.set(at(day, 9))
        if day in (mon, tue):
            hand_over(world, clock, bup["id"], day)
            hand_over(world, clock, meth["id"], day)
        if day == sat:
            # Three days without (Wed-Fri): methadone is stopped, buprenorphine not yet.
            meth_decision = check(world, meth["id"])
            bup_decision = check(world, bup["id"])
            assert codes(meth_decision["blocks"]) == ["missed_threshold_reached"]
            assert (
                "the usual dose could now cause an overdose"
                in meth_decision["blocks"][0]["message"]
            )
            assert bup_decision["allowed"] is True, bup_decision
            assert bup_decision["last_dose"]["days_without_dose"] == 3
        if day == FORTNIGHT[7]:  # the second Monday: four days without, buprenorphine stopped
            decision = check(world, bup["id"])
            assert codes(decision["blocks"]) == ["missed_threshold_reached"], decision
            message = decision["blocks"][0]["message"]
            assert message.startswith("5 consecutive days without a dose taken")
            assert "re-induction" in message
            assert "overdose" not in message
            released = world.post(
                f"{API}/prescriptions/{bup_rx['id']}/release",
                {"note": "Seen today; continue at 8 mg"},
                role="prescriber",
            )
            assert released.status_code == 201, released.text
        if day > FORTNIGHT[7] and day.weekday() < 6:
            hand_over(world, clock, bup["id"], day)
        if day.weekday() < 6:  # the pharmacy opens Monday to Saturday
            close_day(world, clock, day)
        seen["bup"].append(missed_threshold_alerts(world, bup["id"]))
        seen["meth"].append(missed_threshold_alerts(world, meth["id"]))

    # The first alert comes on the evening the streak reaches the drug's own threshold:
    # methadone on Friday (Wed, Thu, Fri), buprenorphine on Saturday (Wed to Sat).
    assert seen["meth"][:5] == [0, 0, 0, 0, 1]
    assert seen["bup"][:6] == [0, 0, 0, 0, 0, 1]
    # Supplied every open day after the review: no new alert for buprenorphine.
    assert seen["bup"][-1] == seen["bup"][FORTNIGHT.index(sun)] == 1
    assert wed < thu < fri
    last = check(world, bup["id"])
    assert last["last_dose"]["days_without_dose"] <= 1


@pytest.mark.hazard("H-31.1")
def test_a_concentrate_goes_live_only_once_the_checking_pharmacist_acknowledges_it(
    world: World,
) -> None:
    patient = world.patient()
    form = fp10mda(
        world,
        patient["id"],
        product="methadone-20mg-ml",
        total_quantity_ml="42",
        total_quantity_words="forty-two",
    )
    created = world.post(f"{API}/prescriptions", form)
    assert created.status_code == 201, created.text
    # A new patient above 30 mg is warned too (first_dose_high); only this one is acknowledged.
    (warning,) = [w for w in created.json()["warnings"] if w["code"] == "non_standard_strength"]
    assert "20 mg in each mL" in warning["message"]
    assert "60 mg is 3 mL of it, but 60 mL of the standard solution" in warning["message"]
    rx = created.json()["id"]

    refused = world.post(f"{API}/prescriptions/{rx}/verify", {}, role="pharmacist2")
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "warnings_not_acknowledged"
    assert codes(refused.json()["warnings"]) == ["non_standard_strength"]
    assert world.get(f"{API}/prescriptions/{rx}").json()["status"] == "pending_check"

    verified = world.post(
        f"{API}/prescriptions/{rx}/verify",
        {"acknowledged": ["non_standard_strength"]},
        role="pharmacist2",
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["status"] == "active"
    assert verified.json()["schedule"][0]["dose_ml"] in {"3", "3.00"}


@pytest.mark.hazard("H-31.2")
def test_a_switch_to_sugar_free_replaces_the_standard_and_is_acknowledged(world: World) -> None:
    patient = world.patient()
    standard = prescribe(world, patient["id"])
    body = fp10mda(world, patient["id"], product=SF)

    # The standard solution covers the same days: sugar free is a switch, never a second dose.
    overlapping = world.post(f"{API}/prescriptions", body)
    assert overlapping.status_code == 409, overlapping.text
    assert overlapping.json()["code"] == "overlapping_prescription"

    created = world.post(f"{API}/prescriptions", {**body, "supersedes_id": standard["id"]})
    assert created.status_code == 201, created.text
    (warning,) = created.json()["warnings"]
    assert warning["code"] == "product_changed"
    assert "Sugar-free and standard solutions are easily confused" in warning["message"]
    refused = world.post(
        f"{API}/prescriptions/{created.json()['id']}/verify", {}, role="pharmacist2"
    )
    assert refused.status_code == 422, refused.text
    verified = world.post(
        f"{API}/prescriptions/{created.json()['id']}/verify",
        {"acknowledged": ["product_changed"]},
        role="pharmacist2",
    )
    assert verified.status_code == 200, verified.text
    assert world.get(f"{API}/prescriptions/{standard['id']}").json()["status"] == "cancelled"


@pytest.mark.hazard("H-31.1")
def test_sugar_free_and_standard_are_apart_on_the_label_and_in_the_register(
    world: World, clock: FixedClock
) -> None:
    sugar_free = world.patient(given_name="Sam", family_name="Sugarfree")
    standard = world.patient(given_name="Stan", family_name="Standard")
    prescribe(world, sugar_free["id"], product=SF, **FROM_SATURDAY)
    prescribe(world, standard["id"], **FROM_SATURDAY)
    clock.set(SUNDAY_LABEL_DAY)

    previews = {}
    for name, patient in (("sf", sugar_free), ("standard", standard)):
        response = take_home(world, patient)
        assert response.status_code == 201, response.text
        (job,) = response.json()["label"]["jobs"]
        previews[name] = " ".join(job["preview"].split())  # as read, not as wrapped

    assert "Methadone 1mg/mL oral solution SUGAR FREE" in previews["sf"]
    assert "Methadone 1mg/mL oral solution (standard, contains sugar)" in previews["standard"]
    assert "SUGAR FREE" not in previews["standard"].upper()
    for name, product, patient in (
        ("sf", SF, sugar_free),
        ("standard", STANDARD, standard),
    ):
        book = world.get(f"{API}/register", params={"product": product})
        assert book.status_code == 200, book.text
        lines = [e for e in book.json()["items"] if e["kind"] == "supply"]
        assert len(lines) == 1, (name, lines)
        assert patient["family_name"] in str(lines[0]), (name, lines)


def test_the_product_list_names_every_product_with_its_rules(world: World) -> None:
    response = world.get(f"{API}/products", role="technician")

    assert response.status_code == 200, response.text
    items = {item["code"]: item for item in response.json()["items"]}
    assert list(items) == list(PRODUCTS)
    assert items[SF]["sugar_free"] is True
    assert items[STANDARD]["sugar_free"] is False
    assert items["methadone-20mg-ml"]["concentrate"] is True
    assert items["methadone-20mg-ml"]["strength_mg_per_ml"] in {"20", 20}
    assert items["buprenorphine-naloxone-8mg-tablet"]["drug"] == "buprenorphine"
    assert items["buprenorphine-8mg-lyophilisate"]["form"] == "oral lyophilisate"
    assert all(item["dmd_code"] is None and item["gtins"] == [] for item in items.values())
    assert "under the tongue" in " ".join(items["buprenorphine-16mg-tablet"]["cautionary_wording"])
    assert world.client.get(f"{API}/products").status_code == 401


def test_a_threshold_for_a_drug_nobody_prescribes_refuses_to_start(settings: Settings) -> None:
    """A misspelt drug in DOSEKEEPER_POLICY__MISSED_THRESHOLD_BY_DRUG would silently fall back
    to the general threshold: the service refuses to start and names the known drugs."""
    policy = settings.policy.model_copy(update={"missed_threshold_by_drug": {"Buprenorphine": 2}})
    bad = settings.model_copy(update={"policy": policy})

    with pytest.raises(ValueError, match="names no known drug: Buprenorphine"):
        create_app(bad)
