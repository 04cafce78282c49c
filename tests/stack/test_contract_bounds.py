"""A row the event contract cannot carry (identified in 1985) is refused by row and
column through the real `thbdb produce`; the others are published; no traceback, no value."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from producers.synthetic import VictimProfile, victim_rows, write_victims_csv
from tests.conftest import Stack

pytestmark = pytest.mark.stack


def test_an_export_with_a_1985_identification_date_publishes_every_other_row(stack: Stack, tmp_path: Path) -> None:
    # Withdrawn records: loaded by later runs, counted by none (other tests count years).
    profiles = [
        VictimProfile(f"ME-BOUND-{i}", date(2011, 5, 5), "F", 30, "ME", ["labour"], status="withdrawn")
        for i in range(3)
    ]
    rows = victim_rows("ME", profiles, seed=8)
    rows[0]["identified_on"] = "1985-06-01"
    pushed = stack.thbdb("produce", "--country", "ME", "--input", str(write_victims_csv(tmp_path / "v.csv", rows)),
                         "--create-key", check=False)  # fmt: skip
    said = pushed.stdout + pushed.stderr
    assert pushed.returncode == 1, said
    assert "row 2, column identified_on" in said and "1990-2100" in said
    assert "ME: 2 rows published, 1 rows refused" in " ".join(pushed.stdout.split())
    assert "Traceback" not in said and "1985-06-01" not in said
