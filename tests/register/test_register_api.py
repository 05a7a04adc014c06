"""The CD register through the API (domain-rules §5, reliability §3): supplies come from
handovers, receipts are entered on the day (or the next day with a reason), corrections are new
linked entries, balance checks are witnessed and raise an alert outside the tolerance, and the
running balance is always receipts - supplies ± corrections."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from app.clock import FixedClock
from app.register.rules import running_balances
from tests.builders import MONDAY, prescribe
from tests.factories import World
from tests.register.support import (
    API,
    PRODUCT,
    at,
    balance_check,
    close_day,
    hand_over,
    receipt,
    register,
    second_fortnight,
    withhold,
)
from tests.register.support import handover as handover_body

SATURDAY_BEFORE = MONDAY - timedelta(days=2)  # the suite's "today" (tests.factories.NOW)


@pytest.mark.hazard("H-09.1", "H-09.2")
def test_a_month_of_dispensing_balances_to_receipts_less_supplies_plus_corrections(
    world: World, clock: FixedClock
) -> None:
    """Four weeks at a Monday-to-Saturday pharmacy: two patients, a missed day each, a withheld
    dose, Saturday take-homes for Sunday, two deliveries, two corrections and a balance check."""
    first = receipt(world, SATURDAY_BEFORE, "2500")
    assert first.status_code == 201, first.text
    ann = world.patient(world.household()["id"], given_name="Ann", family_name="Example")
    ben = world.patient(world.household(address="7 Other Road, Testtown")["id"])
    for patient, mg, words in ((ann, "60", "eight hundred and forty"), (ben, "30", None)):
        extra: dict[str, Any] = {}
        if words is None:
            extra = {
                "daily_dose_mg": mg,
                "total_quantity_ml": "420",
                "total_quantity_words": "four hundred and twenty",
                "direction_text": "30mg (30ml) daily. Supervised consumption Mon-Sat. "
                "Sunday dose to be collected on Saturday.",
            }
        prescribe(world, patient["id"], **extra)
        prescribe(world, patient["id"], **second_fortnight(**extra))

    supplied: dict[str, Decimal] = {}  # handover id -> mL (1 mg/mL)
    not_supplied: set[tuple[str, date]] = set()
    correction_change = Decimal(0)
    for offset in range(28):
        day = MONDAY + timedelta(days=offset)
        if day.weekday() == 6:  # closed on Sunday: Saturday's handover covered it
            continue
        for patient in (ann, ben):
            if (patient is ann and day == date(2026, 12, 2)) or (
                patient is ben and day == date(2026, 12, 5)
            ):
                not_supplied.add((patient["id"], day))  # missed: closed at end of day
                continue
            if patient is ann and day == date(2026, 12, 9):
                withhold(world, clock, ann["id"], day)
                not_supplied.add((ann["id"], day))
                continue
            body = hand_over(world, clock, patient["id"], day)
            supplied[body["handover_id"]] = Decimal(body["dose_mg"])
        if day == date(2026, 12, 7):
            delivery = receipt(world, day, "500", invoice_ref="INV-0002")
            assert delivery.status_code == 201, delivery.text
            delivery_id = delivery.json()["id"]
        if day == date(2026, 12, 8):
            short = world.post(
                f"{API}/register/corrections",
                {
                    "corrects_id": delivery_id,
                    "change_ml": "-250",
                    "reason": "Entered as 500 mL; one 250 mL bottle was short-delivered "
                    "(credit note CN-0007)",
                },
            )
            assert short.status_code == 201, short.text
            assert short.json()["corrects_id"] == delivery_id
            correction_change += Decimal("-250")
            typo = world.post(
                f"{API}/register/corrections",
                {"corrects_id": first.json()["id"], "reason": "Invoice is INV-0001A, not INV-0001"},
            )
            assert typo.status_code == 201, typo.text
        close_day(world, clock, day)

    clock.set(at(date(2026, 12, 28), 9))
    book = register(world)
    entries = book["items"]
    received = sum(Decimal(e["quantity_ml"]) for e in entries if e["kind"] == "receipt")
    supplies = [e for e in entries if e["kind"] == "supply"]
    assert received == Decimal(3000)
    # One supply line per handover, with the handed-over quantity: never typed, never missing.
    assert {e["handover_id"]: Decimal(e["quantity_ml"]) for e in supplies} == supplied
    # Missed and withheld days made no line.
    covered = {(e["patient_id"], d) for e in supplies for d in e["dose_dates"]}
    assert not {(p, d.isoformat()) for p, d in not_supplied} & covered
    expected = received - sum(supplied.values()) + correction_change
    assert Decimal(book["closing_balance_ml"]) == expected
    # Every line's balance is the running sum in entry order, and lines have no gaps.
    assert [e["line"] for e in entries] == list(range(1, len(entries) + 1))
    assert [Decimal(e["balance_ml"]) for e in entries] == running_balances(
        Decimal(0), [Decimal(e["change_ml"]) for e in entries]
    )
    # The supply line carries the legal headings from the handover.
    ann_line = next(e for e in supplies if e["patient_id"] == ann["id"])
    assert ann_line["party_name"] == "Ann Example"
    assert ann_line["party_address"] == "1 Test Street, Testtown, TT1 1AA"
    assert ann_line["prescriber"]
    assert "Test Org" in ann_line["prescriber"]
    assert (ann_line["collector"], ann_line["id_asked"], ann_line["id_shown"]) == (
        "patient",
        True,
        True,
    )
    # The correction annotates the original, which is unchanged.
    original = next(e for e in entries if e["id"] == delivery_id)
    assert Decimal(original["quantity_ml"]) == Decimal(500)
    assert len(original["corrected_by"]) == 1

    # A witnessed count that matches the book: recorded, no discrepancy.
    counted = balance_check(world, str(expected))
    assert counted.status_code == 201, counted.text
    assert counted.json()["discrepancy"] is False
    assert Decimal(counted.json()["balance_ml"]) == expected
    chain = world.get(f"{API}/register/verify", params={"product": PRODUCT})
    assert chain.json() == {
        "ok": True,
        "entries": len(entries) + 1,
        "broken_at_line": None,
        "reason": None,
    }


def test_entries_are_made_on_the_day_or_the_next_day_with_a_reason(world: World) -> None:
    today = SATURDAY_BEFORE
    assert receipt(world, today).status_code == 201
    late = receipt(world, today - timedelta(days=1))
    assert late.status_code == 422, late.text
    assert late.json()["code"] == "late_reason_required"
    explained = receipt(
        world,
        today - timedelta(days=1),
        late_reason="Delivered after closing; entered next morning",
    )
    assert explained.status_code == 201, explained.text
    assert explained.json()["late_reason"].startswith("Delivered after closing")
    assert explained.json()["entered_on"] == today.isoformat()
    too_late = receipt(world, today - timedelta(days=2), late_reason="Forgot")
    assert too_late.status_code == 422, too_late.text
    assert too_late.json()["code"] == "too_late"
    future = receipt(world, today + timedelta(days=1))
    assert future.status_code == 422, future.text
    assert future.json()["code"] == "future_date"
    assert [e["kind"] for e in register(world)["items"]] == ["receipt", "receipt"]


@pytest.mark.hazard("H-09.4")
def test_a_count_outside_the_tolerance_needs_an_explanation_and_alerts_the_lead(
    world: World,
) -> None:
    assert receipt(world, SATURDAY_BEFORE, "500").status_code == 201
    # 1 % of 500 mL is 5 mL: a 3 mL overage is expected of a liquid, and raises nothing.
    within = balance_check(world, "503")
    assert within.status_code == 201, within.text
    assert (within.json()["discrepancy"], within.json()["alert_id"]) == (False, None)
    assert Decimal(within.json()["variance_ml"]) == Decimal(3)

    unexplained = balance_check(world, "480")
    assert unexplained.status_code == 422, unexplained.text
    assert unexplained.json()["code"] == "explanation_required"
    explained = balance_check(
        world, "480", explanation="20 mL unaccounted for; CCTV and returns being checked"
    )
    assert explained.status_code == 201, explained.text
    body = explained.json()
    assert (body["discrepancy"], Decimal(body["variance_ml"]), Decimal(body["tolerance_ml"])) == (
        True,
        Decimal(-20),
        Decimal(5),
    )
    assert Decimal(body["balance_ml"]) == Decimal(500)  # a check never moves the book balance
    assert body["witness_name"] == world.home.usernames["technician"]
    feed = world.get(
        f"{API}/alerts", role="safeguarding_lead", params={"kind": "register_discrepancy"}
    )
    assert feed.status_code == 200, feed.text
    [alert] = feed.json()["items"]
    assert alert["id"] == body["alert_id"]
    assert alert["patient_id"] is None
    # Another pharmacy's discrepancy the same day is its own alert, never a "repeat" of this one.
    assert receipt(world, SATURDAY_BEFORE, "100", branch=world.away).status_code == 201
    away = balance_check(
        world, "50", branch=world.away, explanation="Bottle broken in the CD cupboard"
    )
    assert away.status_code == 201, away.text
    assert away.json()["alert_id"] not in (None, body["alert_id"])


def test_a_balance_check_needs_a_second_person_of_the_pharmacy(world: World) -> None:
    assert receipt(world, SATURDAY_BEFORE, "500").status_code == 201
    wrong = balance_check(world, "500", witness_password="not the password")
    assert wrong.status_code == 403, wrong.text
    assert wrong.json()["code"] == "second_person_required"
    self_witness = balance_check(world, "500", witness_username=world.home.usernames["pharmacist"])
    assert self_witness.status_code == 403, self_witness.text
    foreign = balance_check(world, "500", witness_username=world.away.usernames["technician"])
    assert foreign.status_code == 403, foreign.text
    assert [e["kind"] for e in register(world)["items"]] == ["receipt"]


def test_a_scanned_pack_fills_product_batch_and_expiry(world: World) -> None:
    gs = "\x1d"
    pack = "]d2" + "0105012345678900" + "17280331" + "10B4TCH7" + gs + "21SN0001"
    scanned = receipt(world, SATURDAY_BEFORE, "500", product=None, barcode=pack)
    assert scanned.status_code == 201, scanned.text
    body = scanned.json()
    assert (body["product"], body["gtin"], body["batch"], body["expiry"]) == (
        PRODUCT,
        "05012345678900",
        "B4TCH7",
        "2028-03-31",
    )
    expired = "]d2" + "0105012345678900" + "17250331" + "10OLD1"
    refused = receipt(world, SATURDAY_BEFORE, "500", barcode=expired)
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "pack_refused"
    unknown = "]d2" + "0104006381333931" + "17280331" + "10X1"
    named = receipt(world, SATURDAY_BEFORE, "500", product=None, barcode=unknown)
    assert named.status_code == 422, named.text
    assert receipt(world, SATURDAY_BEFORE, "500", barcode=unknown).status_code == 201


def test_only_schedule_2_products_have_a_register(world: World) -> None:
    response = receipt(world, SATURDAY_BEFORE, product="diazepam-5mg-tablet")
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["rule"] == "not_in_register"


@pytest.mark.hazard("H-09.2")
def test_the_register_has_no_update_or_delete_path(world: World) -> None:
    entry = receipt(world, SATURDAY_BEFORE).json()
    for method in ("PUT", "PATCH", "DELETE"):
        response = world.client.request(
            method, f"{API}/register/receipts", headers=world.home.headers(), json={}
        )
        assert response.status_code == 405, (method, response.text)
        response = world.client.request(
            method, f"{API}/register/{entry['id']}", headers=world.home.headers()
        )
        assert response.status_code in (404, 405), (method, response.text)


@pytest.mark.hazard("H-10.1")
def test_another_pharmacys_register_and_entries_are_not_found(world: World) -> None:
    entry = receipt(world, SATURDAY_BEFORE).json()
    correction = world.post(
        f"{API}/register/corrections",
        {"corrects_id": entry["id"], "change_ml": "-1", "reason": "Not ours to correct"},
        branch=world.away,
    )
    assert correction.status_code == 404, correction.text
    unknown = world.post(
        f"{API}/register/corrections", {"corrects_id": str(uuid.uuid4()), "reason": "Nothing"}
    )
    assert unknown.status_code == 404, unknown.text
    foreign = world.get(
        f"{API}/register",
        branch=world.away,
        params={"product": PRODUCT, "pharmacy_id": str(world.home.pharmacy_id)},
    )
    assert foreign.status_code == 404, foreign.text
    # Each pharmacy reads its own register only; an admin may name one.
    assert register(world, role="admin", pharmacy_id=str(world.home.pharmacy_id))["items"]
    assert (
        world.get(f"{API}/register", role="prescriber", params={"product": PRODUCT}).status_code
        == 403
    )


def test_export_and_print_are_the_register_in_its_legal_layout(
    world: World, clock: FixedClock
) -> None:
    entry = receipt(world, SATURDAY_BEFORE, "500", supplier_name="<b>Wholesale</b> Ltd").json()
    patient = world.patient(world.household()["id"], given_name="Pat", family_name="Printed")
    prescribe(world, patient["id"])
    hand_over(world, clock, patient["id"], MONDAY)
    note = world.post(
        f"{API}/register/corrections",
        {"corrects_id": entry["id"], "change_ml": "-10", "reason": "Short by 10 mL on delivery"},
    )
    assert note.status_code == 201, note.text

    exported = world.get(f"{API}/register/export.csv", params={"product": PRODUCT})
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    header = rows.index(next(r for r in rows if r and r[0] == "line"))
    lines = [dict(zip(rows[header], r, strict=True)) for r in rows[header + 1 :] if len(r) > 3]
    assert [(r["entry"], r["balance (mL)"]) for r in lines] == [
        ("receipt", "500.00"),
        ("supply", "440.00"),
        ("correction", "430.00"),
    ]
    assert lines[1]["name and address (supplier or person supplied)"].startswith("Pat Printed")
    assert lines[1]["quantity supplied (mL)"] == "60.00"
    assert (lines[1]["ID requested"], lines[1]["ID provided"]) == ("Y", "Y")
    assert lines[2]["corrects line"] == "1"
    assert rows[-1] == ["closing balance (mL)", "430.00"]

    page = world.get(f"{API}/register/print", params={"product": PRODUCT})
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "Methadone 1mg/mL oral solution" in html
    assert "&lt;b&gt;Wholesale&lt;/b&gt;" in html
    assert "<b>Wholesale" not in html
    assert "Corrected on" in html
    assert "Short by 10 mL on delivery" in html
    assert html.index('id="line-1"') < html.index('id="line-2"') < html.index('id="line-3"')


@pytest.mark.hazard("H-09.1")
def test_a_withheld_dose_makes_no_entry(world: World, clock: FixedClock) -> None:
    patient = world.patient(world.household()["id"])
    prescribe(world, patient["id"])
    withhold(world, clock, patient["id"], MONDAY)
    close_day(world, clock, MONDAY + timedelta(days=1))  # Tuesday missed
    assert register(world)["items"] == []


@pytest.mark.hazard("H-09.3")
def test_a_supply_that_takes_the_balance_below_zero_alerts_the_lead(
    world: World, clock: FixedClock
) -> None:
    """No receipt was entered: the supply is recorded (it happened), the running balance shows
    the shortfall, and the lead is told the same day, once, whatever the number of supplies."""
    first, second = world.patient(), world.patient()
    for patient in (first, second):
        prescribe(world, patient["id"])
    hand_over(world, clock, first["id"], MONDAY)
    hand_over(world, clock, second["id"], MONDAY)
    lines = register(world)["items"]
    assert Decimal(lines[-1]["balance_ml"]) < 0
    feed = world.get(
        f"{API}/alerts", role="safeguarding_lead", params={"kind": "register_negative_balance"}
    )
    assert feed.status_code == 200, feed.text
    [alert] = feed.json()["items"]
    assert alert["patient_id"] is None
    assert alert["facts"]["product"] == PRODUCT

    # With stock received first, a supply raises nothing.
    stocked = world.patient(branch=world.away)
    prescribe(world, stocked["id"], branch=world.away)
    clock.set(at(MONDAY, 9))
    assert receipt(world, MONDAY, "500", branch=world.away).status_code == 201
    handed = world.post(
        f"{API}/counter/handover", handover_body(stocked["id"], MONDAY), branch=world.away
    )
    assert handed.status_code == 201, handed.text
    away_feed = world.get(
        f"{API}/alerts",
        role="safeguarding_lead",
        branch=world.away,
        params={"kind": "register_negative_balance"},
    )
    assert away_feed.json()["items"] == []
