"""Exports for other tools: aggregate tables only, small cells suppressed."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb

from warehouse.exports import export_counts
from warehouse.loader import connect


def test_csv_and_parquet_hold_the_same_suppressed_counts(demo_warehouse: Path, tmp_path: Path) -> None:
    with connect(demo_warehouse, read_only=True) as con:
        csv_files = export_counts(con, "csv", tmp_path / "csv", min_cell=5)
        parquet_files = export_counts(con, "parquet", tmp_path / "parquet", min_cell=5)
    manifest = json.loads((tmp_path / "csv" / "manifest.json").read_text())
    assert manifest["min_cell"] == 5 and len(manifest["tables"]) == len(csv_files) - 1
    assert len(parquet_files) == len(csv_files)

    with (tmp_path / "csv" / "victims_by_year_country_exploitation.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["year", "country", "exploitation", "victims", "suppressed"]
    assert all(r["victims"] == "" for r in rows if r["suppressed"] == "true")
    assert all(int(r["victims"]) >= 5 for r in rows if r["suppressed"] == "false")
    assert any(r["suppressed"] == "true" for r in rows)

    parquet = duckdb.sql(
        f"SELECT year, country, exploitation, victims, suppressed"
        f" FROM '{tmp_path / 'parquet' / 'victims_by_year_country_exploitation.parquet'}' ORDER BY ALL"
    ).fetchall()
    from_csv = sorted(
        (int(r["year"]), r["country"], r["exploitation"], int(r["victims"]) if r["victims"] else None,
         r["suppressed"] == "true")
        for r in rows
    )  # fmt: skip
    assert sorted(parquet, key=str) == sorted(from_csv, key=str)


def test_no_record_level_column_leaves(demo_warehouse: Path, tmp_path: Path) -> None:
    with connect(demo_warehouse, read_only=True) as con:
        export_counts(con, "csv", tmp_path, min_cell=5)
    for path in tmp_path.glob("*.csv"):
        header = path.read_text().splitlines()[0].split(",")
        assert not {"record_ref", "case_ref", "person_key", "event_id"} & set(header), path.name
        assert header[-1] == "suppressed"
