"""One DuckDB transaction as a block: committed when the block ends, rolled back on any
fault (an interrupt included), so that a batch, a refresh or an erasure is in the
warehouse whole or not at all."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
