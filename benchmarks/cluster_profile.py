"""The cluster profile (`thbdb up --cluster`: three brokers, Airflow on PostgreSQL with
two Celery workers) beside the embedded stack (one broker, LocalExecutor on SQLite), in
one run, on the same events: `python -m benchmarks.cluster_profile`.

For each profile, a stack of its own is started, then:
- throughput: N events of one country pushed (`thbdb produce`), read by the floor
  (Kafka to DuckDB, no validation), then `thbdb run`; events per second of each;
- latency: ten small pushes with streaming on, from `thbdb produce` until the release
  service counts them (benchmarks/latency.py), beside the floor on the same pushes.

The two profiles run one after the other (one stack at a time on a machine); accounts
are off in both, so they differ only by the profile.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from benchmarks import latency
from benchmarks.bench_stack import BenchStack, BenchStackError
from benchmarks.results import percentile
from benchmarks.throughput import COUNTRY, run_floor
from benchmarks.volume import write_volume_export
from warehouse.loader import connect


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def measure(cluster: bool, n: int, pushes: int, events: int, workdir: Path) -> dict[str, float | str]:
    name = "cluster" if cluster else "embedded"
    stack = BenchStack.create(THBDB_ACCOUNTS="off")
    try:
        started = time.monotonic()
        stack.up(cluster=cluster)
        up_s = time.monotonic() - started
        log(f"{name}: up in {up_s:.0f} s")
        stack.reset_data()
        export = write_volume_export(workdir / f"victims-{name}.csv", COUNTRY, n, seed=7)
        started = time.monotonic()
        stack.thbdb("produce", "--country", COUNTRY, "--input", str(export), "--create-key")
        produce_s = time.monotonic() - started
        floor_db = workdir / f"floor-{name}.duckdb"
        floor = run_floor(stack, floor_db)
        floor_db.unlink(missing_ok=True)
        started = time.monotonic()
        stack.thbdb("run", "--timeout", "3500", timeout=3600)
        pipeline_s = time.monotonic() - started
        with connect(stack.settings.warehouse, read_only=True) as con:
            row = con.execute("SELECT count(*) FROM raw_victim_events").fetchone()
        if not row or int(row[0]) != n:
            raise BenchStackError(f"{name}: {row} events loaded, {n} pushed")
        log(f"{name}: N={n:,} produce {produce_s:.1f} s, floor {floor['seconds']:.1f} s, thbdb run {pipeline_s:.1f} s")
        runs = latency.measure(stack, pushes, events, workdir, log)
        return {
            "profile": name,
            "up_s": up_s,
            "produce_events_per_s": n / produce_s,
            "pipeline_events_per_s": n / pipeline_s,
            "floor_events_per_s": n / float(floor["seconds"]),
            "run_s": pipeline_s,
            "latency_p50_s": percentile(runs.stream_s, 50),
            "latency_p95_s": percentile(runs.stream_s, 95),
            "latency_floor_p95_s": percentile(runs.floor_s, 95),
        }
    finally:
        stack.down()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000, help="Events of the throughput push (20,000).")
    parser.add_argument("--pushes", type=int, default=10, help="Small pushes for the latency figure (10).")
    parser.add_argument("--push-events", type=int, default=20, help="Events per small push (20).")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/cluster-profile.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="thbdb-bench-cluster-") as folder:
        figures = [measure(c, args.events, args.pushes, args.push_events, Path(folder)) for c in (False, True)]
    print()
    print(f"{'':34}{'embedded':>12}{'cluster':>12}")
    rows = (
        ("up (s)", "up_s", "{:.0f}"),
        ("produce (events/s)", "produce_events_per_s", "{:,.0f}"),
        ("floor: Kafka to DuckDB (events/s)", "floor_events_per_s", "{:,.0f}"),
        ("thbdb run (events/s)", "pipeline_events_per_s", "{:,.0f}"),
        ("latency streaming p50 (s)", "latency_p50_s", "{:.1f}"),
        ("latency streaming p95 (s)", "latency_p95_s", "{:.1f}"),
        ("latency floor p95 (s)", "latency_floor_p95_s", "{:.1f}"),
    )
    for label, key, form in rows:
        print(f"{label:34}" + "".join(f"{form.format(f[key]):>12}" for f in figures))
    result = {"events": args.events, "pushes": args.pushes, "profiles": figures}
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
