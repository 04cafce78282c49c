"""Trends: the share of each category of a dimension per period and country, its change
against the previous period, and a flag where the change is more than chance.

Victim numbers are small (tens a year per country), so a change of share is tested with
Fisher's exact test on the 2x2 table (in the category or not, this period or the last),
which is exact for any count: "2 of 20, then 9 of 20" is flagged (p = 0.03), "5 of 20,
then 6 of 20" is not (p = 1). On large tables (every expected count of the 2x2 table
at least APPROXIMATE_FROM, far above this region's volume) the exact test costs
milliseconds a cell, and the chi-square test with Yates' correction is used instead: on
random tables of that size its flag differs from the exact test's about once in 2,000.
Many cells are tested at once, so about one in twenty unchanged categories is flagged by
chance at the default level: a flag points analysts at a cell to look into, it does not
prove a trend.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import duckdb
from scipy.stats import fisher_exact

from warehouse.perturbation import BeyondTheGrid, Perturbation, shown_grid, victim_grid
from warehouse.queries import DIMENSIONS, QueryError, joins_for, period_filters, person_counts, suppress_small_cells
from warehouse.suppression import TOTAL

PERIODS = {
    "year": "CAST(v.year AS VARCHAR)",
    "quarter": "printf('%04d-Q%d', v.year, (v.month - 1) // 3 + 1)",
}
REGION = "ALL"  # the country of the rows that add up the six reporting countries
# Dimensions where one victim can count under several categories: their cells do not add
# up to the period's total, so no cell can be worked out from the others.
MULTI_VALUED = frozenset(
    {
        "exploitation",
        "means_of_control",
        "means_of_travel",
        "means_of_communication",
        "perpetrator_structure",
        "perpetrator_relation",
    }
)
_NOT_TRENDS = frozenset({"year", "month", "country"})


@dataclass(frozen=True)
class TrendCell:
    period: str
    country: str
    category: str
    victims: int | None  # None when suppressed
    share: float | None  # of the period's victims in that country; None when suppressed
    change: float | None  # share minus the previous period's; None if either is suppressed or absent
    flagged: bool  # the change is significant at the chosen level
    p_value: float | None  # Fisher's exact test, two-sided; None where change is None
    direction: str  # up, down, or '' when not flagged
    period_victims: int | None  # victims of the period and country (None when under the threshold)
    suppressed: bool


def previous_period(period: str) -> str:
    """The period before: 2023 -> 2022, 2023-Q1 -> 2022-Q4."""
    if "-Q" in period:
        year, quarter = (int(p) for p in period.split("-Q"))
        return f"{year - 1}-Q4" if quarter == 1 else f"{year}-Q{quarter - 1}"
    return str(int(period) - 1)


# The smallest expected count of the 2x2 table from which the chi-square test is used.
APPROXIMATE_FROM = 500


def change_test(before: int, before_total: int, now: int, now_total: int) -> float:
    """Two-sided p-value that the share did not change: Fisher's exact test, or its
    chi-square approximation with Yates' correction on large tables."""
    a, b, c, d = before, before_total - before, now, now_total - now
    n = a + b + c + d
    smallest_expected = min(a + b, c + d) * min(a + c, b + d) / n if n else 0
    if smallest_expected < APPROXIMATE_FROM:
        return float(fisher_exact([[a, b], [c, d]]).pvalue)
    return yates_chi_square(a, b, c, d)


def yates_chi_square(a: int, b: int, c: int, d: int) -> float:
    """Two-sided p-value of the chi-square test with Yates' correction of [[a, b], [c, d]]."""
    n = a + b + c + d
    margins = (a + b) * (c + d) * (a + c) * (b + d)
    if margins == 0:  # a row or column empty: nothing can have changed
        return 1.0
    statistic = n * max(0.0, abs(a * d - b * c) - n / 2) ** 2 / margins
    return math.erfc(math.sqrt(statistic / 2))  # the chi-square survival function at 1 df


def parse_filters(text: str | None) -> dict[str, str]:
    """``age_group=minor,sex=M`` -> {"age_group": "minor", "sex": "M"}."""
    filters: dict[str, str] = {}
    for part in (p.strip() for p in (text or "").split(",") if p.strip()):
        name, _, value = part.partition("=")
        name, value = name.strip(), value.strip()
        if name not in DIMENSIONS or not value:
            raise QueryError(f"--filter needs DIMENSION=VALUE with a dimension from: {', '.join(DIMENSIONS)}")
        filters[name] = value
    return filters


