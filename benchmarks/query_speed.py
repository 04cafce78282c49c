"""Query speed on a warehouse of many victims, generated in DuckDB with SQL (not
through Kafka): the standard trend queries analysts run, beside a plain count(*) GROUP BY
on the same mart. The marts are built by the pipeline's own SQL (refresh_marts)."""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import duckdb

from benchmarks.results import percentile
from config.settings import Settings
from pipeline.drain import publish_marts
from warehouse.loader import connect, ensure_schema, refresh_marts
from warehouse.queries import DIMENSIONS, victim_counts

# Columns filled; any other column of raw_victim_events is left NULL.
_GENERATED = """
INSERT INTO raw_victim_events (
    event_id, country, record_ref, case_ref, updated_at, status, case_category, sex, citizenship,
    age_band, age_group, identified_year, identified_month, identified_by, exploitation_types,
    country_of_exploitation, recruitment_method, means_of_travel, codelist_version,
    producer_batch_id, produced_at, topic, kafka_partition, kafka_offset, load_id,
    validation_run_id, loaded_at)
WITH r AS (
    SELECT i, hash(i) AS h, ['AL', 'BA', 'ME', 'MK', 'RS', 'XK'][1 + CAST(i % 6 AS BIGINT)] AS country,
           [NULL, 0, 3, 9, 12, 16, 19, 23, 27, 31, 35, 40, 45, 52][1 + CAST(hash(i, 7) % 14 AS BIGINT)] AS age
    FROM range(?) t(i)
)
SELECT
    md5(i::VARCHAR),
    country,
    md5('r' || i) || md5('R' || i),
    md5('c' || i) || md5('C' || i),
    TIMESTAMPTZ '2010-01-01 00:00:00+00' + to_days(CAST(h % 5400 AS INTEGER)),
    CASE WHEN h % 100 = 0 THEN 'withdrawn' ELSE 'identified' END,
    'trafficking',
    CASE CAST(h % 20 AS INTEGER) WHEN 0 THEN NULL WHEN 1 THEN 'M' WHEN 2 THEN 'M' WHEN 3 THEN 'M' ELSE 'F' END,
    ['AL', 'BA', 'ME', 'MK', 'RS', 'XK', 'MD', 'UA', 'RO', 'BG', NULL][1 + CAST(hash(i, 3) % 11 AS BIGINT)],
    CASE WHEN age IS NULL THEN 'unknown' WHEN age < 9 THEN '0-8' WHEN age < 18 THEN '9-17'
         WHEN age < 21 THEN '18-20' WHEN age < 30 THEN '21-29' WHEN age < 39 THEN '30-38'
         WHEN age < 48 THEN '39-47' ELSE '48+' END,
    CASE WHEN age IS NULL THEN 'unknown' WHEN age < 18 THEN 'minor' ELSE 'adult' END,
    2010 + CAST(h % 15 AS INTEGER),
    1 + CAST(hash(i, 5) % 12 AS INTEGER),
    ['police', 'border_police', 'social_services', 'ngo', NULL][1 + CAST(hash(i, 11) % 5 AS BIGINT)],
    [['sexual'], ['labour'], ['sexual', 'labour'], ['begging'], ['forced_marriage'], NULL]
        [1 + CAST(hash(i, 13) % 6 AS BIGINT)],
    [country, 'IT', 'DE', 'GR', 'TR'][1 + CAST(hash(i, 17) % 5 AS BIGINT)],
    ['job_offer', 'intimate_partner', 'family_member', NULL][1 + CAST(hash(i, 19) % 4 AS BIGINT)],
    [['none'], ['car'], ['bus'], ['air']][1 + CAST(hash(i, 23) % 4 AS BIGINT)],
    1,
    md5('b' || (i // 5000)),
    TIMESTAMPTZ '2025-01-01 00:00:00+00',
    'thbdb.events.' || lower(country),
    CAST(i % 3 AS INTEGER),
    i,
    md5('l' || (i // 5000)),
    md5('v' || (i // 5000)),
    TIMESTAMPTZ '2025-01-01 00:00:00+00'
FROM r
"""

