"""`python -m benchmarks [--quick]`: every figure beside its baseline, as a table on
stdout and as bench-results.json.

Full (`make bench`): throughput and worker memory at N = 10^4, 10^5, 10^6 events, latency
over 10 small pushes with streaming on (and 3 with `thbdb run`), the largest N pushed
again with streaming on, queries on 10 million victims, linkage against 200,000 known
persons, the drain's own code stage by stage on 100,000 events. Quick (`make
bench-quick`, within 5 minutes): N = 20,000, 3 pushes on 100,000 victims (none with
`thbdb run`: a DAG run per push takes most of a minute), queries on 500,000 victims,
50,000 known persons, 20,000 events stage by stage. Times are not asserted: other work on the
machine moves them; the baseline of each figure is measured in the same run for that
reason.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import drain_stages, latency, query_speed, throughput
from benchmarks.bench_stack import BenchStack
from benchmarks.linkage_quality import speed as linkage_speed
from benchmarks.results import Figure, percentile, table, write_json
from producers.linkage import LinkageEncoder

STARTED = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.0f} s] {message}", file=sys.stderr, flush=True)


def _sizes(text: str) -> list[int]:
    return [int(float(s)) for s in text.split(",") if s.strip()]


# One-event batches in a row on the query-speed warehouse: the first ones copy the whole
# snapshot just published, the later ones bring an older kept snapshot up to date.
ONE_EVENT_BATCHES = 5
STREAMING_NOTE = "produce + the service asked until counted, no thbdb run; baseline: produce + floor + its count"
SHOWN_BY_THE_CLI_NOTE = "the same until `thbdb query counts` shows it (a command's start more); baseline: the same"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="N = 20,000 only; 3 pushes; 500,000 victims.")
    parser.add_argument("--sizes", type=_sizes, help="Events per throughput run, e.g. 1e4,1e5,1e6.")
    parser.add_argument("--pushes", type=int, help="Small pushes for the latency figure, streaming on.")
    parser.add_argument(
        "--run-pushes", type=int, help="Small pushes with `thbdb run` instead, for comparison (3, quick 0; 0: none)."
    )
    parser.add_argument("--push-events", type=int, default=20, help="Events per small push (20).")
    parser.add_argument("--victims", type=int, help="Victim records of the query-speed warehouse.")
    parser.add_argument("--repeats", type=int, help="Runs of each query.")
    parser.add_argument(
        "--no-stream-archive",
        action="store_true",
        help="Skip the largest N pushed again with streaming on (throughput of the streaming path).",
    )
    parser.add_argument(
        "--preload",
        type=int,
        help="Victims in the warehouse before the latency pushes (1,000,000; quick 100,000; 0: none).",
    )
    parser.add_argument("--out", type=Path, default=Path("bench-results.json"))
    args = parser.parse_args()
    sizes = args.sizes or ([20_000] if args.quick else [10_000, 100_000, 1_000_000])
    pushes = args.pushes or (3 if args.quick else 10)
    victims = args.victims or (500_000 if args.quick else 10_000_000)
    repeats = args.repeats or (10 if args.quick else 5)
    run_pushes = args.run_pushes if args.run_pushes is not None else (0 if args.quick else 3)
    preload = args.preload if args.preload is not None else (100_000 if args.quick else 1_000_000)

    workdir = Path(tempfile.mkdtemp(prefix="thbdb-bench-"))
    figures: list[Figure] = []
    stack = BenchStack.create()
    log(f"starting a stack under {stack.home} (Kafka, Airflow)")
    try:
        stack.up()
        # The first run of a fresh Airflow pays one-off costs (first task processes, the
        # DAG's first parse by the workers); a warm-up run keeps them out of the figures.
        stack.thbdb("run", "--timeout", "900", timeout=1000)
        log("stack up, warm-up run done")
        runs = []
        for n in sizes:
            log(f"throughput N={n:,}")
            run = throughput.measure(stack, n, workdir, log)
            runs.append(run)
            note = "" if run.loaded == n else f"{run.loaded} of {n} loaded"
            figures += [
                Figure(
                    f"throughput pipeline, Kafka to warehouse, N={n:,}",
                    n / run.pipeline_s,
                    "events/s",
                    n / run.floor_s,
                    note=note or "baseline: floor (Kafka to DuckDB, no validation)",
                ),
                Figure(
                    f"throughput end to end, CSV to warehouse, N={n:,}",
                    n / run.end_to_end_s,
                    "events/s",
                    n / (run.produce_s + run.floor_s),
                    note="baseline: same produce, then the floor",
                ),
                Figure(f"produce (check, pseudonymise, publish), N={n:,}", n / run.produce_s, "events/s"),
                Figure(
                    f"peak RSS of the pipeline worker (drain_country), N={n:,}",
                    run.worker_peak_mb,
                    "MB",
                    run.floor_peak_mb,
                    higher_is_better=False,
                    note="baseline: the floor process",
                ),
                Figure(
                    f"peak RSS of refresh_marts (whole warehouse), N={n:,}",
                    run.marts_peak_mb,
                    "MB",
                    run.floor_peak_mb,
                    higher_is_better=False,
                    note="baseline: the floor process",
                ),
            ]
        if len(runs) > 1:
            first, last = runs[0], runs[-1]
            figures += [
                Figure(
                    f"growth: seconds per event at N={last.n:,} over N={first.n:,}",
                    (last.pipeline_s / last.n) / (first.pipeline_s / first.n),
                    "x",
                    (last.floor_s / last.n) / (first.floor_s / first.n),
                    higher_is_better=False,
                    note="1.0 = linear; below 1: fixed costs amortised",
                ),
                Figure(
                    f"growth: worker memory at N={last.n:,} over N={first.n:,}",
                    last.worker_peak_mb / first.worker_peak_mb,
                    "x",
                    last.floor_peak_mb / first.floor_peak_mb,
                    higher_is_better=False,
                    note="1.0 = flat",
                ),
            ]
        log(
            f"latency: {pushes} pushes of {args.push_events} events, streaming on; {run_pushes} with thbdb run;"
            f" {preload:,} victims in the warehouse before"
        )
        archive = runs[-1] if runs and not args.no_stream_archive else None
        lat = latency.measure(
            stack,
            pushes,
            args.push_events,
            workdir,
            log,
            run_pushes=run_pushes,
            archive=archive.n if archive else 0,
            preloaded=preload,
        )
        if archive and lat.archive_s:
            figures.append(
                Figure(
                    f"throughput end to end, streaming on, CSV to warehouse, N={archive.n:,}",
                    archive.n / lat.archive_s,
                    "events/s",
                    archive.n / (archive.produce_s + archive.floor_s),
                    note="produce start to counted, no thbdb run; baseline: same produce, then the floor",
                )
            )
        latencies = [
            (", streaming on", lat.stream_s, STREAMING_NOTE),
            (", streaming on, shown by thbdb query", lat.stream_cli_s, SHOWN_BY_THE_CLI_NOTE),
            (" with thbdb run", lat.run_s, "streaming off: produce + thbdb run + query; baseline: produce + floor"),
        ]
        for way, seconds, note in latencies:
            for q in (50, 95) if seconds else ():
                name = (
                    f"latency publish to queryable{way}, p{q} ({len(seconds)} pushes of {args.push_events},"
                    f" {preload:,} victims in the warehouse)"
                )
                baseline = percentile(lat.floor_s, q)
                figures.append(Figure(name, percentile(seconds, q), "s", baseline, higher_is_better=False, note=note))
    finally:
        log("stopping the stack")
        stack.down()
    log(f"query speed: generating {victims:,} victims in DuckDB")
    warehouse = workdir / "queries.duckdb"
    built = query_speed.build_warehouse(warehouse, victims)
    label = f"{victims / 1e6:g}M victims"
    figures += [
        Figure(f"generate {label} (SQL)", built["generate_s"], "s", higher_is_better=False),
        Figure(
            f"refresh marts on {label} (the pipeline's last step)",
            built["refresh_marts_s"],
            "s",
            higher_is_better=False,
        ),
    ]
    log(f"query speed: {repeats} runs of each query")
    speeds = query_speed.measure(warehouse, repeats)
    base = speeds.pop("baseline")
    log("query speed: a release snapshot, and an analyst's protected counts through the service's answers")
    release_home = Path(tempfile.mkdtemp(prefix="thbdb-bench-release-"))
    speeds |= query_speed.measure_released(warehouse, repeats, release_home)
    published = speeds.pop("publish")["seconds"]
    figures.append(Figure(f"publish a release snapshot of {label}", published, "s", higher_is_better=False))
    for name, speed in speeds.items():
        for pct in ("p50", "p95"):
            figures.append(
                Figure(
                    f"query {name} {pct}, {label}",
                    speed[pct],
                    "ms",
                    base[pct],
                    higher_is_better=False,
                    note="baseline: count(*) GROUP BY year, country on the warehouse",
                )
            )
    log("one event loaded into that warehouse, then counted (marts refreshed, snapshot published)")
    one_event = query_speed.one_event_counted(warehouse, release_home, batches=ONE_EVENT_BATCHES)
    for q in (50, 100):
        figures.append(
            Figure(
                f"one-event batch counted (refresh + publish), {'max' if q == 100 else 'p50'}"
                f" of {len(one_event)} in a row, {label}",
                percentile(one_event, q),
                "s",
                higher_is_better=False,
                note="aim: within 5 s on 10M victims; the first after a whole snapshot copies it",
            )
        )
    known = 50_000 if args.quick else 200_000
    log(f"linkage: new records against {known:,} known persons")
    linking = linkage_speed(known, min(5000, known), 4, LinkageEncoder(b"benchmark linkage key".ljust(32)), 0.8)
    figures.append(
        Figure(
            f"linkage: new records compared with {linking['population']:,} known persons",
            linking["records_linked_per_second"],
            "records/s",
            linking["records_linked_per_second_numpy"],
            note="baseline: numpy, one record at a time (the matcher before 30 Nov)",
        )
    )
    drained = 20_000 if args.quick else 100_000
    log(f"the drain's own code in one process: {drained:,} events, stage by stage")
    stages = drain_stages.measure(drained, workdir / "drain")
    figures.append(
        Figure(
            f"drain_country in one process (no Kafka, no Airflow), N={stages.events:,}",
            stages.events / stages.drain_s,
            "events/s",
            stages.events / stages.floor_s,
            note="baseline: the floor's insert (DuckDB's JSON reader, no validation), same payloads",
        )
    )
    for stage, spent in stages.stages.items():
        per_100k = spent * 100_000 / stages.events
        figures.append(Figure(f"drain stage: {stage}, per 100,000 events", per_100k, "s", higher_is_better=False))
    shutil.rmtree(workdir, ignore_errors=True)
    log(f"done in {time.monotonic() - STARTED:.0f} s")
    print(table(figures))
    write_json(args.out, figures)
    print(f"\nwritten: {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
