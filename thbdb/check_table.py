"""`thbdb check-table`: a country's published table against itself and the warehouse."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import duckdb

from transforms.published_tables import PublishedCell
from warehouse.queries import victim_counts


@dataclass(frozen=True)
class CellDifference:
    cell: PublishedCell
    warehouse: int

    def __str__(self) -> str:
        c = self.cell
        published = "not collected" if c.victims is None else str(c.victims)
        return f"{c.country} {c.year} {c.dimension}={c.category}: published {published}, warehouse {self.warehouse}"


def warehouse_cells(con: duckdb.DuckDBPyConnection, country: str, dimension: str) -> dict[tuple[int, str], int]:
    """The warehouse's counts in the table's categories (citizenship: the country or foreign)."""
    if dimension == "total":
        totals = victim_counts(con, ["year"], country, min_cell=1)
        return {(int(c.key[0]), "all"): c.victims or 0 for c in totals}
    cells: dict[tuple[int, str], int] = defaultdict(int)
    for cell in victim_counts(con, ["year", dimension], country, min_cell=1):
        year, category = int(cell.key[0]), str(cell.key[1])
        if dimension == "citizenship":
            category = country if category == country else "foreign"
        cells[(year, category)] += cell.victims or 0
    return cells


def compare_with_warehouse(con: duckdb.DuckDBPyConnection, cells: list[PublishedCell]) -> list[CellDifference]:
    """Published cells the warehouse does not reproduce (a not-collected cell must be 0)."""
    differences = []
    cache: dict[tuple[str, str], dict[tuple[int, str], int]] = {}
    for cell in cells:
        key = (cell.country, cell.dimension)
        if key not in cache:
            cache[key] = warehouse_cells(con, cell.country, cell.dimension)
        held = cache[key].get((cell.year, cell.category), 0)
        if held != (cell.victims or 0):
            differences.append(CellDifference(cell, held))
    return differences
