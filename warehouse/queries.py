"""The query layer analysts use: victim counts by dimension, with small cells suppressed.

Queries run on a read-only connection to the marts; nothing here can change the data.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import duckdb

from disclosure.suppression import TOTAL, CountCell, Key, is_small, protect_counts

# Dimension name -> SQL expression over mart_victims (v) or the exploitation bridge (e).
DIMENSIONS: dict[str, str] = {
    "year": "v.year",
    "month": "printf('%04d-%02d', v.year, v.month)",
    "country": "v.country",
    "citizenship": "v.citizenship",
    "sex": "v.sex",
    "age_group": "v.age_group",
    "age_band": "v.age_band",
    "exploitation": "e.exploitation",
    "recruitment": "v.recruitment",
    "case_category": "v.case_category",
    # presumed or identified: identification is a process in two steps (withdrawn records count nowhere)
    "status": "v.status",
    "identified_by": "v.identified_by",
    "country_of_exploitation": "v.country_of_exploitation",
    # Modus operandi (marts in marts/035_modus_operandi.sql and marts/045_perpetrators.sql).
    "means_of_control": "mc.means_of_control",
    "means_of_travel": "mt.means_of_travel",
    "means_of_communication": "mm.means_of_communication",
    "recruited_in": "mo.recruited_in",
    "trafficking_scope": "mo.trafficking_scope",
    "route": "mo.route",
    "perpetrator_structure": "coalesce(p.structure, 'no_perpetrator_linked')",
    "perpetrator_relation": "coalesce(p.relation_to_victim, 'no_perpetrator_linked')",
}
# The join each table alias of DIMENSIONS needs; list-valued ones count a victim once
# under each of their codes, as exploitation does.
JOINS: dict[str, str] = {
    "e": "JOIN mart_victim_exploitation e USING (record_key)",
    "mc": "JOIN mart_victim_control mc USING (record_key)",
    "mt": "JOIN mart_victim_travel mt USING (record_key)",
    "mm": "JOIN mart_victim_communication mm USING (record_key)",
    "mo": "JOIN mart_victim_modus_operandi mo USING (record_key)",
    "p": "LEFT JOIN mart_case_links vp USING (record_key)"
    " LEFT JOIN mart_perpetrators p ON p.perpetrator_key = vp.perpetrator_key",
}


# Bridges whose codes are a set per national record (one row per code, `is_first` on
# one row of each record), and the aliases with one row per record.
SET_VALUED_ALIASES = frozenset({"e", "mc", "mt", "mm"})
_ONE_ROW_PER_RECORD = frozenset({"v", "mo"})
# The dimensions pre-aggregated in mart_victim_cells (warehouse/sql/marts/032_victim_cells.sql),
# each a column of that name.
CELL_DIMENSIONS = ("year", "country", "citizenship", "sex", "age_group", "exploitation")
# The dimensions pre-aggregated one at a time, by year and country, in
# mart_victim_dimension_cells (warehouse/sql/marts/051_dimension_cells.sql, summed from
# 050_dimension_codes.sql); those where a record may have several categories carry a
# `first` flag that counts it once in a total.
DIMENSION_CELLS = frozenset(DIMENSIONS) - {"year", "country"}
SEVERAL_PER_RECORD = frozenset(
    {"exploitation", "means_of_control", "means_of_travel", "means_of_communication", "perpetrator_structure",
     "perpetrator_relation"}
)  # fmt: skip


def aliases_of(dimension: str) -> set[str]:
    """The table aliases a dimension's expression reads."""
    return set(re.findall(r"\b([a-z]+)\.", DIMENSIONS[dimension]))


def joins_for(dimensions: list[str]) -> str:
    """The joins onto mart_victims v that the dimensions' expressions need."""
    aliases = {a for d in dimensions for a in aliases_of(d)}
    return "".join(f" {JOINS[a]}" for a in JOINS if a in aliases)


NOT_RECORDED = "not_recorded"


class QueryError(ValueError):
    """A query the user asked for cannot be run as asked."""


def parse_dimension_names(text: str, allowed: Iterable[str]) -> list[str]:
    """The comma-separated dimensions of --by, each one of ``allowed`` and named once."""
    choices = list(allowed)
    dims = [d.strip() for d in text.split(",") if d.strip()]
    if not dims:
        raise QueryError("--by needs at least one dimension")
    unknown = [d for d in dims if d not in choices]
    if unknown:
        raise QueryError(f"unknown dimension(s): {', '.join(unknown)}; choose from {', '.join(choices)}")
    if len(set(dims)) != len(dims):
        raise QueryError("a dimension appears twice in --by")
    return dims


