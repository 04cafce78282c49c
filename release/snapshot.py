"""Release snapshots: what outputs are computed from, and nothing else.

The pipeline writes the warehouse (DuckDB: one writer). After each refresh it publishes
a snapshot, a separate DuckDB file holding the marts and the validation summaries:

- no raw layer, no linkage encodings, no Kafka positions;
- no pseudonym of a counted record: person, record and perpetrator keys are replaced by
  hashes under a salt kept in the hub's secrets folder and never in a snapshot, so rows
  still join within the snapshot but match nothing in the warehouse or the topics;
- the quarantine's record pseudonyms stay, because a national officer maps them back to
  record ids with the country's key (``thbdb quarantine --records``).

The release service opens the current snapshot read-only. A new one is written under a
new name and then named current by an atomic rename of the pointer file, so a request
sees one whole snapshot: the previous one while a load runs, never a half-loaded state.

A snapshot is written whole under a new salt, or follows the current one: an older
snapshot of the same lineage, no longer current, is renamed and brought up to date with
the refreshes' changes since its marts (warehouse/marts.py keeps the last few): the rows
of the records derived again are replaced and the grid takes their change. Only when no
such file is at hand (the first ones after a whole snapshot) is the current one copied
first; on ten million victims the copy alone took seconds. The snapshots of one whole
snapshot (its lineage) share its salt, so their keys match each other's; a lineage
lasts at most ``WHOLE_EVERY``, and an erasure starts a new one and deletes the others,
so that rows deleted from a followed file do not stay in the bytes of the files that
follow.
"""

from __future__ import annotations

import secrets
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from config.settings import Settings
from release.files import hub_secret, replace_file
from reports.privacy import PROBING_COLUMNS, probing_signs
from warehouse import marts
from warehouse.protected_counts import GRID_CELLS

POINTER = "CURRENT"
# Snapshots kept: the current one and those before it (a request may still read one).
# The oldest is the next one followed, so the marts keep as many refreshes' changes.
KEPT = marts.CHANGES_KEPT
# How long publishing waits for a request still reading the snapshot it would follow
# (requests take milliseconds) before it copies the current one instead.
REUSE_WAIT_SECONDS = 2.0

# The tables copied, in order. The marts are what every count is computed from.
RELEASED_TABLES = (
    "mart_victims",
    "mart_victim_exploitation",
    "mart_victim_cells",
    "mart_victim_dimension_cells",
    "mart_victim_control",
    "mart_victim_travel",
    "mart_victim_communication",
    "mart_victim_modus_operandi",
    "mart_perpetrators",
    "mart_perpetrator_role",
    "mart_case_links",
    "quarantine_status",
    "validation_runs",
    "load_batches",
)
# Keys that join marts: hashed under the snapshot's salt.
HASHED_COLUMNS = frozenset({"person_key", "record_key", "perpetrator_key"})
# Each counted person's cell key (disclosure/perturbation.py): a keyed hash of its real key
# under the hub's secret, the same in every release, so a cell of the same persons is
# perturbed the same way whenever and however it is asked for.
CELL_KEYS = {"mart_victims": "person_key", "mart_perpetrators": "perpetrator_key"}
CELL_KEY_SECRET = "cell-key.secret"  # noqa: S105 - a file name
# Pseudonyms and event ids no output needs: left out (the quarantine keeps record_ref).
DROPPED_COLUMNS = {
    "mart_victims": {"record_ref", "case_ref", "event_id"},
    "mart_perpetrators": {"record_ref", "case_ref", "event_id"},
    "quarantine_status": {"event_id"},
}


# The tables whose rows belong to one victim record or one perpetrator: a snapshot that
# follows the last refresh replaces the rows of the records it derived again. The others
# are small (cells, reports) and copied whole every time.
KEYED_BY: dict[str, marts.Kind] = {
    "mart_victims": "victims",
    "mart_victim_exploitation": "victims",
    "mart_victim_control": "victims",
    "mart_victim_travel": "victims",
    "mart_victim_communication": "victims",
    "mart_victim_modus_operandi": "victims",
    "mart_case_links": "victims",
    "mart_perpetrators": "perpetrators",
    "mart_perpetrator_role": "perpetrators",
}
# The salt of the current lineage of snapshots, in the hub's secrets folder (never in a
# snapshot): "<whole snapshot's name> <salt>".
SALT_FILE = "release-salt"
# A snapshot is written whole, under a new salt, at least this often: the rows a
# followed snapshot deleted leave its file at the next whole one.
WHOLE_EVERY = timedelta(hours=24)


