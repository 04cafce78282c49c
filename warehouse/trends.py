"""Trends: the share of each category of a dimension per period and country, its change
against the previous period, the trend over the whole series, and a flag where either is
more than chance after false-discovery control.

Victim numbers are small (tens a year per country), so a change of share is tested with
Fisher's exact test on the 2x2 table (in the category or not, this period or the last),
which is exact for any count. On large tables (every expected count of the 2x2 table at
least APPROXIMATE_FROM, far above this region's volume) the exact test costs
milliseconds a cell, and the chi-square test with Yates' correction is used instead: on
random tables of that size its flag differs from the exact test's about once in 2,000.

A slow shift is missed by steps between adjacent periods, so each category's series is
tested as a whole too (warehouse/trend_tests.py: Cochran-Armitage, and a binomial slope
with its interval); its figures repeat on every row of the series. All the p-values of
one query are adjusted together (Benjamini-Hochberg): a row is flagged when its change or
its series has a q-value under the level.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, replace
from typing import TypeVar

import duckdb
from scipy.stats import fisher_exact

from disclosure.perturbation import Perturbation, shown_grid
from disclosure.suppression import TOTAL
from transforms.contract import VICTIMS
from warehouse.protected_counts import BeyondTheGrid, victim_grid
from warehouse.queries import (
    DIMENSIONS,
    EVERYTHING,
    QueryError,
    Scope,
    joins_for,
    person_counts,
    suppress_small_cells,
)
from warehouse.trend_tests import TREND_TEST, SeriesTrend, adjusted, ears_alarms, series_trend

N = TypeVar("N", int, int | None)  # a count, or a shown count (None: withheld)

PERIODS = {
    "year": "CAST(v.year AS VARCHAR)",
    "quarter": "printf('%04d-Q%d', v.year, (v.month - 1) // 3 + 1)",
}
REGION = "ALL"  # the country of the rows that add up the six reporting countries
# Dimensions where one victim can count under several categories: their cells do not add
# up to the period's total, so no cell can be worked out from the others.
MULTI_VALUED = VICTIMS.multi_valued_dimensions() | {"perpetrator_structure", "perpetrator_relation"}
_NOT_TRENDS = frozenset({"year", "month", "country"})


@dataclass(frozen=True)
class TrendCell:
    period: str
    country: str
    category: str
    victims: int | None  # None when suppressed
    share: float | None  # of the period's victims in that country; None when suppressed
    change: float | None  # share minus the previous period's; None if either is suppressed or absent
    flagged: bool  # the change or the series' trend is significant after false-discovery control
    p_value: float | None  # the change's test (Fisher's exact), two-sided; None where change is None
    direction: str  # up, down, or '' when not flagged
    period_victims: int | None  # victims of the period and country (None when under the threshold)
    suppressed: bool
    # The change's p-value adjusted with the query's others (Benjamini-Hochberg).
    q_value: float | None = None
    # The series' trend (warehouse/trend_tests.py), the same on each row of the series.
    test: str = ""  # cochran-armitage, or '' where the series cannot be tested
    slope: float | None = None  # log-odds of the share per period (per year, or per quarter)
    slope_low: float | None = None  # 95 % interval
    slope_high: float | None = None
    trend_p_value: float | None = None
    trend_q_value: float | None = None
    change_flagged: bool = False  # flagged by the change's own test
    trend_flagged: bool = False  # flagged by the series' test
    # EARS C1-C3 alarms on the count against the country's seven periods before
    # (warehouse/trend_tests.py): thresholds, beside the tests, outside their control.
    alarm: str = ""


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
    scope: Scope = EVERYTHING,
    period: str = "year",
    min_cell: int = 5,
    filters: dict[str, str] | None = None,
    alpha: float = 0.05,
    protection: Perturbation | None = None,
) -> list[TrendCell]:
    """Trend rows for each period, country (and the region as ``ALL`` when the scope is
    not one country) and category of ``dimension``. With ``protection``: protected counts and
    shares, and the flags of tests run on the exact counts (no p-value, q-value or slope,
    which would carry the exact counts out)."""
    if dimension not in DIMENSIONS or dimension in _NOT_TRENDS:
        choices = ", ".join(d for d in DIMENSIONS if d not in _NOT_TRENDS)
        raise QueryError(f"unknown trend dimension {dimension!r}; choose from {choices}")
    if period not in PERIODS:
        raise QueryError("--period is year or quarter")
    if min_cell < 1:
        raise QueryError("--min-cell must be at least 1 (1 turns suppression off)")
    filters = filters or {}
    multi = dimension in MULTI_VALUED
    if period == "year" and not filters:
        counts, totals = _yearly_counts(con, dimension, scope)
    else:
        counts, totals = _period_counts(con, dimension, scope, period, filters)
    if protection is None:
        return assess(counts, totals, multi, min_cell, alpha)
    if period != "year" or len(filters) > 1:
        raise BeyondTheGrid("protected trends are by year with one --filter dimension at most")
    shown_counts, shown_totals = _protected_counts(con, dimension, scope, filters, protection)
    shown = assess(
        {k: n or 0 for k, n in shown_counts.items()},
        {k: n or 0 for k, n in shown_totals.items()},
        multi,
        min_cell,
        alpha,
        protected_as=(
            {k for k, n in shown_counts.items() if n is None},
            {k for k, n in shown_totals.items() if n is None},
        ),
    )
    # The tests run on the exact counts, inside the hub; what leaves is the flags (and
    # alarms) of the cells shown, beside their protected counts and shares: no p-value,
    # q-value or slope, which are functions of the exact counts.
    tested = {(c.period, c.country, c.category): c for c in assess(counts, totals, multi, 1, alpha)}
    return [_flags_only(cell, tested.get((cell.period, cell.country, cell.category))) for cell in shown]


def _flags_only(shown: TrendCell, exact: TrendCell | None) -> TrendCell:
    """A protected cell (untested: no p-value, q-value or slope) with the flags its exact
    counterpart earned, and nothing more."""
    earned = exact if exact is not None and not shown.suppressed else None
    return replace(
        shown,
        flagged=earned.flagged if earned else False,
        change_flagged=earned.change_flagged if earned else False,
        trend_flagged=earned.trend_flagged if earned else False,
        direction=earned.direction if earned else "",
        alarm=earned.alarm if earned else "",
        test=exact.test if exact is not None else "",
    )


def assess(
    counts: dict[tuple[str, str, str], int],
    totals: dict[tuple[str, str], int],
    multi: bool,
    min_cell: int,
    alpha: float,
    protected_as: tuple[set[tuple[str, str, str]], set[tuple[str, str]]] | None = None,
) -> list[TrendCell]:
    """The trend rows of counts per (period, country, category) and totals per (period,
    country): shares, changes, series trends, tests and flags. ``protected_as``: the
    withheld cells and totals, when the counts are protected ones: then shares and
    changes only, untested (the tests run on the exact counts, ``trend_cells``)."""
    withheld, withheld_totals = protected_as or (set(), set())
    cells: list[TrendCell] = []
    series: dict[tuple[str, str], tuple[list[float], list[int], list[int]]] = {}
    countries = sorted({c for _, c in totals}, key=lambda c: (c == REGION, c))
    for c in countries:
        categories = sorted({cat for (_, cc, cat) in counts if cc == c})
        periods = sorted(p for (p, cc) in totals if cc == c)
        per_period = {p: {cat: counts.get((p, c, cat), 0) for cat in categories} for p in periods}
        if protected_as is not None:  # withheld once, on the grid (disclosure/perturbation.py)
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
                testable = protected_as is None and bool(before_total) and bool(total)
                p_value = change_test(before_n, before_total, n, total) if testable else None
                if protected_as is None:
                    steps, ns, ts = series.setdefault((c, category), ([], [], []))
                    steps.append(_step(p))
                    ns.append(n)
                    ts.append(total)
                total_hidden = (p, c) in withheld_totals if protected_as is not None else _hidden(total, min_cell)
                cells.append(
                    TrendCell(
                        period=p,
                        country=c,
                        category=category,
                        victims=None if is_hidden else n,
                        share=None if is_hidden or not total else n / total,
                        change=(n / total - before_n / before_total) if comparable and total else None,
                        flagged=False,
                        # Where the change is not shown, neither is its test (the flag is).
                        p_value=p_value if comparable else None,
                        # The change's sense, kept for the flag decided below.
                        direction=("up" if n / total > before_n / before_total else "down")
                        if p_value is not None
                        else "",
                        period_victims=None if total_hidden else total,
                        suppressed=is_hidden,
                        q_value=p_value,  # adjusted below, with every other test of the query
                    )
                )
    if protected_as is not None:
        return cells
    return _with_alarms(_controlled(cells, series, alpha))


def _with_alarms(cells: list[TrendCell]) -> list[TrendCell]:
    """Each shown cell with the EARS alarms of its count, over every period between the
    country's first and last (a period without victims counts 0)."""
    shown: dict[tuple[str, str], dict[str, int | None]] = {}
    for cell in cells:
        shown.setdefault((cell.country, cell.category), {})[cell.period] = cell.victims
    alarms: dict[tuple[str, str, str], str] = {}
    for (country, category), by_period in shown.items():
        periods = _periods_between(min(by_period, key=_step), max(by_period, key=_step))
        history = [by_period.get(p, 0) for p in periods]
        for period, alarm in zip(periods, ears_alarms(history), strict=True):
            alarms[(country, category, period)] = alarm
    return [
        replace(cell, alarm=alarms.get((cell.country, cell.category, cell.period), "")) if not cell.suppressed else cell
        for cell in cells
    ]


