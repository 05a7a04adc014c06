"""Test-only server: the production app (`app.main:app_from_env`), except that, in this process
only, the first handover whose transaction has committed kills the process with `os._exit(1)`
before any response is written: the "crash between commit and response" of reliability.md
§5.3. Production code has no crash switch; the patch lives here.

Usage: python -m tests.faults.crash_server PORT RECORD_PATH

Just before dying it writes to RECORD_PATH what the reply would have carried (status and JSON
body), so the test can check that the retried request replays exactly that.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

import uvicorn
from fastapi.encoders import jsonable_encoder

from app.dosing import handover as dosing_handover
from app.http.idempotency import Stored
from app.main import app_from_env


def arm(record: Path) -> None:
    """Wrap the handover use case: the wrapped call commits, then the process dies."""
    original = dosing_handover.hand_over
    lock = threading.Lock()
    armed = [True]

    def hand_over_then_crash(*args: Any, **kwargs: Any) -> Stored:
        stored = original(*args, **kwargs)  # returns only after uow.commit()
        with lock:
            first, armed[0] = armed[0], False
        if first:
            record.write_text(
                json.dumps({"status": stored.status, "body": jsonable_encoder(stored.body)})
            )
            os._exit(1)  # no response, no cleanup: as if the power went
        return stored

    # The API calls `dosing_handover.hand_over` through the module, so this is what it reaches.
    dosing_handover.hand_over = hand_over_then_crash  # type: ignore[assignment]


def main() -> None:
    port, record = int(sys.argv[1]), Path(sys.argv[2])
    arm(record)
    uvicorn.run(app_from_env(), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
