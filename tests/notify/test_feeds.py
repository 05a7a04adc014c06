"""Ways to see alerts: the filtered list, the Server-Sent Events stream, the per-contact Atom feed,
and who may see what (clinicians their own patients, never another pharmacy's)."""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID
from xml.etree import ElementTree

import httpx
import pytest
import uvicorn
from sqlalchemy.orm import Session, sessionmaker

from app.clock import FixedClock
from app.main import create_app
from app.safeguarding import api as safeguarding_api
from tests.factories import World
from tests.notify.helpers import API, add_contact, raise_missed

ATOM = "{http://www.w3.org/2005/Atom}"
# No worker runs here and every query is scoped to the test's own pharmacy or contacts.
SHARED_DATABASE = True


def ids(response: httpx.Response | Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [a["id"] for a in response.json()["items"]]


def test_the_alert_list_filters(world: World, clock: FixedClock) -> None:
    house = world.household()
    a = world.patient(house["id"])
    b = world.patient()
    day, now = clock.now().date(), clock.now()
    a_warning = str(raise_missed(world, a["id"], day=day, now=now))
    clock.advance(timedelta(minutes=1))
    a_urgent = str(raise_missed(world, a["id"], day=day, now=clock.now(), streak=3, threshold=3))
    clock.advance(timedelta(minutes=1))
    b_warning = str(raise_missed(world, b["id"], day=day, now=clock.now()))
    acked = world.post(f"{API}/alerts/{a_warning}/acknowledge", {"note": "seen"})
    assert acked.status_code == 200, acked.text

    def listed(**params: Any) -> list[str]:
        return ids(world.get(f"{API}/alerts", params=params))

    assert listed() == [b_warning, a_urgent, a_warning]  # newest first
    assert listed(state="acknowledged") == [a_warning]
    assert listed(state="open") == [b_warning, a_urgent]
    assert listed(kind="missed_threshold_reached") == [a_urgent]
    assert listed(kind="missed_dose") == [b_warning, a_warning]
    assert listed(severity="urgent") == [a_urgent]
    assert listed(severity="warning") == [b_warning, a_warning]
    assert listed(patient_id=b["id"]) == [b_warning]
    assert listed(household_id=house["id"]) == [a_urgent, a_warning]
    assert listed(patient_id=a["id"], severity="warning", state="acknowledged") == [a_warning]
    assert listed(household_id=house["id"], kind="missed_dose", state="open") == []
    first = world.get(f"{API}/alerts", params={"limit": 2})
    assert ids(first) == [b_warning, a_urgent]
    rest = world.get(f"{API}/alerts", params={"limit": 2, "cursor": first.json()["next"]})
    assert ids(rest) == [a_warning]
    assert rest.json()["next"] is None
    for bad in ({"severity": "catastrophic"}, {"state": "lost"}, {"patient_id": "nope"}):
        assert world.get(f"{API}/alerts", params=bad).status_code == 422


@pytest.fixture
def server(
    world: World, session_factory: sessionmaker[Session], clock: FixedClock
) -> Iterator[str]:
    """The app under uvicorn on 127.0.0.1 (the test client buffers streams; SSE needs a real
    server), sharing the test's database and clock."""
    app = create_app(world.settings, session_factory, clock)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))  # bound here, so no other process can take the port
    port = listener.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=2)
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(10)
    listener.close()


