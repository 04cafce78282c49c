"""A one-event batch on a warehouse where every victim carries a linkage encoding.

`python -m benchmarks.linked_one_event [--victims 1000000] [--blocks 60] [--batches 4]`:
victims generated in SQL as for the query-speed figures (benchmarks/query_speed.py),
each given an encoding in the linkage store (one linkage key, ``--blocks`` keyed birth
years, random filters that link nothing but are compared all the same), linked once in
full and released whole; then one-event batches, each a new record with an encoding in
an existing block, refreshed and published. Prints the seconds of each step: what a
small push costs when linkage has a block to re-link, not only marts to follow.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.query_speed import build_warehouse
from config.settings import Settings
from release import snapshot
from warehouse import linkage_store
from warehouse.loader import connect, refresh_marts

# A 1024-bit filter as the producers send it: base64 of 128 bytes, here from md5s.
_FILTER = "to_base64(unhex(" + " || ".join(f"md5(record_ref || '{k}')" for k in range(8)) + "))"


def encode_every_victim(path: Path, blocks: int) -> None:
    """An encoding in the linkage store for every victim event of the warehouse."""
    with connect(path) as con:
        linkage_store.attach(con)
        con.execute(
            f"""INSERT INTO {linkage_store.ALIAS}.encodings
                SELECT event_id, country, record_ref, updated_at, 'benchmark-key', {_FILTER},
                       md5('year ' || hash(record_ref) % {blocks}), md5('month ' || hash(record_ref, 2) % 12),
                       md5('day ' || hash(record_ref, 3) % 28), loaded_at, kafka_offset
                FROM raw_victim_events ANTI JOIN {linkage_store.ALIAS}.encodings USING (event_id)"""
        )


def one_event(path: Path, settings: Settings, number: int) -> dict[str, float]:
    """A new record with an encoding in an existing block: refresh and publish seconds."""
    event, record = f"linked event {number}", f"linked record {number}"
    with connect(path) as con:
        linkage_store.attach(con)
        started = time.perf_counter()
        con.execute(
            "INSERT INTO raw_victim_events SELECT * REPLACE (md5(?) AS event_id, 'AL' AS country,"
            " md5(?) || md5(?) AS record_ref, now() AS loaded_at)"
            " FROM raw_victim_events WHERE status = 'identified' LIMIT 1",
            [event, record, record],
        )
        con.execute(
            f"""INSERT INTO {linkage_store.ALIAS}.encodings
                SELECT md5(?), 'AL', md5(?) || md5(?), r.updated_at, e.key_id, e.clk, e.birth_year, e.birth_month,
                       e.birth_day, now(), 0
                FROM (SELECT * FROM {linkage_store.ALIAS}.encodings LIMIT 1) e,
                     (SELECT updated_at FROM raw_victim_events WHERE event_id = md5(?)) r""",
            [event, record, record, event],
        )
        con.execute("INSERT INTO marts_pending VALUES ('victims', 'AL', md5(?) || md5(?))", [record, record])
        loaded = time.perf_counter()
        refreshed = refresh_marts(con)
        linked = time.perf_counter()
        snapshot.publish(con, settings)
        done = time.perf_counter()
    assert refreshed.linked is not None and len(refreshed.linked.dirty) >= 1, "the new record's block was not linked"
    return {"refresh_s": linked - loaded, "publish_s": done - linked, "counted_s": done - started}


def measure(victims: int, blocks: int, batches: int, workdir: Path) -> tuple[dict[str, float], list[dict[str, float]]]:
    """Seconds to build, link in full and release the warehouse; then of each batch."""
    path = workdir / "warehouse.duckdb"
    settings = Settings(home=workdir / "home")
    started = time.perf_counter()
    build_warehouse(path, victims)
    encode_every_victim(path, blocks)
    built = time.perf_counter()
    with connect(path) as con:
        refresh_marts(con, full=True)
        linked = time.perf_counter()
        snapshot.publish(con, settings, whole=True)
    released = time.perf_counter()
    setup = {"build_s": built - started, "full_linkage_s": linked - built, "whole_snapshot_s": released - linked}
    return setup, [one_event(path, settings, number) for number in range(batches)]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.linked_one_event", description=__doc__)
    parser.add_argument("--victims", type=int, default=1_000_000)
    parser.add_argument("--blocks", type=int, default=60, help="Keyed birth years (60: about 50 years of births).")
    parser.add_argument("--batches", type=int, default=4, help="One-event batches in a row.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="thbdb-linked-one-event-", ignore_cleanup_errors=True) as scratch:
        setup, batches = measure(args.victims, args.blocks, args.batches, Path(scratch))
    print(
        f"{args.victims:,} victims with encodings in {args.blocks} blocks: built in {setup['build_s']:.1f} s,"
        f" linked in full in {setup['full_linkage_s']:.1f} s, released whole in {setup['whole_snapshot_s']:.1f} s"
    )
    for number, batch in enumerate(batches, 1):
        print(
            f"one-event batch {number}: refresh (linkage included) {batch['refresh_s']:.2f} s,"
            f" publish {batch['publish_s']:.2f} s, counted in {batch['counted_s']:.2f} s"
        )


if __name__ == "__main__":
    main()
