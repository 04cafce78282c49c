"""A newer updated_at replaces the older version; an older one changes nothing;
withdrawn removes a record from every count."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from producers.synthetic import VictimProfile, victim_rows, write_victims_csv
from tests.conftest import Stack

pytestmark = pytest.mark.stack
FIRST = datetime(2024, 5, 1, tzinfo=UTC)


def _profile(record: str, sex: str, updated: datetime, status: str = "identified") -> VictimProfile:
    return VictimProfile(record, date(2024, 4, 2), sex, 25, "ME", ["labour"], status=status, updated_at=updated)


def _by_sex(stack: Stack) -> dict[str, int]:
    output = stack.thbdb("query", "counts", "--country", "ME", "--by", "sex", "--min-cell", "1", "--format", "csv")
    return {r["sex"]: int(r["victims"]) for r in csv.DictReader(io.StringIO(output.stdout))}


def _push(stack: Stack, path: Path, profiles: list[VictimProfile]) -> None:
    stack.thbdb(
        "produce",
        "--country",
        "ME",
        "--input",
        str(write_victims_csv(path, victim_rows("ME", profiles, 5))),
        "--create-key",
    )


def test_latest_updated_at_wins_and_withdrawn_counts_nowhere(stack: Stack, tmp_path: Path) -> None:
    _push(stack, tmp_path / "may.csv", [_profile(f"ME-{i}", "F", FIRST) for i in range(1, 5)])
    stack.thbdb("run")
    assert _by_sex(stack) == {"F": 4}

    later, earlier = datetime(2024, 6, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC)
    _push(
        stack,
        tmp_path / "june.csv",
        [
            _profile("ME-1", "M", later),  # a correction
            _profile("ME-2", "F", later, status="withdrawn"),  # not a victim after all
            _profile("ME-3", "M", earlier),  # an old version arriving late: changes nothing
            _profile("ME-3", "X", FIRST),  # equal updated_at: changes nothing either
        ],
    )
    stack.thbdb("run")
    assert _by_sex(stack) == {"F": 2, "M": 1}


def test_a_file_pushed_twice_before_a_run_counts_once(stack: Stack, tmp_path: Path) -> None:
    profiles = [VictimProfile(f"MK-T{i}", date(2020, 3, 3), "F", 19, "MK", ["sexual"]) for i in range(6)]
    export = write_victims_csv(tmp_path / "victims.csv", victim_rows("MK", profiles, 11))
    for _ in range(2):
        stack.thbdb("produce", "--country", "MK", "--input", str(export), "--create-key")
    ran = stack.thbdb("run")
    assert "0 quarantined" in ran.stdout
    counted = stack.thbdb("query", "counts", "--country", "MK", "--by", "year", "--from", "2020", "--to", "2020",
                          "--min-cell", "1", "--format", "csv")  # fmt: skip
    assert counted.stdout.splitlines()[1:] == ["2020,6,false"]
