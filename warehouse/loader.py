"""Loading validated micro-batches into the DuckDB warehouse, atomically.

A batch's accepted rows, its quarantined events, the audit rows and the Kafka offsets
it read up to are written in one transaction: after a crash the warehouse holds either
none of the batch or all of it, and the next run starts where the last commit ended.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from transforms.rows import EVENT_COLUMNS, PERPETRATOR_EVENT_COLUMNS, POSITION_COLUMNS, no_rows
from warehouse import erasure, link_blocks, linkage_store, marts, migrations, superseded, waiters
from warehouse.person_linkage import DEFAULT_THRESHOLD as DEFAULT_LINK_THRESHOLD
from warehouse.person_linkage import refresh_person_links
from warehouse.transactions import transaction

# The models, one per file, in three layers run in this order, each folder's files in name
# order: raw (tables that loads write), staging (the current version of each record),
# then person linkage (warehouse/person_linkage.py), then marts (what analysts count).
SQL_DIR = Path(__file__).with_name("sql")
LAYERS = ("raw", "staging", "marts")


def layer_files(layer: str) -> list[Path]:
    return sorted((SQL_DIR / layer).glob("*.sql"))


# The raw layer takes every field of a victim event but its linkage encoding, which goes
# to the linkage store (warehouse/linkage_store.py).
RAW_VICTIM_COLUMNS = tuple(c for c in EVENT_COLUMNS if c not in linkage_store.ROW_FIELDS)
_LOAD_COLUMNS = ("topic", *POSITION_COLUMNS, "load_id", "validation_run_id", "loaded_at")


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse file for writing."""


