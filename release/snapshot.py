"""Release snapshots: what outputs are computed from, and nothing else.

The pipeline writes the warehouse (DuckDB: one writer). After each refresh it publishes
a snapshot, a separate DuckDB file holding the marts and the validation summaries:

- no raw layer, no linkage encodings, no Kafka positions;
- no pseudonym of a counted record: person, record and perpetrator keys are replaced by
  hashes under a salt drawn for this snapshot and never stored, so rows still join within
  the snapshot but match nothing in the warehouse, the topics or another snapshot;
- the quarantine's record pseudonyms stay, because a national officer maps them back to
  record ids with the country's key (``thbdb quarantine --records``).

The release service opens the current snapshot read-only. A new one is written under a
new name and then named current by an atomic rename of the pointer file, so a request
sees one whole snapshot: the previous one while a load runs, never a half-loaded state.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from config.settings import Settings
from release.files import hub_secret, replace_file
from reports.privacy import PROBING_COLUMNS, probing_signs
from warehouse.protected_counts import GRID_CELLS

POINTER = "CURRENT"
KEPT = 3  # snapshots kept: the current one and two before it (a request may still read one)

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
    "mart_victims": {"record_ref", "event_id"},
    "mart_perpetrators": {"record_ref", "case_ref", "event_id"},
    "quarantine_status": {"event_id"},
}


class NoRelease(FileNotFoundError):
    """No snapshot has been published yet."""


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database()"
        " AND schema_name = 'main' AND table_name = ? ORDER BY column_index",
        [table],
    ).fetchall()
    return [r[0] for r in rows]


def publish(con: duckdb.DuckDBPyConnection, settings: Settings) -> Path:
    """Write a new snapshot from the warehouse ``con`` and make it current."""
    folder = settings.releases_dir
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    name = f"release-{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.duckdb"
    path = folder / name
    salt = secrets.token_hex(16)  # never stored: the hashed keys match nothing outside
    cell_secret = cell_key_secret(settings)
    con.execute(f"ATTACH '{path}' AS release_snapshot")
    try:
        for table in RELEASED_TABLES:
            columns = _columns(con, table)
            if not columns:
                continue  # an older warehouse without this table: the outputs cope
            dropped = DROPPED_COLUMNS.get(table, set())
            select = ", ".join(
                f"md5(? || {c}) AS {c}" if c in HASHED_COLUMNS else c for c in columns if c not in dropped
            )
            hashed = sum(c in HASHED_COLUMNS for c in columns if c not in dropped)
            params = [salt] * hashed
            if table in CELL_KEYS:
                select += f", md5_number_lower(? || {CELL_KEYS[table]}) AS cell_key"
                params.append(cell_secret)
            con.execute(f"CREATE TABLE release_snapshot.{table} AS SELECT {select} FROM {table}", params)
        _publish_grid_cells(con, cell_secret)
        # Versions are not released; the signs of probing read from them are (counts only).
        signs = probing_signs(con)
        con.execute(
            "CREATE TABLE release_snapshot.release_probing_signs"
            " (country VARCHAR, withdrawn_soon INTEGER, changed_back INTEGER)"
        )
        if signs:
            con.executemany(
                "INSERT INTO release_snapshot.release_probing_signs VALUES (?, ?, ?)",
                [[s["country"], *(s[k] for k in PROBING_COLUMNS)] for s in signs],
            )
        con.execute(
            "CREATE TABLE release_snapshot.release_info AS SELECT ? AS release_id, now() AS published_at", [name]
        )
    finally:
        con.execute("DETACH release_snapshot")
    path.chmod(0o600)
    _point_to(folder, name)
    _prune(folder, keep=name)
    return path


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
    con = duckdb.connect(str(current(settings)), read_only=True)
    try:
        yield con
    finally:
        con.close()
