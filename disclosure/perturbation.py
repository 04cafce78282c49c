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
from typing import Protocol

from disclosure.policy import DisclosurePolicy
from disclosure.suppression import TOTAL, CountCell, Key, reading_order, suppress
from transforms.codelists import NOT_RECORDED

KEY_SPACE = 1 << 64


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


class CellScope(Protocol):
    """Which cells of the grid a query takes (warehouse.queries.Scope is one)."""

    @property
    def country(self) -> str | None: ...

    def covers_year(self, year: object) -> bool: ...


def shown_grid(grid: Grid, protection: Perturbation) -> dict[Key, int | None]:
    """What every cell of the grid shows: perturbed, or None where withheld."""
    withheld = _withheld_once(grid, protection.threshold)
    return {key: None if key in withheld else protection.shown(n, k) for key, (n, k) in grid.items()}


def grid_from_rows(rows: Iterable[Sequence[object]], n: int) -> Grid:
    """The grid of query rows: ``n`` values (the year first), a grouping flag for each but
    the year, the distinct persons and the sum of their cell keys."""
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
    scope: CellScope,
    totals: bool = False,
) -> list[CountCell]:
    """The cells asked for (``by``, within ``scope``), each a grid cell or a sum of grid
    cells over years; withheld if any part is. ``grid_dims`` starts with year, country."""
    assert tuple(grid_dims[:2]) == ("year", "country")
    parts: dict[Key, list[int | None]] = defaultdict(list)
    positions = {d: i for i, d in enumerate(grid_dims)}
    shown_cells = shown_grid(grid, protection)
    others = [d for d in grid_dims[2:] if d not in by]
    for key, shown in shown_cells.items():
        year, where = key[0], key[1]
        if not scope.covers_year(year):
            continue
        if any(key[positions[d]] != TOTAL for d in others):
            continue
        if "country" in by:
            if scope.country and where != scope.country:
                continue
        elif where != (scope.country or TOTAL):
            continue
        asked = tuple(key[positions[d]] for d in by)
        for target in _with_year_total(asked, by, totals):
            if TOTAL in target and not totals:
                continue
            parts[target].append(shown)
    cells = []
    for target in sorted(parts, key=reading_order):
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
