"""Perpetrator profiles: counts of distinct perpetrators by dimension, small cells
suppressed as victims' are. A perpetrator with several roles counts once under each."""

from __future__ import annotations

import re

import duckdb

from disclosure.suppression import CountCell, protect_counts
from warehouse.queries import EVERYTHING, QueryError, Scope, cube_counts, parse_dimension_names

# Dimension name -> SQL expression over mart_perpetrators (p) or its role bridge (r).
PERPETRATOR_DIMENSIONS: dict[str, str] = {
    "year": "p.year",
    "country": "p.country",
    "status": "p.status",
    "sex": "p.sex",
    "citizenship": "p.citizenship",
    "age_group": "p.age_group",
    "age_band": "p.age_band",
    "role": "r.role",
    "structure": "p.structure",
    "relation_to_victim": "p.relation_to_victim",
    # Whether the perpetrator's case links to a counted victim of the same country.
    "linked_to_victim": "CASE WHEN p.perpetrator_key IN (SELECT perpetrator_key FROM mart_case_links)"
    " THEN 'linked' ELSE 'not_linked' END",
}


def parse_perpetrator_dimensions(text: str) -> list[str]:
    return parse_dimension_names(text, PERPETRATOR_DIMENSIONS)


def source_for(by: list[str]) -> str:
    """The perpetrators mart, joined to its role bridge when a dimension needs it."""
    uses_roles = any(re.search(r"\br\.", PERPETRATOR_DIMENSIONS[d]) for d in by)
    return "mart_perpetrators p" + (" JOIN mart_perpetrator_role r USING (perpetrator_key)" if uses_roles else "")


def perpetrator_counts(
    con: duckdb.DuckDBPyConnection, by: list[str], scope: Scope = EVERYTHING, min_cell: int = 5
) -> list[CountCell]:
    """Distinct perpetrators per combination of ``by`` (the year is the registration year),
    small cells and the cells that would reveal them withheld, as for victims."""
    if min_cell < 1:
        raise QueryError("--min-cell must be at least 1 (1 turns suppression off)")
    where, params = scope.where("p")
    counts = cube_counts(
        con, [PERPETRATOR_DIMENSIONS[d] for d in by], source_for(by), where, params, "p.perpetrator_key"
    )
    return protect_counts(counts, min_cell)
