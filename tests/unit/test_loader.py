"""A batch lands whole or not at all, with its offsets; re-loading it counts nothing twice."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from producers.code_mapping import CodeMapping
from producers.pseudonymise import Pseudonymiser
from producers.row_checker import VictimRowChecker
from producers.synthetic import VictimProfile, victim_rows
from transforms.rows import victim_frame
from warehouse.loader import LoadBatch, QuarantinedEvent, connect, ensure_schema, load_batch, refresh_marts

TOPIC = "thbdb.events.rs"


def _rows(n: int) -> pd.DataFrame:
    rows = victim_rows(
        "RS", [VictimProfile(f"RS-{i}", date(2024, 1, 5), "F", 30, "RS", ["labour"]) for i in range(n)], 1
    )
    pseudonymiser = Pseudonymiser("RS", bytes(32), "0" * 32)
    checker = VictimRowChecker("RS", CodeMapping("RS"))
    events = []
    for offset, row in enumerate(rows):
        checked = checker.check(offset + 2, list(row), list(row.values()), date(2026, 1, 1))
        assert not isinstance(checked, list)
        events.append(pseudonymiser.pseudonymise_victim(checked))
    return victim_frame(events)


def _batch(rows: pd.DataFrame, load_id: str, quarantined: list[QuarantinedEvent]) -> LoadBatch:
    return LoadBatch(
        topic=TOPIC, country="RS", load_id=load_id, validation_run_id=load_id, airflow_run_id=None,
        accepted=rows, quarantined=quarantined, next_offsets={0: int(rows["kafka_offset"].max()) + 1},
    )  # fmt: skip


def _state(con: duckdb.DuckDBPyConnection) -> tuple[object, ...]:
    return (
        con.execute("SELECT count(*) FROM raw_victim_events").fetchone(),
        con.execute("SELECT count(*) FROM quarantine").fetchone(),
        con.execute("SELECT next_offset FROM kafka_offsets").fetchall(),
        con.execute("SELECT count(*) FROM load_batches").fetchone(),
    )


def test_a_fault_mid_batch_leaves_no_trace_and_the_retry_loads_once(tmp_path: Path) -> None:
    rows = _rows(10)
    with connect(tmp_path / "w.duckdb") as con:
        ensure_schema(con)
        load_batch(con, _batch(rows.iloc[:5], "a", []))
        before = _state(con)
        # The quarantine insert fails after the events were inserted: reasons may not be NULL.
        broken = QuarantinedEvent(0, 99, None, None, None)  # type: ignore[arg-type]
        with pytest.raises(duckdb.Error):
            load_batch(con, _batch(rows.iloc[5:], "b", [broken]))
        assert _state(con) == before

        load_batch(con, _batch(rows.iloc[5:], "c", []))
        result = load_batch(con, _batch(rows.iloc[5:], "d", []))  # the same events again
        assert (result.loaded, result.duplicates) == (0, 5)
        refresh_marts(con)
        assert con.execute("SELECT count(*) FROM mart_victims").fetchone() == (10,)
        assert con.execute("SELECT next_offset FROM kafka_offsets").fetchall() == [(10,)]


def test_the_query_path_cannot_write(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    with connect(path) as con:
        ensure_schema(con)
    with connect(path, read_only=True) as con, pytest.raises(duckdb.Error):
        con.execute("DELETE FROM raw_victim_events")


def test_offsets_only_move_forward(tmp_path: Path) -> None:
    # The streaming consumer and a `thbdb run` drain may load the same events; the one
    # that commits last with the older offsets must not move the next read backwards.
    rows = _rows(10)
    with connect(tmp_path / "w.duckdb") as con:
        ensure_schema(con)
        load_batch(con, _batch(rows, "fast", []))
        result = load_batch(con, _batch(rows.iloc[:4], "slow", []))
        assert (result.loaded, result.duplicates) == (0, 4)
        assert con.execute("SELECT next_offset FROM kafka_offsets").fetchall() == [(10,)]
        assert con.execute("SELECT count(*) FROM raw_victim_events").fetchone() == (10,)
        more = LoadBatch(
            topic=TOPIC, country="RS", load_id="later", validation_run_id="later", airflow_run_id=None,
            next_offsets={0: 12, 1: 3},
        )  # fmt: skip
        load_batch(con, more)
        assert sorted(con.execute("SELECT kafka_partition, next_offset FROM kafka_offsets").fetchall()) == [
            (0, 12),
            (1, 3),
        ]
