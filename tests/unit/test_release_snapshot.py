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
from warehouse.loader import connect, refresh_marts
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


def _person_keys(path: Path) -> set[str]:
    with duckdb.connect(str(path), read_only=True) as released:
        return {r[0] for r in released.execute("SELECT person_key FROM mart_victims").fetchall()}


def test_two_whole_snapshots_share_no_key(hub: Settings) -> None:
    with connect(hub.warehouse) as con:
        first = snapshot.publish(con, hub, whole=True)
        second = snapshot.publish(con, hub, whole=True)
    assert not _person_keys(first) & _person_keys(second)


def _released(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every released table's rows, without the salted keys (they differ by lineage)."""
    with duckdb.connect(str(path), read_only=True) as released:
        tables = sorted(_tables(released) - {"release_info"})
        rows = {}
        for table in tables:
            columns = [r[0] for r in released.execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index", [table]
            ).fetchall() if r[0] not in snapshot.HASHED_COLUMNS]  # fmt: skip
            rows[table] = sorted(released.execute(f"SELECT {', '.join(columns)} FROM {table}").fetchall(), key=repr)
        return rows


def test_a_snapshot_that_follows_a_refresh_equals_one_written_whole(hub: Settings) -> None:
    with connect(hub.warehouse) as con:
        refresh_marts(con)
        first = snapshot.publish(con, hub)
        # New versions: some victims withdrawn, some corrected, perpetrators moved to no case.
        con.execute(
            """CREATE TEMP TABLE changed AS SELECT * REPLACE (md5(event_id || 'v2') AS event_id,
                   CASE WHEN hash(record_ref) % 2 = 0 THEN 'withdrawn' ELSE status END AS status,
                   CASE WHEN sex = 'female' THEN 'male' ELSE 'female' END AS sex,
                   updated_at + INTERVAL 1 DAY AS updated_at)
               FROM stg_victim_current WHERE status <> 'withdrawn' USING SAMPLE 40 ROWS (reservoir, 7)"""
        )
        con.execute("INSERT INTO raw_victim_events FROM changed")
        con.execute("INSERT INTO marts_pending SELECT 'victims', country, record_ref FROM changed")
        con.execute(
            """CREATE TEMP TABLE moved AS SELECT * REPLACE (md5(event_id || 'p2') AS event_id, NULL AS case_ref,
                   updated_at + INTERVAL 1 DAY AS updated_at)
               FROM stg_perpetrator_current USING SAMPLE 5 ROWS (reservoir, 7)"""
        )
        con.execute("INSERT INTO raw_perpetrator_events FROM moved")
        con.execute("INSERT INTO marts_pending SELECT 'perpetrators', country, record_ref FROM moved")
        done = refresh_marts(con)
        assert not done.rebuilt and done.victims >= 40 and done.perpetrators == 5
        followed = snapshot.publish(con, hub)
        whole = snapshot.publish(con, hub, whole=True)
    assert _released(followed) == _released(whole)
    assert _released(followed) != _released(first)
    # A followed snapshot keeps its lineage's keys; a whole one starts another.
    assert _person_keys(first) & _person_keys(followed)
    assert not _person_keys(followed) & _person_keys(whole)
    with duckdb.connect(str(followed), read_only=True) as released:
        assert released.execute("SELECT follows FROM release_info").fetchone() == (1,)


def test_a_reader_keeps_its_snapshot_while_a_new_one_is_published(hub: Settings) -> None:
    with connect(hub.warehouse) as con:
        before = snapshot.publish(con, hub)
    with snapshot.open_current(hub) as reading:
        total = reading.execute("SELECT count(*) FROM mart_victims").fetchone()
        with connect(hub.warehouse) as con:
            # As an erasure would: the records go, noted for the marts to follow.
            con.execute("INSERT INTO marts_pending SELECT 'victims', country, record_ref FROM raw_victim_events"
                        " WHERE country = 'RS'")  # fmt: skip
            con.execute("DELETE FROM raw_victim_events WHERE country = 'RS'")
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


