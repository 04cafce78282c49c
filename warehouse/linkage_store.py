"""The linkage store: the only place at the hub that holds linkage encodings.

Bloom filters and keyed birth tokens are what an attacker at the hub would study
(benchmarks/linkage_attacks.py), so they never enter the analysts' warehouse. They live
in a DuckDB file of their own beside it (``<warehouse>.linkage.duckdb``), created owner
only (0600), that only the loader writes and only the linkage step reads: no query,
report, export or analyst connection opens it. The warehouse keeps the results alone
(``person_links``: which records are one regional person).

DuckDB lets one transaction write one database file only. The loader writes a batch's
encodings here first, keyed by event id (a re-run rewrites the same rows), then the
batch into the warehouse; both under the warehouse's write lock, so no refresh runs in
between. An encoding whose event never reached the warehouse is purged at the next
refresh, as are the encodings of withdrawn and superseded record versions: the store
holds one encoding per current record, the one linkage compares.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pandas as pd

from warehouse.transactions import transaction

ALIAS = "linkage_store"
SUFFIX = ".linkage.duckdb"
# The encoding's fields as the flattened event row carries them (transforms/rows.py).
ROW_FIELDS = ("linkage_key_id", "linkage_clk", "linkage_birth_year", "linkage_birth_month", "linkage_birth_day")

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {ALIAS}.encodings (
    event_id      VARCHAR NOT NULL,     -- the victim event that carried the encoding (one row each; no
                                        -- key index, as in the raw layer)
    country       VARCHAR NOT NULL,
    record_ref    VARCHAR NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL, -- the record version it belongs to
    key_id        VARCHAR NOT NULL,     -- fingerprint of the linkage key and the scheme
    clk           VARCHAR NOT NULL,     -- base64 Bloom filter, 1024 bits
    birth_year    VARCHAR,              -- keyed tokens
    birth_month   VARCHAR,
    birth_day     VARCHAR,
    loaded_at     TIMESTAMPTZ NOT NULL,
    kafka_offset  BIGINT NOT NULL
);
-- What the last linkage read of each current encoded record: its block and a signature
-- (warehouse/link_blocks.py). Replaced the blocks' fingerprints (dropped below).
CREATE TABLE IF NOT EXISTS {ALIAS}.record_blocks (
    country       VARCHAR NOT NULL,
    record_ref    VARCHAR NOT NULL,
    event_id      VARCHAR NOT NULL,     -- the encoding's event
    key_id        VARCHAR NOT NULL,
    birth_year    VARCHAR NOT NULL,
    sex           VARCHAR,
    signature     UBIGINT NOT NULL      -- hash of the filter, birth tokens and sex
);
DROP TABLE IF EXISTS {ALIAS}.link_blocks;
CREATE TABLE IF NOT EXISTS {ALIAS}.link_generation (
    generation    BIGINT NOT NULL,
    rules         VARCHAR NOT NULL
);
"""


def store_path(con: duckdb.DuckDBPyConnection) -> Path | None:
    """The store beside the warehouse this connection has open (None in memory)."""
    row = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()
    if not row or not row[0]:
        return None
    warehouse = Path(row[0])
    return warehouse.with_name(warehouse.stem + SUFFIX)


def attach(con: duckdb.DuckDBPyConnection, read_only: bool = False) -> bool:
    """Attach the store to the warehouse connection as ``linkage_store``; False when
    there is none to read (in memory, or read-only before any encoding was stored)."""
    attached = con.execute("SELECT count(*) FROM duckdb_databases() WHERE database_name = ?", [ALIAS]).fetchone()
    if attached and attached[0]:
        return True
    path = store_path(con)
    if path is None or (read_only and not path.exists()):
        return False
    # Owner only from the first byte: the file and its write-ahead log.
    previous = os.umask(0o077)
    try:
        con.execute(f"ATTACH '{path}' AS {ALIAS}" + (" (READ_ONLY)" if read_only else ""))
    finally:
        os.umask(previous)
    if not read_only:
        con.execute(_SCHEMA)
    _owner_only(path)
    return True


def _owner_only(path: Path | None) -> None:
    """0600 on the store and its write-ahead log, which DuckDB recreates after each
    checkpoint with the process's umask."""
    if path is None:
        return
    for file in (path, path.with_name(path.name + ".wal")):
        if file.exists():
            file.chmod(0o600)


