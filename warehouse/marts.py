"""The marts, built from every record or brought up to date with the records a batch touched.

Each mart is a table macro of the records it derives rows from (warehouse/sql/marts/).
A full build runs it over every current record. A refresh runs it over the records that
loads and erasures touched since the last refresh (``marts_pending``), the records whose
regional person linkage changed, and the victims of the cases whose perpetrators
changed; their old rows are deleted first. The pre-aggregated cells take the touched
victims' rows after and give back their rows before. So a refresh costs what the batch
touched plus a scan of the keys, not a rebuild of ten million rows.

A full build runs when asked for, when the marts have never been built, and when their
SQL changed since they were (``marts_version``). Both paths give the same marts: a test
compares them after random sequences of loads, corrections, withdrawals and erasures
(tests/unit/test_incremental_marts.py).

The last ``CHANGES_KEPT`` refreshes' changes stay in ``mart_changed_keys`` and
``mart_changed_codes``, each under its generation, so that a release snapshot a few
refreshes old can be brought up to date instead of being written whole
(release/snapshot.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import duckdb
import pandas as pd

from warehouse import link_blocks

Kind = Literal["victims", "perpetrators"]
# The key of a kind's mart rows; the keys a refresh touched are in touched_<kind>.
KEY_OF: dict[Kind, str] = {"victims": "record_key", "perpetrators": "perpetrator_key"}
_TOUCHED_KEYS = {key: f"touched_{kind}" for kind, key in KEY_OF.items()}
SQL_DIR = Path(__file__).with_name("sql")


def _version() -> str:
    """The marts' SQL, hashed: marts built by other SQL are built again, whole."""
    digest = hashlib.sha256()
    for layer in ("staging", "marts"):
        for path in sorted((SQL_DIR / layer).glob("*.sql")):
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


MARTS_VERSION = _version()


@dataclass(frozen=True)
class Mart:
    """A mart table: the key its rows are replaced by, and the macro's arguments over
    every record and over the touched ones (the temporary tables ``refresh`` makes)."""

    table: str
    key: str
    every: tuple[str, ...]
    touched: tuple[str, ...]


# In build order: a mart reads only those above it.
MARTS = (
    Mart("mart_victims", "record_key", ("stg_victim_current",), ("stg_victim_touched",)),
    Mart("mart_victim_codes", "record_key", ("mart_victims",), ("mart_victims_touched",)),
    Mart(
        "mart_victim_modus_operandi",
        "record_key",
        ("mart_victims", "stg_victim_current"),
        ("mart_victims_touched", "stg_victim_touched"),
    ),
    Mart("mart_perpetrators", "perpetrator_key", ("stg_perpetrator_current",), ("stg_perpetrator_touched",)),
    Mart("mart_perpetrator_role", "perpetrator_key", ("mart_perpetrators",), ("mart_perpetrators_touched",)),
    # A case's links are the victim's: every victim of a touched perpetrator's case is touched.
    Mart(
        "mart_case_links",
        "record_key",
        ("mart_victims", "mart_perpetrators"),
        ("mart_victims_touched", "mart_perpetrators"),
    ),
)
# The pre-aggregated cells, summed from rows of the victims they are asked for.
CELLS = ("mart_victim_cells", "mart_victim_dimension_cells")
CELL_COUNT = "victims"
# Refreshes whose changes are kept: as many as the release keeps snapshots, so that the
# oldest one can be brought up to date and published again (release/snapshot.py).
CHANGES_KEPT = 3


@dataclass(frozen=True)
class Refreshed:
    """What a refresh did: rebuilt whole, or the records it derived again."""

    rebuilt: bool
    generation: int
    victims: int = 0  # victim records derived again (0 when rebuilt)
    perpetrators: int = 0
    linked: link_blocks.BlockChanges | None = None  # what linkage redid (None: no linkage store)


def mark_touched(con: duckdb.DuckDBPyConnection, kind: Kind, records: pd.DataFrame) -> None:
    """Note ``records`` (their country and record_ref) for the next refresh; inside the
    caller's transaction, beside the change itself."""
    touched = records[["country", "record_ref"]]  # noqa: F841 - read by DuckDB by name below
    con.execute(f"INSERT INTO marts_pending SELECT DISTINCT '{kind}', country, record_ref FROM touched")


def refresh(con: duckdb.DuckDBPyConnection, links_before: str, full: bool = False) -> Refreshed:
    """Bring the marts up to date, inside the caller's transaction, after the staging
    views and person linkage (``links_before``: a copy of person_links taken before
    linkage ran); ``full`` builds them all from every record."""
    state = con.execute("SELECT marts_version, generation, changes_since FROM marts_state").fetchone()
    generation = (int(state[1]) if state else 0) + 1
    if full or state is None or state[0] != MARTS_VERSION:
        _build_all(con)
        result = Refreshed(rebuilt=True, generation=generation)
        changes_since = generation  # no change is known up to here
    else:
        result = _refresh_touched(con, links_before, generation)
        changes_since = generation - 1 if state[2] is None else int(state[2])
    con.execute("DELETE FROM marts_pending")
    con.execute("DELETE FROM marts_state")
    con.execute(
        "INSERT INTO marts_state (marts_version, generation, rebuilt, refreshed_at, changes_since)"
        " VALUES (?, ?, ?, ?, ?)",
        [MARTS_VERSION, generation, result.rebuilt, datetime.now(UTC), changes_since],
    )
    return result


