"""Device tests: no hardware, only real code paths on 127.0.0.1, ptys and loop://."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

# python-escpos 3.1 leaks a temporary folder per import unless this names an existing folder
# (reference/devices.md, known issue 2). A private folder per test process, removed at exit,
# also keeps pytest-xdist workers from racing on one capabilities pickle.
if "ESCPOS_CAPABILITIES_PICKLE_DIR" not in os.environ:
    _pickle_dir = tempfile.mkdtemp(prefix="dosekeeper-test-escpos-")
    atexit.register(shutil.rmtree, _pickle_dir, ignore_errors=True)
    os.environ["ESCPOS_CAPABILITIES_PICKLE_DIR"] = _pickle_dir


@pytest.fixture
def preview_dir(tmp_path: Path) -> Path:
    return tmp_path / "previews"