def keep_to_owner(con: duckdb.DuckDBPyConnection) -> None:
    """0600 again on the store and its write-ahead log, after a write."""
    _owner_only(store_path(con))


def store_encodings(con: duckdb.DuckDBPyConnection, rows: pd.DataFrame) -> int:
    """Write the encodings that a batch's victim rows carry (its own transaction)."""
    if not len(rows):
        return 0
    encoded = rows.loc[rows["linkage_clk"].notna()]  # read by DuckDB by name below
    if not len(encoded) or not attach(con):
        return 0
    # A re-pushed event replaces its encoding (after a key rotation the same event id
    # carries a new one): delete, then insert, in one transaction.
    with transaction(con):
        con.execute(f"DELETE FROM {ALIAS}.encodings WHERE event_id IN (SELECT event_id FROM encoded)")
        con.execute(
            f"INSERT INTO {ALIAS}.encodings SELECT event_id, country, record_ref, updated_at,"
            " linkage_key_id, linkage_clk, linkage_birth_year, linkage_birth_month, linkage_birth_day,"
            " loaded_at, kafka_offset FROM encoded"
        )
    _owner_only(store_path(con))
    return len(encoded)


# The encoding each current, counted record is linked by: the one loaded last for its
# current version (after a key rotation, the re-pushed version's). Used by linkage and
# by the purge, so the store keeps exactly what linkage reads. ``current`` is the
# relation of the records' current versions.
def _current_encodings_of(current: str) -> str:
    return f"""
    SELECT e.event_id, c.country, c.record_ref, e.key_id, e.clk, e.birth_year, e.birth_month, e.birth_day, c.sex
    FROM {current} c
    JOIN {ALIAS}.encodings e
      ON e.country = c.country AND e.record_ref = c.record_ref AND e.updated_at = c.updated_at
    WHERE c.status <> 'withdrawn' AND e.birth_year IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY c.country, c.record_ref ORDER BY e.loaded_at DESC, e.kafka_offset DESC) = 1
"""


CURRENT_ENCODINGS = _current_encodings_of("stg_victim_current")


# The raw versions of the records that have an encoding (of some records only, when a
# refresh reads those it touched): staging's rule runs over these, not over every record.
_ENCODED_VERSIONS = "raw_victim_encoded"


def current_encodings_of(con: duckdb.DuckDBPyConnection, records: str | None = None) -> str:
    """The current encodings of ``records`` (a relation with country and record_ref;
    None: of every record), as a query, for the rest of this connection's transaction."""
    only = f"SEMI JOIN {records} USING (country, record_ref)" if records else ""
    con.execute(
        f"""CREATE OR REPLACE TEMP VIEW {_ENCODED_VERSIONS} AS
            SELECT r.* FROM raw_victim_events r {only}
            SEMI JOIN (SELECT DISTINCT country, record_ref FROM {ALIAS}.encodings {only}) USING (country, record_ref)"""
    )
    return _current_encodings_of(f"current_versions('{_ENCODED_VERSIONS}')")


def release(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"DROP VIEW IF EXISTS temp.{_ENCODED_VERSIONS}")


def move_from_raw_layer(con: duckdb.DuckDBPyConnection) -> int:
    """Migration: warehouses made before the store kept encodings in raw_victim_events.
    Move them here and drop the columns, so the analysts' file holds none; they stay
    usable for linking until each country re-pushes under scheme v2, then are purged."""
    columns = {
        row[0]
        for row in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'raw_victim_events'"
            " AND table_schema = 'main' AND table_catalog = current_database()"
        ).fetchall()
    }
    if not set(ROW_FIELDS) & columns:
        return 0
    moved = 0
    if "linkage_clk" in columns and attach(con):
        old = con.execute(
            "SELECT event_id, country, record_ref, updated_at, linkage_key_id AS key_id, linkage_clk AS clk,"
            " linkage_birth_year AS birth_year, linkage_birth_month AS birth_month, linkage_birth_day AS birth_day,"
            " loaded_at, kafka_offset FROM raw_victim_events WHERE linkage_clk IS NOT NULL"
        ).df()
        con.execute(f"INSERT INTO {ALIAS}.encodings SELECT * FROM old ANTI JOIN {ALIAS}.encodings USING (event_id)")
        moved = len(old)
    for column in sorted(set(ROW_FIELDS) & columns):
        con.execute(f"ALTER TABLE raw_victim_events DROP COLUMN {column}")
    con.execute("CHECKPOINT")
    return moved
