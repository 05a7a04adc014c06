"""docs/configuration.md names every setting: an operator reads that page, not app/config.py,
so a setting missing there (as DOSEKEEPER_SCANNER_URL once was) cannot be found."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from app.config import Settings

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def variables(model: type[BaseModel], prefix: str = "DOSEKEEPER_") -> Iterator[str]:
    """The environment variable of every leaf setting (nested groups joined with `__`)."""
    for name, field in model.model_fields.items():
        group = field.annotation
        if isinstance(group, type) and issubclass(group, BaseModel):
            yield from variables(group, f"{prefix}{name.upper()}__")
        else:
            yield f"{prefix}{name.upper()}"


def test_every_setting_has_a_row_in_the_configuration_page() -> None:
    documented = DOC.read_text(encoding="utf-8")
    missing = [v for v in variables(Settings) if f"| `{v}` |" not in documented]
    assert missing == []