STANDARD_QUERIES: dict[str, list[str]] = {
    "counts by year,country": ["year", "country"],
    "counts by exploitation,age_group": ["exploitation", "age_group"],
    "counts by year,exploitation": ["year", "exploitation"],
    "counts by year,sex,age_group": ["year", "sex", "age_group"],
}
BASELINE_SQL = "SELECT year, country, count(*) FROM mart_victims GROUP BY year, country"


def build_warehouse(path: Path, victims: int) -> dict[str, float]:
    """Generate ``victims`` records and build the marts; seconds of each step.

    The raw table gets the warehouse's columns but not its primary key: the loader's
    duplicate check is measured by the throughput run, and an index over ten million
    generated ids would only slow the generation down.
    """
    path.unlink(missing_ok=True)
    with connect(path) as con:
        con.execute("SET enable_progress_bar = false")
        row = con.execute("SELECT current_database()").fetchone()
        main = row[0] if row else "main"
        con.execute("ATTACH ':memory:' AS template")
        con.execute("USE template")
        ensure_schema(con)
        con.execute(f'USE "{main}"')
        con.execute("CREATE TABLE raw_victim_events AS SELECT * FROM template.raw_victim_events LIMIT 0")
        con.execute("DETACH template")
        ensure_schema(con)  # the other tables, with their keys
        started = time.monotonic()
        con.execute(_GENERATED, [victims])
        generated = time.monotonic()
        refresh_marts(con)
        refreshed = time.monotonic()
    return {"generate_s": generated - started, "refresh_marts_s": refreshed - generated}


def preload(settings: Settings, victims: int) -> None:
    """Put ``victims`` generated victims into a stack's (empty) warehouse and publish
    them, owned by the hub's account as everything the pipeline writes."""
    from thbdb import accounts

    with connect(settings.warehouse) as con:
        con.execute("SET enable_progress_bar = false")
        ensure_schema(con)
        # Other event ids than any push's: the generated ones are md5 of a number.
        con.execute(_GENERATED, [victims])
    publish_marts(settings, full=True)  # written beside the loader: no record was noted for the marts
    if accounts.enforced(settings.accounts):
        hub = accounts.ensure(accounts.HUB)
        for folder in settings.hub_dirs:
            accounts.own(folder, hub)


def _timed(call: Callable[[], object], repeats: int) -> list[float]:
    call()  # warm: the first read pulls the columns from disk
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def _trend_queries(con: duckdb.DuckDBPyConnection) -> dict[str, Callable[[], object]]:
    """Trends with change flags, where this build has them (warehouse/trends.py)."""
    try:
        trends = importlib.import_module("warehouse.trends")
    except ImportError:
        return {}
    function = getattr(trends, "trend_cells", None)
    if function is None:
        return {}
    return {
        "trends exploitation (change flags)": lambda: function(con, "exploitation"),
        "trends sex (change flags)": lambda: function(con, "sex"),
    }


def measure(path: Path, repeats: int) -> dict[str, dict[str, float]]:
    """p50 and p95 in ms of each standard query, and of the plain GROUP BY baseline."""
    out: dict[str, dict[str, float]] = {}
    with connect(path, read_only=True) as con:
        con.execute("SET enable_progress_bar = false")
        baseline = _timed(lambda: con.execute(BASELINE_SQL).fetchall(), repeats)
        out["baseline"] = {"p50": percentile(baseline, 50), "p95": percentile(baseline, 95)}
        calls: dict[str, Callable[[], object]] = {
            name: partial(victim_counts, con, dims) for name, dims in STANDARD_QUERIES.items()
        }
        calls.update(_trend_queries(con))
        # Every dimension alone (the modus-operandi lists included); only the slowest is kept.
        slowest: tuple[str, list[float]] | None = None
        for dimension in DIMENSIONS:
            times = _timed(partial(victim_counts, con, [dimension]), repeats)
            if slowest is None or percentile(times, 95) > percentile(slowest[1], 95):
                slowest = (dimension, times)
        if slowest is not None:
            name = f"counts by the slowest of {len(DIMENSIONS)} dimensions alone ({slowest[0]})"
            out[name] = {"p50": percentile(slowest[1], 50), "p95": percentile(slowest[1], 95)}
        for name, call in calls.items():
            try:
                times = _timed(call, repeats)
            except (duckdb.Error, ValueError) as error:  # e.g. a trend layer this build cannot run
                print(f"{name} skipped: {type(error).__name__}", file=sys.stderr)
                continue
            out[name] = {"p50": percentile(times, 50), "p95": percentile(times, 95)}
    return out