def _periods_between(first: str, last: str) -> list[str]:
    """Every period from ``first`` to ``last``, both included."""
    periods = [last]
    while periods[-1] != first:
        periods.append(previous_period(periods[-1]))
    return periods[::-1]


def _step(period: str) -> float:
    """A period's place on one scale: the year, or the quarter counted from year 0."""
    if "-Q" in period:
        year, quarter = (int(part) for part in period.split("-Q"))
        return year * 4 + quarter - 1
    return float(period)


def _controlled(
    cells: list[TrendCell], series: dict[tuple[str, str], tuple[list[float], list[int], list[int]]], alpha: float
) -> list[TrendCell]:
    """Test each series, adjust every p-value of the query together, flag what remains."""
    trends = {key: series_trend(*values) for key, values in series.items()}
    tested = [(key, t) for key, t in trends.items() if t is not None]
    changes = [i for i, cell in enumerate(cells) if cell.q_value is not None]
    q_values = adjusted([t.p_value for _, t in tested] + [cells[i].q_value or 1.0 for i in changes])
    trend_q = {key: q for (key, _), q in zip(tested, q_values, strict=False)}
    change_q = dict(zip(changes, q_values[len(tested) :], strict=True))
    out = []
    for i, cell in enumerate(cells):
        trend = trends.get((cell.country, cell.category))
        q = change_q.get(i)
        series_q = trend_q.get((cell.country, cell.category))
        change_flag = q is not None and q < alpha
        trend_flag = series_q is not None and series_q < alpha
        direction = cell.direction if change_flag else _trend_direction(trend) if trend_flag else ""
        out.append(
            replace(
                cell,
                flagged=change_flag or trend_flag,
                change_flagged=change_flag,
                trend_flagged=trend_flag,
                direction=direction,
                q_value=q if cell.p_value is not None else None,
                test=TREND_TEST if trend is not None else "",
                slope=trend.slope if trend else None,
                slope_low=trend.slope_low if trend else None,
                slope_high=trend.slope_high if trend else None,
                trend_p_value=trend.p_value if trend else None,
                trend_q_value=series_q,
            )
        )
    return out


