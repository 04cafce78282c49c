"""The drain's own code in one process, without Kafka or Airflow: where its time goes.

N events of one country are produced into a list (the producer's checks,
pseudonymisation and linkage encodings, as `thbdb produce` does), then:

- **drain**: `drain_country` reads them from that list (pipeline/sources.py's
  MemorySource) into a new warehouse, batch by batch, as the Airflow task and the
  streaming consumer do;
- **stages**: the same work timed step by step on the same batches (parsing, the
  validation frame, Great Expectations, the warehouse rows, the load);
- **floor**: the same payloads bulk-inserted by DuckDB's vectorised JSON reader with no
  validation (benchmarks/floor.py's insert, without its Kafka read).

`python -m benchmarks.drain_stages [--events N]` prints the figures; `python -m
benchmarks` reports them beside the others.
"""

from __future__ import annotations

import argparse
import gc
import json
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from benchmarks.floor import CHUNK, STRUCTURE
from benchmarks.volume import write_volume_export
from config.settings import Settings
from expectations.runner import validate_frame
from expectations.suites import CASE_EVENTS
from pipeline.drain import HeldWarehouse, drain_country
from pipeline.sources import MemorySource
from producers.linkage import LinkageEncoder
from producers.national_export import open_export
from producers.pseudonymise import Pseudonymiser
from producers.publisher import ListSink
from producers.push import export_events
from transforms.events import VictimEvent, parse_event
from transforms.rows import read_events, victim_rows
from warehouse.loader import LoadBatch, ensure_schema, load_batch

COUNTRY = "RS"


@dataclass
class DrainStages:
    events: int
    drain_s: float = 0.0
    floor_s: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)  # seconds, for all N events


def payloads(n: int, workdir: Path) -> list[bytes]:
    """N victim events of one country, as a producer publishes them."""
    export = write_volume_export(workdir / "victims.csv", COUNTRY, n)
    kind, header, rows = open_export(export)
    pseudonymiser = Pseudonymiser(COUNTRY, bytes(32), "0" * 32, LinkageEncoder(bytes(range(32))))
    sink = ListSink()
    sink.publish(export_events(COUNTRY, kind, header, rows, pseudonymiser, date.today(), refused=[]))
    return [m for m in sink.messages if m is not None]


def _floor(events: list[bytes], database: Path) -> float:
    """DuckDB's JSON reader over the same payloads, no validation: the floor's insert."""
    started = time.perf_counter()
    con = duckdb.connect(str(database))
    columns = ", ".join(f"{name} {'VARCHAR[]' if isinstance(t, list) else t}" for name, t in STRUCTURE.items())
    con.execute(f"CREATE TABLE floor_events ({columns})")
    structure = json.dumps(STRUCTURE)
    for start in range(0, len(events), CHUNK):
        chunk = [p.decode() for p in events[start : start + CHUNK]]
        con.execute(
            "INSERT INTO floor_events SELECT unnest(json_transform(p, ?)) FROM (SELECT unnest(?::VARCHAR[]) AS p)",
            [structure, chunk],
        )
    con.close()
    return time.perf_counter() - started


def _stages(events: list[bytes], settings: Settings, warehouse: Path) -> dict[str, float]:
    """The drain's steps one by one, batch by batch (the cycle collector paused as the
    drain pauses it while it decodes a batch)."""
    spent = dict.fromkeys(("parse", "read", "validation frame", "Great Expectations", "warehouse rows", "load"), 0.0)
    held = HeldWarehouse(warehouse)
    ensure_schema(held.connection())
    for number, start in enumerate(range(0, len(events), settings.batch_size)):
        chunk = events[start : start + settings.batch_size]
        gc.disable()
        try:
            clock = time.perf_counter()
            parsed = [parse_event(p) for p in chunk]
            victims = [e for e in parsed if isinstance(e, VictimEvent)]
            clock = _lap(spent, "parse", clock)
            columns = read_events(victims, VictimEvent)
            clock = _lap(spent, "read", clock)
            frame = CASE_EVENTS.frame(COUNTRY, columns)
            clock = _lap(spent, "validation frame", clock)
            validate_frame(CASE_EVENTS.name, CASE_EVENTS.build, COUNTRY, frame)
            clock = _lap(spent, "Great Expectations", clock)
            rows = victim_rows(columns, [(0, start + i) for i in range(len(victims))])
            clock = _lap(spent, "warehouse rows", clock)
        finally:
            gc.enable()
        batch = LoadBatch(f"stages.{number}", COUNTRY, f"load{number}", f"run{number}", None, accepted=rows)
        batch.next_offsets = {0: start + len(chunk)}
        load_batch(held.connection(), batch)  # held across batches, as the drain holds it
        _lap(spent, "load", clock)
    clock = time.perf_counter()
    held.close()
    _lap(spent, "load", clock)
    return spent


def _lap(spent: dict[str, float], stage: str, since: float) -> float:
    now = time.perf_counter()
    spent[stage] += now - since
    return now


def measure(n: int, workdir: Path) -> DrainStages:
    events = payloads(n, workdir)
    result = DrainStages(events=len(events))
    settings = Settings(home=workdir / "home")
    CASE_EVENTS.prepare(COUNTRY)  # Great Expectations imported and built before the clock starts
    started = time.perf_counter()
    drain_country(settings, COUNTRY, source=MemorySource(events), warehouse=workdir / "drain.duckdb")
    result.drain_s = time.perf_counter() - started
    result.stages = _stages(events, settings, workdir / "stages.duckdb")
    result.floor_s = _floor(events, workdir / "floor.duckdb")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="thbdb-drain-", ignore_cleanup_errors=True) as scratch:
        result = measure(args.events, Path(scratch))
    per = 100_000 / result.events
    print(f"{result.events:,} events in one process, seconds per 100,000:")
    print(f"  drain_country {result.drain_s * per:6.2f}   floor (DuckDB's JSON reader) {result.floor_s * per:6.2f}")
    for stage, seconds in result.stages.items():
        print(f"  {stage:<20} {seconds * per:6.2f}")
    print(f"ratio floor / drain: {result.floor_s / result.drain_s:.2f}")


if __name__ == "__main__":
    main()
