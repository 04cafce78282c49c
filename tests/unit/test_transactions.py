"""warehouse/transactions.py: a block is in the warehouse whole or not at all."""

from __future__ import annotations

import duckdb
import pytest

from warehouse.transactions import transaction


def _rows(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT count(*) FROM batch").fetchone()
    assert row is not None
    return int(row[0])


def test_a_block_that_ends_is_committed_and_one_that_fails_leaves_nothing() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE batch (n INTEGER)")
    with transaction(con):
        con.execute("INSERT INTO batch VALUES (1), (2)")
    assert _rows(con) == 2

    for fault in (RuntimeError("the broker went away"), KeyboardInterrupt()):
        with pytest.raises(type(fault)), transaction(con):
            con.execute("INSERT INTO batch VALUES (3)")
            raise fault
        assert _rows(con) == 2, "the half-written block was rolled back"


def test_a_return_inside_the_block_commits() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE batch (n INTEGER)")

    def load() -> str:
        with transaction(con):
            con.execute("INSERT INTO batch VALUES (1)")
            return "only ticks: the offsets alone move"

    load()
    assert _rows(con) == 1
