"""OpenAPI links: which response feeds which request (OpenAPI 3.1 §4.8.20).

They document the workflows an integrator follows (the alert a withheld dose raised, the label a
take-home printed, the prescription for a new patient) and let stateful API testing
(schemathesis) chain the calls. Links it can infer by itself (a created id to its GET) are not
repeated here.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

API = "/api/v1"
FIRST_ALERT = "$response.body#/alerts/0"

# (method, path, status) of the source → {link name: (method, path of the target, link body)}
LINKS: dict[tuple[str, str, str], dict[str, tuple[str, str, dict[str, Any]]]] = {
    ("post", f"{API}/counter/withhold", "201"): {
        "RaisedAlert": (
            "get",
            f"{API}/alerts/{{alert_id}}",
            {"parameters": {"alert_id": FIRST_ALERT}},
        ),
        "AcknowledgeRaisedAlert": (
            "post",
            f"{API}/alerts/{{alert_id}}/acknowledge",
            {"parameters": {"alert_id": FIRST_ALERT}},
        ),
    },
    ("post", f"{API}/counter/handover", "201"): {
        "RaisedAlert": (
            "get",
            f"{API}/alerts/{{alert_id}}",
            {"parameters": {"alert_id": FIRST_ALERT}},
        ),
        "AcknowledgeRaisedAlert": (
            "post",
            f"{API}/alerts/{{alert_id}}/acknowledge",
            {"parameters": {"alert_id": FIRST_ALERT}},
        ),
        "PrintedLabel": (
            "get",
            f"{API}/labels/{{label_id}}",
            {"parameters": {"label_id": "$response.body#/label/jobs/0/label_id"}},
        ),
        "Adherence": (
            "get",
            f"{API}/patients/{{patient_id}}/adherence",
            {"parameters": {"patient_id": "$response.body#/patient_id"}},
        ),
    },
    ("post", f"{API}/households", "201"): {
        "AddPatient": (
            "post",
            f"{API}/patients",
            {"requestBody": {"household_id": "$response.body#/id"}},
        ),
    },
    ("post", f"{API}/patients", "201"): {
        "TranscribePrescription": (
            "post",
            f"{API}/prescriptions",
            {"requestBody": {"patient_id": "$response.body#/id"}},
        ),
        "CheckAtCounter": (
            "post",
            f"{API}/counter/check",
            {"requestBody": {"patient_id": "$response.body#/id"}},
        ),
    },
    ("post", f"{API}/prescriptions", "201"): {
        "CheckAtCounter": (
            "post",
            f"{API}/counter/check",
            {"requestBody": {"patient_id": "$response.body#/patient_id"}},
        ),
    },
}


def add_links(schema: dict[str, Any]) -> dict[str, Any]:
    """Add LINKS to an OpenAPI document in place (targets named by their operationId)."""
    paths = schema.get("paths", {})
    for (method, path, status), links in LINKS.items():
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is None:
            continue
        for name, (target_method, target_path, link) in links.items():
            target = paths.get(target_path, {}).get(target_method)
            if target is None or "operationId" not in target:
                continue
            response.setdefault("links", {})[name] = {"operationId": target["operationId"], **link}
    return schema


def install(app: FastAPI) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_links(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
