"""Protected counts: cell-key perturbation on a fixed grid of cells, assembled, never recomputed.

Small-cell suppression recomputed for every new filter can be differenced (2022-2024
minus 2023-2024 is 2022), and noise drawn afresh per query can be averaged. Counts that
leave the hub for a role not entitled to exact ones are made this way instead
(README, "Counts that cannot be differenced"):

1. **A fixed grid.** Every count is a cell of the grid year x reporting country (or the
   region) x up to two dimensions (or their totals), computed over all the data whatever
   the query's filters. A query never defines a new set of victims: a range of years is
   the sum of its years' cells, a country filter picks that country's cells.
2. **Cell keys.** Each counted person has a key, a keyed hash of its pseudonym under a
   secret of the hub (``cell_key`` in the release snapshot; the same across releases).
   A cell's key is the sum of its persons' keys, so the same persons always give the
   same key, in any query, table or release.
3. **Perturbation.** The shown value is the true count plus a small integer drawn from
   the perturbation table with the cell key as the random number: the same cell always
   shows the same value, so asking again, or by another route to the same cell, tells
   nothing new. The noise is never below the threshold's floor.
4. **Withholding on the true value.** A cell whose true count is 1 to threshold-1 is
   withheld, and so is every sum that would need it (a range of years with one such
   year). Two answers therefore never differ by more than what published cells show.

The differencing harness (``benchmarks/differencing.py``, run in the tests) plays the
known attacks against this and against suppression alone.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

import duckdb

from disclosure.policy import DisclosurePolicy
from disclosure.suppression import TOTAL, Key, suppress
from warehouse.queries import DIMENSIONS, CountCell, QueryError, _order, joins_for

KEY_SPACE = 1 << 64


class BeyondTheGrid(QueryError):
    """Asked for what the grid of protected counts does not hold; exact counts may."""


# Combined with year and reporting country, a protected count takes at most this many
# dimensions: the grid stays one that can be published whole.
MAX_DIMENSIONS = 2


@dataclass(frozen=True)
class Perturbation:
    """The perturbation table: integers -spread..spread with discretised normal weights
    of standard deviation ``sd``; counts under ``threshold`` are withheld."""

    threshold: int
    sd: float
    spread: int

    @classmethod
    def of(cls, policy: DisclosurePolicy, threshold: int) -> Perturbation:
        """The policy's perturbation (disclosure.yaml) for counts withheld under ``threshold``."""
        return cls(threshold, policy.perturbation_sd, policy.perturbation_spread)

    @cached_property
    def _table(self) -> tuple[list[float], list[int]]:
        offsets = list(range(-self.spread, self.spread + 1))
        weights = [math.exp(-(o * o) / (2 * self.sd * self.sd)) for o in offsets]
        total = sum(weights)
        cumulative, running = [], 0.0
        for w in weights:
            running += w / total
            cumulative.append(running)
        return cumulative, offsets

    def noise(self, cell_key: int) -> int:
        """The offset the cell key draws: a uniform number from the key's top bits."""
        cumulative, offsets = self._table
        u = (cell_key % KEY_SPACE) / KEY_SPACE
        return offsets[min(bisect_right(cumulative, u), len(offsets) - 1)]

    def shown(self, count: int, cell_key: int) -> int | None:
        """What a cell of ``count`` persons shows; None when withheld."""
        if count == 0:
            return 0  # no person, no key: an empty cell discloses nobody and is not perturbed
        if count < self.threshold:
            return None
        return max(count + self.noise(cell_key), self.threshold)

    def mean_absolute_error(self) -> float:
        cumulative, offsets = self._table
        previous = 0.0
        error = 0.0
        for c, o in zip(cumulative, offsets, strict=True):
            error += (c - previous) * abs(o)
            previous = c
        return error

    def share_changed(self) -> float:
        cumulative, offsets = self._table
        zero = offsets.index(0)
        return 1 - (cumulative[zero] - (cumulative[zero - 1] if zero else 0.0))


Grid = dict[Key, tuple[int, int]]  # cell -> (persons, cell key)


