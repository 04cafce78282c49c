"""The audit log: one JSON line per request to the release service.

Who asked (name, role, country), what (the operation and its parameters), when, the
outcome, and how many cells the answer held and withheld. Never a count, never a
pseudonym: parameters are dimensions, years, countries and thresholds, and a
published table sent by check-table is logged by its number of cells only.
"""

from __future__ import annotations

import fcntl
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LOG = "audit.jsonl"


def record(folder: Path, entry: dict[str, Any]) -> None:
    """Append ``entry`` with the time, whole line at once, flushed to disk."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    line = json.dumps({"at": datetime.now(UTC).isoformat(timespec="milliseconds"), **entry}, default=str) + "\n"
    descriptor = os.open(folder / LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        os.write(descriptor, line.encode("utf-8"))
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def entries(folder: Path, country: str | None = None, last: int | None = None) -> list[dict[str, Any]]:
    """The log, oldest first; of the identities of ``country`` only when given."""
    try:
        lines = (folder / LOG).read_text("utf-8").splitlines()
    except FileNotFoundError:
        return []
    found = [json.loads(line) for line in lines if line.strip()]
    if country is not None:
        found = [e for e in found if e.get("country") == country]
    return found[-last:] if last else found
