"""docs/api.md and the served OpenAPI schema name the same operations (issue 16 item 11: the
docs listed `GET /api/v1/alerts/routing`, which answered 422 and was not in the schema).

The paths table in docs/api.md writes some paths in shorthand, which is read as a person would:
`…/cancel` after `…/{id}/release` is `…/{id}/cancel` (the last segment replaced), `…/schedule`
after `…/{id}` is `…/{id}/schedule` (appended to an id), `….html` is appended to the previous
path, and "`POST` the same" is the previous path with another method. Parameter names are not
compared (`{id}` and `{patient_id}` are one parameter), nor query strings."""

from __future__ import annotations

import re
from pathlib import Path

from tests.factories import World

DOC = Path(__file__).resolve().parent.parent / "docs" / "api.md"
CODE = re.compile(r"`([^`]+)`")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# Documented but deliberately outside the OpenAPI schema (Prometheus text for the scraper).
NOT_IN_SCHEMA = {"GET /metrics"}


def _normal(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path.split("?", 1)[0])


def documented() -> set[str]:
    text = DOC.read_text(encoding="utf-8")
    table = text.split("## Paths", 1)[1].split("\n## ", 1)[0]
    found: set[str] = set()
    for line in table.splitlines():
        if not line.startswith("| `"):
            continue
        cell = line.split("|")[1]
        method, path = "", ""
        for code in CODE.findall(cell):
            words = code.split(" ", 1)
            if words[0] in METHODS and len(words) == 1:  # "`POST` the same"
                method = words[0]
            elif words[0] in METHODS:
                method, rest = words[0], words[1]
                path = _expand(path, rest)
            else:
                path = _expand(path, code)
            found.add(f"{method} {_normal(path)}")
    return found


def _expand(previous: str, written: str) -> str:
    if written.startswith("…."):  # "….html": appended
        return previous + written[1:]
    if written.startswith("…/"):
        segments = previous.split("?", 1)[0].split("/")
        if segments[-1].startswith("{"):
            return "/".join(segments) + written[1:]
        return "/".join(segments[:-1]) + written[1:]
    return written


def served(world: World) -> set[str]:
    spec = world.client.app.openapi()  # type: ignore[attr-defined]
    return {
        f"{method.upper()} {_normal(path)}"
        for path, operations in spec["paths"].items()
        for method in operations
        if method.upper() in METHODS
    }


def test_every_documented_path_is_served_and_in_the_schema(world: World) -> None:
    missing = documented() - served(world) - NOT_IN_SCHEMA
    assert missing == set(), "documented in docs/api.md but not in the OpenAPI schema"


def test_every_path_in_the_schema_is_documented(world: World) -> None:
    undocumented = served(world) - documented()
    assert undocumented == set(), "in the OpenAPI schema but not in docs/api.md"


def test_the_alert_routing_table_is_served(world: World) -> None:
    for role in ("pharmacist", "safeguarding_lead", "admin"):
        response = world.get("/api/v1/alerts/routing", role=role)

        assert response.status_code == 200, response.text
        body = response.json()
        kinds = {item["kind"] for item in body["items"]}
        assert {"missed_dose", "delivery_failed"} <= kinds
        assert body["escalation"] == ["safeguarding_lead", "mash"]
