"""Guest dosing replayed over a week (issue 19 §2): a patient on daily supervised methadone
stays with family near another pharmacy from Wednesday to Friday.

Monday the home pharmacist grants the other pharmacy (a Dosekeeper tenant) those days. Until
Wednesday the guest pharmacy cannot find the patient at all. On Wednesday the home counter
refuses the dose ("Today's dose is at …"), the guest counter supplies it: its own CD register
line and label, the home ledger shows it. Thursday the patient does not come: the guest's close
of day marks it missed. Friday at the guest again; Saturday the grant is over, the guest can no
longer find the patient and the home counter supplies as before. Every step is audited on
both pharmacies' chains; nothing else of the record (the patient page, the household, the
alerts) ever opens to the guest.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError

from app.clock import FixedClock
from app.patients.models import GuestGrant
from tests.builders import API, MONDAY, at, check, close_day, codes, handover, prescribe
from tests.databases import Database
from tests.factories import Branch, World, make_branch

TUE, WED, THU, FRI, SAT = (MONDAY + timedelta(days=n) for n in range(1, 6))


def ods_code(world: World, branch: Branch) -> str:
    response = world.get(f"{API}/pharmacies/{branch.pharmacy_id}", branch=branch)
    assert response.status_code == 200, response.text
    return str(response.json()["ods_code"])


def grant(
    world: World, rx_id: str, guest: Branch, start: date, end: date, role: str = "pharmacist"
) -> Any:
    return world.post(
        f"{API}/prescriptions/{rx_id}/guest-grants",
        {
            "guest_ods_code": ods_code(world, guest),
            "from_date": start.isoformat(),
            "to_date": end.isoformat(),
            "note": "Staying with her sister in Leeds",
        },
        role=role,
    )


def check_at(world: World, branch: Branch, patient_id: str) -> Any:
    return world.post(f"{API}/counter/check", {"patient_id": patient_id}, branch=branch)


def schedule(world: World, rx_id: str) -> dict[date, str]:
    response = world.get(f"{API}/prescriptions/{rx_id}/schedule")
    assert response.status_code == 200, response.text
    return {date.fromisoformat(d["dose_date"]): d["state"] for d in response.json()["items"]}


def supplies(world: World, branch: Branch, day: date) -> list[dict[str, Any]]:
    response = world.get(f"{API}/register", branch=branch, params={"product": "methadone-1mg-ml"})
    assert response.status_code == 200, response.text
    return [
        e
        for e in response.json()["items"]
        if e["kind"] == "supply" and e["transaction_date"] == day.isoformat()
    ]


def a_week_away(world: World, clock: FixedClock) -> tuple[str, str]:
    clock.set(at(MONDAY, 8))
    alone = world.household()
    confirmed = world.post(f"{API}/households/{alone['id']}/confirmations", {"note": "Alone"})
    assert confirmed.status_code == 201, confirmed.text
    patient = world.patient(alone["id"], family_name="Traveller")["id"]
    rx = prescribe(world, patient)
    taken = world.post(f"{API}/counter/handover", handover(patient, MONDAY))
    assert taken.status_code == 201, taken.text
    granted = grant(world, rx["id"], world.away, WED, FRI)
    assert granted.status_code == 201, granted.text
    body = granted.json()
    assert body["days_granted"] == 3
    assert body["live"] is False
    assert body["guest_pharmacy"]["ods_code"] == ods_code(world, world.away)
    return patient, rx["id"]


@pytest.mark.hazard("H-28.1")
def test_the_guest_pharmacy_doses_the_days_granted_and_the_home_counter_refuses_them(
    world: World, clock: FixedClock
) -> None:
    patient, rx_id = a_week_away(world, clock)
    # Before the stay, the guest cannot find the patient: exactly as one who does not exist.
    assert check_at(world, world.away, patient).status_code == 404
    clock.set(at(TUE, 10))
    assert world.post(f"{API}/counter/handover", handover(patient, TUE)).status_code == 201
    close_day(world, TUE)

    clock.set(at(WED, 10))
    home = check(world, patient)
    assert "dosed_at_guest_pharmacy" in codes(home["blocks"]), home
    refused = world.post(f"{API}/counter/handover", handover(patient, WED))
    assert refused.status_code == 422, refused.text
    guest = check_at(world, world.away, patient)
    assert guest.status_code == 200, guest.text
    assert guest.json()["blocks"] == [], guest.json()
    given = world.post(f"{API}/counter/handover", handover(patient, WED), branch=world.away)
    assert given.status_code == 201, given.text
    # Twice is once, whichever counter tries second.
    again = world.post(f"{API}/counter/handover", handover(patient, WED), branch=world.away)
    assert again.status_code == 409, again.text
    assert len(supplies(world, world.away, WED)) == 1
    assert supplies(world, world.home, WED) == []
    assert schedule(world, rx_id)[WED] == "supervised"
    clock.set(at(WED, 19))
    assert close_day(world, WED, branch=world.away)["missed"] == 0
    assert close_day(world, WED)["missed"] == 0

    # Thursday the patient stays away from the guest counter: its close marks the day missed.
    clock.set(at(THU, 19))
    assert close_day(world, THU, branch=world.away)["missed"] == 1
    assert schedule(world, rx_id)[THU] == "missed"
    clock.set(at(FRI, 10))
    assert (
        world.post(f"{API}/counter/handover", handover(patient, FRI), branch=world.away).status_code
        == 201
    )

    # Saturday: the grant is over by itself.
    clock.set(at(SAT, 10))
    assert check_at(world, world.away, patient).status_code == 404
    assert check(world, patient)["blocks"] == []
    assert world.post(f"{API}/counter/handover", handover(patient, SAT)).status_code == 201

    hosted = world.get(f"{API}/guest-grants", branch=world.away)
    assert hosted.status_code == 200, hosted.text
    (listed,) = [g for g in hosted.json()["items"] if g["patient"]["id"] == patient]
    assert listed["live"] is False
    assert set(listed["patient"]) == {"id", "given_name", "family_name", "date_of_birth"}


@pytest.mark.hazard("H-28.2")
def test_the_guest_sees_the_counter_and_nothing_else_of_the_record(
    world: World, clock: FixedClock, database: Database
) -> None:
    patient, rx_id = a_week_away(world, clock)
    card_path = f"{API}/counter/guests/{patient}"
    assert world.get(card_path, branch=world.away).status_code == 404  # not begun yet
    clock.set(at(WED, 10))
    assert check_at(world, world.away, patient).status_code == 200
    card = world.get(card_path, branch=world.away)
    assert card.status_code == 200, card.text
    body = card.json()
    # Identity, the home pharmacy to phone, the household facts the checks use: no more.
    assert set(body) == {"patient", "guest", "household"}
    assert set(body["patient"]) == {
        "id",
        "given_name",
        "family_name",
        "date_of_birth",
        "nhs_number",
        "household_id",
    }
    assert body["patient"]["household_id"] is None
    assert set(body["household"]) == {
        "id",
        "children",
        "children_confirmed_on",
        "members",
        "other_patients_at_home",
        "boxes",
        "methadone_at_home_mg",
    }
    assert body["household"]["id"] is None
    assert body["household"]["members"] == []
    assert "Test Street" not in card.text  # the household's address never reaches the guest
    assert body["guest"]["to_date"] == FRI.isoformat()
    # Its own patients are read through the record's pages, never through this card.
    assert world.get(card_path).status_code == 404
    for path in (
        f"{API}/patients/{patient}",
        f"{API}/patients/{patient}/adherence?from={MONDAY}&to={WED}",
        f"{API}/prescriptions/{rx_id}",
        f"{API}/prescriptions/{rx_id}/schedule",
        f"{API}/prescriptions/{rx_id}/guest-grants",
    ):
        assert world.get(path, branch=world.away).status_code == 404, path
    # A third pharmacy: nothing at all, not even the counter.
    third = make_branch(
        world.uow,
        world.settings,
        contacts={"key_worker": world.key_worker_id, "prescriber": world.prescriber_id},
    )
    assert check_at(world, third, patient).status_code == 404
    (granted,) = world.get(f"{API}/prescriptions/{rx_id}/guest-grants").json()["items"]
    ended = world.post(
        f"{API}/guest-grants/{granted['id']}/end", {"reason": "Not mine"}, branch=third
    )
    assert ended.status_code == 404
    # The grant is the database's to keep.
    with database.engine.connect() as conn:
        with pytest.raises(DBAPIError, match="append-only"):
            conn.execute(
                update(GuestGrant.__table__)
                .where(GuestGrant.__table__.c.id == uuid.UUID(granted["id"]))
                .values(to_date=SAT)
            )
        conn.rollback()


@pytest.mark.hazard("H-28.1")
def test_ending_early_gives_the_days_back_to_the_home_counter(
    world: World, clock: FixedClock
) -> None:
    patient, rx_id = a_week_away(world, clock)
    clock.set(at(WED, 10))
    assert (
        world.post(f"{API}/counter/handover", handover(patient, WED), branch=world.away).status_code
        == 201
    )
    clock.set(at(THU, 9))
    (granted,) = world.get(f"{API}/prescriptions/{rx_id}/guest-grants").json()["items"]
    ended = world.post(
        f"{API}/guest-grants/{granted['id']}/end", {"reason": "Came home a day early"}
    )
    assert ended.status_code == 200, ended.text
    assert (ended.json()["ended_on"], ended.json()["days_returned"]) == (THU.isoformat(), 2)
    assert check_at(world, world.away, patient).status_code == 404
    assert check(world, patient)["blocks"] == []
    assert world.post(f"{API}/counter/handover", handover(patient, THU)).status_code == 201
    again = world.post(
        f"{API}/guest-grants/{granted['id']}/end", {"reason": "Came home a day early"}
    )
    assert again.status_code == 409, again.text


def test_a_grant_refuses_what_cannot_be_right(world: World, clock: FixedClock) -> None:
    patient = world.patient(family_name="Nottravelling")["id"]
    clock.set(at(MONDAY, 8))
    rx = prescribe(world, patient)
    assert grant(world, rx["id"], world.away, WED, FRI, role="technician").status_code == 403
    past = grant(world, rx["id"], world.away, MONDAY - timedelta(days=1), FRI)
    assert past.status_code == 422, past.text
    too_long = world.post(
        f"{API}/prescriptions/{rx['id']}/guest-grants",
        {
            "guest_ods_code": ods_code(world, world.away),
            "from_date": TUE.isoformat(),
            "to_date": (TUE + timedelta(days=28)).isoformat(),
            "note": "A long stay",
        },
    )
    assert too_long.status_code == 422, too_long.text
    unknown = world.post(
        f"{API}/prescriptions/{rx['id']}/guest-grants",
        {
            "guest_ods_code": "ZZZ999",
            "from_date": WED.isoformat(),
            "to_date": FRI.isoformat(),
            "note": "Somewhere",
        },
    )
    assert unknown.status_code == 422, unknown.text
    assert unknown.json()["errors"][0]["rule"] == "known_pharmacy"
    ours = grant(world, rx["id"], world.home, WED, FRI)
    assert ours.status_code == 422, ours.text
    assert grant(world, rx["id"], world.away, WED, FRI).status_code == 201
    overlapping = grant(world, rx["id"], world.away, THU, SAT)
    assert overlapping.status_code == 409, overlapping.text
    # Another pharmacy's prescription is not found.
    theirs = world.post(
        f"{API}/prescriptions/{rx['id']}/guest-grants",
        {
            "guest_ods_code": ods_code(world, world.home),
            "from_date": WED.isoformat(),
            "to_date": FRI.isoformat(),
            "note": "Trying",
        },
        branch=world.away,
    )
    assert theirs.status_code == 404, theirs.text


@pytest.mark.hazard("H-28.1")
def test_a_guest_patient_dosed_on_paper_during_an_outage_is_entered_at_the_guest(
    world: World, clock: FixedClock
) -> None:
    patient, rx_id = a_week_away(world, clock)
    clock.set(at(THU, 8))  # the guest's network was down all Wednesday
    entered = world.post(
        f"{API}/counter/paper-doses",
        {
            "sheet_reference": "DS-guest-wednesday",
            "entries": [
                {
                    "patient_id": patient,
                    "date": WED.isoformat(),
                    "outcome": "supervised",
                    "given_at": "10:30",
                    "given_by": "HL",
                }
            ],
        },
        branch=world.away,
    )
    assert entered.status_code == 201, entered.text
    assert entered.json()["items"][0]["findings"] == ["entered"]
    assert schedule(world, rx_id)[WED] == "supervised"
    assert len(supplies(world, world.away, WED)) == 1
    listed = world.get(
        f"{API}/counter/paper-doses", params={"date": WED.isoformat()}, branch=world.away
    )
    assert [i["patient_id"] for i in listed.json()["items"]] == [patient]


def close(world: World, branch: Branch, day: date) -> Any:
    return world.post(
        f"{API}/pharmacies/{branch.pharmacy_id}/closures",
        {"date": day.isoformat(), "reason": "Staff training"},
        branch=branch,
    )


@pytest.mark.hazard("H-28.1")
def test_the_paperwork_at_home_does_not_undo_the_stay(world: World, clock: FixedClock) -> None:
    """A suspension and resumption during the stay, and a closure at home, leave the days the
    guest was granted at the guest's counter; the guest cannot close on a day a guest patient
    collects there, and a stay is not granted over a day the guest is closed."""
    patient, rx_id = a_week_away(world, clock)
    clock.set(at(WED, 8))
    suspended = world.post(
        f"{API}/prescriptions/{rx_id}/suspend",
        {"from_date": WED.isoformat(), "reason": "prescriber", "note": "Review by phone"},
    )
    assert suspended.status_code == 200, suspended.text
    resumed = world.post(f"{API}/prescriptions/{rx_id}/resume", {"note": "Reviewed: carry on"})
    assert resumed.status_code == 200, resumed.text
    assert check_at(world, world.away, patient).json()["blocks"] == []
    assert "dosed_at_guest_pharmacy" in codes(check(world, patient)["blocks"])
    # The home pharmacy closes on Friday: its own calendar moves its own days, not the guest's.
    assert close(world, world.home, FRI).status_code == 201
    # The guest cannot close on a day a guest patient collects there.
    refused = close(world, world.away, THU)
    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "guest_patients_due"
    clock.set(at(FRI, 10))
    guest = check_at(world, world.away, patient).json()
    # Friday is still at the guest (three days without a dose block it there, as they would
    # anywhere): neither counter mistakes whose day it is.
    assert guest["dose_dates"] == [FRI.isoformat()], guest
    assert not {"wrong_pharmacy", "dosed_at_guest_pharmacy"} & set(codes(guest["blocks"])), guest
    # Withholding at home a day the guest holds is refused: it is the guest's to decide.
    clock.set(at(THU, 10))
    withheld = world.post(
        f"{API}/counter/withhold",
        {"patient_id": patient, "date": THU.isoformat(), "reason": "intoxicated"},
    )
    assert withheld.status_code == 409, withheld.text
    assert withheld.json()["code"] == "dosed_at_guest_pharmacy"


def test_a_stay_is_not_granted_over_a_day_the_guest_is_closed(
    world: World, clock: FixedClock
) -> None:
    patient = world.patient(family_name="Closedaway")["id"]
    clock.set(at(MONDAY, 8))
    rx = prescribe(world, patient)
    assert close(world, world.away, THU).status_code == 201
    refused = grant(world, rx["id"], world.away, WED, FRI)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["rule"] == "guest_open"


@pytest.mark.hazard("H-28.2")
def test_paper_at_either_counter_keeps_to_its_own_days(world: World, clock: FixedClock) -> None:
    patient, rx_id = a_week_away(world, clock)
    clock.set(at(SAT, 12))

    def sheet(branch: Branch, day: date, reference: str) -> Any:
        return world.post(
            f"{API}/counter/paper-doses",
            {
                "sheet_reference": reference,
                "entries": [
                    {
                        "patient_id": patient,
                        "date": day.isoformat(),
                        "outcome": "supervised",
                        "given_at": "10:00",
                        "given_by": "XY",
                    }
                ],
            },
            branch=branch,
        )

    # The guest cannot enter a day outside its grant: Saturday is the home pharmacy's.
    assert sheet(world.away, SAT, "DS-guest-sat").status_code == 404
    assert schedule(world, rx_id)[SAT] == "due"
    # The home pharmacy entering a granted day: recorded as given, flagged, not on the row.
    home = sheet(world.home, THU, "DS-home-thu")
    assert home.status_code == 201, home.text
    item = home.json()["items"][0]
    assert "block_ignored" in item["findings"]
    assert "dosed_at_guest_pharmacy" in item["blocks"]
    assert schedule(world, rx_id)[THU] == "due"
