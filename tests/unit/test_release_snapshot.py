"""Release snapshots (release/snapshot.py): only the marts, no pseudonym of a counted
record, the same counts as the warehouse, and an atomic switch."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import duckdb
import pytest

from config.settings import Settings
from release import snapshot
from reports.validation import open_quarantine
from warehouse.loader import connect
from warehouse.queries import victim_counts


@pytest.fixture
def hub(demo_warehouse: Path, tmp_path: Path) -> Settings:
    settings = Settings(home=tmp_path / "home")
    settings.warehouse.parent.mkdir(parents=True)
    shutil.copyfile(demo_warehouse, settings.warehouse)
    return settings


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}


def test_a_snapshot_holds_the_marts_and_nothing_that_names_a_record(hub: Settings) -> None:
    with connect(hub.warehouse) as con:
        path = snapshot.publish(con, hub)
        keys = {r[0] for r in con.execute("SELECT person_key FROM mart_victims").fetchall()}
        refs = {r[0] for r in con.execute("SELECT record_ref FROM mart_victims").fetchall()}
        exact = victim_counts(con, ["year", "country", "sex"], min_cell=1, totals=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with snapshot.open_current(hub) as released:
        tables = _tables(released)
        assert not {t for t in tables if t.startswith(("raw_", "stg_", "kafka_", "linkage", "person_links"))}
        assert {"mart_victims", "mart_victim_cells", "quarantine_status", "release_info"} <= tables
        columns = {r[0] for r in released.execute("SELECT column_name FROM duckdb_columns()").fetchall()}
        assert not columns & {"record_ref", "event_id", "case_ref"} - {"record_ref"}
        assert "record_ref" not in {
            r[0] for r in released.execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name LIKE 'mart_%'"
            ).fetchall()
        }  # fmt: skip
        released_keys = {r[0] for r in released.execute("SELECT person_key FROM mart_victims").fetchall()}
        assert len(released_keys) == len(keys) and not released_keys & (keys | refs)
        assert victim_counts(released, ["year", "country", "sex"], min_cell=1, totals=True) == exact
    data = path.read_bytes()
    assert not any(ref.encode() in data for ref in list(refs)[:200])


def test_two_snapshots_share_no_key(hub: Settings) -> None:
    with connect(hub.warehouse) as con:
        first = snapshot.publish(con, hub)
        second = snapshot.publish(con, hub)
    keys = []
    for path in (first, second):
        with duckdb.connect(str(path), read_only=True) as released:
            keys.append({r[0] for r in released.execute("SELECT person_key FROM mart_victims").fetchall()})
    assert not keys[0] & keys[1]


def test_a_reader_keeps_its_snapshot_while_a_new_one_is_published(hub: Settings) -> None:
    with connect(hub.warehouse) as con:
        before = snapshot.publish(con, hub)
    with snapshot.open_current(hub) as reading:
        total = reading.execute("SELECT count(*) FROM mart_victims").fetchone()
        with connect(hub.warehouse) as con:
            con.execute("DELETE FROM raw_victim_events WHERE country = 'RS'")
            from warehouse.loader import refresh_marts

            refresh_marts(con)
            after = snapshot.publish(con, hub)
        assert reading.execute("SELECT count(*) FROM mart_victims").fetchone() == total
    assert snapshot.current(hub) == after != before
    with snapshot.open_current(hub) as now:
        assert now.execute("SELECT count(*) FROM mart_victims WHERE country = 'RS'").fetchone() == (0,)


def test_old_snapshots_are_removed_and_the_quarantine_view_is_kept(hub: Settings) -> None:
    with connect(hub.warehouse) as con:
        for _ in range(snapshot.KEPT + 2):
            snapshot.publish(con, hub)
        expected = open_quarantine(con)
    assert len(list(hub.releases_dir.glob("release-*.duckdb"))) == snapshot.KEPT
    with snapshot.open_current(hub) as released:
        assert open_quarantine(released) == expected


def test_nothing_released_yet_is_said_plainly(tmp_path: Path) -> None:
    with pytest.raises(snapshot.NoRelease, match="thbdb run"):
        snapshot.current(Settings(home=tmp_path))
