"""scripts/check-hazards: a control counts as proven only with a passing tagged test on each
database; a tag that names no control of the log, or a hazard id, fails the check."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "check-hazards"
LOG = ROOT / "docs" / "safety" / "hazard-log.md"


def log_controls() -> dict[str, list[str]]:
    controls: dict[str, list[str]] = {}
    for line in LOG.read_text().splitlines():
        if m := re.match(r"^\| (H-\d\d\.\d+) \|", line):
            controls[m.group(1)] = re.findall(r"`([^`]+::[^`]+)`", line.split("|")[-2])
    return controls


def every_control_proven_on(*databases: str) -> dict[str, dict[str, list[str]]]:
    return {
        control: {db: [f"{test}[case]" for test in tests] for db in databases}
        for control, tests in log_controls().items()
    }


def run(
    report: dict[str, dict[str, list[str]]], tmp_path: Path
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "hazards.json"
    path.write_text(json.dumps(report))
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(path)], capture_output=True, text=True, check=False
    )


def test_every_control_names_at_least_one_test_and_every_hazard_has_a_control() -> None:
    controls = log_controls()
    assert len(controls) >= 23
    assert all(controls.values()), [c for c, tests in controls.items() if not tests]


def test_proven_on_both_databases_passes_and_prints_the_table(tmp_path: Path) -> None:
    result = run(every_control_proven_on("sqlite", "postgresql"), tmp_path)
    assert result.returncode == 0, result.stdout
    assert re.search(r"^H-17\.1\s+2\s+2\s+proven$", result.stdout, re.M), result.stdout


def test_proven_on_sqlite_only_fails_naming_postgresql(tmp_path: Path) -> None:
    result = run(every_control_proven_on("sqlite"), tmp_path)
    assert result.returncode == 1
    assert re.search(r"^H-17\.1\s+2\s+0\s+NOT PROVEN on postgresql$", result.stdout, re.M)


def test_one_control_missing_on_one_database_fails(tmp_path: Path) -> None:
    report = every_control_proven_on("sqlite", "postgresql")
    report["H-08.2"]["postgresql"] = []
    result = run(report, tmp_path)
    assert result.returncode == 1
    assert "H-08.2 has no passing end-to-end test on postgresql" in result.stdout


def test_a_hazard_id_or_unknown_control_as_a_tag_fails(tmp_path: Path) -> None:
    report = every_control_proven_on("sqlite", "postgresql")
    report["H-04"] = {"sqlite": ["tests/x.py::test_y"], "postgresql": ["tests/x.py::test_y"]}
    result = run(report, tmp_path)
    assert result.returncode == 1
    assert "'H-04', which is not a control" in result.stdout


def test_a_test_named_by_the_log_that_did_not_pass_with_the_tag_fails(tmp_path: Path) -> None:
    report = every_control_proven_on("sqlite", "postgresql")
    named = log_controls()["H-17.1"][0]
    report["H-17.1"] = {db: ["tests/other.py::test_other"] for db in ("sqlite", "postgresql")}
    result = run(report, tmp_path)
    assert result.returncode == 1
    assert f"the log names {named}" in result.stdout