def parse_dimensions(text: str) -> list[str]:
    return parse_dimension_names(text, DIMENSIONS)


def suppress_small_cells(count: int, min_cell: int) -> tuple[int | None, bool]:
    """Primary suppression of one count on its own: counts below ``min_cell`` are withheld.

    Tables should go through ``protect_counts`` instead, which also withholds the cells
    that would let a withheld one be recovered from totals."""
    if is_small(count, min_cell):
        return None, True
    return count, False


@dataclass(frozen=True)
class Scope:
    """Which records a count covers: one reporting country or all, a range of years (of
    identification, or registration for perpetrators) or all. --country, --from, --to."""

    country: str | None = None
    year_from: int | None = None
    year_to: int | None = None

    def where(self, alias: str) -> tuple[list[str], list[str | int]]:
        """The WHERE conditions over ``alias`` (a mart with country and year), and their parameters."""
        where: list[str] = ["TRUE"]
        params: list[str | int] = []
        if self.country:
            where.append(f"{alias}.country = ?")
            params.append(self.country)
        if self.year_from is not None:
            where.append(f"{alias}.year >= ?")
            params.append(self.year_from)
        if self.year_to is not None:
            where.append(f"{alias}.year <= ?")
            params.append(self.year_to)
        return where, params

    def covers_year(self, year: object) -> bool:
        return (self.year_from is None or year >= self.year_from) and (self.year_to is None or year <= self.year_to)  # type: ignore[operator]


EVERYTHING = Scope()


def cube_counts(
    con: duckdb.DuckDBPyConnection,
    expressions: list[str],
    source: str,
    where: list[str],
    params: list[str | int],
    counted: str,
) -> dict[Key, int]:
    """Distinct ``counted`` per combination of ``expressions`` and in every margin
    (GROUP BY CUBE): a margin's dimension holds ``TOTAL``. Grouped by the expressions,
    not by aliases, since an alias may also name a column."""
    grouping = ", ".join(f"grouping({e})" for e in expressions)
    selected = ", ".join(expressions)
    sql = (
        f"SELECT {selected}, {grouping}, count(DISTINCT {counted}) FROM {source}"
        f" WHERE {' AND '.join(where)} GROUP BY CUBE ({selected})"
    )
    n = len(expressions)
    counts: dict[Key, int] = {}
    for row in con.execute(sql, params).fetchall():
        pairs = zip(row[:n], row[n : 2 * n], strict=True)
        counts[tuple(TOTAL if up else (NOT_RECORDED if v is None else v) for v, up in pairs)] = int(row[-1])
    return counts


def _marts_have(con: duckdb.DuckDBPyConnection) -> tuple[bool, bool, bool]:
    """(the marts mark linked records, mart_victim_cells exists, mart_victim_dimension_cells
    exists): a warehouse built before them is still counted, the slow way, until its next
    refresh."""
    row = con.execute(
        "SELECT count(*) FILTER (WHERE table_name = 'mart_victims' AND column_name = 'is_linked'),"
        " count(*) FILTER (WHERE table_name = 'mart_victim_cells'),"
        " count(*) FILTER (WHERE table_name = 'mart_victim_dimension_cells')"
        " FROM duckdb_columns()"
        " WHERE table_name IN ('mart_victims', 'mart_victim_cells', 'mart_victim_dimension_cells')"
    ).fetchone()
    return bool(row and row[0]), bool(row and row[1]), bool(row and row[2])


def _roll_up(rows: Sequence[Sequence[object]], n: int, set_positions: list[int]) -> dict[Key, int]:
    """Every margin of a table of additive counts (what GROUP BY CUBE would give).

    Each row is n values, one is_first flag per set-valued dimension (at
    ``set_positions``), then a count of persons. A margin over a set-valued dimension
    keeps only the rows flagged first, so that a person with several codes adds one."""
    counts: dict[Key, int] = defaultdict(int)
    masks = list(itertools.product((False, True), repeat=n))  # True: the dimension is totalled
    for row in rows:
        values = tuple(NOT_RECORDED if v is None else v for v in row[:n])
        firsts = row[n : n + len(set_positions)]
        count = int(row[-1])  # type: ignore[call-overload]
        for mask in masks:
            if any(mask[pos] and not first for pos, first in zip(set_positions, firsts, strict=True)):
                continue
            counts[tuple(TOTAL if totalled else v for totalled, v in zip(mask, values, strict=True))] += count
    return dict(counts)


