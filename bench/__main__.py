"""Run every benchmark in turn: `.venv/bin/python -m bench [--db sqlite|postgres|both]`.

Each runs in its own process (as `python -m bench.<name>`), so one's servers, pools and
threads never overlap another's measurements. Nothing asserts a time: read the ratios.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from bench import common

BENCHMARKS = ("handover", "decision", "close_day", "alerts")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    ap.add_argument("--only", nargs="+", choices=BENCHMARKS, default=list(BENCHMARKS))
    args = ap.parse_args()
    common.print_machine()
    failed = []
    started = time.perf_counter()
    for name in args.only:
        t = time.perf_counter()
        code = subprocess.call(
            [sys.executable, "-m", f"bench.{name}", "--db", args.db], cwd=common.ROOT
        )
        print(f"--- bench.{name}: exit {code} after {time.perf_counter() - t:.0f} s", flush=True)
        if code:
            failed.append(name)
    print(f"\nall benchmarks: {time.perf_counter() - started:.0f} s; failed: {failed or 'none'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
