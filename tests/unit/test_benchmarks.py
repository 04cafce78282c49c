"""The benchmark's own pieces: figures and their ratios, the JSON, the volume export."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

from benchmarks.results import Figure, percentile, table, write_json
from benchmarks.volume import write_volume_export
from producers.code_mapping import load_mapping
from producers.national_export import open_export
from producers.row_checker import VictimRowChecker
from warehouse.loader import connect


def test_ratio_is_higher_is_better_either_way() -> None:
    assert Figure("throughput", 50.0, "events/s", baseline=100.0).ratio == 0.5
    assert Figure("latency", 4.0, "s", baseline=2.0, higher_is_better=False).ratio == 0.5
    assert Figure("produce", 10.0, "events/s").ratio is None


def test_json_is_a_list_of_named_figures(tmp_path: Path) -> None:
    path = tmp_path / "bench-results.json"
    write_json(path, [Figure("a", 1.0, "s", 2.0, higher_is_better=False), Figure("b", 3.0, "MB")])
    a, b = json.loads(path.read_text())
    assert a == {"name": "a", "value": 1.0, "unit": "s", "baseline": 2.0, "ratio": 2.0}
    assert b == {"name": "b", "value": 3.0, "unit": "MB"}
    assert "ratio" in table([Figure("a", 1.0, "s", 2.0)]).splitlines()[0]


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 21)]
    assert percentile(values, 50) == 10.0
    assert percentile(values, 95) == 19.0
    assert percentile([7.0], 95) == 7.0


def test_volume_export_rows_are_unique_and_pass_the_contract(tmp_path: Path) -> None:
    path = write_volume_export(tmp_path / "victims.csv", "RS", 2500)
    with path.open(encoding="utf-8") as handle:
        ids = [row["record_id"] for row in csv.DictReader(handle)]
    assert len(ids) == len(set(ids)) == 2500
    _kind, header, rows = open_export(path)
    checker = VictimRowChecker("RS", load_mapping("RS"))
    refused = [
        number for number, fields in rows if isinstance(checker.check(number, header, fields, date.today()), list)
    ]
    assert refused == []


def test_query_speed_times_every_dimension_exact_and_protected(tmp_path: Path) -> None:
    from benchmarks import query_speed

    warehouse = tmp_path / "queries.duckdb"
    query_speed.build_warehouse(warehouse, 3000)
    exact = query_speed.measure(warehouse, 1)
    released = query_speed.measure_released(warehouse, 1, tmp_path / "hub")
    assert any(name.startswith("counts by the slowest of") for name in exact)
    assert released.pop("publish")["seconds"] > 0
    ((name, speed),) = released.items()
    assert name.startswith("protected counts") and speed["p95"] > 0
    seconds = query_speed.one_event_counted(warehouse, tmp_path / "hub", batches=4)  # the snapshot follows
    assert len(seconds) == 4 and min(seconds) > 0


def test_drain_stages_load_every_event_and_time_every_stage(tmp_path: Path) -> None:
    from benchmarks import drain_stages

    result = drain_stages.measure(300, tmp_path)
    assert result.events == 300 and result.drain_s > 0 and result.floor_s > 0
    assert set(result.stages) == {"parse", "read", "validation frame", "Great Expectations", "warehouse rows", "load"}
    with connect(tmp_path / "drain.duckdb", read_only=True) as con, connect(tmp_path / "stages.duckdb") as other:
        assert con.execute("SELECT count(*) FROM raw_victim_events").fetchone() == (300,)
        assert other.execute("SELECT count(*) FROM raw_victim_events").fetchone() == (300,)


def test_drain_memory_names_the_peak_of_each_step_of_each_batch(tmp_path: Path) -> None:
    from benchmarks import drain_memory

    rows = drain_memory.measure(2, tmp_path, events_per_batch=100)
    assert [r["loaded"] for r in rows] == [100, 200]  # every batch under new ids: nothing is a duplicate
    assert all({"resident", "peak", "load", "store_encodings", "close"} <= r.keys() for r in rows)
    assert all(r["peak"] >= r["load"] > 0 for r in rows)


def test_a_one_event_batch_with_an_encoding_relinks_its_block(tmp_path: Path) -> None:
    from benchmarks import linked_one_event

    _, batches = linked_one_event.measure(600, 5, 2, tmp_path)
    assert len(batches) == 2 and all(b["counted_s"] > 0 for b in batches)
    with connect(tmp_path / "warehouse.duckdb", read_only=True) as con:
        con.execute(f"ATTACH '{tmp_path / 'warehouse.linkage.duckdb'}' AS store (READ_ONLY)")
        # Every current encoded record is kept with its block: the two new ones too.
        kept = con.execute("SELECT count(*) FROM store.record_blocks").fetchone()
        current = con.execute("SELECT count(*) FROM stg_victim_current WHERE status <> 'withdrawn'").fetchone()
    assert kept == current


def test_run_parts_times_the_drain_the_refresh_and_the_reports(tmp_path: Path) -> None:
    from benchmarks import run_parts

    parts = run_parts.measure(2, tmp_path, events_per_batch=150)
    assert list(parts) == ["drain", "refresh and publish", "reports"]
    assert all(wall > 0 and cpu > 0 for wall, cpu in parts.values())
    with connect(tmp_path / "home" / "warehouse" / "thbdb.duckdb", read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw_victim_events").fetchone() == (300,)
