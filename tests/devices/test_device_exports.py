"""The public surface of `devices` is pinned, and the library stays independent of the app."""

from __future__ import annotations

import ast
import subprocess
import sys
import types
from pathlib import Path

import devices

from .support import REPO_ROOT


def test_all_lists_exactly_the_public_names() -> None:
    public = {
        name
        for name, value in vars(devices).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(devices.__all__) == public
    assert len(devices.__all__) == len(public)


def test_devices_never_imports_the_app() -> None:
    for path in Path(devices.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(name == "app" or name.startswith("app.") for name in names), path


def test_importing_devices_loads_no_app_module() -> None:
    code = "import sys, devices; print(sorted(m for m in sys.modules if m.split('.')[0] == 'app'))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert result.stdout.strip() == "[]"
