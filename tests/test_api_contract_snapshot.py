"""The API contract integrators rely on (DESIGN §6, docs/api.md) changes only on purpose: the
served OpenAPI document must equal the committed copy, docs/openapi.json. After a deliberate
change, `scripts/openapi --write` updates the copy and the diff shows in review; a
restructuring that should not change the contract (issue 18) provably does not."""

from __future__ import annotations

import json
from pathlib import Path

from app.config import Settings
from app.main import create_app

COPY = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"


def test_the_served_api_schema_is_the_committed_contract(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/openapi.sqlite3")
    served = create_app(settings).openapi()
    committed = json.loads(COPY.read_text())
    changed = sorted(
        path
        for path in set(served["paths"]) | set(committed["paths"])
        if served["paths"].get(path) != committed["paths"].get(path)
    )
    assert served == committed, (
        f"the API schema differs from docs/openapi.json (paths changed: {changed}); if the "
        "change is deliberate, run scripts/openapi --write and describe it in docs/api.md"
    )
