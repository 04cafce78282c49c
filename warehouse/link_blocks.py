"""Which linkage blocks changed since the last linkage: a refresh re-links only those.

Every link joins records of one block (one linkage key, one keyed birth year), and
whether records link depends only on the records of their block (warehouse/
person_linkage.py). So a block whose records are as they were keeps its links.

The linkage store keeps, for every current encoded record, the block it was in at the
last linkage and a signature of what linkage read of it (its filter, birth tokens and
recorded sex, hashed): ``record_blocks``. A refresh reads the current encodings of the
records touched since (loaded, corrected, withdrawn, erased: ``marts_pending``) and
nothing else, compares their blocks and signatures with the kept ones, and re-links
every block one of them left, entered or changed in, when it holds (or held) records
of more than one country; it drops the links of every record of those blocks. The cost
is that of the touched records and their blocks, not of every record.

The warehouse (``person_links``) and the store (``record_blocks``) are two files,
written in two transactions, the warehouse first. Both record the generation of the
linkage that wrote them and the rules it linked by; when they differ (a crash between
the two commits, a file restored from a backup) or the rules changed (the threshold,
the margins, this way of keeping blocks), every block is linked again and
``record_blocks`` written whole, as ``refresh_marts(full_linkage=True)`` asks.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from warehouse import linkage_store
from warehouse.linkage_store import ALIAS, current_encodings_of
from warehouse.transactions import transaction

Block = tuple[str, str]  # (key_id, keyed birth year)

RECORD_BLOCKS = f"{ALIAS}.record_blocks"
# Temporary, for one refresh: the records whose current encoding was read (the touched
# ones, or all of them), their blocks and signatures; and the records of the blocks to
# link again, as they are now.
_SIGNED = "_link_signed_records"
_MEMBERS = "_link_block_members"
_TOUCHED = "_link_touched_refs"


@dataclass(frozen=True)
class BlockChanges:
    """What a linkage must redo: the blocks to re-link, and what to record afterwards."""

    dirty: list[Block]
    generation: int  # the generation this linkage writes
    rules: str
    full: bool  # every block re-linked (first linkage, rules changed, files out of step)


def changed_blocks(con: duckdb.DuckDBPyConnection, rules: str, full: bool = False) -> BlockChanges:
    """Find the blocks to link again and drop the links of their records (inside the
    caller's transaction); the records to link are then read with ``members``."""
    warehouse_state = con.execute("SELECT generation, rules FROM person_links_generation").fetchall()
    store_state = con.execute(f"SELECT generation, rules FROM {ALIAS}.link_generation").fetchall()
    in_step = bool(warehouse_state) and warehouse_state == store_state and warehouse_state[0][1] == rules
    full = full or not in_step
    if full:
        _sign(con, None)
        # Every block, and every link dropped: blocks of one country keep none.
        con.execute(f"CREATE OR REPLACE TEMP TABLE {_MEMBERS} AS SELECT *, false AS was_shared FROM {_SIGNED}")
        con.execute("DELETE FROM person_links")
    else:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {_TOUCHED} AS
                SELECT DISTINCT country, record_ref FROM marts_pending WHERE kind = 'victims'"""
        )
        _sign(con, _TOUCHED)
        _members_of_changed_blocks(con)
    dirty = [
        (str(k), str(y))
        for k, y in con.execute(
            f"""SELECT key_id, birth_year FROM {_MEMBERS} GROUP BY ALL
                HAVING count(DISTINCT country) > 1 OR bool_or(was_shared) ORDER BY ALL"""
        ).fetchall()
    ]
    generation = (warehouse_state[0][0] if warehouse_state else 0) + 1
    con.execute("DELETE FROM person_links_generation")
    con.execute("INSERT INTO person_links_generation VALUES (?, ?)", [generation, rules])
    return BlockChanges(dirty, generation, rules, full)


def _sign(con: duckdb.DuckDBPyConnection, records: str | None) -> None:
    """_SIGNED: the current encodings of ``records`` (a relation of country and
    record_ref; None: every record), each with its block and signature."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {_SIGNED} AS
            SELECT country, record_ref, event_id, key_id, birth_year, sex,
                   hash(country, record_ref, clk, birth_month, birth_day, sex) AS signature
            FROM ({current_encodings_of(con, records)})"""
    )


def _members_of_changed_blocks(con: duckdb.DuckDBPyConnection) -> None:
    """_MEMBERS: the records, as they are now, of every block that a touched record
    left, entered or changed in, with whether the block held more than one country
    before; and the links of every record of those blocks, before or now, dropped (a
    record that left its block is among those before)."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _link_changed_blocks AS
            WITH kept AS (SELECT * FROM {RECORD_BLOCKS} SEMI JOIN {_TOUCHED} USING (country, record_ref)),
            changed AS (
                SELECT kept.key_id AS old_key, kept.birth_year AS old_year,
                       s.key_id AS new_key, s.birth_year AS new_year
                FROM kept FULL OUTER JOIN {_SIGNED} s USING (country, record_ref)
                WHERE kept.signature IS DISTINCT FROM s.signature
                   OR kept.key_id IS DISTINCT FROM s.key_id OR kept.birth_year IS DISTINCT FROM s.birth_year
            )
            SELECT old_key AS key_id, old_year AS birth_year FROM changed WHERE old_key IS NOT NULL
            UNION SELECT new_key, new_year FROM changed WHERE new_key IS NOT NULL"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _link_members_before AS
            SELECT country, record_ref, key_id, birth_year FROM {RECORD_BLOCKS}
            SEMI JOIN _link_changed_blocks USING (key_id, birth_year)"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {_MEMBERS} AS
            WITH now AS (
                SELECT k.* FROM {RECORD_BLOCKS} k SEMI JOIN _link_changed_blocks USING (key_id, birth_year)
                ANTI JOIN {_TOUCHED} USING (country, record_ref)
                UNION ALL
                SELECT s.* FROM {_SIGNED} s SEMI JOIN _link_changed_blocks USING (key_id, birth_year)
            ),
            shared_before AS (
                SELECT key_id, birth_year FROM _link_members_before GROUP BY ALL HAVING count(DISTINCT country) > 1
            )
            SELECT now.*, (b.key_id IS NOT NULL) AS was_shared
            FROM now LEFT JOIN shared_before b USING (key_id, birth_year)
            UNION ALL  -- a block every record left: no member now, but its links go
            SELECT NULL, NULL, NULL, key_id, birth_year, NULL, NULL, true FROM shared_before
            ANTI JOIN now USING (key_id, birth_year)"""
    )
    # A touched record whose block and signature are as they were keeps its links: its
    # block may be untouched (a new version that changes nothing linkage reads).
    con.execute(
        f"""DELETE FROM person_links WHERE country || ':' || record_ref IN (
                SELECT country || ':' || record_ref FROM _link_members_before
                UNION SELECT country || ':' || record_ref FROM {_MEMBERS} WHERE country IS NOT NULL
            )"""
    )
    con.execute("DROP TABLE _link_changed_blocks")
    con.execute("DROP TABLE _link_members_before")


def members(con: duckdb.DuckDBPyConnection, blocks: list[Block]) -> list[tuple[object, ...]]:
    """The records of ``blocks`` as they are now, with their filters, in the order
    ``person_linkage.LinkRecord`` takes them (key first, sorted by key)."""
    if not blocks:
        return []
    wanted = [{"key_id": k, "birth_year": y} for k, y in blocks]
    return con.execute(
        f"""WITH wanted AS (
                SELECT unnest(?::STRUCT(key_id VARCHAR, birth_year VARCHAR)[], recursive := true)
            ),
            shared AS (  -- a block left with one country's records links none of them
                SELECT key_id, birth_year FROM {_MEMBERS} SEMI JOIN wanted USING (key_id, birth_year)
                GROUP BY ALL HAVING count(DISTINCT country) > 1
            )
            SELECT m.country || ':' || m.record_ref AS key, m.country, m.key_id, e.clk, m.birth_year,
                   e.birth_month, e.birth_day, m.sex
            FROM {_MEMBERS} m
            SEMI JOIN shared USING (key_id, birth_year)
            JOIN {ALIAS}.encodings e USING (event_id)
            ORDER BY 1""",
        [wanted],
    ).fetchall()


def record(con: duckdb.DuckDBPyConnection, changes: BlockChanges) -> int:
    """After the warehouse committed: the store's record blocks and generation follow,
    and the encodings linkage no longer reads go (withdrawn, superseded, replaced by a
    re-push). Returns how many encodings went."""
    with transaction(con):
        if changes.full:
            con.execute(f"DELETE FROM {RECORD_BLOCKS}")
            purged = con.execute(
                f"DELETE FROM {ALIAS}.encodings WHERE event_id NOT IN (SELECT event_id FROM {_SIGNED})"
            ).fetchone()
        else:
            con.execute(
                f"""DELETE FROM {RECORD_BLOCKS} k USING {_TOUCHED} t
                    WHERE k.country = t.country AND k.record_ref = t.record_ref"""
            )
            # Of the touched records only: every other record's encodings are as the last
            # linkage left them. Encodings of events that never reached the warehouse go
            # at the next full linkage (`thbdb rebuild`).
            purged = con.execute(
                f"""DELETE FROM {ALIAS}.encodings e USING {_TOUCHED} t
                    WHERE e.country = t.country AND e.record_ref = t.record_ref
                    AND e.event_id NOT IN (SELECT event_id FROM {_SIGNED})"""
            ).fetchone()
        con.execute(f"INSERT INTO {RECORD_BLOCKS} FROM {_SIGNED}")
        con.execute(f"DELETE FROM {ALIAS}.link_generation")
        con.execute(f"INSERT INTO {ALIAS}.link_generation VALUES (?, ?)", [changes.generation, changes.rules])
    linkage_store.keep_to_owner(con)
    return int(purged[0]) if purged else 0


def forget(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the refresh's temporary tables (they name the touched records)."""
    for table in (_SIGNED, _MEMBERS, _TOUCHED, "_link_changed_blocks", "_link_members_before"):
        con.execute(f"DROP TABLE IF EXISTS temp.{table}")
