"""Erasure at the hub: a country's records removed from every table, and kept out.

A court order or a data subject's request names national records; the country's
operator turns them into pseudonyms with the country's key (``thbdb erase``) and the
release service calls ``erase`` here with those pseudonyms alone. Every version of the
records goes from the raw layer, the quarantine and the linkage store; the marts follow
at the next refresh, which the caller runs at once. A keyed hash of each pseudonym (under
a hub secret, ``erasure.secret``) goes on a deny list that the loader reads inside each
batch's transaction: an erased record pushed again, or re-read from Kafka, is dropped.

Deleting rows does not wipe them from a DuckDB file: freed blocks keep their bytes until
reused. ``rewrite`` copies the warehouse and the linkage store into fresh files and puts
them in place of the old ones, so the erased rows are in no block on disk.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import duckdb
import pandas as pd

from warehouse import linkage_store, marts
from warehouse.transactions import transaction

Kind = Literal["victims", "perpetrators"]
SECRET_FILE = "erasure.secret"  # noqa: S105 - the file's name, not a secret
_RAW_TABLE = {"victims": "raw_victim_events", "perpetrators": "raw_perpetrator_events"}


def deny_hash(secret: str, country: str, record_ref: str) -> str:
    """The deny list's form of a pseudonym. A keyed hash: whoever reads the list cannot
    test a pseudonym against it without the hub's secret."""
    return hashlib.sha256(f"{secret}|{country}|{record_ref}".encode()).hexdigest()


def denied(con: duckdb.DuckDBPyConnection, country: str, secret: str | None) -> Callable[[str | None], bool]:
    """Whether a pseudonym of ``country`` is on the deny list; read by the loader under
    the warehouse's write lock, so an erasure cannot slip between the check and the load."""
    hashes = {r[0] for r in con.execute("SELECT ref_hash FROM erased_records WHERE country = ?", [country]).fetchall()}
    if not hashes:
        return lambda _ref: False
    if secret is None:
        raise RuntimeError(f"{country} has erased records, and the loader was given no erasure secret to check them")
    return lambda ref: ref is not None and deny_hash(secret, country, ref) in hashes


@dataclass
class Erased:
    """What one erasure removed, by store (counts only: the audit log keeps this)."""

    records: int = 0  # pseudonyms asked for
    found: int = 0  # of them, records the hub held anywhere
    versions: int = 0  # record versions removed from the raw layer
    quarantined: int = 0  # quarantine entries removed
    encodings: int = 0  # linkage encodings removed from the linkage store
    newly_denied: int = 0  # pseudonyms added to the deny list (a repeated erasure adds none)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def erase(con: duckdb.DuckDBPyConnection, country: str, kind: Kind, refs: Iterable[str], secret: str) -> Erased:
    """Remove ``country``'s records ``refs`` of ``kind`` and deny them from now on.

    Idempotent: erasing again finds nothing more and adds nothing to the deny list."""
    wanted = sorted(set(refs))
    result = Erased(records=len(wanted))
    if not wanted:
        return result
    con.execute("CREATE OR REPLACE TEMP TABLE erasing (record_ref VARCHAR PRIMARY KEY)")
    con.execute("INSERT INTO erasing SELECT unnest(?::VARCHAR[])", [wanted])
    try:
        result.found = _found(con, country, kind)
        # The store first, in its own transaction (DuckDB writes one file per
        # transaction): a fault before the warehouse's commit leaves the records there
        # and on no deny list, and erasing again finishes the work.
        if kind == "victims" and linkage_store.attach(con):
            result.encodings = _delete_erasing(con, f"{linkage_store.ALIAS}.encodings", country)
        with transaction(con):
            result.versions = _delete_erasing(con, _RAW_TABLE[kind], country)
            result.quarantined = _delete_erasing(con, "quarantine", country)
            marts.mark_touched(con, kind, pd.DataFrame({"country": country, "record_ref": wanted}))
            before = _count(con, "erased_records")
            con.execute(
                "INSERT OR IGNORE INTO erased_records SELECT unnest(?::VARCHAR[]), ?, ?",
                [[deny_hash(secret, country, ref) for ref in wanted], country, datetime.now(UTC)],
            )
            result.newly_denied = _count(con, "erased_records") - before
    finally:
        con.execute("DROP TABLE IF EXISTS erasing")
    return result


def _found(con: duckdb.DuckDBPyConnection, country: str, kind: Kind) -> int:
    """How many of the records asked for the hub holds, accepted or in quarantine."""
    row = con.execute(
        f"""SELECT count(*) FROM erasing WHERE record_ref IN (
                SELECT record_ref FROM {_RAW_TABLE[kind]} WHERE country = $country
                UNION SELECT record_ref FROM quarantine WHERE country = $country)""",
        {"country": country},
    ).fetchone()
    return int(row[0]) if row else 0


def _delete_erasing(con: duckdb.DuckDBPyConnection, table: str, country: str) -> int:
    """Delete the country's rows of the records being erased from ``table``."""
    row = con.execute(
        f"DELETE FROM {table} WHERE country = ? AND record_ref IN (SELECT record_ref FROM erasing)", [country]
    ).fetchone()
    return int(row[0]) if row else 0


def rewrite(con: duckdb.DuckDBPyConnection) -> list[Path]:
    """Copy the warehouse ``con`` holds (and its linkage store) into fresh files and
    rename them over the old ones; the files rewritten.

    The caller holds the old file's write lock through ``con`` while the copy is made
    and renamed into place, so no other writer changes the old file meanwhile; a loader
    waiting for the lock opens the warehouse again by its path, and gets the fresh file.
    The old file's write-ahead log (none after the checkpoint) is removed before the
    rename, so it can never be replayed into the fresh one."""
    rewritten = []
    marts.forget_changes(con)  # they name the erased records
    con.execute("CHECKPOINT")  # everything in the main file, nothing left in a WAL
    databases = [("main", _path(con, "main"))]
    if linkage_store.attach(con):
        con.execute(f"CHECKPOINT {linkage_store.ALIAS}")
        databases.append((linkage_store.ALIAS, _path(con, linkage_store.ALIAS)))
    for name, path in databases:
        if path is None:
            continue
        fresh = path.with_name(f".{path.name}.rewrite")
        fresh.unlink(missing_ok=True)
        previous = os.umask(0o077)  # owner only, as the files it replaces
        try:
            con.execute(f"ATTACH '{fresh}' AS rewriting")
            con.execute(f'COPY FROM DATABASE "{_catalog(con, name)}" TO rewriting')
            con.execute("DETACH rewriting")
        finally:
            os.umask(previous)
        Path(f"{path}.wal").unlink(missing_ok=True)
        os.replace(fresh, path)
        rewritten.append(path)
    return rewritten


def _path(con: duckdb.DuckDBPyConnection, alias: str) -> Path | None:
    name = _catalog(con, alias)
    row = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = ?", [name]).fetchone()
    return Path(row[0]) if row and row[0] else None


def _catalog(con: duckdb.DuckDBPyConnection, alias: str) -> str:
    """The catalog name behind ``main``: the warehouse file's own name."""
    if alias != "main":
        return alias
    row = con.execute("SELECT current_database()").fetchone()
    return str(row[0]) if row else alias


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0