def followable_since(con: duckdb.DuckDBPyConnection) -> int | None:
    """The oldest generation of marts that the kept changes bring up to the current one
    (None: no marts yet). A snapshot of an older generation must be written whole."""
    state = con.execute("SELECT generation, changes_since FROM marts_state").fetchone()
    if state is None:
        return None
    generation, since = int(state[0]), state[1]
    return max(generation if since is None else int(since), generation - CHANGES_KEPT)


def drop_touched(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the refresh's temporary tables (they name the touched records)."""
    temporary = [f"{layer}_{kind}_touched" for layer in ("raw", "stg") for kind in ("victim", "perpetrator")]
    temporary += ["touched_victim_refs", "touched_perpetrator_refs", *_TOUCHED_KEYS.values()]
    temporary += [f"{mart.table}_touched" for mart in MARTS]
    temporary += ["codes_before", "codes_after", "cells_before", "cells_after", "cells_summed"]
    for table in temporary:
        con.execute(f"DROP TABLE IF EXISTS temp.{table}")


def forget_changes(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the last refresh's changes (after an erasure: they name the erased records);
    the next release snapshot is then written whole."""
    _clear_changes(con)
    con.execute("UPDATE marts_state SET rebuilt = true, changes_since = generation")


def _run_files(con: duckdb.DuckDBPyConnection) -> None:
    for path in sorted((SQL_DIR / "marts").glob("*.sql")):
        con.execute(path.read_text("utf-8"))


def _build_all(con: duckdb.DuckDBPyConnection) -> None:
    """Every mart from every current record."""
    for table in (*(m.table for m in MARTS), *CELLS):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    _run_files(con)  # the macros, and each table empty in the shape its macro gives
    for mart in MARTS:
        # Stored in key order: a refresh's lookups of a few keys then read a few row
        # groups, skipping the others by their key ranges, not every row.
        con.execute(f"INSERT INTO {mart.table} FROM {mart.table}_of({_args(mart.every)}) ORDER BY {mart.key}")
    con.execute("INSERT INTO mart_victim_cells FROM mart_victim_cells_of('mart_victims', 'mart_victim_codes')")
    con.execute(
        "INSERT INTO mart_victim_dimension_cells FROM mart_victim_dimension_cells_of('mart_victim_dimension_codes')"
    )
    _clear_changes(con)


def _clear_changes(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("DELETE FROM mart_changed_keys")
    con.execute("DELETE FROM mart_changed_codes")


def _args(tables: tuple[str, ...]) -> str:
    return ", ".join(f"'{t}'" for t in tables)


def _refresh_touched(con: duckdb.DuckDBPyConnection, links_before: str, generation: int) -> Refreshed:
    _run_files(con)  # the macros as this code has them (the tables stay)
    _touched_records(con, links_before)
    # Each mart's rows of the touched records as they are (each mart scanned once), then
    # as they become (each from the new rows of the marts above it): <mart>_touched.
    for mart in MARTS:
        touched = f"SELECT key FROM {_TOUCHED_KEYS[mart.key]}"
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {mart.table}_touched AS FROM {mart.table} WHERE {mart.key} IN ({touched})"
        )
    _counted_rows(con, "before")
    for mart in reversed(MARTS):
        con.execute(f"DELETE FROM {mart.table} WHERE {mart.key} IN (SELECT key FROM {_TOUCHED_KEYS[mart.key]})")
    for mart in MARTS:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {mart.table}_touched AS FROM {mart.table}_of({_args(mart.touched)})")
        con.execute(f"INSERT INTO {mart.table} FROM {mart.table}_touched")
    _counted_rows(con, "after")
    _add_to_cells(con, "mart_victim_cells", "cells_after", "cells_before")
    _add_to_cells(
        con,
        "mart_victim_dimension_cells",
        "(FROM mart_victim_dimension_cells_of('codes_after'))",
        "(FROM mart_victim_dimension_cells_of('codes_before'))",
    )
    _keep_changes(con, generation)
    counts = con.execute(
        "SELECT (SELECT count(*) FROM touched_victims), (SELECT count(*) FROM touched_perpetrators)"
    ).fetchone()
    assert counts is not None
    return Refreshed(rebuilt=False, generation=generation, victims=int(counts[0]), perpetrators=int(counts[1]))


def _touched_records(con: duckdb.DuckDBPyConnection, links_before: str) -> None:
    """The records to derive again (touched_<kind>_refs, and their keys as
    touched_<kind>s), with their versions and current versions (``Mart.touched``)."""
    con.execute(
        """CREATE OR REPLACE TEMP TABLE touched_perpetrator_refs AS
           SELECT DISTINCT country, record_ref FROM marts_pending WHERE kind = 'perpetrators'"""
    )
    _current_of_touched(con, "perpetrator")
    # Victims touched: loaded or erased; linked to another person than before; or in a
    # case (old or new) of a touched perpetrator, whose structure and relation they count.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE touched_victim_refs AS
            WITH cases AS (
                SELECT country, case_ref FROM mart_perpetrators
                WHERE perpetrator_key IN (SELECT country || ':' || record_ref FROM touched_perpetrator_refs)
                UNION SELECT country, case_ref FROM stg_perpetrator_touched
            ),
            relinked AS (
                SELECT country, record_ref FROM person_links
                FULL OUTER JOIN {links_before} b USING (country, record_ref)
                WHERE person_links.person_key IS DISTINCT FROM b.person_key
            )
            SELECT country, record_ref FROM marts_pending WHERE kind = 'victims'
            UNION SELECT country, record_ref FROM relinked
            UNION SELECT v.country, v.record_ref FROM mart_victims v JOIN cases c
                ON c.country = v.country AND c.case_ref = v.case_ref"""
    )
    _current_of_touched(con, "victim")
    for kind, refs in (("victims", "touched_victim_refs"), ("perpetrators", "touched_perpetrator_refs")):
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE touched_{kind} AS SELECT country || ':' || record_ref AS key FROM {refs}"
        )


