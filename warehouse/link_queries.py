"""Cross-border persons: victims that linkage found in more than one country.

A person identified in RS and MK is one regional person (mart_victims.person_key) with
records in two countries; it counts once under the pair MK-RS. A person in three
countries counts once under each of its pairs, so pairs do not add up to the total.
The year is the year the person was first identified in the region. Small cells are
suppressed with the rule of every count, margins included (``protect_counts``).
"""

from __future__ import annotations

from collections import Counter
from itertools import combinations, product

import duckdb

from disclosure.suppression import TOTAL, CountCell, Key, protect_counts
from warehouse.queries import EVERYTHING, QueryError, Scope, parse_dimension_names

LINK_DIMENSIONS = ("pair", "year", "country")


def parse_link_dimensions(text: str) -> list[str]:
    return parse_dimension_names(text, LINK_DIMENSIONS)


def cross_border_persons(con: duckdb.DuckDBPyConnection) -> list[tuple[str, list[str], int]]:
    """(person key, its countries sorted, first year) of every person in two countries or more."""
    rows = con.execute(
        """
        SELECT person_key, list(DISTINCT country ORDER BY country), min(year)
        FROM mart_victims
        GROUP BY person_key
        HAVING count(DISTINCT country) > 1
        ORDER BY person_key
        """
    ).fetchall()
    return [(str(key), [str(c) for c in countries], int(year)) for key, countries, year in rows]


def link_counts(
    con: duckdb.DuckDBPyConnection, by: list[str], scope: Scope = EVERYTHING, min_cell: int = 5
) -> tuple[list[CountCell], CountCell]:
    """Cross-border persons per combination of ``by`` and in total, small cells suppressed."""
    if min_cell < 1:
        raise QueryError("--min-cell must be at least 1 (1 turns suppression off)")
    # The table with all its margins, as victim counts have, for secondary suppression.
    counts: Counter[Key] = Counter()
    for _key, countries, year in cross_border_persons(con):
        if (scope.country and scope.country not in countries) or not scope.covers_year(year):
            continue
        # Each person counts once per cell, whatever the number of its pairs in it.
        keys: set[Key] = set()
        for a, b in combinations(countries, 2):
            for member in (a, b):
                values: dict[str, str | int] = {"pair": f"{a}-{b}", "year": year, "country": member}
                full = tuple(values[d] for d in by)
                for rolled in product((False, True), repeat=len(by)):
                    keys.add(tuple(TOTAL if up else v for v, up in zip(full, rolled, strict=True)))
        counts.update(keys)
    grand = (TOTAL,) * len(by)
    cells = protect_counts(dict(counts), min_cell, totals=True)
    shown = [c for c in cells if not c.is_total]
    # No cross-border person at all discloses nobody: a zero total is shown as zero.
    total = next((c for c in cells if c.key == grand), None)
    if total is None:
        return shown, CountCell((TOTAL,), 0, False)
    return shown, CountCell((TOTAL,), total.victims, total.suppressed, total.secondary)
