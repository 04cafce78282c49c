"""The query layer analysts use: victim counts by dimension, with small cells suppressed.

Queries run on a read-only connection to the marts; nothing here can change the data.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

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
    "identified_by": "v.identified_by",
    "country_of_exploitation": "v.country_of_exploitation",
}


class QueryError(ValueError):
    """A query the user asked for cannot be run as asked."""


@dataclass(frozen=True)
class CountCell:
    key: tuple[str | int, ...]
    victims: int | None  # None when suppressed
    suppressed: bool


def parse_dimensions(text: str) -> list[str]:
    dims = [d.strip() for d in text.split(",") if d.strip()]
    if not dims:
        raise QueryError("--by needs at least one dimension")
    unknown = [d for d in dims if d not in DIMENSIONS]
    if unknown:
        raise QueryError(f"unknown dimension(s): {', '.join(unknown)}; choose from {', '.join(DIMENSIONS)}")
    if len(set(dims)) != len(dims):
        raise QueryError("a dimension appears twice in --by")
    return dims


def suppress_small_cells(count: int, min_cell: int) -> tuple[int | None, bool]:
    """A count as shown to analysts: counts below ``min_cell`` are withheld."""
    if count < min_cell:
        return None, True
    return count, False


def victim_counts(
    con: duckdb.DuckDBPyConnection,
    by: list[str],
    country: str | None = None,
    year_from: int | None = None,
    year_to: int | None = None,
    min_cell: int = 5,
) -> list[CountCell]:
    """Distinct victims per combination of ``by``; a victim with several exploitation
    forms counts once under each."""
    if min_cell < 1:
        raise QueryError("--min-cell must be at least 1 (1 turns suppression off)")
    selected = [f"{DIMENSIONS[d]} AS {d}" for d in by]
    join = " JOIN mart_victim_exploitation e USING (record_key)" if "exploitation" in by else ""
    where: list[str] = ["TRUE"]
    params: list[str | int] = []
    if country:
        where.append("v.country = ?")
        params.append(country)
    if year_from is not None:
        where.append("v.year >= ?")
        params.append(year_from)
    if year_to is not None:
        where.append("v.year <= ?")
        params.append(year_to)
    group = ", ".join(str(i + 1) for i in range(len(by)))
    sql = (
        f"SELECT {', '.join(selected)}, count(DISTINCT v.person_key) AS victims"
        f" FROM mart_victims v{join} WHERE {' AND '.join(where)}"
        f" GROUP BY {group} ORDER BY {group}"
    )
    cells = []
    for *key, count in con.execute(sql, params).fetchall():
        victims, suppressed = suppress_small_cells(int(count), min_cell)
        cells.append(CountCell(tuple(key), victims, suppressed))
    return cells
