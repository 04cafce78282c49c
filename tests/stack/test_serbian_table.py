"""Acceptance: the published Serbian table, reproduced from record-level exports.

Records generated to match ../shared/acceptance/serbia_2005_2010.csv are pushed with
`thbdb produce`, processed with `thbdb run` (Kafka -> Airflow -> Great Expectations ->
DuckDB), and `thbdb query counts` must give every numeric cell of the table.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from pathlib import Path

import pytest

from producers.synthetic import profiles_matching_table, victim_rows, write_victims_csv
from tests.conftest import SHARED, Stack

TABLE = SHARED / "acceptance" / "serbia_2005_2010.csv"
pytestmark = pytest.mark.stack


def _published() -> dict[tuple[int, str, str], int]:
    with TABLE.open(encoding="utf-8") as handle:
        return {
            (int(r["year"]), r["dimension"], r["category"]): int(r["victims"])
            for r in csv.DictReader(handle)
            if r["victims"] != ""
        }


def _counts(stack: Stack, dimension: str | None) -> dict[tuple[int, str, str], int]:
    by = "year" if dimension is None else f"year,{dimension}"
    output = stack.thbdb("query", "counts", "--country", "RS", "--by", by, "--min-cell", "1", "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(output)))
    assert all(r["suppressed"] == "false" for r in rows)
    cells: dict[tuple[int, str, str], int] = defaultdict(int)
    for r in rows:
        if dimension is None:
            cells[(int(r["year"]), "total", "all")] = int(r["victims"])
        elif dimension == "citizenship":
            category = "RS" if r["citizenship"] == "RS" else "foreign"
            cells[(int(r["year"]), "citizenship", category)] += int(r["victims"])
        else:
            cells[(int(r["year"]), dimension, r[dimension])] = int(r["victims"])
    return cells


def _all_counts(stack: Stack) -> dict[tuple[int, str, str], int]:
    cells: dict[tuple[int, str, str], int] = {}
    for dimension in (None, "age_group", "citizenship", "sex", "exploitation"):
        cells.update(_counts(stack, dimension))
    return cells


@pytest.fixture(scope="module")
def serbian_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rows = victim_rows("RS", profiles_matching_table(TABLE), seed=2010)
    return write_victims_csv(tmp_path_factory.mktemp("rs") / "victims.csv", rows)


def test_pipeline_reproduces_every_cell_of_the_published_table(stack: Stack, serbian_export: Path) -> None:
    pushed = stack.thbdb("produce", "--country", "RS", "--input", str(serbian_export), "--create-key")
    assert "442 rows published, 0 rows refused" in pushed.stdout
    ran = stack.thbdb("run")
    assert "succeeded" in ran.stdout

    counts = _all_counts(stack)
    published = _published()
    differences = {cell: (want, counts.get(cell, 0)) for cell, want in published.items() if counts.get(cell, 0) != want}
    assert not differences, f"cells that differ (published, warehouse): {differences}"


def test_pushing_the_same_file_again_and_rerunning_changes_no_count(stack: Stack, serbian_export: Path) -> None:
    before = _all_counts(stack)
    stack.thbdb("produce", "--country", "RS", "--input", str(serbian_export))
    again = stack.thbdb("run")
    assert "0 loaded" in again.stdout and "442 duplicates skipped" in again.stdout
    stack.thbdb("run")
    assert _all_counts(stack) == before


def test_check_table_reports_where_the_published_table_does_not_add_up(stack: Stack) -> None:
    checked = stack.thbdb("check-table", str(TABLE))
    assert "note: RS 2008 exploitation: forms add up to 37 of 55 victims" in checked.stdout
    assert "Cells the warehouse does not reproduce: 0" in checked.stdout
