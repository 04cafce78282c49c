"""Throughput end to end and how it grows: national CSV -> `thbdb produce` -> Kafka ->
`thbdb run` (the Airflow DAG: validate, quarantine, generalise, load) -> warehouse; and
the floor on the same events (Kafka -> DuckDB, no validation)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from benchmarks.bench_stack import BenchStack, BenchStackError
from benchmarks.volume import write_volume_export
from benchmarks.worker_memory import WorkerMemory
from config.settings import country_topic
from thbdb.processes import running_pid
from warehouse.loader import connect

COUNTRY = "RS"  # one country re-pushing its whole archive: the heaviest single push


@dataclass
class ThroughputRun:
    n: int
    produce_s: float
    pipeline_s: float
    floor_s: float
    worker_peak_mb: float  # the drain_country task processes (every task's if unknown)
    marts_peak_mb: float  # the refresh_marts task process
    floor_peak_mb: float
    loaded: int

    @property
    def end_to_end_s(self) -> float:
        return self.produce_s + self.pipeline_s


def run_floor(stack: BenchStack, database: Path) -> dict[str, float]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.floor",
            "--bootstrap",
            stack.settings.kafka_bootstrap,
            "--topic",
            country_topic(COUNTRY),
            "--database",
            str(database),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=3600,
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def measure(stack: BenchStack, n: int, workdir: Path, log: Callable[[str], None]) -> ThroughputRun:
    """One N: empty topics and warehouse, push N events, read them with the floor, then
    run the pipeline on them."""
    stack.reset_data()
    export = write_volume_export(workdir / f"victims-{n}.csv", COUNTRY, n, seed=n % 997)
    started = time.monotonic()
    stack.thbdb("produce", "--country", COUNTRY, "--input", str(export), "--create-key")
    produced = time.monotonic()
    export.unlink()
    # The floor first: the pipeline's run deletes from Kafka what it loaded (pipeline/kafka_retention.py).
    log(f"  N={n:,}: produced in {produced - started:.1f} s; the floor reads the events")
    floor_db = workdir / f"floor-{n}.duckdb"
    floor_db.unlink(missing_ok=True)
    floor = run_floor(stack, floor_db)
    floor_db.unlink(missing_ok=True)
    if int(floor["events"]) != n:
        raise BenchStackError(f"the floor read {floor['events']} events, {n} were pushed")
    log(f"  N={n:,}: floor {floor['seconds']:.1f} s; running the pipeline (thbdb run)")
    scheduler = running_pid(stack.settings.run_dir, "airflow-scheduler")
    if scheduler is None:
        raise BenchStackError("the Airflow scheduler is not running")
    with WorkerMemory(scheduler) as memory:
        run_started = time.monotonic()
        stack.thbdb("run", "--timeout", "3500", timeout=3600)
        pipeline_s = time.monotonic() - run_started
    by_task = memory.peaks_by_task(stack.settings.airflow_home / "airflow.db")
    log(f"  N={n:,}: peak RSS by task (MB): {', '.join(f'{k} {v:.0f}' for k, v in sorted(by_task.items()))}")
    with connect(stack.settings.warehouse, read_only=True) as con:
        row = con.execute("SELECT count(*) FROM raw_victim_events").fetchone()
    loaded = int(row[0]) if row else 0
    log(f"  N={n:,}: pipeline {pipeline_s:.1f} s, {loaded:,} loaded")
    return ThroughputRun(
        n=n,
        produce_s=produced - started,
        pipeline_s=pipeline_s,
        floor_s=float(floor["seconds"]),
        worker_peak_mb=by_task.get("drain_country", memory.peak_mb),
        marts_peak_mb=by_task.get("refresh_marts", 0.0),
        floor_peak_mb=float(floor["peak_rss_mb"]),
        loaded=loaded,
    )
