"""Locust users for the loopback load run: counter terminals and back-office staff at several
pharmacies, working one real day (reliability §5.4, checklist row 41).

Run by `tests/load/test_locust_smoke.py`, which seeds the world and starts the servers. The plan
(pharmacies, bearer tokens, patients, today's date) comes as JSON named by
`DOSEKEEPER_LOAD_PLAN`; at the end a tally of what happened goes to `DOSEKEEPER_LOAD_TALLY`.
This file imports nothing from the app: it sees only the HTTP API, as a terminal would.

Each response is judged, not just counted:
- 2xx is success;
- a business refusal the counter must expect (409 `already_recorded` when another terminal was
  quicker, 422 `handover_refused` when an override was not given, 409 `already_acknowledged`)
  is success in locust's figures and counted separately as "expected";
- anything else (every 5xx, any other 4xx, a replay that does not return the stored response)
  is a failure.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import gevent
from locust import FastHttpUser, between, events, task

API = "/api/v1"
PLAN: dict[str, Any] = json.loads(Path(os.environ["DOSEKEEPER_LOAD_PLAN"]).read_text())
TODAY: str = PLAN["today"]
PRODUCT: str = PLAN["product"]
OVERRIDABLE = {"no_lockable_box", "children_not_confirmed"}
# Business refusals by endpoint name: (status, problem code).
EXPECTED: dict[str, set[tuple[int, str]]] = {
    "POST /counter/handover": {(409, "already_recorded"), (422, "handover_refused")},
    "POST /counter/handover [retry]": {(409, "already_recorded"), (422, "handover_refused")},
    "POST /counter/handover [double click]": {(409, "already_recorded"), (422, "handover_refused")},
    "POST /counter/withhold": {(409, "already_recorded"), (409, "nothing_due")},
    "POST /alerts/{id}/acknowledge": {(409, "already_acknowledged")},
    "POST /counter/handover [key reused]": {(422, "invalid_input")},
}
_next_pharmacy = itertools.count()


class Tally:
    """What the run did, for the test to compare with the database afterwards."""

    def __init__(self) -> None:
        self.outcomes: Counter[str] = Counter()  # "name status code outcome" -> n
        self.handovers: list[str] = []  # handover ids answered 201 (first time)
        self.replays_identical = 0
        self.replays_different = 0
        self.double_clicks_split = 0  # a double click that recorded two handovers
        self.double_clicks: Counter[str] = Counter()  # "201+201" -> n (statuses, sorted)
        self.withheld: list[str] = []  # patient ids answered 201 to a withhold
        self.acknowledged: list[str] = []

    def note(self, name: str, status: int, code: str, outcome: str) -> None:
        self.outcomes[f"{name}|{status}|{code}|{outcome}"] += 1

    def dump(self, path: str) -> None:
        Path(path).write_text(
            json.dumps(
                {
                    "outcomes": dict(self.outcomes),
                    "handovers": self.handovers,
                    "replays_identical": self.replays_identical,
                    "replays_different": self.replays_different,
                    "double_clicks_split": self.double_clicks_split,
                    "double_clicks": dict(self.double_clicks),
                    "withheld": self.withheld,
                    "acknowledged": self.acknowledged,
                },
                indent=1,
            )
        )


TALLY = Tally()


@events.quitting.add_listener
def _write_tally(environment: Any, **_: Any) -> None:
    path = os.environ.get("DOSEKEEPER_LOAD_TALLY")
    if path:
        TALLY.dump(path)


def _code(response: Any) -> str:
    try:
        body = response.json()
    except Exception:  # noqa: BLE001 - not JSON (HTML pages, empty bodies)
        return ""
    return str(body.get("code", "")) if isinstance(body, dict) else ""


def _label_jobs(body: dict[str, Any]) -> list[tuple[str, int, str]]:
    jobs = (body.get("label") or {}).get("jobs") or []
    return [(j["job_id"], j["label_id"], j["code"]) for j in jobs]


def _without_label(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "label"}


def _same_handover(replayed: dict[str, Any], first: dict[str, Any]) -> bool:
    """The stored answer again. Only the label's print state is read afresh: a replay reports
    the job already printed (without its text preview) and never prints a second label."""
    same_jobs = _label_jobs(replayed) == _label_jobs(first)
    return same_jobs and _without_label(replayed) == _without_label(first)


class Staff(FastHttpUser):
    """A signed-in member of staff at one pharmacy (bearer token issued at setup)."""

    abstract = True
    role = ""

    def on_start(self) -> None:
        self.pharmacy: dict[str, Any] = PLAN["pharmacies"][
            next(_next_pharmacy) % len(PLAN["pharmacies"])
        ]
        self.token = self.pick_token()
        self.auth = {"Authorization": f"Bearer {self.token}"}
        self.patients: list[dict[str, Any]] = self.pharmacy["patients"]
        # The patients who come in today (the absent ones become missed at end of day).
        self.visitors = [p for p in self.patients if not p["absent"]]
        self.alert_ids: list[str] = []

    def pick_token(self) -> str:
        return str(self.pharmacy[self.role])

    def call(
        self, method: str, path: str, name: str, *, headers: dict[str, str] | None = None, **kw: Any
    ) -> Any:
        """One request, judged: success, an expected refusal, or a failure."""
        with self.client.request(
            method, path, name=name, headers={**self.auth, **(headers or {})},
            catch_response=True, **kw,
        ) as response:  # fmt: skip
            status = response.status_code
            code = _code(response) if status >= 400 else ""
            if 200 <= status < 300:
                outcome = "ok"
                response.success()
            elif (status, code) in EXPECTED.get(name, set()):
                outcome = "expected"
                response.success()
            else:
                outcome = "unexpected"
                # Status 0: no response at all (the connection failed); say why, never crash.
                said = response.text or str(getattr(response, "error", "") or "no response")
                response.failure(f"{status} {code or said[:200]}")
            TALLY.note(name, status, code, outcome)
            return response

    def read_alerts(self, **params: str) -> None:
        response = self.call(
            "GET", f"{API}/alerts", "GET /alerts", params={"limit": "50", **params}
        )
        if response.status_code == 200:
            self.alert_ids = [a["id"] for a in response.json()["items"]]

    def acknowledge_one(self) -> None:
        open_ids = list(self.alert_ids)
        if not open_ids:
            return
        alert_id = random.choice(open_ids)
        response = self.call(
            "POST",
            f"{API}/alerts/{alert_id}/acknowledge",
            "POST /alerts/{id}/acknowledge",
            json={"note": "Load run: seen; calling the key worker."},
        )
        if response.status_code == 200:
            TALLY.acknowledged.append(alert_id)

    def household(self) -> None:
        if not self.pharmacy["households"]:
            return
        household_id = random.choice(self.pharmacy["households"])
        if random.random() < 0.5:
            self.call("GET", f"{API}/households/{household_id}", "GET /households/{id}")
        else:  # the page a safeguarding lead opens from an alert
            self.call("GET", f"/households/{household_id}", "GET /households/{id} [page]")


class CounterTerminal(Staff):
    """A pharmacist or technician at the counter: due list, scan or check, hand over."""

    weight = 10
    wait_time = between(0.5, 2.5)

    def pick_token(self) -> str:
        self.pharmacist = random.random() < 0.6
        pool = self.pharmacy["pharmacists" if self.pharmacist else "technicians"]
        return str(random.choice(pool))

    def on_start(self) -> None:
        super().on_start()
        self.queue: list[str] = []
        self.due_loaded = 0.0
        self.by_id = {p["id"]: p for p in self.patients}
        self.due_list()

    @task(1)
    def due_list(self) -> None:
        """The day's list; the terminal works through the patients still due, in its own order."""
        self.due_loaded = time.monotonic()
        response = self.call("GET", f"{API}/counter/due", "GET /counter/due")
        if response.status_code == 200:
            due = [
                i["patient_id"]
                for i in response.json()["items"]
                if i["state"] == "due" and not self.by_id[i["patient_id"]]["absent"]
            ]
            random.shuffle(due)
            self.queue = due

    def next_patient(self) -> dict[str, Any]:
        if not self.queue and time.monotonic() - self.due_loaded > 30:
            self.due_list()
        if self.queue:
            return dict(self.by_id[self.queue.pop()])
        return dict(random.choice(self.visitors))  # someone back again, already served

    def identify(self, patient: dict[str, Any]) -> dict[str, Any] | None:
        """Scan the patient's card (or look them up) and get today's decision."""
        if random.random() < 0.5:
            response = self.call(
                "POST", f"{API}/counter/scan", "POST /counter/scan",
                json={"code": patient["card_code"]},
            )  # fmt: skip
            ok = response.status_code == 200
            return dict(response.json()["decision"]) if ok else None
        response = self.call(
            "POST", f"{API}/counter/check", "POST /counter/check",
            json={"patient_id": patient["id"]},
        )  # fmt: skip
        return dict(response.json()) if response.status_code == 200 else None

    @task(8)
    def serve(self) -> None:
        patient = self.next_patient()
        decision = self.identify(patient)
        if decision is None:
            return
        blocks = {b["code"] for b in decision["blocks"]}
        if blocks - OVERRIDABLE and random.random() > 0.1:
            return  # already recorded or withheld: the counter says so (sometimes tries anyway)
        if self.pharmacist and random.random() < 0.06:
            self.withhold(patient)
        else:
            self.hand_over(patient, decision, blocks)

    def withhold(self, patient: dict[str, Any]) -> None:
        response = self.call(
            "POST", f"{API}/counter/withhold", "POST /counter/withhold",
            json={
                "patient_id": patient["id"], "date": TODAY, "reason": "intoxicated",
                "children_present": patient["children"][: random.randint(0, 1)],
            },
        )  # fmt: skip
        if response.status_code == 201:
            TALLY.withheld.append(patient["id"])

    def hand_over(
        self, patient: dict[str, Any], decision: dict[str, Any], blocks: set[str]
    ) -> None:
        mode = decision.get("mode") or ("take_home" if patient["kind"] == "take_home" else "")
        body: dict[str, Any] = {
            "patient_id": patient["id"],
            "date": TODAY,
            "outcome": "collected" if mode == "take_home" else "supervised",
            "measuring_device": mode == "take_home",
            "id_checked": True,
            "intoxicated": False,
            "acknowledged": [w["code"] for w in decision["warnings"]],
        }
        if blocks & OVERRIDABLE and random.random() < 0.8:
            body["overrides"] = [
                {"code": code, "reason": "Load run: box seen and household confirmed by phone."}
                for code in sorted(blocks & OVERRIDABLE)
            ]
        key = str(uuid.uuid4())
        headers = {"Idempotency-Key": key}
        if not self.pharmacist:  # the technician calls a pharmacist: the attestation is theirs
            pharmacist = random.choice(self.pharmacy["pharmacists"])
            headers["Authorization"] = f"Bearer {pharmacist}"
        path, name = f"{API}/counter/handover", "POST /counter/handover"
        if random.random() < 0.05:
            first = self.double_click(path, body, headers)
        else:
            response = self.call("POST", path, name, json=body, headers=headers)
            first = response.json() if response.status_code == 201 else None
        if first is None:
            return
        TALLY.handovers.append(first["handover_id"])
        if random.random() < 0.25:  # the terminal never saw the answer and sends it again
            self.replay(path, body, headers, first)
        elif random.random() < 0.05:  # a buggy client reuses the key for another body
            self.call(
                "POST", path, "POST /counter/handover [key reused]",
                json={**body, "id_checked": False}, headers=headers,
            )  # fmt: skip
        label = (first.get("label") or {}).get("jobs") or []
        if label and random.random() < 0.5:
            self.call("GET", f"{API}/labels/{label[0]['label_id']}", "GET /labels/{id}")

    def double_click(
        self, path: str, body: dict[str, Any], headers: dict[str, str]
    ) -> dict[str, Any] | None:
        """The same request twice at once (a double click): one handover, whichever answers."""
        name = "POST /counter/handover [double click]"
        clicks = [
            gevent.spawn(self.call, "POST", path, name, json=body, headers=headers)
            for _ in range(2)
        ]
        gevent.joinall(clicks)
        statuses = sorted(c.value.status_code if c.value is not None else 0 for c in clicks)
        TALLY.double_clicks["+".join(map(str, statuses))] += 1
        answers = [
            c.value.json() for c in clicks if c.value is not None and c.value.status_code == 201
        ]
        ids = {a["handover_id"] for a in answers}
        if len(ids) > 1:
            TALLY.double_clicks_split += 1
            events.request.fire(
                request_type="CHECK", name=name, response_time=0, response_length=0,
                exception=AssertionError(f"one double click, two handovers: {sorted(ids)}"),
            )  # fmt: skip
        return answers[0] if answers else None

    def replay(
        self, path: str, body: dict[str, Any], headers: dict[str, str], first: dict[str, Any]
    ) -> None:
        """Same key, same body: the stored response, never a second dose."""
        name = "POST /counter/handover [retry]"
        with self.client.request(
            "POST", path, name=name, json=body, headers={**self.auth, **headers},
            catch_response=True,
        ) as response:  # fmt: skip
            same = response.status_code == 201 and _same_handover(response.json(), first)
            if same:
                TALLY.replays_identical += 1
                response.success()
            else:
                TALLY.replays_different += 1
                response.failure(f"replay differed: {response.status_code} {response.text[:200]}")
            TALLY.note(name, response.status_code, "", "ok" if same else "unexpected")

    @task(2)
    def alerts(self) -> None:
        self.read_alerts(state="open")

    @task(1)
    def adherence(self) -> None:
        patient = random.choice(self.patients)
        self.call(
            "GET", f"{API}/patients/{patient['id']}/adherence", "GET /patients/{id}/adherence"
        )

    @task(1)
    def household_view(self) -> None:
        self.household()

    @task(1)
    def box_seen(self) -> None:
        """Now and then a take-home patient shows the lockable box at the counter."""
        take_home = [p for p in self.visitors if p["kind"] == "take_home"]
        if take_home and random.random() < 0.3:
            patient = random.choice(take_home)
            self.call(
                "POST", f"{API}/patients/{patient['id']}/box-confirmations",
                "POST /patients/{id}/box-confirmations",
                json={"seen_on": TODAY, "method": "shown_at_pharmacy", "note": "Load run"},
            )  # fmt: skip