def _current_of_touched(con: duckdb.DuckDBPyConnection, kind: str) -> None:
    """raw_<kind>_touched: every version of the touched records (the raw layer scanned
    once); stg_<kind>_touched: the current one of each, by staging's rule."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE raw_{kind}_touched AS
            SELECT r.* FROM raw_{kind}_events r SEMI JOIN touched_{kind}_refs USING (country, record_ref)"""
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE stg_{kind}_touched AS FROM current_versions('raw_{kind}_touched')")


def _counted_rows(con: duckdb.DuckDBPyConnection, moment: str) -> None:
    """The touched victims' rows as the cells count them, ``before`` or ``after`` the
    refresh: codes_<moment> (by dimension) and cells_<moment> (the victim cells)."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE codes_{moment} AS FROM mart_victim_dimension_codes_of(
            'mart_victims_touched', 'mart_victim_codes_touched', 'mart_victim_modus_operandi_touched',
            'mart_case_links_touched')"""
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE cells_{moment} AS"
        " FROM mart_victim_cells_of('mart_victims_touched', 'mart_victim_codes_touched')"
    )


def _add_to_cells(con: duckdb.DuckDBPyConnection, cells: str, after: str, before: str) -> None:
    """``cells`` plus the counts ``after`` minus ``before``; cells that reach 0 go."""
    columns = [c for c in _columns(con, cells) if c != CELL_COUNT]
    keys = ", ".join(columns)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE cells_summed AS
            SELECT {keys}, sum({CELL_COUNT})::BIGINT AS {CELL_COUNT} FROM (
                SELECT {keys}, {CELL_COUNT} FROM {cells}
                UNION ALL SELECT {keys}, {CELL_COUNT} FROM {after}
                UNION ALL SELECT {keys}, -{CELL_COUNT} FROM {before}
            ) GROUP BY ALL HAVING sum({CELL_COUNT}) <> 0"""
    )
    con.execute(f"DELETE FROM {cells}")
    con.execute(f"INSERT INTO {cells} ({keys}, {CELL_COUNT}) SELECT {keys}, {CELL_COUNT} FROM cells_summed")


def _keep_changes(con: duckdb.DuckDBPyConnection, generation: int) -> None:
    """This refresh's changes beside those of the refreshes before it (the last
    ``CHANGES_KEPT``), for a release snapshot to follow."""
    for table in ("mart_changed_keys", "mart_changed_codes"):
        con.execute(f"DELETE FROM {table} WHERE generation IS NULL OR generation <= ?", [generation - CHANGES_KEPT])
    con.execute(
        "INSERT INTO mart_changed_keys (kind, key, generation) SELECT 'victims', key, ? FROM touched_victims"
        " UNION ALL SELECT 'perpetrators', key, ? FROM touched_perpetrators",
        [generation, generation],
    )
    con.execute(
        """INSERT INTO mart_changed_codes (sign, dimension, person_key, year, country, category, first, generation)
           SELECT -1, dimension, person_key, year, country, category, first, ? FROM codes_before
           UNION ALL SELECT 1, dimension, person_key, year, country, category, first, ? FROM codes_after""",
        [generation, generation],
    )


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database()"
        " AND schema_name = 'main' AND table_name = ? ORDER BY column_index",
        [table],
    ).fetchall()
    return [r[0] for r in rows]
