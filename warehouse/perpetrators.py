"""Perpetrator profiles: counts of distinct perpetrators by dimension, small cells
suppressed as victims' are. A perpetrator with several roles counts once under each."""

from __future__ import annotations

import re

import duckdb

from warehouse.queries import CountCell, QueryError, suppress_small_cells

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
    dims = [d.strip() for d in text.split(",") if d.strip()]
    unknown = [d for d in dims if d not in PERPETRATOR_DIMENSIONS]
    if not dims or unknown or len(set(dims)) != len(dims):
        raise QueryError(f"--by takes distinct dimensions from: {', '.join(PERPETRATOR_DIMENSIONS)}")
    return dims


def perpetrator_counts(
    con: duckdb.DuckDBPyConnection,
    by: list[str],
    country: str | None = None,
    year_from: int | None = None,
    year_to: int | None = None,
    min_cell: int = 5,
) -> list[CountCell]:
    """Distinct perpetrators per combination of ``by`` (the year is the registration year)."""
    if min_cell < 1:
        raise QueryError("--min-cell must be at least 1 (1 turns suppression off)")
    uses_roles = any(re.search(r"\br\.", PERPETRATOR_DIMENSIONS[d]) for d in by)
    join = " JOIN mart_perpetrator_role r USING (perpetrator_key)" if uses_roles else ""
    where, params = ["TRUE"], []
    if country:
        where.append("p.country = ?")
        params.append(country)
    if year_from is not None:
        where.append(f"p.year >= {int(year_from)}")
    if year_to is not None:
        where.append(f"p.year <= {int(year_to)}")
    group = ", ".join(str(i + 1) for i in range(len(by)))
    selected = ", ".join(f"{PERPETRATOR_DIMENSIONS[d]} AS {d}" for d in by)
    sql = (
        f"SELECT {selected}, count(DISTINCT p.perpetrator_key) FROM mart_perpetrators p{join}"
        f" WHERE {' AND '.join(where)} GROUP BY {group} ORDER BY {group}"
    )
    cells = []
    for *key, count in con.execute(sql, params).fetchall():
        shown, suppressed = suppress_small_cells(int(count), min_cell)
        cells.append(CountCell(tuple(key), shown, suppressed))
    return cells