class NoRelease(FileNotFoundError):
    """No snapshot has been published yet."""


def _columns(con: duckdb.DuckDBPyConnection, table: str, database: str | None = None) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = coalesce(?, current_database())"
        " AND schema_name = 'main' AND table_name = ? ORDER BY column_index",
        [database, table],
    ).fetchall()
    return [r[0] for r in rows]


def publish(con: duckdb.DuckDBPyConnection, settings: Settings, whole: bool = False) -> Path:
    """Write a new snapshot from the warehouse ``con`` and make it current.

    When the kept changes of the marts (warehouse/marts.py) reach back to the current
    snapshot's marts, the new one follows: an older snapshot of the lineage brought up
    to date by those changes (or a copy of the current one), seconds instead of minutes
    on ten million victims. Otherwise, and when ``whole``, once a day, and after an
    erasure, it is written whole under a new salt."""
    folder = settings.releases_dir
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = f"release-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.duckdb"
    path = folder / name
    cell_secret = cell_key_secret(settings)
    state = con.execute("SELECT generation FROM marts_state").fetchone()
    generation = int(state[0]) if state else 0
    since = marts.followable_since(con)
    # Versions are not released; the signs of probing read from them are (counts only).
    signs = probing_signs(con)
    lineage = None if whole or since is None else _followed(settings, since)
    if lineage is None or since is None:
        salt = secrets.token_hex(16)  # kept while snapshots follow this one, and only in the hub's secrets
        lineage = Lineage(name, salt, datetime.now(UTC), generation, 0)
        replace_file(settings.hub_secrets_dir / SALT_FILE, f"{name} {salt}\n".encode("ascii"))
        _attach(con, path)
    else:
        lineage = _attach_followed(con, settings, lineage, since, path)
    try:
        if lineage.follows == 0:
            for table in RELEASED_TABLES:
                _copy_table(con, table, lineage.salt, cell_secret)
            _publish_grid_cells(con, cell_secret)
        else:
            _apply_changes(con, lineage, generation, cell_secret)
        _publish_signs_and_info(con, signs, name, lineage, generation)
    finally:
        con.execute("DETACH release_snapshot")
    path.chmod(0o600)
    _point_to(folder, name)
    _prune(folder, keep=name)
    return path


@dataclass(frozen=True)
class Lineage:
    """The whole snapshot a current one descends from: its salt, when it was written,
    and how many snapshots followed it by changes."""

    whole: str
    salt: str
    whole_at: datetime
    generation: int  # the marts' generation the current snapshot holds
    follows: int


def _followed(settings: Settings, since: int) -> Lineage | None:
    """The current snapshot's lineage, when the next snapshot can follow it: it holds
    marts of generation ``since`` or later (the kept changes bring those up to date),
    its salt is at hand, and its whole ancestor is less than ``WHOLE_EVERY`` old.
    None: write the next one whole."""
    try:
        info = _info(current(settings))
        kept = (settings.hub_secrets_dir / SALT_FILE).read_text("ascii").split()
    except (NoRelease, FileNotFoundError, duckdb.Error):
        return None  # nothing released yet, or by a version before lineages
    if info is None or len(kept) != 2 or kept[0] != info[0]:
        return None
    lineage = Lineage(str(info[0]), kept[1], info[1], int(info[2]), int(info[3]) + 1)
    if lineage.generation < since or datetime.now(UTC) - lineage.whole_at > WHOLE_EVERY:
        return None
    return lineage


def _info(path: Path) -> tuple[Any, ...] | None:
    """A snapshot's lineage, when its lineage was written, its marts' generation and how
    many snapshots it follows."""
    with duckdb.connect(str(path), read_only=True) as released:
        return released.execute(
            "SELECT lineage, whole_published_at, marts_generation, follows FROM release_info"
        ).fetchone()