def measure_released(path: Path, repeats: int, home: Path) -> dict[str, dict[str, float]]:
    """Counts as an analyst gets them by default: a release snapshot of the warehouse is
    published (whole: the first in ``home``), and the release service's own answer
    (protected counts, perturbed and withheld on the grid) is timed for every dimension
    alone; the slowest is kept. The HTTPS round trip is left out (the latency benchmark
    has it)."""
    import duckdb as db

    from config.settings import Settings
    from disclosure.policy import load_policy
    from release import answers, snapshot
    from release.access import Identity, Role

    settings = Settings(home=home)
    started = time.perf_counter()
    with connect(path) as con:
        con.execute("SET enable_progress_bar = false")
        snapshot.publish(con, settings)
    published = time.perf_counter() - started
    context = answers.Context(Identity("bench-analyst", Role.analyst), load_policy(), settings)
    slowest: tuple[str, list[float]] | None = None
    with db.connect(str(snapshot.current(settings)), read_only=True) as con:
        for dimension in DIMENSIONS:
            times = _timed(partial(answers.counts, con, context, {"by": dimension}), repeats)
            if slowest is None or percentile(times, 95) > percentile(slowest[1], 95):
                slowest = (dimension, times)
    assert slowest is not None
    name = f"protected counts (an analyst's) by the slowest of {len(DIMENSIONS)} dimensions alone ({slowest[0]})"
    return {
        "publish": {"seconds": published},
        name: {"p50": percentile(slowest[1], 50), "p95": percentile(slowest[1], 95)},
    }


def one_event_counted(path: Path, home: Path, batches: int = 1) -> list[float]:
    """Seconds from a one-event batch loaded into the warehouse until a release snapshot
    that counts it is published, for ``batches`` batches one after another: what
    streaming waits for after each small push. ``home`` holds the release snapshot
    published before (``measure_released``'s), as the pipeline's would. The first
    batches after a whole snapshot copy it; later ones bring an older kept snapshot up
    to date instead (release/snapshot.py).
    """
    from config.settings import Settings
    from release import snapshot

    settings = Settings(home=home)
    seconds = []
    for batch in range(batches):
        with connect(path) as con:
            con.execute("SET enable_progress_bar = false")
            started = time.perf_counter()
            # The loader's transaction: the event, and its record noted for the marts.
            event, record = f"one event {batch}", f"one record {batch}"
            con.execute(
                "INSERT INTO raw_victim_events SELECT * REPLACE (md5(?) AS event_id, 'AL' AS country,"
                " md5(?) || md5(?) AS record_ref, now() AS loaded_at)"
                " FROM raw_victim_events WHERE status = 'identified' LIMIT 1",
                [event, record, record],
            )
            con.execute("INSERT INTO marts_pending VALUES ('victims', 'AL', md5(?) || md5(?))", [record, record])
            refresh_marts(con)
            refreshed = time.perf_counter()
            snapshot.publish(con, settings)
            seconds.append(time.perf_counter() - started)
            published = seconds[-1] - (refreshed - started)
            print(f"  (refreshed in {refreshed - started:.2f} s, published in {published:.2f} s)", file=sys.stderr)
            held = con.execute("SELECT count(*) FROM mart_victims").fetchone()
        with duckdb.connect(str(snapshot.current(settings)), read_only=True) as release:
            released = release.execute("SELECT count(*) FROM mart_victims").fetchone()
        assert released == held, "the snapshot does not hold what the warehouse counts"
    return seconds
