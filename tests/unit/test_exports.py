"""Exports for other tools: aggregate tables only, small cells suppressed."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import duckdb
import pytest

from exports.counts import export_counts
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


def test_the_public_export_row_order_says_nothing_of_the_country(
    demo_warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows in warehouse order (by person key, which starts with the country) gave a
    withheld country away by position; shuffled, the countries change row to row about
    as often as in a random order. The rows are marked with their country here, so the
    order can be read against it."""
    from exports import htcds as htcds_export

    with connect(demo_warehouse, read_only=True) as con:
        rows, summary = htcds_export.public_microdata(con, None)
        records = htcds_export.load_records(con)
    countries_in_order = sorted(r.country for r in records)[: len(rows)]
    marked = [{**row, "reportingCountry": c} for row, c in zip(rows, countries_in_order, strict=False)]
    monkeypatch.setattr(htcds_export, "public_microdata", lambda con, k: (marked, summary))
    htcds_export.write_htcds_export(duckdb.connect(), tmp_path / "public.csv")
    with (tmp_path / "public.csv").open(encoding="utf-8") as handle:
        countries = [row["reportingCountry"] for row in csv.DictReader(handle)]
    assert sorted(countries) == countries_in_order[: len(countries)]
    changes = sum(a != b for a, b in itertools.pairwise(countries))
    shares = [countries.count(c) / len(countries) for c in set(countries)]
    expected = (len(countries) - 1) * (1 - sum(p * p for p in shares))
    assert changes > 0.8 * expected, (changes, expected)  # in warehouse order: 5


def test_every_export_format_is_the_registrys() -> None:
    import typing

    from exports.registry import WRITERS
    from release.service import ExportRequest
    from thbdb.cli.analyst import ExportFormat

    assert {f.value for f in ExportFormat} == set(WRITERS)
    assert set(typing.get_args(ExportRequest.model_fields["format"].annotation)) == set(WRITERS)
