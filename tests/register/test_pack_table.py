"""Each pharmacy's pack table (issue 20 §5, hazard H-30): a pharmacist maps an unknown GTIN to a
product, with who, when and why, append-only; another pharmacy neither sees nor uses it;
receipts scanned from a pack ask the same table as the counter's bottle check."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from app.clock import FixedClock
from app.config import Settings
from tests.builders import API, MONDAY, at, audit_facts, handover, prescribe, signed_in
from tests.factories import World


def gtin(body: str) -> str:
    total = sum(int(digit) * (3 if index % 2 == 0 else 1) for index, digit in enumerate(body))
    return body + str((10 - total % 10) % 10)


CONCENTRATE_GTIN = gtin("0501234567894")


def map_pack(world: World, code: str, product: str, *, confirm: bool = True, **kw: Any) -> Any:
    body = {
        "gtin": code,
        "product": product,
        "reason": "Read on the bottle's label",
        "confirm_change": confirm,
    }
    return world.post(f"{API}/register/packs", body, **kw)


@pytest.mark.hazard("H-30.3")
def test_a_mapping_records_who_when_and_why_and_is_this_pharmacys_alone(
    world: World, clock: FixedClock
) -> None:
    clock.set(at(MONDAY))
    made = map_pack(world, CONCENTRATE_GTIN, "methadone-10mg-ml")
    assert made.status_code == 201, made.text
    mapping = made.json()
    assert mapping["gtin"] == CONCENTRATE_GTIN
    assert mapping["product_name"] == "Methadone 10mg/mL oral solution (concentrate)"
    assert mapping["reason"] == "Read on the bottle's label"
    assert mapping["mapped_by"]
    assert mapping["mapped_at"].startswith(MONDAY.isoformat())

    home = world.get(f"{API}/register/packs").json()
    assert [m["gtin"] for m in home["items"]] == [CONCENTRATE_GTIN]
    assert {"gtin": "05012345678900", "product": "methadone-1mg-ml"} in home["seed"]

    away = world.get(f"{API}/register/packs", branch=world.away).json()
    assert away["items"] == []
    named = world.get(
        f"{API}/register/packs",
        branch=world.away,
        params={"pharmacy_id": str(world.home.pharmacy_id)},
    )
    assert named.status_code == 404, named.text


def test_only_a_pharmacist_maps_a_pack(world: World) -> None:
    refused = map_pack(world, CONCENTRATE_GTIN, "methadone-10mg-ml", role="technician")

    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "permission_denied"
    assert world.get(f"{API}/register/packs", role="technician").status_code == 200


@pytest.mark.parametrize(
    ("field", "body"),
    [
        ("gtin", {"gtin": "05012345678901", "product": "methadone-1mg-ml"}),  # bad check digit
        ("gtin", {"gtin": "DKP-0000000000000000", "product": "methadone-1mg-ml"}),
        ("product", {"gtin": CONCENTRATE_GTIN, "product": "methadone-99mg-ml"}),
    ],
)
def test_a_mapping_of_no_pack_or_no_product_is_refused_by_its_field(
    world: World, field: str, body: dict[str, str]
) -> None:
    response = world.post(f"{API}/register/packs", {**body, "reason": "Label read"})

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == field


def test_a_scanned_pack_code_maps_its_gtin(world: World) -> None:
    code = f"(01){CONCENTRATE_GTIN}(17)271231(10)B1"

    made = map_pack(world, code, "methadone-10mg-ml")

    assert made.status_code == 201, made.text
    assert made.json()["gtin"] == CONCENTRATE_GTIN


@pytest.mark.hazard("H-30.3")
def test_a_receipt_scanned_from_a_mapped_pack_is_of_the_mapped_product(
    world: World, clock: FixedClock
) -> None:
    clock.set(at(MONDAY))
    assert map_pack(world, CONCENTRATE_GTIN, "methadone-10mg-ml").status_code == 201
    body = {
        "received_on": MONDAY.isoformat(),
        "supplier_name": "Wholesale Ltd",
        "supplier_address": "1 Depot Road",
        "quantity_ml": "500",
        "invoice_ref": "INV-1",
        "barcode": f"(01){CONCENTRATE_GTIN}(17)271231(10)C9",
    }

    here = world.post(f"{API}/register/receipts", body)
    assert here.status_code == 201, here.text
    assert (here.json()["product"], here.json()["batch"]) == ("methadone-10mg-ml", "C9")
    # Another pharmacy's table does not know it: it must name the product.
    away = world.post(f"{API}/register/receipts", body, branch=world.away)
    assert away.status_code == 422, away.text
    assert away.json()["errors"][0]["field"] == "product"


def test_mappings_are_append_only(world: World) -> None:
    assert map_pack(world, CONCENTRATE_GTIN, "methadone-10mg-ml").status_code == 201

    with world.uow:
        session = world.uow.session
        for statement in ("UPDATE pack_mappings SET product = 'x'", "DELETE FROM pack_mappings"):
            with (
                pytest.raises(Exception, match="append-only|refused|dk_refuse"),
                session.begin_nested(),
            ):
                session.execute(text(statement))


def test_the_register_page_shows_the_pack_table_to_a_pharmacist_only(world: World) -> None:
    assert map_pack(world, CONCENTRATE_GTIN, "methadone-10mg-ml").status_code == 201

    page = signed_in(world, "pharmacist").page("/register")
    assert page.status_code == 200, page.text
    assert 'id="pack-mapping"' in page.text
    assert CONCENTRATE_GTIN in page.text
    assert "Read on the bottle&#39;s label" in page.text
    technician = signed_in(world, "technician").page("/register")
    assert 'id="pack-mapping"' not in technician.text


EXAMPLE_GTIN = "05012345678900"  # the GS1 documentation example: seeded for demo and tests


@pytest.mark.hazard("H-30.3")
def test_repointing_a_known_gtin_to_another_strength_needs_confirmation_and_is_shown(
    world: World, clock: FixedClock
) -> None:
    clock.set(at(MONDAY))
    # The seed says 1 mg/mL; one pharmacist repointing it to a concentrate is stopped.
    refused = map_pack(world, EXAMPLE_GTIN, "methadone-10mg-ml", confirm=False)
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert (problem["code"], problem["current_product"]) == (
        "pack_change_unconfirmed",
        "methadone-1mg-ml",
    )
    assert "is Methadone 1mg/mL oral solution" in problem["detail"]
    assert "according to the seed table" in problem["detail"]
    assert "easily confused" in problem["detail"]
    assert world.get(f"{API}/register/packs").json()["items"] == []

    made = map_pack(world, EXAMPLE_GTIN, "methadone-10mg-ml")
    assert made.status_code == 201, made.text
    assert (made.json()["replaces"], made.json()["confusable_strength"]) == (
        "methadone-1mg-ml",
        True,
    )
    [facts] = audit_facts(world, made.json()["id"], "register.pack_repointed")
    assert (facts["replaces"], facts["product"], facts["confirmed"]) == (
        "methadone-1mg-ml",
        "methadone-10mg-ml",
        True,
    )
    # Back to the solution from an earlier mapping here: another product, so confirmed too.
    back = map_pack(world, EXAMPLE_GTIN, "methadone-1mg-ml", confirm=False)
    assert back.status_code == 409, back.text
    assert "according to this pharmacy's earlier mapping" in back.json()["detail"]
    # The register page says what changed.
    page = signed_in(world, "pharmacist").page("/register")
    assert "Changed from Methadone 1mg/mL oral solution" in page.text
    assert "Confusable strength" in page.text


@pytest.mark.hazard("H-30.3")
def test_a_new_gtin_of_a_confusable_strength_needs_confirmation_and_the_usual_one_does_not(
    world: World,
) -> None:
    refused = map_pack(world, CONCENTRATE_GTIN, "methadone-20mg-ml", confirm=False)
    assert refused.status_code == 409, refused.text
    assert refused.json()["current_product"] is None

    plain = map_pack(world, gtin("0501234567895"), "methadone-1mg-ml-sf", confirm=False)
    assert plain.status_code == 201, plain.text
    assert plain.json()["replaces"] is None
    # The same product again is no change.
    again = map_pack(world, gtin("0501234567895"), "methadone-1mg-ml-sf", confirm=False)
    assert again.status_code == 201, again.text


@pytest.mark.parametrize("reason", ["abc", "Label", "   ok ok    "])
def test_a_mapping_needs_a_reason_of_a_sentence(world: World, reason: str) -> None:
    response = world.post(
        f"{API}/register/packs",
        {"gtin": CONCENTRATE_GTIN, "product": "methadone-1mg-ml", "reason": reason},
    )

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "reason"


def test_the_gs1_example_is_seeded_for_demo_and_tests_but_not_in_production(
    world: World, clock: FixedClock, settings: Settings
) -> None:
    clock.set(at(MONDAY))
    code = f"(01){EXAMPLE_GTIN}(17)271231(10)B1"
    seed = world.get(f"{API}/register/packs").json()["seed"]
    assert {"gtin": EXAMPLE_GTIN, "product": "methadone-1mg-ml"} in seed

    # The settings of a production server (only `environment` matters here).
    world.client.app.state.settings = settings.model_copy(update={"environment": "production"})  # type: ignore[attr-defined]

    assert world.get(f"{API}/register/packs").json()["seed"] == []
    patient = world.patient()
    prescribe(world, patient["id"])
    scanned = world.post(f"{API}/counter/scan", {"code": code, "patient_id": str(patient["id"])})
    assert scanned.status_code == 200, scanned.text
    assert scanned.json()["bottle"]["matches"] is None
    assert "not in this pharmacy's pack table" in scanned.json()["message"]
    handed = world.post(
        f"{API}/counter/handover", handover(str(patient["id"]), MONDAY, bottle=code)
    )
    assert handed.status_code == 422, handed.text
    assert handed.json()["unacknowledged"] == ["bottle_not_mapped"]
    receipt = {
        "received_on": MONDAY.isoformat(),
        "supplier_name": "Wholesale Ltd",
        "supplier_address": "1 Depot Road",
        "quantity_ml": "500",
        "invoice_ref": "INV-2",
        "barcode": code,
    }
    unknown = world.post(f"{API}/register/receipts", receipt)
    assert unknown.status_code == 422, unknown.text
    assert unknown.json()["errors"][0]["field"] == "product"
    # Mapped here by a pharmacist, it is known: nothing is confirmed as a change.
    assert map_pack(world, EXAMPLE_GTIN, "methadone-1mg-ml", confirm=False).status_code == 201
