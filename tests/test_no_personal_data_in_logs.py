"""No personal data in logs, URLs or cookies (reliability.md §7 #32).

Sentinel strings go in through the API as a patient's names, a household address and a child's
name; a withhold (intoxicated, child present) raises alerts, which are read and acknowledged.
Every log record (root logger at DEBUG, also as rendered by the app's JSON formatter), every
URL the API hands out (a contact's feed_url, acknowledgement links, Location headers, URLs in
response bodies) and every cookie must be free of the sentinels.
"""

from __future__ import annotations

import io
import logging
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.clock import FixedClock
from app.logs import JsonFormatter
from app.notify.links import acknowledge_link
from tests.builders import MONDAY, alerts, at, handover, prescribe
from tests.factories import World

API = "/api/v1"
URL = re.compile(r"(?:https?://|/)[^\s\"'<>]+")


def sentinels() -> dict[str, str]:
    tag = uuid.uuid4().hex[:10].upper()
    return {
        "given_name": f"Zqgiven{tag}",
        "family_name": f"Zqfamily{tag}",
        "address": f"{tag} Zqsentinel Lane, Zqtown",
        "child_name": f"Zqchild{tag}",
    }


@pytest.fixture
def captured_logs(caplog: pytest.LogCaptureFixture) -> Iterator[io.StringIO]:
    """Everything logged anywhere, at DEBUG, also as the production JSON formatter renders it
    (which adds exception text and extras the bare message lacks)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    caplog.set_level(logging.DEBUG)  # the root logger
    try:
        yield stream
    finally:
        root.removeHandler(handler)


class Recorder:
    """Wraps the test client and keeps every response, to scan URLs, headers and cookies."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.responses: list[Any] = []

    def post(self, path: str, body: dict[str, Any], **kw: Any) -> Any:
        response = self.world.post(path, body, **kw)
        self.responses.append(response)
        return response

    def get(self, path: str, **kw: Any) -> Any:
        response = self.world.get(path, **kw)
        self.responses.append(response)
        return response


def _found(text: str, secrets: dict[str, str]) -> list[str]:
    low = text.lower()
    return [name for name, value in secrets.items() if value.lower() in low]


def test_no_personal_data_in_logs_urls_or_cookies(
    world: World,
    clock: FixedClock,
    client: TestClient,
    captured_logs: io.StringIO,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    secret = sentinels()
    api = Recorder(world)

    # Seed the sentinels through the API.
    contact = api.post(
        f"{API}/contacts",
        {
            "name": "Test key worker",
            "organisation": "Test Org",
            "kind": "key_worker",
            "email": "kw@example.org",
        },
    )
    assert contact.status_code == 201, contact.text
    house = api.post(f"{API}/households", {"address": secret["address"], "postcode": "TT1 1AA"})
    assert house.status_code == 201, house.text
    house_id = house.json()["id"]
    child = api.post(
        f"{API}/households/{house_id}/children",
        {
            "name": secret["child_name"],
            "date_of_birth": "2022-03-01",
            "protection_status": "child_in_need",
            "social_worker_id": str(world.social_worker_id),
        },
    )
    assert child.status_code == 201, child.text
    patient = world.patient(
        house_id, given_name=secret["given_name"], family_name=secret["family_name"]
    )
    prescribe(world, patient["id"])

    # Refused handover, withhold with a child present: alerts are raised.
    clock.set(at(MONDAY))
    refused = api.post(f"{API}/counter/handover", handover(patient["id"], MONDAY, intoxicated=True))
    assert refused.status_code == 422, refused.text
    withheld = api.post(
        f"{API}/counter/withhold",
        {
            "patient_id": patient["id"],
            "date": MONDAY.isoformat(),
            "reason": "intoxicated",
            "children_present": [child.json()["id"]],
        },
    )
    assert withheld.status_code == 201, withheld.text
    raised = alerts(world, patient_id=patient["id"])
    assert raised, "the withhold should have raised alerts"

    # Read and acknowledge the alerts; build the link a contact would receive for each.
    links = []
    for alert in raised:
        assert api.get(f"{API}/alerts/{alert['id']}").status_code == 200
        links.append(
            acknowledge_link(
                "https://dosekeeper.test",
                world.settings.secret_key.get_secret_value(),
                alert_id=uuid.UUID(alert["id"]),
                contact_id=world.key_worker_id,
                now=clock.now(),
            )
        )
    ack = api.post(
        f"{API}/alerts/{raised[0]['id']}/acknowledge",
        {"note": "Seen; calling the social worker"},
        role="safeguarding_lead",
    )
    assert ack.status_code == 200, ack.text
    # A failed lookup is logged and audited (ASVS 16.3.2): it must not echo the record either.
    missing = api.get(f"{API}/patients/{uuid.uuid4()}")
    assert missing.status_code == 404

    # Logs: every record, message and formatted line, and whatever reached stdout/stderr.
    out, err = capfd.readouterr()
    log_text = "\n".join(
        [captured_logs.getvalue(), caplog.text, out, err]
        + [record.getMessage() for record in caplog.records]
        + [repr(record.args) for record in caplog.records]
    )
    assert caplog.records, "nothing was logged: the capture is not wired up"
    assert _found(log_text, secret) == []

    # URLs the API hands out: the feed URL, acknowledgement links, Location headers, and any
    # URL or path inside a response body.
    assert "feed_url" in contact.json()
    urls = [contact.json()["feed_url"], *links]
    for response in [*api.responses, contact]:
        urls += URL.findall(response.text)
        urls += [response.headers.get("location", ""), str(response.request.url)]
    assert _found("\n".join(urls), secret) == []

    # Cookies: the client's jar and every Set-Cookie header.
    cookies = [f"{c.name}={c.value}" for c in client.cookies.jar]
    for response in api.responses:
        cookies += response.headers.get_list("set-cookie")
    assert _found("\n".join(cookies), secret) == []


def test_the_access_log_keeps_no_search_signature_or_token(
    world: World,
    session_factory: Any,
    clock: FixedClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Issue 16 item 9: uvicorn's access log wrote `?q=<surname>`, `?sig=` and `?token=` as
    they came. A real server on 127.0.0.1, its access log captured as any handler sees it."""
    import threading
    import time

    import httpx
    import uvicorn

    from app.main import create_app
    from tests.notify.receivers import free_port

    secret = sentinels()
    app = create_app(world.settings, session_factory, clock)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    caplog.set_level(logging.INFO, logger="uvicorn.access")
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        base = f"http://127.0.0.1:{port}"
        sig, token = "Zqsig" + uuid.uuid4().hex, "Zqtoken" + uuid.uuid4().hex
        with httpx.Client(base_url=base, headers=world.home.headers()) as http:
            http.get(f"{API}/patients", params={"q": secret["family_name"]})
            http.get(f"/alerts/{uuid.uuid4()}/ack", params={"contact": uuid.uuid4(), "sig": sig})
            http.get("/feeds/alerts.atom", params={"token": token})
            http.get(f"{API}/counter/due", params={"date": "2026-11-30"})
    finally:
        server.should_exit = True
        thread.join(timeout=10)

    lines = [r.getMessage() for r in caplog.records if r.name == "uvicorn.access"]
    text = "\n".join(lines)
    assert f"{API}/patients?q=[redacted]" in text, lines
    assert "/feeds/alerts.atom?token=[redacted]" in text
    assert "date=2026-11-30" in text, "ordinary parameters stay readable"
    for value in (secret["family_name"], sig, token):
        assert value.lower() not in text.lower(), f"{value} reached the access log"
