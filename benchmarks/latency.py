"""Latency on the event-driven path: from publish to queryable, for small pushes with
the stack already up. Each push is `thbdb produce`, then `thbdb run`, then `thbdb query
counts` until the pushed victims are counted. The baseline is the floor on the same
push: `thbdb produce`, then the floor process, then a count on its database."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from benchmarks.bench_stack import BenchStack, BenchStackError
from benchmarks.throughput import COUNTRY, run_floor
from benchmarks.volume import write_volume_export


@dataclass
class LatencyRuns:
    pipeline_s: list[float] = field(default_factory=list)
    floor_s: list[float] = field(default_factory=list)


def _counted(stack: BenchStack) -> int:
    result = stack.thbdb(
        "query", "counts", "--by", "country", "--country", COUNTRY, "--min-cell", "1", "--format", "json"
    )
    return sum(int(row["victims"] or 0) for row in json.loads(result.stdout))


def measure(stack: BenchStack, pushes: int, events: int, workdir: Path, log: Callable[[str], None]) -> LatencyRuns:
    stack.reset_data()
    floor_db = workdir / "floor-latency.duckdb"
    floor_db.unlink(missing_ok=True)
    runs = LatencyRuns()
    for push in range(pushes):
        export = write_volume_export(workdir / f"small-{push}.csv", COUNTRY, events, seed=500 + push)
        started = time.monotonic()
        stack.thbdb("produce", "--country", COUNTRY, "--input", str(export), "--create-key")
        published = time.monotonic()
        stack.thbdb("run", "--timeout", "600", timeout=700)
        expected = events * (push + 1)
        while _counted(stack) < expected:
            if time.monotonic() - started > 600:
                raise BenchStackError(f"push {push + 1} not queryable after 600 s")
            time.sleep(0.2)
        runs.pipeline_s.append(time.monotonic() - started)
        floor_started = time.monotonic()
        run_floor(stack, floor_db)
        with duckdb.connect(str(floor_db), read_only=True) as con:
            row = con.execute("SELECT count(*) FROM floor_events").fetchone()
        if not row or int(row[0]) < expected:
            raise BenchStackError("the floor did not hold the pushed events")
        runs.floor_s.append((published - started) + (time.monotonic() - floor_started))
        export.unlink()
        log(f"  push {push + 1}/{pushes}: queryable after {runs.pipeline_s[-1]:.1f} s (floor {runs.floor_s[-1]:.1f} s)")
    floor_db.unlink(missing_ok=True)
    return runs
