-- What the marts must redo at the next refresh, and what the last refresh changed
-- (warehouse/marts.py). The marts follow a batch incrementally: only the records a
-- load or an erasure touched are derived again.

-- Records touched since the marts were last refreshed: a load adds its records, an
-- erasure the erased ones, in the same transaction as their rows.
CREATE TABLE IF NOT EXISTS marts_pending (
    kind        VARCHAR NOT NULL,   -- victims or perpetrators
    country     VARCHAR NOT NULL,
    record_ref  VARCHAR NOT NULL
);

-- The marts as last built: the SQL they were built with (a change rebuilds them all),
-- a generation counted up at every refresh, whether that refresh rebuilt them all, and
-- the generation after which every refresh's changes are kept (a rebuild or an erasure
-- forgets them: a release snapshot older than that cannot follow and is written whole).
CREATE TABLE IF NOT EXISTS marts_state (
    marts_version  VARCHAR NOT NULL,
    generation     BIGINT NOT NULL,
    rebuilt        BOOLEAN NOT NULL,
    refreshed_at   TIMESTAMPTZ NOT NULL,
    changes_since  BIGINT             -- added by migration 4, hence last and nullable
);

-- The last few refreshes' changes (warehouse/marts.py CHANGES_KEPT), each under its
-- generation, for a release snapshot to follow them (release/snapshot.py): the keys
-- whose mart rows were derived again, and every victim's dimension categories before
-- (sign -1) and after (+1).
CREATE TABLE IF NOT EXISTS mart_changed_keys (
    kind        VARCHAR NOT NULL,   -- victims (a record_key) or perpetrators (a perpetrator_key)
    key         VARCHAR NOT NULL,
    generation  BIGINT
);

CREATE TABLE IF NOT EXISTS mart_changed_codes (
    sign        INTEGER NOT NULL,
    dimension   VARCHAR NOT NULL,
    person_key  VARCHAR NOT NULL,
    year        INTEGER,
    country     VARCHAR,
    category    VARCHAR,
    first       BOOLEAN,
    generation  BIGINT
);