def test_thbdb_rebuild_builds_every_mart_again_and_writes_a_whole_snapshot(hub: Settings) -> None:
    from typer.testing import CliRunner

    from thbdb.cli import app

    with connect(hub.warehouse) as con:
        refresh_marts(con)
        snapshot.publish(con, hub)
        before = _released(snapshot.current(hub))
    result = CliRunner().invoke(app, ["rebuild"], env={"THBDB_HOME": str(hub.home), "THBDB_ACCOUNTS": "off"})
    assert result.exit_code == 0, result.output
    assert "rebuilt the marts" in result.output
    assert _released(snapshot.current(hub)) == before  # nothing had changed: the same counts
    with snapshot.open_current(hub) as released:
        assert released.execute("SELECT follows FROM release_info").fetchone() == (0,)
    missing = CliRunner().invoke(app, ["rebuild"], env={"THBDB_HOME": str(hub.home / "none"), "THBDB_ACCOUNTS": "off"})
    assert missing.exit_code == 2 and "no warehouse" in missing.output


def _change_some_victims(con: duckdb.DuckDBPyConnection, seed: int) -> None:
    """New versions of a few victims, noted for the marts, as a load would."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE changed AS SELECT * REPLACE (md5(event_id || '{seed}') AS event_id,
               CASE WHEN sex = 'female' THEN 'male' ELSE 'female' END AS sex,
               updated_at + INTERVAL 1 DAY AS updated_at)
           FROM stg_victim_current WHERE status <> 'withdrawn' USING SAMPLE 15 ROWS (reservoir, {seed})"""
    )
    con.execute("INSERT INTO raw_victim_events FROM changed")
    con.execute("INSERT INTO marts_pending SELECT 'victims', country, record_ref FROM changed")


def test_snapshots_follow_by_reusing_the_oldest_file_and_equal_one_written_whole(hub: Settings) -> None:
    with connect(hub.warehouse) as con:
        refresh_marts(con)
        first_keys = _person_keys(snapshot.publish(con, hub))
        for seed in range(snapshot.KEPT + 3):
            _change_some_victims(con, seed)
            refresh_marts(con)
            oldest = min(hub.releases_dir.glob("release-*.duckdb"), key=lambda p: p.stat().st_mtime)
            inode = oldest.stat().st_ino
            followed = snapshot.publish(con, hub)
            if seed >= snapshot.KEPT - 1:  # enough files kept: the oldest is renamed, not a copy made
                assert followed.stat().st_ino == inode and not oldest.exists()
        whole = snapshot.publish(con, hub, whole=True)
    assert _released(followed) == _released(whole)
    assert first_keys & _person_keys(followed)  # one lineage: the same salt
    with duckdb.connect(str(followed), read_only=True) as released:
        assert released.execute("SELECT follows FROM release_info").fetchone() == (snapshot.KEPT + 3,)


def test_a_snapshot_still_read_is_not_reused_and_a_copy_is_made(hub: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys

    monkeypatch.setattr(snapshot, "REUSE_WAIT_SECONDS", 0.3)
    with connect(hub.warehouse) as con:
        refresh_marts(con)
        for seed in range(snapshot.KEPT):
            snapshot.publish(con, hub)
            _change_some_victims(con, seed)
            refresh_marts(con)
        oldest = min(hub.releases_dir.glob("release-*.duckdb"), key=lambda p: p.stat().st_mtime)
        # Another process (the release service) reading the oldest file: it holds a lock.
        reader = subprocess.Popen(
            [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=True);"
             " print('open', flush=True); time.sleep(30)", str(oldest)],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert reader.stdout is not None and reader.stdout.readline().strip() == "open"
            inode = oldest.stat().st_ino
            followed = snapshot.publish(con, hub)
            whole = snapshot.publish(con, hub, whole=True)
        finally:
            reader.kill()
            reader.wait()
    assert followed.stat().st_ino != inode  # a copy of the current one, not the file being read
    assert _released(followed) == _released(whole)
