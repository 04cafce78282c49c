"""Superseded and withdrawn record versions: kept as facts, stripped of their content.

The raw layer keeps every version a country sent: which record, when it changed, its
status, where it came from. Only the current version of a counted record feeds the
marts; the others' content (sex, citizenship, age band, forms of exploitation, routes,
the case pseudonym) serves no count, and each stored copy of it is one more place a
person's profile could be read from. At every refresh the content of every version that
is not the current version of a counted record is set to NULL, once, and replaced by a
hash of it: the disclosure-risk report's probing signs (a record changed and changed
back, reports/privacy.py) compare versions by that hash alone. Their linkage
encodings go from the linkage store at the same refresh (warehouse/linkage_store.py).
"""

from __future__ import annotations

import duckdb

# What a victim version says that counts; a change back restores all of it. The hash of
# these is what the probing signs compare.
VICTIM_CONTENT = (
    "status", "case_category", "sex", "citizenship", "age_band", "identified_year", "identified_month",
    "identified_by", "exploitation_types", "country_of_exploitation", "recruited_in", "transit_countries",
    "recruitment_method", "means_of_control", "means_of_travel", "means_of_communication", "recorded_by",
)  # fmt: skip
# Columns set to NULL in a stripped version (status stays: it says what happened).
_STRIPPED = {
    "raw_victim_events": (*(c for c in VICTIM_CONTENT if c != "status"), "case_ref", "age_group"),
    "raw_perpetrator_events": (
        "case_ref", "sex", "citizenship", "age_band", "age_group", "registered_year", "registered_month", "roles",
        "structure", "relation_to_victim",
    ),
}  # fmt: skip
# The signs of probing (reports/privacy.py): a record withdrawn, or changed back, within
# this many days of the version before, flagged per record in this table.
PROBE_WINDOW_DAYS = 7
PROBING_FLAGS = "victim_probing_flags"
_CURRENT = {"raw_victim_events": "stg_victim_current", "raw_perpetrator_events": "stg_perpetrator_current"}
_KIND = {"raw_victim_events": "victim", "raw_perpetrator_events": "perpetrator"}


def content_hash_sql(columns: tuple[str, ...] = VICTIM_CONTENT) -> str:
    """The SQL expression of a version's content hash (a victim version's by default)."""
    return f"md5(to_json(struct_pack({', '.join(columns)}))::VARCHAR)"


def migrate(con: duckdb.DuckDBPyConnection) -> None:
    """Warehouses made before stripping: the hash column, and content columns nullable."""
    for table, columns in _STRIPPED.items():
        con.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS content_md5 VARCHAR")
        required = {
            r[0]
            for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND is_nullable = 'NO'"
                " AND table_schema = 'main' AND table_catalog = current_database()",
                [table],
            ).fetchall()
        }
        for column in sorted(required & set(columns)):
            con.execute(f"ALTER TABLE {table} ALTER COLUMN {column} DROP NOT NULL")


def strip(con: duckdb.DuckDBPyConnection, touched_only: bool = False) -> int:
    """Strip every version that is not the current version of a counted record (inside
    the caller's transaction, after the staging views exist); how many were stripped.

    ``touched_only``: the versions of the records the marts' refresh derived again (its
    temporary tables, warehouse/marts.py), the only ones whose current version can have
    changed since the last refresh."""
    stripped = 0
    for table, columns in _STRIPPED.items():
        hashed = content_hash_sql() if table == "raw_victim_events" else content_hash_sql(("status", *columns))
        cleared = ", ".join(f"{c} = NULL" for c in columns)
        kind = _KIND[table]
        # The touched records' versions and current versions: temporary tables of the refresh.
        versions, current = (f"raw_{kind}_touched", f"stg_{kind}_touched") if touched_only else (table, _CURRENT[table])
        row = con.execute(
            f"""UPDATE {table} SET content_md5 = {hashed}, {cleared}
                WHERE event_id IN (
                    SELECT event_id FROM {versions} WHERE content_md5 IS NULL
                    EXCEPT SELECT event_id FROM {current} WHERE status <> 'withdrawn')"""
        ).fetchone()
        stripped += int(row[0]) if row else 0
    return stripped


def flag_probing(con: duckdb.DuckDBPyConnection, touched_only: bool = False) -> None:
    """Flag the victim records whose versions show a sign of probing (inside the
    caller's transaction); ``touched_only``: those the marts' refresh touched (their
    versions are the only ones that changed), else every record."""
    versions, scope = ("raw_victim_touched", "touched_victim_refs") if touched_only else ("raw_victim_events", None)
    if scope:
        con.execute(
            f"DELETE FROM {PROBING_FLAGS} WHERE (country, record_ref) IN (SELECT country, record_ref FROM {scope})"
        )
    else:
        con.execute(f"DELETE FROM {PROBING_FLAGS}")
    con.execute(
        f"""
        INSERT INTO {PROBING_FLAGS}
        WITH versions AS (
            -- a stripped version keeps the hash of its content
            SELECT country, record_ref, updated_at, status, coalesce(content_md5, {content_hash_sql()}) AS content
            FROM {versions}
            QUALIFY row_number() OVER (PARTITION BY country, record_ref, updated_at ORDER BY loaded_at) = 1
        ),
        sequenced AS (
            SELECT *, lag(updated_at) OVER w AS before_at, lag(content, 2) OVER w AS content_two_before,
                   lag(updated_at, 2) OVER w AS two_before_at
            FROM versions
            WINDOW w AS (PARTITION BY country, record_ref ORDER BY updated_at)
        )
        SELECT country, record_ref,
               coalesce(bool_or(status = 'withdrawn' AND updated_at - before_at <= to_days($days)), false)
                   AS withdrawn_soon,
               coalesce(bool_or(content = content_two_before AND updated_at - two_before_at <= to_days($days)), false)
                   AS changed_back
        FROM sequenced
        GROUP BY country, record_ref
        HAVING withdrawn_soon OR changed_back
        """,
        {"days": PROBE_WINDOW_DAYS},
    )
