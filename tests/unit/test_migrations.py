"""The warehouse's schema version (warehouse/migrations.py): a new file is stamped, an
old one is migrated once, in order."""

from __future__ import annotations

from pathlib import Path

from warehouse import migrations
from warehouse.loader import connect, ensure_schema


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
