"""Which linkage blocks changed since the last linkage: a refresh re-links only those.

Every link joins records of one block (one linkage key, one keyed birth year), and
whether records link depends only on the records of their block (warehouse/
person_linkage.py). So a block whose records are as they were keeps its links. Each
block has a fingerprint of its current records: their keys, filters, birth tokens and
recorded sex, hashed and combined with XOR, so it does not depend on their order. The
fingerprints of the last linkage live in the linkage store beside the encodings (no
analyst reads them). A refresh compares, re-links the blocks that differ (new, changed,
emptied, or left with one country's records), keeps the links of the others, and drops
the links of records that left the blocks linkage reads (withdrawn, erased, moved).

The warehouse (``person_links``) and the store (the fingerprints) are two files,
written in two transactions, the warehouse first. Both record the generation of the
linkage that wrote them and the rules it linked by; when they differ (a crash between
the two commits, a file restored from a backup) or the rules changed (the threshold,
the margins), every block is linked again, as ``refresh_marts(full_linkage=True)`` asks.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pandas as pd

from warehouse.linkage_store import ALIAS, current_encodings

Block = tuple[str, str]  # (key_id, keyed birth year)

_SIGNED = "_link_signed_records"  # temporary: one row per record linkage could read


@dataclass(frozen=True)
class BlockChanges:
    """What a linkage must redo: the blocks to re-link, and what to record afterwards."""

    dirty: list[Block]
    fingerprints: pd.DataFrame  # key_id, birth_year, fingerprint of every shared block now
    generation: int  # the generation this linkage writes
    rules: str
    full: bool  # every block re-linked (first linkage, rules changed, files out of step)


def changed_blocks(con: duckdb.DuckDBPyConnection, rules: str, full: bool = False) -> BlockChanges:
    """Compare the blocks' fingerprints now with those of the last linkage, and drop the
    links of every record not in an unchanged block (inside the caller's transaction)."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {_SIGNED} AS
        SELECT country, record_ref, key_id, birth_year,
               hash(country, record_ref, clk, birth_month, birth_day, sex) AS signature
        FROM {current_encodings(con)}
        """
    )
    now = con.execute(
        f"""
        SELECT key_id, birth_year, bit_xor(signature) AS fingerprint FROM {_SIGNED}
        GROUP BY key_id, birth_year HAVING count(DISTINCT country) > 1
        """
    ).df()
    warehouse_state = con.execute("SELECT generation, rules FROM person_links_generation").fetchall()
    store_state = con.execute(f"SELECT generation, rules FROM {ALIAS}.link_generation").fetchall()
    in_step = bool(warehouse_state) and warehouse_state == store_state and warehouse_state[0][1] == rules
    full = full or not in_step
    before = (
        pd.DataFrame(columns=["key_id", "birth_year", "fingerprint"])
        if full
        else con.execute(f"SELECT key_id, birth_year, fingerprint FROM {ALIAS}.link_blocks").df()
    )
    current = {(k, y): int(f) for k, y, f in now.itertuples(index=False)}
    previous = {(k, y): int(f) for k, y, f in before.itertuples(index=False)}
    dirty = sorted(b for b in current.keys() | previous.keys() if current.get(b) != previous.get(b))
    changed = set(dirty)
    unchanged = pd.DataFrame(  # noqa: F841 - read by DuckDB by name below
        [b for b in current if b not in changed], columns=["key_id", "birth_year"], dtype=object
    )
    con.execute(
        f"""
        DELETE FROM person_links WHERE country || ':' || record_ref NOT IN (
            SELECT s.country || ':' || s.record_ref FROM {_SIGNED} s JOIN unchanged USING (key_id, birth_year)
        )
        """
    )
    con.execute(f"DROP TABLE {_SIGNED}")
    generation = (warehouse_state[0][0] if warehouse_state else 0) + 1
    con.execute("DELETE FROM person_links_generation")
    con.execute("INSERT INTO person_links_generation VALUES (?, ?)", [generation, rules])
    return BlockChanges(dirty, now, generation, rules, full)


def record(con: duckdb.DuckDBPyConnection, changes: BlockChanges) -> None:
    """After the warehouse committed: the store's fingerprints and generation follow."""
    fingerprints = changes.fingerprints  # noqa: F841 - read by DuckDB by name below
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"DELETE FROM {ALIAS}.link_blocks")
        con.execute(f"INSERT INTO {ALIAS}.link_blocks SELECT key_id, birth_year, fingerprint FROM fingerprints")
        con.execute(f"DELETE FROM {ALIAS}.link_generation")
        con.execute(f"INSERT INTO {ALIAS}.link_generation VALUES (?, ?)", [changes.generation, changes.rules])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
