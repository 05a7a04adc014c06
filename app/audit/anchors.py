"""Anchors of the audit chain: each day's chain heads, signed with the audit key, appended to a
file outside the database, so a database rewritten wholesale (chains and all) no longer
matches what was written down outside it."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import keys as audit_keys
from app.audit import service as audit_service
from app.audit.models import AuditEvent


def anchor(session: Session, folder: Path, *, key: str, now: datetime) -> Path:
    """Append today's chain heads, with an HMAC under a key kept outside the database."""
    folder.mkdir(parents=True, exist_ok=True)
    heads = {
        chain: {"seq": seq, "hash": digest}
        for chain, (seq, digest) in audit_service.chain_heads(session).items()
    }
    body = {"at": now.isoformat(), "heads": heads, "key_id": audit_keys.key_id(key)}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    body["hmac"] = hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()
    path = folder / "audit-anchors.jsonl"
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(body, sort_keys=True) + "\n")
    return path


def check_anchors(
    session: Session,
    path: Path,
    *,
    key: str,
    previous_keys: Sequence[str] = (),
    latest_only: bool = False,
) -> list[str]:
    """Every anchored head must still be in the database with the same hash; return problems.

    With `latest_only`, only the newest anchor is checked (what `audit verify` does by
    default: it covers every event up to it). An anchor signed with a previous key still
    verifies: keys are rotated with the anchors."""
    problems = []
    lines = list(enumerate(path.read_text(encoding="utf-8").splitlines(), start=1))
    if latest_only:
        lines = lines[-1:]
    for number, line in lines:
        record = json.loads(line)
        mac = record.pop("hmac", "")
        text = json.dumps(record, sort_keys=True, separators=(",", ":"))
        if not any(
            hmac.compare_digest(
                mac, hmac.new(k.encode(), text.encode(), hashlib.sha256).hexdigest()
            )
            for k in (key, *previous_keys)
        ):
            problems.append(f"anchor line {number} is not signed by this key")
            continue
        for chain, head in record["heads"].items():
            found = session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == head["seq"]))
            if found != head["hash"]:
                problems.append(
                    f"anchor line {number}: chain {chain} event {head['seq']} is missing or changed"
                )
    return problems
