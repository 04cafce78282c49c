"""An answer of the release service's counts as a table of rows: what `thbdb query ...
--format csv` prints and what the browser's table builder downloads, written by the same
code so that the two are byte for byte the same.

Columns: one per dimension, then what is counted (``victims``, ``perpetrators``), then
``suppressed`` (``true`` where the cell is withheld, its count left empty).
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where a frame is built: `thbdb query` starts without them
    import pandas as pd


def count_rows(dimensions: Sequence[str], cells: Sequence[dict[str, Any]], counted: str) -> pd.DataFrame:
    """The answer's cells (``key``, ``count``, ``suppressed``) as a frame, a column each."""
    import pandas as pd

    columns = [*dimensions, counted, "suppressed"]
    rows = [[*c["key"], c["count"], bool(c["suppressed"])] for c in cells]
    frame = pd.DataFrame(rows, columns=columns)
    frame[counted] = frame[counted].astype("Int64")  # a withheld count stays empty, not NaN
    return frame


def counts_csv(dimensions: Sequence[str], cells: Sequence[dict[str, Any]], counted: str) -> str:
    return rows_csv(dimensions, ((c["key"], c["count"], c["suppressed"]) for c in cells), counted)


def rows_csv(dimensions: Sequence[str], rows: Iterable[tuple[Sequence[Any], int | None, bool]], counted: str) -> str:
    """(key, count, suppressed) rows as CSV: also the counts export's files (exports/counts.py)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*dimensions, counted, "suppressed"])
    for key, count, suppressed in rows:
        writer.writerow([*key, "" if count is None else count, str(suppressed).lower()])
    return buffer.getvalue()


def counts_parquet(dimensions: Sequence[str], cells: Sequence[dict[str, Any]], counted: str) -> bytes:
    import duckdb

    frame = count_rows(dimensions, cells, counted)
    frame[list(dimensions)] = frame[list(dimensions)].astype(str)  # one type a column, as the CSV reads
    with tempfile.TemporaryDirectory(prefix="thbdb-answer-") as folder, duckdb.connect() as scratch:
        path = Path(folder) / "answer.parquet"  # in memory and a scratch file: no warehouse touched
        scratch.register("answer", frame)
        scratch.execute(f"COPY answer TO '{path.as_posix()}' (FORMAT parquet)")
        return path.read_bytes()
