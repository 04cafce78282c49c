"""Counts as they leave the hub for a role not entitled to exact ones: the grids of the
marts, protected by the disclosure core (disclosure/perturbation.py), and the one door
that gives a count exact or protected.

The grid is computed over all the data, whatever the query's filters, and a query's
cells are assembled from it, never recomputed: see disclosure/perturbation.py for why.
For year, country and at most one dimension, a release snapshot holds it pre-aggregated
for the persons with one record (``release_grid_cells``, made by release/snapshot.py);
the linked persons are counted at the request and added, so the grid is the same cell
for cell and key for key, only read in milliseconds instead of counted in seconds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from itertools import combinations

import duckdb

from disclosure.perturbation import KEY_SPACE, Grid, Perturbation, assemble, grid_from_rows
from disclosure.suppression import TOTAL, CountCell, Key
from transforms.codelists import NOT_RECORDED
from warehouse.perpetrators import PERPETRATOR_DIMENSIONS, perpetrator_counts, source_for
from warehouse.queries import DIMENSIONS, EVERYTHING, QueryError, Scope, joins_for, victim_counts

# The grid pre-aggregated for one dimension at a time, in every release snapshot
# (release/snapshot.py): persons with one record, with the sum of their cell keys.
GRID_CELLS = "release_grid_cells"
# Combined with year and reporting country, a protected count takes at most this many
# dimensions: the grid stays one that can be published whole.
MAX_DIMENSIONS = 2


class BeyondTheGrid(QueryError):
    """Asked for what the grid of protected counts does not hold; exact counts may."""


def grid_of(
    con: duckdb.DuckDBPyConnection,
    expressions: Sequence[str],
    source: str,
    counted: str,
    cell_key: str,
    where: str = "TRUE",
) -> Grid:
    """Distinct ``counted`` and their cell key in every cell of ``expressions`` (the year
    first, then the country), every one but the year also at TOTAL, over all the data
    (or the rows ``where`` holds)."""
    cubed = expressions[1:]
    grouping = ", ".join(f"grouping({e})" for e in cubed)
    rows = con.execute(
        f"SELECT {', '.join(expressions)}, {grouping}, count(DISTINCT {counted}), sum(DISTINCT {cell_key})"
        f" FROM {source} WHERE {expressions[0]} IS NOT NULL AND {where}"
        f" GROUP BY {expressions[0]}, CUBE ({', '.join(cubed)})"
    ).fetchall()
    return grid_from_rows(rows, len(expressions))


def victim_grid(con: duckdb.DuckDBPyConnection, dimensions: Sequence[str]) -> Grid:
    """Distinct victims and their cell key in every cell of year x country (TOTAL: the
    region) x ``dimensions`` (each also at TOTAL), over all the data."""
    expressions = ["v.year", "v.country", *(DIMENSIONS[d] for d in dimensions)]
    source = f"mart_victims v{joins_for(list(dimensions))}"
    if len(dimensions) > 1 or not _has_grid_cells(con):
        return grid_of(con, expressions, source, "v.person_key", "v.cell_key")
    # Persons with one record from the pre-aggregated grid, linked persons counted exactly:
    # no person is in both, so their counts and cell keys add.
    grid = _one_record_grid(con, dimensions[0] if dimensions else None)
    for key, (persons, cell_key) in grid_of(
        con, expressions, source, "v.person_key", "v.cell_key", "v.is_linked"
    ).items():
        before = grid.get(key, (0, 0))
        grid[key] = (before[0] + persons, (before[1] + cell_key) % KEY_SPACE)
    return grid


def _has_grid_cells(con: duckdb.DuckDBPyConnection) -> bool:
    row = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND table_name = ?",
        [GRID_CELLS],
    ).fetchone()
    return bool(row and row[0])


def _one_record_grid(con: duckdb.DuckDBPyConnection, dimension: str | None) -> Grid:
    """The grid of the persons with one record, summed from the snapshot's pre-aggregated
    cells: each row counts in its country and the region, under its category and (its
    record's first category only) the dimension's total. Without a dimension, any with
    one category a record gives the year and country totals."""
    rows = con.execute(
        f"SELECT year, country, category, first, persons, cell_keys FROM {GRID_CELLS} WHERE dimension = ?",
        [dimension or "status"],
    ).fetchall()
    sums: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
    for year, country, category, first, persons, cell_keys in rows:
        shown = NOT_RECORDED if category is None else category
        for where in (country, TOTAL):
            targets: list[Key] = [(year, where)]
            if dimension is not None:
                targets = [(year, where, shown), *([(year, where, TOTAL)] if first else [])]
            for target in targets:
                sums[target][0] += int(persons)
                sums[target][1] += int(cell_keys)
    return {key: (n, k % KEY_SPACE) for key, (n, k) in sums.items()}


def _grid_dimensions(by: Sequence[str]) -> list[str]:
    """The dimensions of ``by`` besides year and country, at most MAX_DIMENSIONS of them."""
    dimensions = [d for d in by if d not in ("year", "country")]
    if len(dimensions) > MAX_DIMENSIONS:
        raise BeyondTheGrid(f"protected counts combine at most {MAX_DIMENSIONS} dimensions besides year and country")
    return dimensions


def protected_victim_counts(
    con: duckdb.DuckDBPyConnection,
    by: list[str],
    protection: Perturbation,
    scope: Scope = EVERYTHING,
    totals: bool = False,
) -> list[CountCell]:
    """``victim_counts`` as it leaves the hub for a role not entitled to exact counts."""
    dimensions = _grid_dimensions(by)
    return assemble(victim_grid(con, dimensions), ["year", "country", *dimensions], by, protection, scope, totals)


def protected_perpetrator_counts(
    con: duckdb.DuckDBPyConnection, by: list[str], protection: Perturbation, scope: Scope = EVERYTHING
) -> list[CountCell]:
    """``perpetrator_counts`` as it leaves the hub for a role not entitled to exact counts."""
    dimensions = _grid_dimensions(by)
    expressions = ["p.year", "p.country", *(PERPETRATOR_DIMENSIONS[d] for d in dimensions)]
    grid = grid_of(con, expressions, source_for(dimensions), "p.perpetrator_key", "p.cell_key")
    return assemble(grid, ["year", "country", *dimensions], by, protection, scope)


def protected_link_counts(
    con: duckdb.DuckDBPyConnection, by: list[str], protection: Perturbation, scope: Scope = EVERYTHING
) -> tuple[list[CountCell], CountCell]:
    """``link_counts`` as it leaves the hub: the grid year (of first identification) x
    country (where found; TOTAL: the region) x pair, each person once per cell."""
    grid: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
    rows = con.execute(
        "SELECT list(DISTINCT country ORDER BY country), min(year), any_value(cell_key) FROM mart_victims"
        " GROUP BY person_key HAVING count(DISTINCT country) > 1"
    ).fetchall()
    for countries, year, cell_key in rows:
        keys: set[Key] = set()
        for a, b in combinations(countries, 2):
            for member in (a, b, TOTAL):
                keys.update({(year, member, f"{a}-{b}"), (year, member, TOTAL)})
        for key in keys:
            grid[key][0] += 1
            grid[key][1] = (grid[key][1] + int(cell_key)) % KEY_SPACE
    fixed: Grid = {k: (n, c) for k, (n, c) in grid.items()}
    cells = assemble(fixed, ["year", "country", "pair"], by, protection, scope, totals=True)
    shown = [c for c in cells if TOTAL not in c.key]
    grand = next((c for c in cells if all(k == TOTAL for k in c.key)), None)
    if grand is None:  # no cross-border person at all discloses nobody: zero, as link_counts says
        return shown, CountCell((TOTAL,), 0, False)
    return shown, CountCell((TOTAL,), grand.victims, grand.suppressed)


def victim_cells(
    con: duckdb.DuckDBPyConnection,
    by: list[str],
    scope: Scope = EVERYTHING,
    min_cell: int = 5,
    totals: bool = False,
    protection: Perturbation | None = None,
) -> list[CountCell]:
    """Victim counts, protected when ``protection`` is given, else exact with suppression."""
    if protection is None:
        return victim_counts(con, by, scope, min_cell, totals)
    return protected_victim_counts(con, by, protection, scope, totals)


def perpetrator_cells(
    con: duckdb.DuckDBPyConnection,
    by: list[str],
    scope: Scope = EVERYTHING,
    min_cell: int = 5,
    protection: Perturbation | None = None,
) -> list[CountCell]:
    """Perpetrator counts, protected when ``protection`` is given."""
    if protection is None:
        return perpetrator_counts(con, by, scope, min_cell)
    return protected_perpetrator_counts(con, by, protection, scope)


def cost_to_utility(
    con: duckdb.DuckDBPyConnection, protection: Perturbation, tables: Iterable[Sequence[str]]
) -> dict[str, float | int]:
    """What protection costs the exported victim tables (a release snapshot, which has
    cell keys): mean absolute error and share changed of the cells shown, and the share
    withheld, beside the share suppression alone withholds."""
    cells = shown = changed = withheld = suppressed = 0
    error = 0
    for dims in tables:
        exact = {c.key: c.victims or 0 for c in victim_counts(con, list(dims), min_cell=1)}
        alone = {c.key: c.suppressed for c in victim_counts(con, list(dims), min_cell=protection.threshold)}
        for cell in protected_victim_counts(con, list(dims), protection):
            true = exact.get(cell.key, 0)
            if true == 0:
                continue
            cells += 1
            suppressed += alone.get(cell.key, False)
            if cell.victims is None:
                withheld += 1
                continue
            shown += 1
            error += abs(cell.victims - true)
            changed += cell.victims != true
    return {
        "cells": cells,
        "mean_absolute_error": round(error / shown, 2) if shown else 0.0,
        "share_changed": round(changed / shown, 3) if shown else 0.0,
        "share_withheld": round(withheld / cells, 3) if cells else 0.0,
        "share_withheld_by_suppression_alone": round(suppressed / cells, 3) if cells else 0.0,
        "noise_sd": protection.sd,
        "noise_spread": protection.spread,
    }
