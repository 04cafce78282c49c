"""Where a `thbdb run` spends its time, part by part, in one process without Airflow.

`python -m benchmarks.run_parts [--batches 50]`: ``drain_country`` loads batches of
20,000 events of one country into a new warehouse (each batch the same producer output
under new ids, as `benchmarks/drain_memory.py` makes them), then the marts are refreshed
and the release snapshot published (``publish_marts``) and the reports written
(``write_reports``), as the DAG's last task does. Each part is printed with its wall
and CPU seconds (all threads of the process), so the floor's budget can be set against
what follows the load.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.drain_memory import BATCH, RenamedBatches
from benchmarks.drain_stages import COUNTRY, payloads
from config.settings import Settings
from expectations.suites import CASE_EVENTS
from pipeline import drain


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def _timed(parts: dict[str, tuple[float, float]], name: str, work: Callable[[], object]) -> None:
    wall, cpu = time.perf_counter(), _cpu()
    work()
    parts[name] = (time.perf_counter() - wall, _cpu() - cpu)


def measure(batches: int, workdir: Path, events_per_batch: int = BATCH) -> dict[str, tuple[float, float]]:
    """Wall and CPU seconds of each part: drain, refresh and publish, reports."""
    events = [json.loads(p) for p in payloads(events_per_batch, workdir)]
    settings = Settings(home=workdir / "home")
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    CASE_EVENTS.prepare(COUNTRY)  # Great Expectations built before the clock starts
    parts: dict[str, tuple[float, float]] = {}
    source = RenamedBatches(events, batches)
    _timed(parts, "drain", lambda: drain.drain_country(settings, COUNTRY, source=source))
    _timed(parts, "refresh and publish", lambda: drain.publish_marts(settings))
    _timed(parts, "reports", lambda: drain.write_reports(settings))
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run_parts", description=__doc__)
    parser.add_argument("--batches", type=int, default=50, help="Batches of 20,000 events (50: a million).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="thbdb-run-parts-", ignore_cleanup_errors=True) as scratch:
        parts = measure(args.batches, Path(scratch))
    print(f"{args.batches * BATCH:,} events in one process:")
    for name, (wall, cpu) in parts.items():
        print(f"  {name:<20} {wall:7.1f} s wall {cpu:7.1f} s CPU")


if __name__ == "__main__":
    main()
