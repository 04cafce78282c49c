"""`thbdb check-table`: a country's published table against itself and the warehouse."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import duckdb

from disclosure.perturbation import Perturbation
from transforms.published_tables import PublishedCell
from warehouse.protected_counts import victim_cells
from warehouse.queries import Scope


@dataclass(frozen=True)
class CellDifference:
    cell: PublishedCell
    warehouse: int

    def __str__(self) -> str:
        c = self.cell
        published = "not collected" if c.victims is None else str(c.victims)
        return f"{c.country} {c.year} {c.dimension}={c.category}: published {published}, warehouse {self.warehouse}"


def warehouse_cells(
    con: duckdb.DuckDBPyConnection,
    country: str,
    dimension: str,
    min_cell: int = 1,
    protection: Perturbation | None = None,
) -> dict[tuple[int, str], int | None]:
    """The warehouse's counts in the table's categories (citizenship: the country or
    foreign); None where a part is withheld under ``min_cell``."""
    if dimension == "total":
        totals = victim_cells(con, ["year"], Scope(country), min_cell=min_cell, protection=protection)
        return {(int(c.key[0]), "all"): c.victims for c in totals}
    cells: dict[tuple[int, str], int | None] = defaultdict(int)
    for cell in victim_cells(con, ["year", dimension], Scope(country), min_cell=min_cell, protection=protection):
        year, category = int(cell.key[0]), str(cell.key[1])
        if dimension == "citizenship":
            category = country if category == country else "foreign"
        held = cells[(year, category)]
        cells[(year, category)] = None if held is None or cell.victims is None else held + cell.victims
    return cells


def compare_with_warehouse(
    con: duckdb.DuckDBPyConnection,
    cells: list[PublishedCell],
    min_cell: int = 1,
    protection: Perturbation | None = None,
) -> tuple[list[CellDifference], int]:
    """Published cells the warehouse does not reproduce (a not-collected cell must be 0),
    and how many could not be compared because the warehouse's count is withheld."""
    differences, withheld = [], 0
    cache: dict[tuple[str, str], dict[tuple[int, str], int | None]] = {}
    for cell in cells:
        key = (cell.country, cell.dimension)
        if key not in cache:
            cache[key] = warehouse_cells(con, cell.country, cell.dimension, min_cell, protection)
        held = cache[key].get((cell.year, cell.category), 0)
        if held is None:
            withheld += 1
        elif held != (cell.victims or 0):
            differences.append(CellDifference(cell, held))
    return differences, withheld