def person_counts(con: duckdb.DuckDBPyConnection, by: list[str], scope: Scope = EVERYTHING) -> dict[Key, int]:
    """Distinct victims in every cell and margin of ``by``: what ``cube_counts`` gives
    with ``count(DISTINCT person_key)``, computed the cheap way where the marts allow.

    ``count(DISTINCT)`` over every grouping set of a CUBE costs seconds on millions of
    victims. Most persons have one national record, and a set-valued bridge marks one
    row of each record (is_first), so their counts add up: one GROUP BY (or a read of
    the pre-aggregated mart_victim_cells) and a roll-up of its few rows in Python give
    every margin. Linked persons, who have several records, are counted exactly with
    ``count(DISTINCT)`` on their rows alone, and the two parts are added: no person is in
    both."""
    expressions = [DIMENSIONS[d] for d in by]
    where, params = scope.where("v")
    source = f"mart_victims v{joins_for(by)}"
    aliases = {a for d in by for a in aliases_of(d)}
    marks_linked, has_cells, has_dimension_cells = _marts_have(con)
    others = [d for d in by if d not in ("year", "country")]
    if marks_linked and has_dimension_cells and len(others) == 1 and others[0] in DIMENSION_CELLS:
        rows = _dimension_cells(con, by, others[0], scope)
        set_positions = [by.index(others[0])] if others[0] in SEVERAL_PER_RECORD else []
    elif not marks_linked or not aliases <= SET_VALUED_ALIASES | _ONE_ROW_PER_RECORD:
        return cube_counts(con, expressions, source, where, params, "v.person_key")
    elif has_cells and set(by) <= set(CELL_DIMENSIONS):
        set_positions = [i for i, d in enumerate(by) if aliases_of(d) & SET_VALUED_ALIASES]
        cell_where, cell_params = scope.where("c")
        if "exploitation" not in by:
            cell_where.append("c.exploitation_first")  # each record once
        columns = ", ".join([*(f"c.{d}" for d in by), *(["c.exploitation_first"] if set_positions else [])])
        rows = con.execute(
            f"SELECT {columns}, sum(c.victims) FROM mart_victim_cells c WHERE {' AND '.join(cell_where)} GROUP BY ALL",
            cell_params,
        ).fetchall()
    else:
        set_positions = [i for i, d in enumerate(by) if aliases_of(d) & SET_VALUED_ALIASES]
        firsts = [f"{next(iter(aliases_of(by[i]) & SET_VALUED_ALIASES))}.is_first" for i in set_positions]
        rows = con.execute(
            f"SELECT {', '.join(expressions + firsts)}, count(*) FROM {source}"
            f" WHERE {' AND '.join(where)} AND NOT v.is_linked GROUP BY ALL",
            params,
        ).fetchall()
    counts = _roll_up(rows, len(by), set_positions)
    linked = cube_counts(con, expressions, source, [*where, "v.is_linked"], params, "v.person_key")
    for key, n in linked.items():
        counts[key] = counts.get(key, 0) + n
    return counts


def _dimension_cells(
    con: duckdb.DuckDBPyConnection, by: list[str], dimension: str, scope: Scope
) -> list[tuple[object, ...]]:
    """The rows of mart_victim_dimension_cells for ``by`` (year and country, and one
    ``dimension``): values in the order of ``by``, the `first` flag where a record may
    have several categories, then the victims."""
    columns = [f"c.{d}" if d in ("year", "country") else "c.category" for d in by]
    if dimension in SEVERAL_PER_RECORD:
        columns.append("c.first")
    where, params = scope.where("c")
    return con.execute(
        f"SELECT {', '.join(columns)}, sum(c.victims) FROM mart_victim_dimension_cells c"
        f" WHERE c.dimension = ? AND {' AND '.join(where)} GROUP BY ALL",
        [dimension, *params],
    ).fetchall()


def victim_counts(
    con: duckdb.DuckDBPyConnection, by: list[str], scope: Scope = EVERYTHING, min_cell: int = 5, totals: bool = False
) -> list[CountCell]:
    """Distinct victims per combination of ``by``; a victim with several exploitation
    forms counts once under each. Suppression works on the table with all its margins,
    so that a withheld cell cannot be recovered from a total."""
    if min_cell < 1:
        raise QueryError("--min-cell must be at least 1 (1 turns suppression off)")
    return protect_counts(person_counts(con, by, scope), min_cell, totals)
