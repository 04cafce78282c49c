"""The warehouse's schema version, and the migrations that bring an older file to it.

``schema_version`` holds one row per migration applied. A new warehouse is created in
the current layout (warehouse/sql/raw/) and stamped with the latest version: nothing to
migrate. An existing one gets the migrations above its version, in order, each recorded
in the same transaction as its change where DuckDB allows. A warehouse from before the
table existed is at version 0: every migration runs, and each is written so that it
finds nothing to do where the file already had its change.

To change the raw layer: change warehouse/sql/raw/ (what a new warehouse is), and add a
migration here that makes an existing one the same.
"""

from __future__ import annotations

from collections.abc import Callable

import duckdb

from warehouse import linkage_store, superseded
from warehouse.transactions import transaction


def _add_recorded_by(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("ALTER TABLE raw_victim_events ADD COLUMN IF NOT EXISTS recorded_by VARCHAR[]")


def _move_linkage(con: duckdb.DuckDBPyConnection) -> None:
    linkage_store.move_from_raw_layer(con)


def _changes_by_generation(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("ALTER TABLE marts_state ADD COLUMN IF NOT EXISTS changes_since BIGINT")
    for table in ("mart_changed_keys", "mart_changed_codes"):
        con.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS generation BIGINT")
        # What the tables held was the last refresh's changes.
        con.execute(f"UPDATE {table} SET generation = (SELECT max(generation) FROM marts_state)")
    con.execute("UPDATE marts_state SET changes_since = CASE WHEN rebuilt THEN generation ELSE generation - 1 END")


def _without_event_key(con: duckdb.DuckDBPyConnection, database: str, table: str) -> None:
    """Copy a table without its primary key on event_id (DuckDB cannot drop a key), its
    columns, their order and NOT NULL kept. Nothing to do where the key is gone."""
    keyed = con.execute(
        "SELECT count(*) FROM duckdb_constraints() WHERE database_name = ? AND table_name = ?"
        " AND constraint_type = 'PRIMARY KEY'",
        [database, table],
    ).fetchone()
    if not keyed or not keyed[0]:
        return
    required = [
        str(row[0])
        for row in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = ? AND table_name = ? AND NOT is_nullable",
            [database, table],
        ).fetchall()
    ]
    name, unkeyed = f'"{database}".main.{table}', f'"{database}".main.{table}_unkeyed'  # a file's stem may need quotes
    with transaction(con):
        con.execute(f"CREATE TABLE {unkeyed} AS FROM {name}")
        con.execute(f"DROP TABLE {name}")
        con.execute(f"ALTER TABLE {unkeyed} RENAME TO {table}")
        for column in required:
            con.execute(f"ALTER TABLE {name} ALTER COLUMN {column} SET NOT NULL")


def _event_ids_unkeyed(con: duckdb.DuckDBPyConnection) -> None:
    row = con.execute("SELECT current_database()").fetchone()
    _without_event_key(con, str(row[0]) if row else "main", "raw_victim_events")
    if linkage_store.attach(con):
        _without_event_key(con, linkage_store.ALIAS, "encodings")


# (version, what it does, how). Append only: a released version never changes.
MIGRATIONS: tuple[tuple[int, str, Callable[[duckdb.DuckDBPyConnection], None]], ...] = (
    (1, "linkage encodings out of the raw layer, into the linkage store", _move_linkage),
    (2, "superseded versions stripped: content hash column, content columns nullable", superseded.migrate),
    (3, "recorded_by (national export v1.1)", _add_recorded_by),
    (4, "the marts' changes kept for a few refreshes, by generation", _changes_by_generation),
    (5, "no key index on event ids (raw victim events, linkage encodings): the load anti-joins", _event_ids_unkeyed),
)
LATEST = MIGRATIONS[-1][0]

_TABLE = """
CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER PRIMARY KEY,
    description VARCHAR NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""


def is_new(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the file has no raw layer yet (to be called before it is created)."""
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'raw_victim_events'"
        " AND table_schema = 'main' AND table_catalog = current_database()"
    ).fetchone()
    return not found or found[0] == 0


def current(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def bring_up_to_date(con: duckdb.DuckDBPyConnection, new: bool) -> list[int]:
    """Stamp a new warehouse, or migrate an existing one; the versions applied."""
    con.execute(_TABLE)
    if new:
        con.execute(
            "INSERT OR IGNORE INTO schema_version (version, description) VALUES (?, ?)",
            [LATEST, "created in the current layout"],
        )
        return []
    applied = []
    for version, description, migrate in MIGRATIONS:
        if version <= current(con):
            continue
        migrate(con)
        con.execute("INSERT INTO schema_version (version, description) VALUES (?, ?)", [version, description])
        applied.append(version)
    return applied
