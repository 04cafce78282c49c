"""The query layer analysts use: victim counts by dimension, with small cells suppressed.

Queries run on a read-only connection to the marts; nothing here can change the data.
"""

from __future__ import annotations

import re
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
    # Modus operandi (marts in 035_modus_operandi.sql and 045_perpetrator_marts.sql).
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
    "e": "JOIN mart_victim_exploitation e USING (person_key)",
    "mc": "JOIN mart_victim_control mc USING (person_key)",
    "mt": "JOIN mart_victim_travel mt USING (person_key)",
    "mm": "JOIN mart_victim_communication mm USING (person_key)",
    "mo": "JOIN mart_victim_modus_operandi mo USING (person_key)",
    "p": "LEFT JOIN mart_case_links vp USING (person_key)"
    " LEFT JOIN mart_perpetrators p ON p.perpetrator_key = vp.perpetrator_key",
}


def joins_for(dimensions: list[str]) -> str:
    """The joins onto mart_victims v that the dimensions' expressions need."""
    aliases = {a for d in dimensions for a in re.findall(r"\b([a-z]+)\.", DIMENSIONS[d])}
    return "".join(f" {JOINS[a]}" for a in JOINS if a in aliases)


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
    join = joins_for(by)
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