def grid_of(
    con: duckdb.DuckDBPyConnection, expressions: Sequence[str], source: str, counted: str, cell_key: str
) -> Grid:
    """Distinct ``counted`` and their cell key in every cell of ``expressions`` (the year
    first, then the country), every one but the year also at TOTAL, over all the data."""
    cubed = expressions[1:]
    grouping = ", ".join(f"grouping({e})" for e in cubed)
    rows = con.execute(
        f"SELECT {', '.join(expressions)}, {grouping}, count(DISTINCT {counted}), sum(DISTINCT {cell_key})"
        f" FROM {source} WHERE {expressions[0]} IS NOT NULL GROUP BY {expressions[0]}, CUBE ({', '.join(cubed)})"
    ).fetchall()
    return _grid(rows, len(expressions))


def victim_grid(con: duckdb.DuckDBPyConnection, dimensions: Sequence[str]) -> Grid:
    """Distinct victims and their cell key in every cell of year x country (TOTAL: the
    region) x ``dimensions`` (each also at TOTAL), over all the data."""
    expressions = ["v.year", "v.country", *(DIMENSIONS[d] for d in dimensions)]
    return grid_of(con, expressions, f"mart_victims v{joins_for(list(dimensions))}", "v.person_key", "v.cell_key")


def shown_grid(grid: Grid, protection: Perturbation) -> dict[Key, int | None]:
    """What every cell of the grid shows: perturbed, or None where withheld."""
    withheld = _withheld_once(grid, protection.threshold)
    return {key: None if key in withheld else protection.shown(n, k) for key, (n, k) in grid.items()}


def _grid(rows: Iterable[Sequence[object]], n: int) -> Grid:
    from transforms.codelists import NOT_RECORDED

    grid: Grid = {}
    for row in rows:
        values = row[:n]
        rolled = (False, *row[n : 2 * n - 1])  # the year is never rolled up
        key = tuple(TOTAL if up else (NOT_RECORDED if v is None else v) for v, up in zip(values, rolled, strict=True))
        grid[key] = (int(row[-2]), int(row[-1] or 0) % KEY_SPACE)  # type: ignore[call-overload]
    return grid


def assemble(
    grid: Grid,
    grid_dims: Sequence[str],
    by: Sequence[str],
    protection: Perturbation,
    country: str | None = None,
    year_from: int | None = None,
    year_to: int | None = None,
    totals: bool = False,
) -> list[CountCell]:
    """The cells asked for (``by``, with the filters), each a grid cell or a sum of grid
    cells over years; withheld if any part is. ``grid_dims`` starts with year, country."""
    assert tuple(grid_dims[:2]) == ("year", "country")
    parts: dict[Key, list[int | None]] = defaultdict(list)
    positions = {d: i for i, d in enumerate(grid_dims)}
    shown_cells = shown_grid(grid, protection)
    others = [d for d in grid_dims[2:] if d not in by]
    for key, shown in shown_cells.items():
        year, where = key[0], key[1]
        if (year_from is not None and year < year_from) or (year_to is not None and year > year_to):  # type: ignore[operator]
            continue
        if any(key[positions[d]] != TOTAL for d in others):
            continue
        if "country" in by:
            if country and where != country:
                continue
        elif where != (country or TOTAL):
            continue
        asked = tuple(key[positions[d]] for d in by)
        for target in _with_year_total(asked, by, totals):
            if TOTAL in target and not totals:
                continue
            parts[target].append(shown)
    cells = []
    for target in sorted(parts, key=_order):
        values = parts[target]
        needs_withheld = any(v is None for v in values)
        total = None if needs_withheld else sum(v for v in values if v is not None)
        cells.append(CountCell(target, total, needs_withheld))  # type: ignore[arg-type]
    return cells


def _withheld_once(grid: Grid, threshold: int) -> frozenset[Key]:
    """The grid's cells withheld, decided once for the whole grid, whatever is asked:
    each year's table (countries and the region x categories and their totals) with
    small cells withheld and, in every line where one is, another (secondary
    suppression), so that no total minus its other parts gives a withheld cell."""
    by_year: dict[object, dict[Key, int]] = defaultdict(dict)
    for key, (count, _) in grid.items():
        by_year[key[0]][key[1:]] = count
    withheld: set[Key] = set()
    for year, table in by_year.items():
        withheld.update((year, *key) for key in suppress(table, threshold).withheld)
    return frozenset(withheld)


def _with_year_total(asked: Key, by: Sequence[str], totals: bool) -> list[Key]:
    """A cell counts in itself and, when years are totalled, in its all-years cell."""
    if "year" in by and totals:
        i = list(by).index("year")
        return [asked, (*asked[:i], TOTAL, *asked[i + 1 :])]
    return [asked]


