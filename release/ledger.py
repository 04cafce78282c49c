"""The privacy-loss ledger: what differentially private releases have spent, per year.

Each dp-synthetic export spends its epsilon. Independent draws of the same data can be
averaged, so what they leak adds up: the ledger keeps the sum per calendar year and the
service refuses a release that would take it past the policy's budget
(``epsilon_per_year`` in transforms/codelists/disclosure.yaml), whoever asks.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

LEDGER = "privacy-ledger.jsonl"


class OverBudget(Exception):
    """The release would spend more than the year's budget; the message says how much is left."""


def spent(folder: Path, year: int) -> float:
    try:
        lines = (folder / LEDGER).read_text("utf-8").splitlines()
    except FileNotFoundError:
        return 0.0
    return sum(e["epsilon"] for e in map(json.loads, filter(None, lines)) if e["year"] == year)


@contextmanager
def spending(folder: Path, epsilon: float, budget: float, who: str) -> Iterator[float]:
    """Hold the ledger while a release is made; record it if the release was made.
    Yields what the year had spent before. Raises OverBudget before anything is made."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    year = datetime.now(UTC).year
    descriptor = os.open(folder / f".{LEDGER}.lock", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        before = spent(folder, year)
        if before + epsilon > budget + 1e-9:
            left = max(budget - before, 0.0)
            raise OverBudget(
                f"epsilon {epsilon} would take {year}'s privacy loss past its budget of {budget}"
                f" ({before:g} spent, {left:g} left)"
            )
        yield before
        entry = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "year": year, "epsilon": epsilon, "who": who}
        line = os.open(folder / LEDGER, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(line, (json.dumps(entry) + "\n").encode("utf-8"))
            os.fsync(line)
        finally:
            os.close(line)
    finally:
        os.close(descriptor)
