"""The pure rule tests run alone: no database, no SQLAlchemy, no web framework (issue 18).

The rules are facts in, a decision out; their tests must say so by running with none of the
machinery the rest of the suite needs. A fixture or helper that drags the web app or the
database into collection would make every rule test depend on it again, so this runs them in
a fresh interpreter and checks what was imported.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("fastapi", "starlette", "sqlalchemy", "httpx", "app.main", "app.db")

PROBE = """
import sys, pytest
code = pytest.main(sys.argv[1:])
heavy = [name for name in {heavy!r} if name in sys.modules]
print("HEAVY:", ",".join(heavy))
sys.exit(int(code) or (3 if heavy else 0))
"""


def test_the_rule_tests_run_without_database_or_web_framework() -> None:
    rule_tests = sorted(str(p.relative_to(ROOT)) for p in ROOT.glob("tests/*/test_rules*.py"))
    assert len(rule_tests) >= 6, rule_tests
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *rule_tests]
        + ["-q", "-n", "0", "-p", "no:cacheprovider", "-p", "no:randomly"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    imported = [line for line in done.stdout.splitlines() if line.startswith("HEAVY:")]
    assert imported == ["HEAVY: "], (imported, done.stdout[-2000:])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
