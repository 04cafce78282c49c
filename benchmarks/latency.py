"""Latency on the event-driven path: from publish to queryable, for small pushes with
the stack already up.

Streaming (the figure of issue 9): the streaming consumer is on (`thbdb stream on`) and
already running, which a warm-up push that is not measured makes sure of; each push is
`thbdb produce`, then the release service is asked (with its own client, in this process,
every 0.1 s) until the pushed victims are counted, with no `thbdb run`; the same count
through `thbdb query counts`, a command's start more, is noted beside it. For comparison,
the same with streaming off: `thbdb produce`, `thbdb run`, then the count. The baseline is
the floor on pushes of the same size, made first with streaming off (once loaded, events
leave Kafka): `thbdb produce`, then the floor process, then a count on its database."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from benchmarks import query_speed
from benchmarks.bench_stack import BenchStack, BenchStackError
from benchmarks.throughput import COUNTRY, run_floor
from benchmarks.volume import write_volume_export

TIMEOUT = 1800.0  # an archive of a million events, streamed
POLL = 0.1  # seconds between two asks of the service: the figure's resolution


@dataclass
class LatencyRuns:
    stream_s: list[float] = field(default_factory=list)  # produce + query, streaming on
    # the same pushes until `thbdb query counts` shows them: a command's start (0.7 s) more
    stream_cli_s: list[float] = field(default_factory=list)
    run_s: list[float] = field(default_factory=list)  # produce + thbdb run + query, streaming off
    floor_s: list[float] = field(default_factory=list)
    archive_s: float | None = None  # a whole archive, produce to counted, streaming on


def _counted(stack: BenchStack) -> int:
    """The pushed country's victims as the release service counts them, asked in this
    process with the service's own client (release/client.py, the CLI's): the floor's count
    is in-process too, so neither side pays a command's start."""
    from release.client import HubError, ask

    body = {"by": "country", "country": COUNTRY, "min_cell": 1}
    try:
        answer = ask(stack.settings, "query/counts", body, token=None, timeout=120)
    except HubError:  # no release yet (the first load publishes it)
        return 0
    return sum(int(cell["count"] or 0) for cell in answer["cells"])


def _counted_by_the_cli(stack: BenchStack) -> int:
    """The same count as `thbdb query counts` prints it (a command's start included)."""
    result = stack.thbdb(
        "query", "counts", "--by", "country", "--country", COUNTRY, "--min-cell", "1", "--format", "json", check=False
    )
    if result.returncode != 0:
        return 0
    return sum(int(row["victims"] or 0) for row in json.loads(result.stdout))


def _wait_until_counted(
    stack: BenchStack, expected: int, started: float, what: str, counted: Callable[[BenchStack], int] = _counted
) -> float:
    while counted(stack) < expected:
        if time.monotonic() - started > TIMEOUT:
            raise BenchStackError(f"{what} not queryable after {TIMEOUT:.0f} s")
        time.sleep(POLL)
    return time.monotonic() - started


def _produce(stack: BenchStack, workdir: Path, events: int, seed: int) -> None:
    export = write_volume_export(workdir / f"small-{seed}.csv", COUNTRY, events, seed=seed)
    stack.thbdb("produce", "--country", COUNTRY, "--input", str(export), "--create-key")
    export.unlink()


def measure(
    stack: BenchStack,
    pushes: int,
    events: int,
    workdir: Path,
    log: Callable[[str], None],
    run_pushes: int = 0,
    archive: int = 0,
    preloaded: int = 0,
) -> LatencyRuns:
    """``archive`` > 0: after the small pushes, with the consumer still on, one push of
    that many events, timed from the start of produce until every event is counted (the
    consumer drains while produce still publishes, as it would for a country).
    ``preloaded`` > 0: that many victims are in the warehouse before the first push
    (generated with SQL, as the query-speed warehouse is), so each push is counted in a
    warehouse of that size, not an empty one."""
    stack.reset_data()
    expected = 0  # victims of the pushed country the warehouse must count
    if preloaded:
        query_speed.preload(stack.settings, preloaded)
        expected = _counted(stack)
        log(f"  {preloaded:,} victims generated in the warehouse before the pushes ({expected:,} of {COUNTRY})")
    floor_db = workdir / "floor-latency.duckdb"
    floor_db.unlink(missing_ok=True)
    runs = LatencyRuns()
    # The floor's pushes first, streaming off: once loaded, the pipeline deletes events
    # from Kafka (pipeline/kafka_retention.py), so the floor must read them before.
    for push in range(pushes):
        started = time.monotonic()
        _produce(stack, workdir, events, seed=400 + push)
        published = time.monotonic()
        expected += events
        floor_started = time.monotonic()
        run_floor(stack, floor_db)
        with duckdb.connect(str(floor_db), read_only=True) as con:
            row = con.execute("SELECT count(*) FROM floor_events").fetchone()
        if not row or int(row[0]) < (push + 1) * events:
            raise BenchStackError("the floor did not hold the pushed events")
        runs.floor_s.append((published - started) + (time.monotonic() - floor_started))
    stack.thbdb("stream", "on")
    try:
        # The consumer's first window pays Airflow's task start-up and the validation
        # suites' build (the Great Expectations import): "the stack already up".
        started = time.monotonic()
        _produce(stack, workdir, events, seed=499)
        expected += events
        warm_up = _wait_until_counted(stack, expected, started, "the warm-up push")
        log(f"  streaming on, consumer up: the warm-up push was queryable after {warm_up:.1f} s")
        for push in range(pushes):
            started = time.monotonic()
            _produce(stack, workdir, events, seed=500 + push)
            expected += events
            runs.stream_s.append(_wait_until_counted(stack, expected, started, f"push {push + 1}"))
            runs.stream_cli_s.append(_wait_until_counted(stack, expected, started, "the CLI", _counted_by_the_cli))
            seconds, floor, cli = runs.stream_s[-1], runs.floor_s[push], runs.stream_cli_s[-1]
            log(f"  push {push + 1}/{pushes}, streaming: queryable after {seconds:.1f} s, shown by the CLI after"
                f" {cli:.1f} s (floor {floor:.1f} s)")  # fmt: skip
        if archive:
            started = time.monotonic()
            _produce(stack, workdir, archive, seed=archive % 991)
            expected += archive
            runs.archive_s = _wait_until_counted(stack, expected, started, f"an archive of {archive:,} events")
            log(f"  archive of {archive:,} events, streaming: counted {runs.archive_s:.1f} s after produce began")
    finally:
        stack.thbdb("stream", "off", timeout=TIMEOUT)
    for push in range(run_pushes):
        started = time.monotonic()
        _produce(stack, workdir, events, seed=600 + push)
        expected += events
        stack.thbdb("run", "--timeout", str(int(TIMEOUT)), timeout=TIMEOUT + 100)
        runs.run_s.append(_wait_until_counted(stack, expected, started, f"push {push + 1} with thbdb run"))
        log(f"  push {push + 1}/{run_pushes} with thbdb run, streaming off: queryable after {runs.run_s[-1]:.1f} s")
    floor_db.unlink(missing_ok=True)
    return runs