class SafeguardingLead(Staff):
    """The pharmacy's safeguarding lead: the alert feed, acknowledgements, households."""

    weight = 2
    wait_time = between(1, 4)
    role = "safeguarding_lead"

    @task(3)
    def feed(self) -> None:
        self.read_alerts(state="open")

    @task(2)
    def detail(self) -> None:
        if self.alert_ids:
            alert_id = random.choice(self.alert_ids)
            self.call("GET", f"{API}/alerts/{alert_id}", "GET /alerts/{id}")

    @task(2)
    def acknowledge(self) -> None:
        self.acknowledge_one()

    @task(2)
    def households(self) -> None:
        self.household()

    @task(1)
    def register(self) -> None:
        self.call("GET", f"{API}/register", "GET /register", params={"product": PRODUCT})


class Prescriber(Staff):
    """A prescriber reviewing their caseload at one pharmacy."""

    weight = 1
    wait_time = between(2, 5)
    role = "prescriber"

    @task(2)
    def caseload(self) -> None:
        self.call("GET", f"{API}/reports/caseload", "GET /reports/caseload")

    @task(2)
    def adherence(self) -> None:
        patient = random.choice(self.patients)
        self.call(
            "GET", f"{API}/patients/{patient['id']}/adherence", "GET /patients/{id}/adherence"
        )

    @task(1)
    def fhir(self) -> None:
        patient = random.choice(self.patients)
        self.call("GET", f"{API}/patients/{patient['id']}/fhir", "GET /patients/{id}/fhir")

    @task(1)
    def prescriptions(self) -> None:
        patient = random.choice(self.patients)
        self.call(
            "GET", f"{API}/patients/{patient['id']}/prescriptions",
            "GET /patients/{id}/prescriptions",
        )  # fmt: skip


class KeyWorker(Staff):
    """A key worker: their alerts (acknowledging some) and their caseload."""

    weight = 1
    wait_time = between(2, 5)
    role = "key_worker"

    @task(2)
    def feed(self) -> None:
        self.read_alerts()

    @task(1)
    def acknowledge(self) -> None:
        self.acknowledge_one()

    @task(1)
    def caseload(self) -> None:
        self.call("GET", f"{API}/reports/caseload", "GET /reports/caseload")
