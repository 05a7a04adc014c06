"""Drive a server with wrk (C, one thread, keep-alive connections, little client CPU).

Every request is the next line of a request list (`write_requests`): a POST of its own JSON
body with its own Authorization and `x-bench-day` headers, sent by `bench/walk.lua`. A list
walked without `wrap` never sends a line twice (each line is a different patient's dose);
`Block.sent` says where the next block starts. wrk's latency record is read back whole, so
blocks can be merged and their percentiles computed exactly (`merge`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import common

SCRIPT = Path(__file__).with_name("walk.lua")


@dataclass(frozen=True, slots=True)
class Line:
    authorization: str
    day: int
    body: str  # JSON


def write_requests(lines: Sequence[Line]) -> Path:
    """The request list for walk.lua, in a temporary file (the caller removes it)."""
    fd, name = tempfile.mkstemp(prefix="dk-bench-requests-", suffix=".tsv")
    with open(fd, "w", encoding="utf-8") as out:
        for line in lines:
            if "\t" in line.body or "\n" in line.body:
                raise ValueError("a request body must be one line without tabs")
            out.write(f"{line.authorization}\t{line.day}\t{line.body}\n")
    return Path(name)


def version() -> str:
    """wrk's version line, e.g. "4.1.0" (`wrk -v` exits 1 after printing it)."""
    done = subprocess.run([binary(), "-v"], capture_output=True, text=True, check=False)
    words = (done.stdout + done.stderr).split()
    return words[1] if len(words) > 1 else "?"


def binary() -> str:
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is not installed: `apt-get install wrk`")
    return found


@dataclass
class Block:
    """One wrk run (or several merged)."""

    requests: int  # responses received
    seconds: float
    sent: int  # lines taken from the list (a few may be in flight when wrk stops)
    ok: int  # responses with the expected status
    not_expected: int  # any other status
    statuses: dict[int, int]
    sample: str
    errors: dict[str, int]  # wrk's: connect, read, write, timeout (and status: >= 400)
    exhausted: bool
    latencies_ms: list[float] = field(default_factory=list)
    server_cpu_s: float = 0.0
    load: list[float] = field(default_factory=list)  # 1-minute load average at each block

    @property
    def socket_errors(self) -> int:
        """Connect, read and write errors and timeouts (wrk's "status" count of responses
        >= 400 is left out: `not_expected` counts those, and any status but the expected)."""
        return sum(n for kind, n in self.errors.items() if kind != "status")

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, Any]:
        p50 = common.percentile(self.latencies_ms, 50)
        p99 = common.percentile(self.latencies_ms, 99)
        return {
            "requests": self.requests,
            "sent": self.sent,
            "seconds": self.seconds,
            "rps": self.rps,
            "p50": p50,
            "p90": common.percentile(self.latencies_ms, 90),
            "p99": p99,
            "max": max(self.latencies_ms, default=float("nan")),
            "p99_over_p50": p99 / p50 if p50 else float("nan"),
            "server_cpu_ms": self.server_cpu_s / self.sent * 1000 if self.sent else float("nan"),
            "not_expected": self.not_expected,
            "errors": self.socket_errors,
            "exhausted": self.exhausted,
            "load": [min(self.load, default=0.0), max(self.load, default=0.0)],
        }


def run(
    url: str,
    requests: Path,
    *,
    connections: int,
    seconds: float,
    first: int = 0,
    wrap: bool = False,
    expect: int = 201,
    timeout_s: int = 60,
) -> Block:
    """POST the list's lines from `first` (0-based) to `url` for `seconds` over `connections`
    keep-alive connections. With `wrap` the list is walked round and round; without it wrk
    stops early if the list runs out (`Block.exhausted`; the block's time is then measured from
    the first request to that moment). Responses other than `expect` are counted apart."""
    command = [
        binary(),
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={timeout_s}s",
        "-s",
        str(SCRIPT),
        url,
        "--",
        str(requests),
        str(first + 1),
        "1" if wrap else "0",
        str(expect),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [x for x in done.stdout.splitlines() if x.startswith("WRKJSON ")]
    if done.returncode or not lines:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    data = json.loads(lines[-1].removeprefix("WRKJSON "))
    exhausted = bool(data["exhausted"])
    seconds_run = data["active_s"] if exhausted else data["duration_us"] / 1e6
    return Block(
        requests=data["requests"],
        seconds=seconds_run,
        sent=data["sent"],
        ok=data["ok"],
        not_expected=data["failed"],
        statuses={int(k): v for k, v in data["statuses"].items()},
        sample=data["sample"],
        errors=data["errors"],
        exhausted=exhausted,
        latencies_ms=[v / 1000 for v in data["latencies_us"]],
    )


def merge(blocks: Sequence[Block]) -> Block:
    out = Block(0, 0.0, 0, 0, 0, {}, "", {}, False)
    for b in blocks:
        out.requests += b.requests
        out.seconds += b.seconds
        out.sent += b.sent
        out.ok += b.ok
        out.not_expected += b.not_expected
        for code, n in b.statuses.items():
            out.statuses[code] = out.statuses.get(code, 0) + n
        out.sample = out.sample or b.sample
        for kind, n in b.errors.items():
            out.errors[kind] = out.errors.get(kind, 0) + n
        out.exhausted = out.exhausted or b.exhausted
        out.latencies_ms += b.latencies_ms
        out.server_cpu_s += b.server_cpu_s
        out.load += b.load
    return out