def _trend_direction(trend: SeriesTrend | None) -> str:
    if trend is None or trend.slope is None:
        return ""
    return "up" if trend.slope > 0 else "down"


def _protected_counts(
    con: duckdb.DuckDBPyConnection,
    dimension: str,
    scope: Scope,
    filters: dict[str, str],
    protection: Perturbation,
) -> tuple[dict[tuple[str, str, str], int | None], dict[tuple[str, str], int | None]]:
    """Shown counts per (year, country, category) and per (year, country) from the grid
    year x country x dimension (x the filter's dimension): the cells every other
    protected output shows, so a trend tells nothing a count does not."""
    dims = [dimension, *(d for d in filters if d != dimension)]  # two at most: trend_cells checked
    shown = shown_grid(victim_grid(con, dims), protection)
    counts, totals = _split_totals(
        ((year, c, category), value)
        for (year, c, category, *rest), value in shown.items()
        if all(str(v) == filters[d] for d, v in zip(dims[1:], rest, strict=True))
        and scope.covers_year(year)
        and not (scope.country and c != scope.country)
    )
    # Perturbed apart, a category may show more than its total: a share is at most 1.
    for (year, c, category), value in counts.items():
        total = totals.get((year, c))
        if value is not None and total is not None:
            counts[(year, c, category)] = min(value, total)
    return counts, totals


def _yearly_counts(
    con: duckdb.DuckDBPyConnection, dimension: str, scope: Scope
) -> tuple[dict[tuple[str, str, str], int], dict[tuple[str, str], int]]:
    """Victims per (year, country, category) and per (year, country), the region as
    ``ALL``: the margins of one count by year, country and the dimension, which the
    query layer answers from its pre-aggregated marts."""
    cells = person_counts(con, ["year", "country", dimension], scope).items()
    return _split_totals((k, n) for k, n in cells if k[0] != TOTAL and not (scope.country and k[1] == TOTAL))


def _split_totals(
    cells: Iterable[tuple[tuple[Hashable, ...], N]],
) -> tuple[dict[tuple[str, str, str], N], dict[tuple[str, str], N]]:
    """Cells keyed (year, country, category) as trends key them, apart from the cells
    of each year and country's total; the region's country (TOTAL) becomes ``ALL``."""
    counts: dict[tuple[str, str, str], N] = {}
    totals: dict[tuple[str, str], N] = {}
    for (year, c, category), value in cells:
        key: tuple[str, str] = (str(year), REGION if c == TOTAL else str(c))
        if category == TOTAL:
            totals[key] = value
        else:
            counts[(*key, str(category))] = value
    return counts, totals


def _period_counts(
    con: duckdb.DuckDBPyConnection,
    dimension: str,
    scope: Scope,
    period: str,
    filters: dict[str, str],
) -> tuple[dict[tuple[str, str, str], int], dict[tuple[str, str], int]]:
    """The same for quarters or a filtered population, counted directly."""
    where, params = scope.where("v")
    for name, value in filters.items():
        where.append(f"CAST({DIMENSIONS[name]} AS VARCHAR) = ?")
        params.append(value)
    filter_joins = joins_for(list(filters))
    both_joins = joins_for([dimension, *filters])
    condition = " AND ".join(where)
    counts: dict[tuple[str, str, str], int] = {}
    totals: dict[tuple[str, str], int] = {}
    for country_expr in ["v.country"] + ([] if scope.country else [f"'{REGION}'"]):
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