def _attach(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    con.execute(f"ATTACH '{path}' AS release_snapshot")


def _attach_followed(
    con: duckdb.DuckDBPyConnection, settings: Settings, lineage: Lineage, since: int, path: Path
) -> Lineage:
    """Attach, as ``path``, the file the new snapshot is written into: the oldest kept
    snapshot of the lineage that the kept changes can bring up to date, renamed; or a
    copy of the current one. The lineage returned holds that file's generation."""
    folder = settings.releases_dir
    now_current = current(settings)
    kept = sorted(folder.glob("release-*.duckdb"), key=lambda p: p.stat().st_mtime)
    # Only a file that would be pruned now is taken: the ones just before the current one
    # stay for the requests that may still read them.
    for older in kept[: max(0, len(kept) - KEPT + 1)]:
        if older == now_current:
            continue
        try:
            info = _info(older)
        except duckdb.Error:
            continue  # being written, or not a snapshot this code can follow
        if info is None or info[0] != lineage.whole or int(info[2]) < since:
            continue
        older.rename(path)  # a request that opened it keeps its open file; no new one opens it
        Path(f"{older}.wal").unlink(missing_ok=True)
        waited_until = time.monotonic() + REUSE_WAIT_SECONDS
        while True:
            try:
                _attach(con, path)
                return Lineage(lineage.whole, lineage.salt, lineage.whole_at, int(info[2]), lineage.follows)
            except duckdb.IOException:
                if time.monotonic() > waited_until:
                    path.unlink()  # still read: leave it to its reader, copy the current one
                    break
                time.sleep(0.05)
        break
    shutil.copyfile(now_current, path)
    _attach(con, path)
    return lineage


def _select(con: duckdb.DuckDBPyConnection, table: str, salt: str, cell_secret: str) -> tuple[str, list[str]]:
    """What ``table`` releases: its columns with the keys hashed under ``salt``, the
    pseudonyms left out, and each counted person's cell key; and its parameters."""
    dropped = DROPPED_COLUMNS.get(table, set())
    columns = [c for c in _columns(con, table) if c not in dropped]
    select = ", ".join(f"md5(? || {c}) AS {c}" if c in HASHED_COLUMNS else c for c in columns)
    params = [salt] * sum(c in HASHED_COLUMNS for c in columns)
    if table in CELL_KEYS:
        select += f", md5_number_lower(? || {CELL_KEYS[table]}) AS cell_key"
        params.append(cell_secret)
    return select, params


def _copy_table(con: duckdb.DuckDBPyConnection, table: str, salt: str, cell_secret: str) -> None:
    if not _columns(con, table):
        return  # an older warehouse without this table: the outputs cope
    select, params = _select(con, table, salt, cell_secret)
    kind = KEYED_BY.get(table)
    # In key order: a followed snapshot's deletes of a few keys skip most row groups.
    order = f" ORDER BY {marts.KEY_OF[kind]}" if kind else ""
    con.execute(f"DROP TABLE IF EXISTS release_snapshot.{table}")
    con.execute(f"CREATE TABLE release_snapshot.{table} AS SELECT * FROM (SELECT {select} FROM {table}){order}", params)


def _apply_changes(con: duckdb.DuckDBPyConnection, lineage: Lineage, generation: int, cell_secret: str) -> None:
    """Bring the followed snapshot from the marts it holds (``lineage.generation``) to the
    current ones: the rows of the records the refreshes since derived again are
    replaced, the grid takes their categories' change, and the small tables are copied
    whole."""
    changed = lineage.generation != generation
    for table in RELEASED_TABLES:
        kind = KEYED_BY.get(table)
        if kind is None:
            _copy_table(con, table, lineage.salt, cell_secret)
            continue
        if not changed:
            continue
        key = marts.KEY_OF[kind]
        changed_keys = (
            f"SELECT DISTINCT key FROM mart_changed_keys WHERE kind = '{kind}' AND generation > {lineage.generation}"
        )
        con.execute(
            f"DELETE FROM release_snapshot.{table} WHERE {key} IN (SELECT md5(? || key) FROM ({changed_keys}))",
            [lineage.salt],
        )
        select, params = _select(con, table, lineage.salt, cell_secret)
        con.execute(
            f"INSERT INTO release_snapshot.{table} SELECT {select} FROM {table} WHERE {key} IN ({changed_keys})", params
        )
    if changed:
        _change_grid_cells(con, cell_secret, lineage.generation)


def _publish_grid_cells(con: duckdb.DuckDBPyConnection, cell_secret: str) -> None:
    """The protected counts' grid for every dimension, pre-aggregated (persons with one
    record only; warehouse/protected_counts.py adds the linked ones): persons and the sum
    of their cell keys by dimension, year, country and category. Summed in the hub from
    mart_victim_dimension_codes, which the snapshot does not hold."""
    has_codes = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE database_name = current_database()"
        " AND view_name = 'mart_victim_dimension_codes'"
    ).fetchone()
    if not has_codes or not has_codes[0]:
        return  # an older warehouse: protected counts take the slow way until its next refresh
    con.execute(
        f"""CREATE TABLE release_snapshot.{GRID_CELLS} AS
            -- Each person's cell key once (a keyed hash per row would cost one per category).
            WITH keys AS (
                SELECT person_key, md5_number_lower(? || person_key) AS cell_key FROM mart_victims WHERE NOT is_linked
            )
            SELECT dimension, year, country, category, first, count(*) AS persons, sum(cell_key) AS cell_keys
            FROM mart_victim_dimension_codes JOIN keys USING (person_key)
            WHERE year IS NOT NULL
            GROUP BY ALL""",
        [cell_secret],
    )


