"""Analysts' queries and reports open the warehouse read-only: no statement on that path
changes it, not even one that tries to re-attach the file for writing, and the file is
byte-identical afterwards. A dimension name is never SQL."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import pytest

from config.settings import Settings
from reports.data_protection import write_analysis_report, write_data_protection_report
from reports.validation import open_quarantine, validation_history, write_validation_report
from tests.unit.test_loader import _batch, _rows
from warehouse.loader import connect, ensure_schema, load_batch, refresh_marts
from warehouse.queries import DIMENSIONS, QueryError, Scope, parse_dimensions, victim_counts

WRITES = (
    "INSERT INTO raw_victim_events SELECT * FROM raw_victim_events",
    "UPDATE raw_victim_events SET sex = 'M'",
    "DELETE FROM mart_victims",
    "DROP TABLE kafka_offsets",
    "CREATE TABLE analyst_notes (x INTEGER)",
    "ALTER TABLE quarantine ADD COLUMN note VARCHAR",
    "TRUNCATE load_batches",
    "CREATE OR REPLACE VIEW stg_victim_current AS SELECT 1",
    "INSERT OR REPLACE INTO kafka_offsets VALUES ('thbdb.events.rs', 0, 0)",
)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse" / "thbdb.duckdb"
    with connect(path) as con:
        ensure_schema(con)
        load_batch(con, _batch(_rows(12), "a", []))
        refresh_marts(con)
        con.execute("CHECKPOINT")
    return path


@pytest.mark.parametrize("statement", WRITES)
def test_no_write_statement_runs_on_the_query_connection(warehouse: Path, statement: str) -> None:
    before = _digest(warehouse)
    with connect(warehouse, read_only=True) as con:
        with pytest.raises(duckdb.Error):
            con.execute(statement)
        assert victim_counts(con, ["year"], min_cell=1)[0].victims == 12
    assert _digest(warehouse) == before


def test_the_query_connection_cannot_reattach_the_file_for_writing(warehouse: Path) -> None:
    before = _digest(warehouse)
    with connect(warehouse, read_only=True) as con:
        reattach = f"ATTACH '{warehouse}' AS rw (READ_WRITE)"
        for statement in (reattach, "INSERT INTO rw.kafka_offsets VALUES ('x', 0, 0)"):
            with pytest.raises(duckdb.Error):
                con.execute(statement)
        with pytest.raises(duckdb.Error):  # cannot step off the warehouse to detach it
            con.execute("ATTACH ':memory:' AS scratch")
    assert _digest(warehouse) == before


def test_reports_and_queries_leave_the_file_byte_identical(warehouse: Path, tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    before = _digest(warehouse)
    with connect(warehouse, read_only=True) as con:
        for dim in DIMENSIONS:
            victim_counts(con, [dim], Scope("RS", 2000, 2030), 5)
        write_analysis_report(con, tmp_path / "reports" / "analysis.html", 5)
        write_data_protection_report(con, tmp_path / "reports")
        write_validation_report(con, settings)
        validation_history(con)
        open_quarantine(con, "RS")
    assert _digest(warehouse) == before


@pytest.mark.parametrize(
    "by", ["year; DROP TABLE raw_victim_events", "year,sex) --", "v.record_ref", "1=1", "year,year"]
)
def test_a_dimension_is_a_name_from_a_list_never_sql(by: str) -> None:
    with pytest.raises(QueryError):
        parse_dimensions(by)