def trend_cells(
    con: duckdb.DuckDBPyConnection,
    dimension: str,
    country: str | None = None,
    period: str = "year",
    min_cell: int = 5,
    filters: dict[str, str] | None = None,
    alpha: float = 0.05,
    year_from: int | None = None,
    year_to: int | None = None,
    protection: Perturbation | None = None,
) -> list[TrendCell]:
    """Trend rows for each period, country (and the region as ``ALL`` when no country is
    asked for) and category of ``dimension``; from protected counts when ``protection``
    is given (tested as shown, so nothing exact leaves through a p-value)."""
    if dimension not in DIMENSIONS or dimension in _NOT_TRENDS:
        choices = ", ".join(d for d in DIMENSIONS if d not in _NOT_TRENDS)
        raise QueryError(f"unknown trend dimension {dimension!r}; choose from {choices}")
    if period not in PERIODS:
        raise QueryError("--period is year or quarter")
    if min_cell < 1:
        raise QueryError("--min-cell must be at least 1 (1 turns suppression off)")
    filters = filters or {}
    if protection is not None:
        if period != "year" or len(filters) > 1:
            raise BeyondTheGrid("protected trends are by year with one --filter dimension at most")
        shown_counts, shown_totals = _protected_counts(con, dimension, country, filters, year_from, year_to, protection)
        counts = {k: n or 0 for k, n in shown_counts.items()}
        totals = {k: n or 0 for k, n in shown_totals.items()}
        withheld = {k for k, n in shown_counts.items() if n is None}
        withheld_totals = {k for k, n in shown_totals.items() if n is None}
    elif period == "year" and not filters:
        counts, totals = _yearly_counts(con, dimension, country, year_from, year_to)
    else:
        counts, totals = _period_counts(con, dimension, country, period, filters, year_from, year_to)

    cells: list[TrendCell] = []
    countries = sorted({c for _, c in totals}, key=lambda c: (c == REGION, c))
    multi = dimension in MULTI_VALUED
    for c in countries:
        categories = sorted({cat for (_, cc, cat) in counts if cc == c})
        periods = sorted(p for (p, cc) in totals if cc == c)
        per_period = {p: {cat: counts.get((p, c, cat), 0) for cat in categories} for p in periods}
        if protection is not None:  # withheld once, on the grid (warehouse/perturbation.py)
            hidden = {p: set(categories) if (p, c) in withheld_totals else
                      {cat for cat in categories if (p, c, cat) in withheld} for p in periods}  # fmt: skip
        else:
            hidden = {p: _hidden_cells(per_period[p], min_cell, multi) for p in periods}
        for p in periods:
            total, before = totals[(p, c)], previous_period(p)
            before_total = totals.get((before, c), 0)
            for category in categories:
                n = per_period[p][category]
                before_n = counts.get((before, c, category), 0)
                is_hidden = category in hidden[p]
                comparable = bool(before_total) and not is_hidden and category not in hidden.get(before, set())
                # Protected counts are tested as shown; a withheld one is not tested at all.
                testable = comparable if protection is not None else bool(before_total) and bool(total)
                p_value = change_test(before_n, before_total, n, total) if testable else None
                flagged = p_value is not None and p_value < alpha
                total_hidden = (p, c) in withheld_totals if protection is not None else _hidden(total, min_cell)
                cells.append(
                    TrendCell(
                        period=p,
                        country=c,
                        category=category,
                        victims=None if is_hidden else n,
                        share=None if is_hidden or not total else n / total,
                        change=(n / total - before_n / before_total) if comparable and total else None,
                        flagged=flagged,
                        p_value=p_value if comparable else None,
                        direction=("up" if n / total > before_n / before_total else "down") if flagged else "",
                        period_victims=None if total_hidden else total,
                        suppressed=is_hidden,
                    )
                )
    return cells