def _change_grid_cells(con: duckdb.DuckDBPyConnection, cell_secret: str, since: int) -> None:
    """The grid plus the categories after each refresh since generation ``since``,
    minus those before it."""
    grid = f"release_snapshot.{GRID_CELLS}"
    if not _columns(con, GRID_CELLS, "release_snapshot"):
        return
    keys = "dimension, year, country, category, first"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE grid_summed AS
            SELECT {keys}, sum(persons) AS persons, sum(cell_keys) AS cell_keys FROM (
                SELECT {keys}, persons::HUGEINT AS persons, cell_keys::HUGEINT AS cell_keys FROM {grid}
                UNION ALL
                SELECT {keys}, sign, sign * md5_number_lower(? || person_key)::HUGEINT
                FROM mart_changed_codes WHERE year IS NOT NULL AND generation > ?
            ) GROUP BY ALL HAVING sum(persons) <> 0""",
        [cell_secret, since],
    )
    con.execute(f"DELETE FROM {grid}")
    con.execute(f"INSERT INTO {grid} ({keys}, persons, cell_keys) SELECT {keys}, persons, cell_keys FROM grid_summed")
    con.execute("DROP TABLE grid_summed")


def _publish_signs_and_info(
    con: duckdb.DuckDBPyConnection, signs: list[dict[str, Any]], name: str, lineage: Lineage, generation: int
) -> None:
    con.execute("DROP TABLE IF EXISTS release_snapshot.release_probing_signs")
    con.execute(
        "CREATE TABLE release_snapshot.release_probing_signs"
        " (country VARCHAR, withdrawn_soon INTEGER, changed_back INTEGER)"
    )
    if signs:
        con.executemany(
            "INSERT INTO release_snapshot.release_probing_signs VALUES (?, ?, ?)",
            [[s["country"], *(s[k] for k in PROBING_COLUMNS)] for s in signs],
        )
    con.execute("DROP TABLE IF EXISTS release_snapshot.release_info")
    con.execute(
        "CREATE TABLE release_snapshot.release_info AS SELECT ? AS release_id, now() AS published_at,"
        " ? AS lineage, ?::TIMESTAMPTZ AS whole_published_at, ?::BIGINT AS marts_generation, ?::INTEGER AS follows",
        [name, lineage.whole, lineage.whole_at, generation, lineage.follows],
    )


def cell_key_secret(settings: Settings) -> str:
    """The hub's secret for cell keys: made once, kept in the hub's secrets folder."""
    return hub_secret(settings.hub_secrets_dir, CELL_KEY_SECRET)


def _point_to(folder: Path, name: str) -> None:
    """Name ``name`` current: write the pointer beside and rename it over the old one."""
    replace_file(folder / POINTER, (name + "\n").encode("ascii"))


def keep_current_only(settings: Settings) -> int:
    """Delete every snapshot but the current one (after an erasure, the older ones still
    hold the erased records); how many went."""
    folder = settings.releases_dir
    before = len(list(folder.glob("release-*.duckdb")))
    _prune(folder, current(settings).name, kept=1)
    return before - len(list(folder.glob("release-*.duckdb")))


def _prune(folder: Path, keep: str, kept: int = KEPT) -> None:
    snapshots = sorted(folder.glob("release-*.duckdb"), key=lambda p: p.stat().st_mtime)
    for old in snapshots[:-kept]:
        if old.name != keep:
            old.unlink(missing_ok=True)  # a request still reading it keeps its open file
            Path(f"{old}.wal").unlink(missing_ok=True)


def current(settings: Settings) -> Path:
    """The current snapshot's file."""
    try:
        name = (settings.releases_dir / POINTER).read_text("ascii").strip()
    except FileNotFoundError:
        raise NoRelease("nothing has been released yet: run `thbdb run` (or `thbdb demo`) first") from None
    return settings.releases_dir / name


@contextmanager
def open_current(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """The current snapshot, read-only, for as long as the caller needs it."""
    for attempt in range(3):
        path = current(settings)
        try:
            con = duckdb.connect(str(path), read_only=True)
            break
        except duckdb.IOException:
            # Named current a moment ago and since taken to be followed by the next one
            # (``_attach_followed``): the pointer names the newer one now.
            if path.exists() or attempt == 2:
                raise
    try:
        yield con
    finally:
        con.close()