@contextmanager
def connect(path: Path, read_only: bool = False, wait_seconds: float = 60.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open the warehouse; wait while another process holds its write lock.

    Analysts' queries open it read-only, so the query path cannot change the data.
    """
    if read_only and not path.exists():
        raise FileNotFoundError(f"no warehouse at {path}: run `thbdb run` (or `thbdb demo`) first")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as error:
        if "lock" not in str(error).lower():
            raise WarehouseBusy(f"the warehouse {path} is busy: {error}") from error
        with waiters.waiting(path):  # a drain holding the file lets go when it sees this
            con = _wait_for(path, read_only, wait_seconds)
    try:
        yield con
    finally:
        con.close()


def _wait_for(path: Path, read_only: bool, wait_seconds: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + wait_seconds
    while True:
        time.sleep(0.1)
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as error:
            if "lock" not in str(error).lower() or time.monotonic() > deadline:
                raise WarehouseBusy(f"the warehouse {path} is busy: {error}") from error


def run_sql_file(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    con.execute(path.read_text("utf-8"))


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """The raw layer, created in the current layout or migrated to it (warehouse/migrations.py)."""
    new = migrations.is_new(con)
    for path in layer_files("raw"):
        run_sql_file(con, path)
    migrations.bring_up_to_date(con, new)


def refresh_marts(
    con: duckdb.DuckDBPyConnection,
    link_threshold: float = DEFAULT_LINK_THRESHOLD,
    memory_limit: str | None = None,
    full_linkage: bool = False,
    full: bool = False,
) -> marts.Refreshed:
    """Bring staging, person links and the marts up to date with the raw layer, in one
    transaction; what was done.

    The marts follow the records that loads and erasures touched since the last refresh
    (warehouse/marts.py), and linkage redoes only the blocks whose records changed
    (warehouse/link_blocks.py); ``full`` rebuilds every mart and relinks every block,
    ``full_linkage`` the links alone. ``memory_limit`` (DuckDB's own, e.g. "1GB") bounds
    the memory: past it DuckDB spills to disk, slower but flat as the warehouse grows."""
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
    linkage_store.attach(con)  # before the transaction: it may create the store's tables
    try:
        try:
            with transaction(con):
                for path in layer_files("staging"):
                    run_sql_file(con, path)
                con.execute("CREATE OR REPLACE TEMP TABLE links_before AS FROM person_links")
                linked = refresh_person_links(con, link_threshold, full or full_linkage)  # the marts count persons
                refreshed = marts.refresh(con, "links_before", full)
                superseded.strip(con, touched_only=not refreshed.rebuilt)  # what no mart counts keeps no content
                superseded.flag_probing(con, touched_only=not refreshed.rebuilt)
        finally:
            con.execute("DROP TABLE IF EXISTS links_before")
            marts.drop_touched(con)
        if linked is not None:
            # The store's own transaction, after the warehouse's; the encodings linkage no
            # longer reads go with it (withdrawn, superseded, replaced).
            link_blocks.record(con, linked)
    finally:
        link_blocks.forget(con)
        linkage_store.release(con)
    return replace(refreshed, linked=linked)


def stored_offsets(con: duckdb.DuckDBPyConnection, topic: str) -> dict[int, int]:
    rows = con.execute("SELECT kafka_partition, next_offset FROM kafka_offsets WHERE topic = ?", [topic]).fetchall()
    return {int(p): int(o) for p, o in rows}


@dataclass(frozen=True)
class QuarantinedEvent:
    partition: int
    offset: int
    event_id: str | None
    record_ref: str | None
    reasons: str


@dataclass
class LoadBatch:
    """One micro-batch read from one topic, validated, ready to load."""

    topic: str
    country: str
    load_id: str
    validation_run_id: str
    airflow_run_id: str | None
    # the warehouse rows of the accepted victim events, with where each was read
    # (transforms/rows.py's victim_frame), in topic order
    accepted: pd.DataFrame = field(default_factory=no_rows)
    quarantined: list[QuarantinedEvent] = field(default_factory=list)
    next_offsets: dict[int, int] = field(default_factory=dict)
    validation_summary: dict[str, int] = field(default_factory=dict)
    suite_name: str = "case_events"
    duplicates_in_batch: int = 0  # repeated event ids dropped before validation
    warnings: list[str] = field(default_factory=list)  # batch-level validation warnings
    held_back: str = ""  # why the whole batch was quarantined, if it was
    # the same for perpetrator events (perpetrator_frame)
    accepted_perpetrators: pd.DataFrame = field(default_factory=lambda: no_rows(PERPETRATOR_EVENT_COLUMNS))
    erased: int = 0  # events of erased records, dropped at load

    @property
    def events_read(self) -> int:
        kept = len(self.accepted) + len(self.accepted_perpetrators) + len(self.quarantined)
        return kept + self.duplicates_in_batch + self.erased


@dataclass(frozen=True)
class LoadResult:
    loaded: int
    duplicates: int
    quarantined: int
    erased: int = 0  # events of erased records, dropped


def load_batch(con: duckdb.DuckDBPyConnection, batch: LoadBatch, erasure_secret: str | None = None) -> LoadResult:
    """Write one batch and move the offsets, all or nothing.

    Events of records on the deny list (warehouse/erasure.py) are dropped here, under
    the write lock: an erasure that ran since the batch was read is seen."""
    now = datetime.now(UTC)
    erased = _drop_erased(con, batch, erasure_secret)
    # A re-pushed event has the same id: keep the first copy, count the rest as duplicates.
    rows = _with_load_columns(batch.accepted, batch, now)
    # Encodings first, in the store's own transaction (DuckDB writes one file per
    # transaction); keyed by event id, so a batch re-run after a fault rewrites them.
    linkage_store.store_encodings(con, rows)
    with transaction(con):
        loaded = 0
        if len(rows):
            columns = ", ".join((*RAW_VICTIM_COLUMNS, *_LOAD_COLUMNS))
            before = _count(con, "raw_victim_events")
            # Events already held (a re-push) are found by an anti-join on the event id: a
            # scan of one column, where a key index on random ids made every load and
            # every checkpoint slower, and the drain's memory larger, as the table grew.
            con.execute(
                f"INSERT INTO raw_victim_events ({columns}) SELECT {columns} FROM rows"
                " ANTI JOIN raw_victim_events USING (event_id)"
            )
            loaded = _count(con, "raw_victim_events") - before
            marts.mark_touched(con, "victims", rows)  # the next refresh derives them again
        loaded += _insert_perpetrators(con, batch, now)
        if batch.quarantined:
            # One statement for the batch's refused events: a statement per event took
            # seconds when a broken export refused thousands.
            refused = pd.DataFrame(  # noqa: F841 - read by DuckDB by name below
                {
                    "topic": batch.topic,
                    "kafka_partition": [q.partition for q in batch.quarantined],
                    "kafka_offset": [q.offset for q in batch.quarantined],
                    "country": batch.country,
                    "event_id": pd.Series([q.event_id for q in batch.quarantined], dtype=object),
                    "record_ref": pd.Series([q.record_ref for q in batch.quarantined], dtype=object),
                    "reasons": [q.reasons for q in batch.quarantined],
                    "load_id": batch.load_id,
                    "validation_run_id": batch.validation_run_id,
                    "quarantined_at": now,
                }
            )
            con.execute(
                "INSERT OR IGNORE INTO quarantine (topic, kafka_partition, kafka_offset, country, event_id, record_ref,"
                " reasons, load_id, validation_run_id, quarantined_at) SELECT * FROM refused"
            )
        # Offsets only move forward: a drain of the stream and one of `thbdb run` may read
        # the same events; the slower one's commit must not send the next read back.
        for partition, next_offset in batch.next_offsets.items():
            con.execute(
                "INSERT INTO kafka_offsets VALUES (?, ?, ?) ON CONFLICT (topic, kafka_partition)"
                " DO UPDATE SET next_offset = greatest(kafka_offsets.next_offset, excluded.next_offset)",
                [batch.topic, partition, next_offset],
            )
        duplicates = len(batch.accepted) + len(batch.accepted_perpetrators) - loaded + batch.duplicates_in_batch
        if batch.events_read == 0:  # nothing but empty ticks: the offsets alone move
            return LoadResult(loaded=0, duplicates=0, quarantined=0, erased=erased)
        summary = batch.validation_summary
        con.execute(
            "INSERT OR REPLACE INTO validation_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                batch.validation_run_id,
                batch.country,
                batch.suite_name,
                batch.events_read,
                len(batch.quarantined),
                summary.get("expectations", 0),
                summary.get("expectations_failed", 0),
                now,
                "; ".join(batch.warnings) or None,
                batch.held_back or None,
            ],
        )
        con.execute(
            "INSERT INTO load_batches VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                batch.load_id,
                batch.airflow_run_id,
                batch.topic,
                batch.validation_run_id,
                batch.events_read,
                loaded,
                duplicates,
                len(batch.quarantined),
                now,
            ],
        )
    return LoadResult(loaded=loaded, duplicates=duplicates, quarantined=len(batch.quarantined), erased=erased)


def _with_load_columns(rows: pd.DataFrame, batch: LoadBatch, now: datetime) -> pd.DataFrame:
    """A batch's rows, the first copy of each event only, with where they came from."""
    return rows.drop_duplicates("event_id").assign(
        topic=batch.topic, load_id=batch.load_id, validation_run_id=batch.validation_run_id, loaded_at=now
    )


def _drop_erased(con: duckdb.DuckDBPyConnection, batch: LoadBatch, secret: str | None) -> int:
    """Take the events of erased records out of the batch; how many there were."""
    is_erased = erasure.denied(con, batch.country, secret)
    before = len(batch.accepted) + len(batch.accepted_perpetrators) + len(batch.quarantined)
    batch.accepted = _not_erased(batch.accepted, is_erased)
    batch.accepted_perpetrators = _not_erased(batch.accepted_perpetrators, is_erased)
    batch.quarantined = [q for q in batch.quarantined if not is_erased(q.record_ref)]
    dropped = before - len(batch.accepted) - len(batch.accepted_perpetrators) - len(batch.quarantined)
    batch.erased += dropped
    return dropped


def _not_erased(rows: pd.DataFrame, is_erased: Callable[[str | None], bool]) -> pd.DataFrame:
    return rows.loc[np.array([not is_erased(ref) for ref in rows["record_ref"]], dtype=bool)]


def _insert_perpetrators(con: duckdb.DuckDBPyConnection, batch: LoadBatch, now: datetime) -> int:
    """Insert a batch's perpetrator rows (inside the caller's transaction); how many were new."""
    rows = _with_load_columns(batch.accepted_perpetrators, batch, now)  # read by DuckDB by name below
    if not len(rows):
        return 0
    columns = ", ".join((*PERPETRATOR_EVENT_COLUMNS, *_LOAD_COLUMNS))
    before = _count(con, "raw_perpetrator_events")
    # As for victims: the primary key's index skips events already held.
    con.execute(f"INSERT OR IGNORE INTO raw_perpetrator_events ({columns}) SELECT {columns} FROM rows")
    marts.mark_touched(con, "perpetrators", rows)
    return _count(con, "raw_perpetrator_events") - before


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0
