"""The warehouse's schema version (warehouse/migrations.py): a new file is stamped, an
old one is migrated once, in order."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tests.unit.test_linkage import _events
from warehouse import linkage_store, migrations
from warehouse.loader import SQL_DIR, connect, ensure_schema, load_batch


def _columns(con, table: str) -> set[str]:  # type: ignore[no-untyped-def]
    return {c for (c,) in con.execute(f"SELECT column_name FROM (DESCRIBE {table})").fetchall()}


def test_a_new_warehouse_is_stamped_with_the_latest_version(tmp_path: Path) -> None:
    with connect(tmp_path / "w.duckdb") as con:
        ensure_schema(con)
        assert con.execute("SELECT version FROM schema_version").fetchall() == [(migrations.LATEST,)]
        assert "recorded_by" in _columns(con, "raw_victim_events")


def test_a_warehouse_from_before_versions_is_migrated_once(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    with connect(path) as con:
        ensure_schema(con)
        # As a warehouse of export v1.0 was: no recorded_by, no hash of stripped versions,
        # no schema_version.
        con.execute("ALTER TABLE raw_victim_events DROP COLUMN recorded_by")
        con.execute("ALTER TABLE raw_victim_events DROP COLUMN content_md5")
        con.execute("DROP TABLE schema_version")
    with connect(path) as con:
        ensure_schema(con)
        assert {"recorded_by", "content_md5"} <= _columns(con, "raw_victim_events")
        versions = [v for (v,) in con.execute("SELECT version FROM schema_version ORDER BY version").fetchall()]
        assert versions == [v for v, _what, _how in migrations.MIGRATIONS]
    with connect(path) as con:  # once: a second opening finds nothing to do
        assert migrations.bring_up_to_date(con, new=False) == []


def _keyed_as_before(con) -> None:  # type: ignore[no-untyped-def]
    """The raw layer and the linkage store as they were before migration 5: a primary
    key on event_id in both."""
    con.execute("CREATE TABLE held AS FROM raw_victim_events")
    con.execute("DROP TABLE raw_victim_events")
    raw = (SQL_DIR / "raw" / "010_raw.sql").read_text("utf-8")
    con.execute(raw.replace("event_id                VARCHAR NOT NULL,", "event_id VARCHAR PRIMARY KEY,", 1))
    con.execute("INSERT INTO raw_victim_events FROM held")
    con.execute("DROP TABLE held")
    con.execute("CREATE TABLE held AS FROM linkage_store.encodings")
    con.execute("DROP TABLE linkage_store.encodings")
    store = linkage_store._SCHEMA.replace("event_id      VARCHAR NOT NULL,", "event_id VARCHAR PRIMARY KEY,", 1)
    con.execute(store)
    con.execute("INSERT INTO linkage_store.encodings FROM held")
    con.execute("DROP TABLE held")
    con.execute("DELETE FROM schema_version WHERE version >= 5")


def _keys(con, database: str, table: str) -> int:  # type: ignore[no-untyped-def]
    row = con.execute(
        "SELECT count(*) FROM duckdb_constraints() WHERE database_name = ? AND table_name = ?"
        " AND constraint_type = 'PRIMARY KEY'",
        [database, table],
    ).fetchone()
    return int(row[0])


def test_the_event_id_keys_are_dropped_and_a_re_push_is_still_a_duplicate(tmp_path: Path) -> None:
    path = tmp_path / "w-1.duckdb"  # a name that needs quoting in SQL
    batch = _events("RS", "RS-1", "Ana", "Ilić", "1990-01-02")
    with connect(path) as con:
        ensure_schema(con)
        load_batch(con, batch)
        _keyed_as_before(con)
        assert _keys(con, "w-1", "raw_victim_events") == 1
        assert _keys(con, "linkage_store", "encodings") == 1
        rows_before = con.execute("FROM raw_victim_events").fetchall()
        nullable_before = con.execute(
            "SELECT column_name, is_nullable FROM duckdb_columns() WHERE table_name = 'raw_victim_events'"
            " ORDER BY column_index"
        ).fetchall()
    with connect(path) as con:
        ensure_schema(con)
        assert _keys(con, "w-1", "raw_victim_events") == 0
        assert _keys(con, "linkage_store", "encodings") == 0
        assert con.execute("FROM raw_victim_events").fetchall() == rows_before
        nullable_after = con.execute(
            "SELECT column_name, is_nullable FROM duckdb_columns() WHERE table_name = 'raw_victim_events'"
            " ORDER BY column_index"
        ).fetchall()
        # event_id is NOT NULL now where the key made it so; every other column as it was
        assert nullable_after == nullable_before
        again = replace(batch, load_id="again", validation_run_id="again")
        result = load_batch(con, again)
        assert (result.loaded, result.duplicates) == (0, 1)
        assert con.execute("SELECT count(*) FROM linkage_store.encodings").fetchone() == (1,)
