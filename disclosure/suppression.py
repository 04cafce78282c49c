"""Small-cell suppression for every count an analyst sees, primary and secondary.

A count table is held with all its margins (the totals over every subset of its
dimensions), because those totals are either shown beside it or one query away
(`--by year` gives the row totals of `--by year,sex`). Primary suppression withholds
every cell below the threshold. Secondary suppression then makes sure no withheld cell
can be recovered by subtraction: along every line of the table (one dimension varying,
the others fixed, with that line's total) either no cell is withheld or at least two
are. Where a line has exactly one, the smallest other cell of the line is withheld too,
and this repeats until every line holds. This is the standard line rule of statistical
offices; it does not audit every linear combination across lines, which for the table
sizes of this region would add little protection and much complexity (see README).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass

TOTAL = "total"  # the value a dimension takes in a margin cell

Key = tuple[Hashable, ...]


@dataclass(frozen=True)
class SuppressedTable:
    counts: dict[Key, int]
    primary: frozenset[Key]
    secondary: frozenset[Key]

    @property
    def withheld(self) -> frozenset[Key]:
        return self.primary | self.secondary

    def shown(self, key: Key) -> int | None:
        return None if key in self.withheld else self.counts[key]


@dataclass(frozen=True)
class CountCell:
    """One cell of a count as it leaves: its value, or why it is withheld."""

    key: tuple[str | int, ...]
    victims: int | None  # None when withheld (the name is the victims' table's; perpetrators use it too)
    suppressed: bool
    secondary: bool = False  # withheld only so that another withheld cell cannot be recovered

    @property
    def is_total(self) -> bool:
        return TOTAL in self.key


def reading_order(key: Key) -> tuple[tuple[bool, int, str], ...]:
    """Rows as analysts read them: numbers in order, then names, totals last."""
    return tuple((v == TOTAL, v if isinstance(v, int) else 0, str(v)) for v in key)


def protect_counts(counts: dict[Key, int], min_cell: int, totals: bool = False) -> list[CountCell]:
    """Cells of a table given with all its margins, primary and secondary suppression
    applied; margin cells (a dimension equal to ``TOTAL``) only when ``totals``."""
    table = suppress(counts, min_cell)
    cells = []
    for key in sorted(counts, key=reading_order):
        if TOTAL in key and not totals:
            continue
        cells.append(
            CountCell(
                key=key,  # type: ignore[arg-type]
                victims=table.shown(key),
                suppressed=key in table.withheld,
                secondary=key in table.secondary,
            )
        )
    return cells


def is_small(count: int, min_cell: int) -> bool:
    """A count of 1 to min_cell-1 is withheld; zero is not a person and is shown."""
    return 0 < count < min_cell


def lines(keys: list[Key]) -> list[list[Key]]:
    """Every line of the table: the keys that differ only in one dimension."""
    if not keys:
        return []
    grouped: dict[tuple[int, Key], list[Key]] = defaultdict(list)
    for key in keys:
        for d in range(len(key)):
            grouped[(d, key[:d] + key[d + 1 :])].append(key)
    return [line for line in grouped.values() if len(line) > 1]


def suppress(counts: Mapping[Key, int], min_cell: int) -> SuppressedTable:
    """Primary and secondary suppression of a table given with its margins."""
    # Sorted, so the same table always gets the same cells withheld, whatever order the
    # database returned its rows in (a parallel aggregate has none).
    counts = dict(sorted(counts.items(), key=lambda item: repr(item[0])))
    if min_cell <= 1:
        return SuppressedTable(counts, frozenset(), frozenset())
    primary = {k for k, n in counts.items() if is_small(n, min_cell)}
    withheld = set(primary)
    all_lines = lines(list(counts))
    changed = True
    while changed:
        changed = False
        for line in all_lines:
            hidden = [k for k in line if k in withheld]
            if len(hidden) != 1:
                continue
            candidates = [k for k in line if k not in withheld]
            # Withhold the least informative cell: the smallest count; inner cells
            # before totals, so that the totals an analyst relies on stay visible.
            pick = min(candidates, key=lambda k: (TOTAL in k, counts[k], str(k)))
            withheld.add(pick)
            changed = True
    return SuppressedTable(counts, frozenset(primary), frozenset(withheld - primary))


def derivable(table: SuppressedTable) -> list[Key]:
    """Withheld cells that a single line recovers by subtraction (empty when protected)."""
    found = []
    for line in lines(list(table.counts)):
        hidden = [k for k in line if k in table.withheld]
        if len(hidden) == 1:
            found.append(hidden[0])
    return found