def test_the_event_stream_delivers_a_newly_raised_alert(
    world: World, clock: FixedClock, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(safeguarding_api, "POLL_SECONDS", 0.1)
    mine = world.patient()
    theirs = world.patient(branch=world.away)
    earlier = raise_missed(world, mine["id"], day=clock.now().date(), now=clock.now())
    clock.advance(timedelta(seconds=1))
    headers = {**world.home.headers(), "Accept": "text/event-stream"}
    with httpx.stream(
        "GET", f"{server}{API}/alerts/stream", headers=headers, timeout=httpx.Timeout(10)
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        assert next(lines) == ": connected"
        # Another pharmacy's alert first; then, a few polls later, one of ours.
        raise_missed(world, theirs["id"], day=clock.now().date(), now=clock.now())
        time.sleep(0.5)
        fresh = raise_missed(
            world, mine["id"], day=clock.now().date() + timedelta(days=1), now=clock.now()
        )
        event: dict[str, str] = {}
        for line in lines:
            if line.startswith("event: "):
                event["event"] = line[len("event: ") :]
            elif line.startswith("data: "):
                event["data"] = line[len("data: ") :]
            elif line.startswith("id: "):
                event["id"] = line[len("id: ") :]
            elif line == "" and event.get("event") == "alert":
                break
    assert event["id"] == str(fresh), "not the new alert (an old or foreign one came first)"
    body = json.loads(event["data"])
    assert body["id"] == str(fresh)
    assert body["kind"] == "missed_dose"
    assert str(earlier) != event["id"]


def test_the_atom_feed_lists_what_was_sent_to_its_contact(world: World, clock: FixedClock) -> None:
    contact = add_contact(world, "key_worker", email="feed@drugservice.example")
    feed_url = urlsplit(contact["feed_url"])
    assert feed_url.path == "/feeds/alerts.atom"
    token = dict(p.split("=", 1) for p in feed_url.query.split("&"))["token"]
    patient = world.patient(key_worker_id=contact["id"])
    other = world.patient()  # the world's key worker, not this contact
    day, now = clock.now().date(), clock.now()
    sent = [
        str(raise_missed(world, patient["id"], day=day + timedelta(days=n), now=now))
        for n in range(2)
    ]
    not_sent = str(raise_missed(world, other["id"], day=day, now=now))

    response = world.client.get("/feeds/alerts.atom", params={"token": token})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = ElementTree.fromstring(response.content)
    entries = [e.findtext(f"{ATOM}id") for e in feed.findall(f"{ATOM}entry")]
    assert sorted(entries) == sorted(f"urn:uuid:{a}" for a in sent)
    assert f"urn:uuid:{not_sent}" not in entries

    for bad in (secrets.token_urlsafe(32), token[:-2] + ("AA" if token[-2:] != "AA" else "BB")):
        refused = world.client.get("/feeds/alerts.atom", params={"token": bad})
        assert refused.status_code == 401, refused.text
        assert "entry" not in refused.text
    assert world.client.get("/feeds/alerts.atom").status_code in (401, 422)


@pytest.mark.hazard("H-10.1")
def test_clinicians_see_only_their_own_patients_alerts(world: World, clock: FixedClock) -> None:
    other_kw = add_contact(world, "key_worker", email="other-kw@drugservice.example")
    other_rx = add_contact(world, "prescriber", email="other-rx@gp.example")
    both = world.patient()  # the world's key worker and prescriber (the users' contacts)
    rx_only = world.patient(key_worker_id=other_kw["id"])
    neither = world.patient(key_worker_id=other_kw["id"], prescriber_id=other_rx["id"])
    day, now = clock.now().date(), clock.now()
    a_both = str(raise_missed(world, both["id"], day=day, now=now))
    a_rx = str(raise_missed(world, rx_only["id"], day=day, now=now))
    a_none = str(raise_missed(world, neither["id"], day=day, now=now))

    assert ids(world.get(f"{API}/alerts", role="key_worker")) == [a_both]
    assert sorted(ids(world.get(f"{API}/alerts", role="prescriber"))) == sorted([a_both, a_rx])
    assert len(ids(world.get(f"{API}/alerts"))) == 3  # the pharmacist sees the pharmacy's
    for role, hidden in (("key_worker", [a_rx, a_none]), ("prescriber", [a_none])):
        for alert_id in hidden:
            assert world.get(f"{API}/alerts/{alert_id}", role=role).status_code == 404
            assert (
                world.post(f"{API}/alerts/{alert_id}/acknowledge", {}, role=role).status_code == 404
            )
            assert (
                ids(
                    world.get(
                        f"{API}/alerts",
                        role=role,
                        params={"patient_id": rx_only["id"] if alert_id == a_rx else neither["id"]},
                    )
                )
                == []
            )
    assert world.get(f"{API}/alerts/{a_both}", role="key_worker").status_code == 200
    assert world.get(f"{API}/alerts/{a_rx}", role="prescriber").status_code == 200


@pytest.mark.hazard("H-10.1")
@pytest.mark.parametrize("role", ["pharmacist", "technician", "safeguarding_lead"])
def test_another_pharmacys_staff_never_see_the_alerts(
    world: World, clock: FixedClock, role: str
) -> None:
    house = world.household()
    patient = world.patient(house["id"])
    alert_id = str(raise_missed(world, patient["id"], day=clock.now().date(), now=clock.now()))
    away = world.away
    assert world.get(f"{API}/alerts/{alert_id}", role=role, branch=away).status_code == 404
    assert (
        world.post(
            f"{API}/alerts/{alert_id}/acknowledge", {"note": "x"}, role=role, branch=away
        ).status_code
        == 404
    )
    assert alert_id not in ids(world.get(f"{API}/alerts", role=role, branch=away))
    assert (
        ids(
            world.get(f"{API}/alerts", role=role, branch=away, params={"patient_id": patient["id"]})
        )
        == []
    )
    assert (
        ids(
            world.get(f"{API}/alerts", role=role, branch=away, params={"household_id": house["id"]})
        )
        == []
    )
    assert world.get(f"{API}/alerts/{alert_id}", role=role).status_code == 200
    assert UUID(alert_id)


def _read_until_end(lines: Iterator[str], limit: float) -> list[str]:
    """Every line until the server ends the stream, or fail after `limit` seconds."""
    seen: list[str] = []
    deadline = time.monotonic() + limit
    for line in lines:
        seen.append(line)
        assert time.monotonic() < deadline, f"the stream did not end: {seen[-5:]}"
    return seen


@pytest.mark.parametrize("how", ["account disabled", "token expired"])
def test_the_event_stream_ends_when_its_session_does(
    world: World,
    clock: FixedClock,
    server: str,
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    """Issue 16 item 2: the stream kept delivering alerts (with patient ids) after the account
    was disabled or the token expired. The session is re-checked on every poll."""
    monkeypatch.setattr(safeguarding_api, "POLL_SECONDS", 0.1)
    patient = world.patient()
    headers = {**world.home.headers("safeguarding_lead"), "Accept": "text/event-stream"}
    with httpx.stream(
        "GET", f"{server}{API}/alerts/stream", headers=headers, timeout=httpx.Timeout(10)
    ) as response:
        lines = response.iter_lines()
        assert next(lines) == ": connected"
        if how == "account disabled":
            user = world.home.users["safeguarding_lead"]
            disabled = world.post(f"{API}/users/{user}/disable", {}, role="admin")
            assert disabled.status_code == 200, disabled.text
        else:
            clock.advance(timedelta(seconds=world.settings.auth.token_ttl_seconds + 1))
        time.sleep(0.3)  # a poll already under way when the session ended may finish first
        raise_missed(world, patient["id"], day=clock.now().date(), now=clock.now())
        rest = _read_until_end(lines, limit=5)

    assert "event: signed_out" in rest
    assert not any(line.startswith("event: alert") for line in rest), "an alert went out"
    assert patient["id"] not in "\n".join(rest)