def _protected_counts(
    con: duckdb.DuckDBPyConnection,
    dimension: str,
    country: str | None,
    filters: dict[str, str],
    year_from: int | None,
    year_to: int | None,
    protection: Perturbation,
) -> tuple[dict[tuple[str, str, str], int | None], dict[tuple[str, str], int | None]]:
    """Shown counts per (year, country, category) and per (year, country) from the grid
    year x country x dimension (x the filter's dimension): the cells every other
    protected output shows, so a trend tells nothing a count does not."""
    dims = [dimension, *(d for d in filters if d != dimension)]  # two at most: trend_cells checked
    shown = shown_grid(victim_grid(con, dims), protection)
    counts: dict[tuple[str, str, str], int | None] = {}
    totals: dict[tuple[str, str], int | None] = {}
    for (year, c, category, *rest), value in shown.items():
        if any(str(v) != filters[d] for d, v in zip(dims[1:], rest, strict=True)):
            continue
        if (year_from is not None and year < year_from) or (year_to is not None and year > year_to):  # type: ignore[operator]
            continue
        if country and c != country:
            continue
        key = (str(year), REGION if c == TOTAL else str(c))
        if category == TOTAL:
            totals[key] = value
        else:
            counts[(*key, str(category))] = value
    # Perturbed apart, a category may show more than its total: a share is at most 1.
    for (year, c, category), value in counts.items():
        total = totals.get((year, c))
        if value is not None and total is not None:
            counts[(year, c, category)] = min(value, total)
    return counts, totals


def _yearly_counts(
    con: duckdb.DuckDBPyConnection, dimension: str, country: str | None, year_from: int | None, year_to: int | None
) -> tuple[dict[tuple[str, str, str], int], dict[tuple[str, str], int]]:
    """Victims per (year, country, category) and per (year, country), the region as
    ``ALL``: the margins of one count by year, country and the dimension, which the
    query layer answers from its pre-aggregated marts."""
    counts: dict[tuple[str, str, str], int] = {}
    totals: dict[tuple[str, str], int] = {}
    for (year, c, category), n in person_counts(
        con, ["year", "country", dimension], country, year_from, year_to
    ).items():
        if year == TOTAL or (country and c == TOTAL):
            continue
        key = (str(year), REGION if c == TOTAL else str(c))
        if category == TOTAL:
            totals[key] = n
        else:
            counts[(*key, str(category))] = n
    return counts, totals


def _period_counts(
    con: duckdb.DuckDBPyConnection,
    dimension: str,
    country: str | None,
    period: str,
    filters: dict[str, str],
    year_from: int | None,
    year_to: int | None,
) -> tuple[dict[tuple[str, str, str], int], dict[tuple[str, str], int]]:
    """The same for quarters or a filtered population, counted directly."""
    where, params = period_filters("v", country, year_from, year_to)
    for name, value in filters.items():
        where.append(f"CAST({DIMENSIONS[name]} AS VARCHAR) = ?")
        params.append(value)
    filter_joins = joins_for(list(filters))
    both_joins = joins_for([dimension, *filters])
    condition = " AND ".join(where)
    counts: dict[tuple[str, str, str], int] = {}
    totals: dict[tuple[str, str], int] = {}
    for country_expr in ["v.country"] + ([] if country else [f"'{REGION}'"]):
        for p, c, category, n in con.execute(
            f"SELECT {PERIODS[period]}, {country_expr}, CAST({DIMENSIONS[dimension]} AS VARCHAR),"
            f" count(DISTINCT v.person_key) FROM mart_victims v{both_joins} WHERE {condition} GROUP BY 1, 2, 3",
            params,
        ).fetchall():
            counts[(p, c, category)] = int(n)
        for p, c, n in con.execute(
            f"SELECT {PERIODS[period]}, {country_expr}, count(DISTINCT v.person_key)"
            f" FROM mart_victims v{filter_joins} WHERE {condition} GROUP BY 1, 2",
            params,
        ).fetchall():
            totals[(p, c)] = int(n)

    return counts, totals


def _hidden(count: int, min_cell: int) -> bool:
    # A zero is shown: it says no one was recorded, and hides nobody.
    return count > 0 and suppress_small_cells(count, min_cell)[1]


def _hidden_cells(counts: dict[str, int], min_cell: int, multi_valued: bool) -> set[str]:
    """The categories of one period and country to suppress."""
    hidden = {category for category, n in counts.items() if _hidden(n, min_cell)}
    if len(hidden) == 1 and not multi_valued:
        # One hidden cell of a dimension whose cells add up to the total could be worked
        # out from the total and the others: hide the next smallest as well.
        shown = sorted((n, category) for category, n in counts.items() if category not in hidden and n > 0)
        if shown:
            hidden.add(shown[0][1])
    return hidden