def _checked(dimensions: Sequence[str]) -> None:
    if len(dimensions) > MAX_DIMENSIONS:
        raise BeyondTheGrid(f"protected counts combine at most {MAX_DIMENSIONS} dimensions besides year and country")


def protected_victim_counts(
    con: duckdb.DuckDBPyConnection,
    by: list[str],
    protection: Perturbation,
    country: str | None = None,
    year_from: int | None = None,
    year_to: int | None = None,
    totals: bool = False,
) -> list[CountCell]:
    """``victim_counts`` as it leaves the hub for a role not entitled to exact counts."""
    dimensions = [d for d in by if d not in ("year", "country")]
    _checked(dimensions)
    grid = victim_grid(con, dimensions)
    return assemble(grid, ["year", "country", *dimensions], by, protection, country, year_from, year_to, totals)


def protected_perpetrator_counts(
    con: duckdb.DuckDBPyConnection,
    by: list[str],
    protection: Perturbation,
    country: str | None = None,
    year_from: int | None = None,
    year_to: int | None = None,
) -> list[CountCell]:
    """``perpetrator_counts`` as it leaves the hub for a role not entitled to exact counts."""
    from warehouse.perpetrators import PERPETRATOR_DIMENSIONS, source_for

    dimensions = [d for d in by if d not in ("year", "country")]
    _checked(dimensions)
    expressions = ["p.year", "p.country", *(PERPETRATOR_DIMENSIONS[d] for d in dimensions)]
    grid = grid_of(con, expressions, source_for(dimensions), "p.perpetrator_key", "p.cell_key")
    return assemble(grid, ["year", "country", *dimensions], by, protection, country, year_from, year_to)


def protected_link_counts(
    con: duckdb.DuckDBPyConnection,
    by: list[str],
    protection: Perturbation,
    country: str | None = None,
    year_from: int | None = None,
    year_to: int | None = None,
) -> tuple[list[CountCell], CountCell]:
    """``link_counts`` as it leaves the hub: the grid year (of first identification) x
    country (where found; TOTAL: the region) x pair, each person once per cell."""
    from itertools import combinations

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
    dims = ["year", "country", "pair"]
    cells = assemble(fixed, dims, by, protection, country, year_from, year_to, totals=True)
    shown = [c for c in cells if TOTAL not in c.key]
    grand = next((c for c in cells if all(k == TOTAL for k in c.key)), None)
    if grand is None:  # no cross-border person at all discloses nobody: zero, as link_counts says
        return shown, CountCell((TOTAL,), 0, False)
    return shown, CountCell((TOTAL,), grand.victims, grand.suppressed)


def victim_cells(
    con: duckdb.DuckDBPyConnection,
    by: list[str],
    country: str | None = None,
    year_from: int | None = None,
    year_to: int | None = None,
    min_cell: int = 5,
    totals: bool = False,
    protection: Perturbation | None = None,
) -> list[CountCell]:
    """Victim counts, protected when ``protection`` is given, else exact with suppression."""
    from warehouse.queries import victim_counts

    if protection is None:
        return victim_counts(con, by, country, year_from, year_to, min_cell, totals)
    return protected_victim_counts(con, by, protection, country, year_from, year_to, totals)


def perpetrator_cells(
    con: duckdb.DuckDBPyConnection,
    by: list[str],
    country: str | None = None,
    year_from: int | None = None,
    year_to: int | None = None,
    min_cell: int = 5,
    protection: Perturbation | None = None,
) -> list[CountCell]:
    """Perpetrator counts, protected when ``protection`` is given."""
    from warehouse.perpetrators import perpetrator_counts

    if protection is None:
        return perpetrator_counts(con, by, country, year_from, year_to, min_cell)
    return protected_perpetrator_counts(con, by, protection, country, year_from, year_to)


def cost_to_utility(
    con: duckdb.DuckDBPyConnection, protection: Perturbation, tables: Iterable[Sequence[str]]
) -> dict[str, float | int]:
    """What protection costs the exported victim tables (a release snapshot, which has
    cell keys): mean absolute error and share changed of the cells shown, and the share
    withheld, beside the share suppression alone withholds."""
    from warehouse.queries import victim_counts

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
