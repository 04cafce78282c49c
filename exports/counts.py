"""Exports of the marts for other tools: aggregate counts, small cells suppressed.

Never record-level rows: each file is one table of counts (one column per dimension,
then ``victims`` or ``perpetrators``, then ``suppressed``), exactly as `thbdb query` shows
them. A ``manifest.json`` beside the files says what each holds and the threshold used.
A new format of counts is a new writer in ``WRITERS``; every export format, counts or
records, is listed in exports/registry.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from disclosure.perturbation import Perturbation
from exports.answer_tables import rows_csv
from warehouse.protected_counts import perpetrator_cells, victim_cells
from warehouse.queries import CountCell

# (file stem, what is counted, dimensions) of every exported table.
VICTIM_TABLES: tuple[tuple[str, ...], ...] = (
    ("year", "country"),
    *(
        ("year", "country", d)
        for d in (
            "sex",
            "age_group",
            "age_band",
            "citizenship",
            "exploitation",
            "recruitment",
            "case_category",
            "identified_by",
            "country_of_exploitation",
            "means_of_control",
            "means_of_travel",
            "means_of_communication",
            "trafficking_scope",
            "route",
            "perpetrator_structure",
        )
    ),
    ("year", "country", "age_group", "exploitation"),
    ("year", "country", "age_group", "sex"),
)
PERPETRATOR_TABLES: tuple[tuple[str, ...], ...] = tuple(
    ("year", "country", d)
    for d in (
        "role",
        "structure",
        "sex",
        "citizenship",
        "age_group",
        "relation_to_victim",
        "status",
        "linked_to_victim",
    )
)


class Table:
    """One exported table of counts."""

    def __init__(self, counted: str, dims: tuple[str, ...], cells: list[CountCell]):
        self.counted = counted  # victims or perpetrators
        self.dims = dims
        self.cells = cells

    @property
    def name(self) -> str:
        return f"{self.counted}_by_{'_'.join(self.dims)}"

    def frame(self) -> pd.DataFrame:
        rows = [
            {**dict(zip(self.dims, c.key, strict=True)), self.counted: c.victims, "suppressed": c.suppressed}
            for c in self.cells
        ]
        frame = pd.DataFrame(rows, columns=[*self.dims, self.counted, "suppressed"])
        return frame.astype({self.counted: "Int64", "suppressed": "bool"})


def count_tables(con: duckdb.DuckDBPyConnection, min_cell: int, protection: Perturbation | None = None) -> list[Table]:
    tables = [
        Table("victims", d, victim_cells(con, list(d), min_cell=min_cell, protection=protection)) for d in VICTIM_TABLES
    ]
    tables += [
        Table("perpetrators", d, perpetrator_cells(con, list(d), min_cell=min_cell, protection=protection))
        for d in PERPETRATOR_TABLES
    ]
    return tables


def _write_csv(table: Table, directory: Path) -> Path:
    path = directory / f"{table.name}.csv"
    rows = ((c.key, c.victims, c.suppressed) for c in table.cells)
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(rows_csv(table.dims, rows, table.counted))
    return path


def _write_parquet(table: Table, directory: Path) -> Path:
    path = directory / f"{table.name}.parquet"
    frame = table.frame()  # noqa: F841 - read by DuckDB by name below
    with duckdb.connect() as scratch:  # an in-memory database: nothing touches the warehouse
        scratch.execute(f"COPY (SELECT * FROM frame) TO '{path.as_posix()}' (FORMAT parquet)")
    return path


WRITERS: dict[str, Callable[[Table, Path], Path]] = {"csv": _write_csv, "parquet": _write_parquet}


def export_counts(
    con: duckdb.DuckDBPyConnection,
    format: str,
    directory: Path,
    min_cell: int,
    protection: Perturbation | None = None,
) -> list[Path]:
    """Write every count table in ``format`` under ``directory``, with a manifest."""
    if format not in WRITERS:
        raise ValueError(f"unknown export format {format!r}; one of {', '.join(WRITERS)}")
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    listed: list[dict[str, object]] = []
    manifest: dict[str, object] = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "format": format,
        "min_cell": min_cell,
        "note": "Aggregate counts of distinct persons; cells under min_cell are suppressed (empty, suppressed=true)."
        " A victim with several codes of a list dimension counts once under each. Information for analysis,"
        " not evidence.",
        "tables": listed,
    }
    for table in count_tables(con, min_cell, protection):
        path = WRITERS[format](table, directory)
        written.append(path)
        listed.append(
            {"file": path.name, "counts": table.counted, "dimensions": list(table.dims), "rows": len(table.cells)}
        )
    manifest_path = directory / "manifest.json"
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return [*written, manifest_path]
