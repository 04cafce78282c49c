"""The analyst's report: one self-contained HTML page of trends and modus operandi.

Charts are drawn by plotly.js, inlined once in the page, so it opens with no network.
Every chart has its table beside it; every count has small cells suppressed (shown as
"x", with the cells that would reveal them); shares are of the period's victims in that
country; a change is flagged where Fisher's exact test, and a series where the
Cochran-Armitage test, finds it unlikely to be chance after false-discovery control (see
warehouse/trends.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import plotly.graph_objects as go

from disclosure.perturbation import Perturbation
from reports.pages import Markup, render, table
from warehouse.protected_counts import perpetrator_cells, victim_cells
from warehouse.queries import CountCell
from warehouse.trends import REGION, TrendCell, trend_cells

BANNER = (
    "Information for analysis, not evidence: it supports investigations and policy"
    " and never replaces evidence gathered under national law."
)
# The trends the field research asks about: (title, dimension, filters).
TREND_QUERIES: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("exploitation", "exploitation", {}),
    ("exploitation of minors", "exploitation", {"age_group": "minor"}),
    ("age group", "age_group", {}),
    ("sex", "sex", {}),
    ("recruitment", "recruitment", {}),
    ("means of control", "means_of_control", {}),
    ("means of travel", "means_of_travel", {}),
    ("means of communication", "means_of_communication", {}),
    ("trafficking scope", "trafficking_scope", {}),
    ("perpetrator structure", "perpetrator_structure", {}),
)
MODUS_OPERANDI = ("means_of_control", "means_of_communication", "means_of_travel", "recruitment", "trafficking_scope")
PERPETRATOR_PROFILES = ("role", "structure", "sex", "citizenship", "relation_to_victim")
MAX_FLAGGED_SERIES = 12
MAX_ROUTES = 20


@dataclass(frozen=True)
class _Section:
    title: str
    intro: str
    parts: tuple[Markup, ...]


@dataclass
class _Page:
    """The page being written: plotly.js goes into the first chart only."""

    min_cell: int
    protection: Perturbation | None = None  # counts perturbed for a role not entitled to exact ones
    sections: list[_Section] = field(default_factory=list)
    charts: int = 0

    def chart(self, figure: go.Figure) -> Markup:
        self.charts += 1
        figure.update_layout(height=420, margin={"t": 50, "b": 40}, template="plotly_white")
        return Markup(
            figure.to_html(
                full_html=False,
                include_plotlyjs=self.charts == 1,
                div_id=f"chart-{self.charts}",
                config={"displaylogo": False, "responsive": True},
            )
        )

    def count(self, value: int | None) -> str:
        # "x", not "<N": a cell may be withheld to protect another, whatever its size.
        return "x" if value is None else str(value)

    def section(self, title: str, intro: str, *parts: Markup) -> None:
        self.sections.append(_Section(title, intro, parts))


def _table(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> Markup:
    return table(list(columns), [list(row) for row in rows])


def _flag(text: str) -> Markup:
    return Markup("<span class='flag'>{}</span>").format(text)


def _count_table(page: _Page, dims: Sequence[str], cells: Sequence[CountCell], counted: str = "victims") -> Markup:
    rows = [[*(str(k) for k in c.key), page.count(c.victims)] for c in cells]
    return _table([*dims, counted], rows)


def _bars(title: str, cells: Sequence[CountCell], x_axis: str, series_name: str) -> go.Figure:
    """Grouped bars: x from the first key, one series per value of the second."""
    figure = go.Figure()
    for series in sorted({str(c.key[1]) for c in cells}):
        shown = [c for c in cells if str(c.key[1]) == series]
        figure.add_bar(name=series, x=[str(c.key[0]) for c in shown], y=[c.victims for c in shown])
    figure.update_layout(title=title, barmode="group", xaxis_title=x_axis, legend_title=series_name)
    figure.update_xaxes(type="category")
    return figure


def _share(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def _victim_figures(
    page: _Page, con: duckdb.DuckDBPyConnection, title: str, by: list[str], legend: str
) -> list[Markup]:
    """A chart of victims by the two dimensions of ``by`` (bars along the first, coloured
    by the second, named ``legend``), and its table."""
    cells = victim_cells(con, by, min_cell=page.min_cell, protection=page.protection)
    return [page.chart(_bars(title, cells, by[0], legend)), _count_table(page, by, cells)]


def _regional_picture(page: _Page, con: duckdb.DuckDBPyConnection) -> None:
    page.section(
        "The regional picture over time",
        "Victims (distinct persons) by year of identification. A victim with several forms of "
        "exploitation counts once under each, so forms do not add up to the total.",
        *_victim_figures(page, con, "Victims by year and reporting country", ["year", "country"], "country"),
        *_victim_figures(page, con, "Victims by year and form of exploitation", ["year", "exploitation"],
                         "exploitation"),
        *_victim_figures(page, con, "Victims by year and age group", ["year", "age_group"], "age group"),
    )  # fmt: skip


def _by_country(page: _Page, con: duckdb.DuckDBPyConnection) -> None:
    page.section(
        "By country",
        "All years together, by reporting country.",
        *_victim_figures(page, con, "Victims by reporting country and form of exploitation",
                         ["country", "exploitation"], "exploitation"),
        *_victim_figures(page, con, "Victims by reporting country and sex", ["country", "sex"], "sex"),
        *_victim_figures(page, con, "Domestic and cross-border trafficking by country",
                         ["country", "trafficking_scope"], "scope"),
    )  # fmt: skip


def _flagged_shifts(page: _Page, con: duckdb.DuckDBPyConnection, alpha: float) -> None:
    flagged: list[tuple[str, TrendCell]] = []
    series: dict[tuple[str, str, str], list[TrendCell]] = {}
    for title, dimension, filters in TREND_QUERIES:
        cells = trend_cells(
            con, dimension, min_cell=page.min_cell, filters=filters, alpha=alpha, protection=page.protection
        )
        for cell in cells:
            series.setdefault((title, cell.country, cell.category), []).append(cell)
            if cell.change_flagged and not cell.suppressed:
                flagged.append((title, cell))
    flagged.sort(key=lambda item: (item[1].p_value if item[1].p_value is not None else 1.0, item[1].period))
    figure = go.Figure()
    drawn: list[tuple[str, str, str]] = []
    for title, cell in flagged:
        key = (title, cell.country, cell.category)
        if key in drawn or len(drawn) >= MAX_FLAGGED_SERIES:
            continue
        drawn.append(key)
        points = series[key]
        figure.add_scatter(
            name=f"{cell.country}: {cell.category} ({title})",
            x=[p.period for p in points],
            y=[p.share for p in points],
            mode="lines+markers",
        )
    figure.update_layout(
        title="Shares that moved significantly (flagged), over time", yaxis_tickformat=".0%", xaxis_title="year"
    )
    figure.update_xaxes(type="category")
    rows = [
        [
            cell.period,
            cell.country,
            title,
            cell.category,
            page.count(cell.victims),
            _share(cell.share),
            "" if cell.change is None else f"{cell.change:+.1%}",
            _flag(cell.direction),
            "" if cell.p_value is None else f"{cell.p_value:.3f}",
            "" if cell.q_value is None else f"{cell.q_value:.3f}",
        ]
        for title, cell in flagged
    ]
    page.section(
        "Shifts in trends and modus operandi",
        f"Each category's share of the period's victims, per country and for the region ({REGION}), against the "
        "year before, tested with Fisher's exact test (p); every p-value of a trend query is adjusted with the "
        f"others of the query (Benjamini-Hochberg, q), and a shift is flagged where q < {alpha} (an empty change "
        "means the year before is a suppressed cell). A flag is a lead to look into, not a finding.",
        page.chart(figure),
        _table(
            ["year", "country", "dimension", "category", "victims", "share", "change", "direction", "p", "q"],
            rows,
        ),
    )
    _sustained_trends(page, series, alpha)
    _alarms(page, series)


def _alarms(page: _Page, series: dict[tuple[str, str, str], list[TrendCell]]) -> None:
    """Counts that EARS finds high against the country's own seven periods before."""
    rows = [
        [c.period, country, title, category,
         page.count(c.victims), _flag(c.alarm)]
        for (title, country, category), cells in sorted(series.items())
        for c in cells
        if c.alarm
    ]  # fmt: skip
    page.section(
        "Alarms: counts high against their own history",
        "Each category's count per year is compared with the same country's seven years before it (EARS C1; C2 "
        "and C3 leave out the two years just before, so that a rise under way does not hide itself). An alarm "
        "is a threshold crossed (three standard deviations above the baseline's mean, the deviation taken as "
        "one victim at least), not a test: it takes no part in the false-discovery control. Series shorter "
        "than eight years raise none.",
        _table(["year", "country", "dimension", "category", "victims", "alarm"], rows)
        if rows
        else Markup("<p>No alarm in the years shown.</p>"),
    )


def _sustained_trends(page: _Page, series: dict[tuple[str, str, str], list[TrendCell]], alpha: float) -> None:
    """One row per series whose trend over the whole period is flagged after control."""
    rows = []
    for (title, country, category), cells in sorted(series.items()):
        first = cells[0]
        if not first.trend_flagged:
            continue
        interval = (
            "" if first.slope_low is None or first.slope_high is None
            else f"{math.exp(first.slope_low):.2f}-{math.exp(first.slope_high):.2f}"
        )  # fmt: skip
        rows.append(
            [
                country,
                title,
                category,
                _flag(first.direction),
                "" if first.slope is None else f"{math.exp(first.slope):.2f}",
                interval,
                f"{cells[0].period}-{cells[-1].period}",
                "" if first.trend_p_value is None else f"{first.trend_p_value:.4f}",
                "" if first.trend_q_value is None else f"{first.trend_q_value:.4f}",
            ]
        )
    page.section(
        "Sustained trends over the whole series",
        "A share that moves a little every year is missed by the year-on-year test. Each category's series is "
        "tested as a whole with the Cochran-Armitage test for a trend in proportions (p), adjusted with the "
        f"query's other tests (Benjamini-Hochberg, q); listed where q < {alpha}. The odds ratio per year is the "
        "binomial regression's slope: 1.20 means the odds of the category grow by a fifth a year (95 % interval "
        "beside; empty where the share goes from none to all and no finite slope exists).",
        _table(
            [
                "country",
                "dimension",
                "category",
                "direction",
                "odds ratio per year",
                "95 % interval",
                "years",
                "p",
                "q",
            ],
            rows,
        ),
    )


def _estimates(page: _Page, con: duckdb.DuckDBPyConnection) -> None:
    """Each country's multiple systems estimate, or why there is none."""
    from warehouse.estimate import ESTIMATE_ROUNDING, EstimateRefused, country_estimate, rounded

    def shown(value: float) -> str:
        return f"{value:.0f}" if page.protection is None else str(rounded(value))

    rows = []
    countries = [c for (c,) in con.execute("SELECT DISTINCT country FROM mart_victims ORDER BY country").fetchall()]
    # The recorded victims as `query counts --by country` shows them, when protected.
    protected: dict[object, int | None] = {}
    if page.protection is not None:
        by_country = victim_cells(con, ["country"], min_cell=page.min_cell, protection=page.protection)
        protected = {c.key[0]: c.victims for c in by_country}
    for country in countries:
        try:
            found = country_estimate(con, country)
        except EstimateRefused as refusal:
            rows.append([country, "", "", "", "", str(refusal).split(": ", 1)[-1]])
            continue
        recorded = str(found.observed) if page.protection is None else page.count(protected.get(country))
        rows.append(
            [
                country,
                recorded,
                Markup("<b>{}</b>").format(shown(found.estimate)),
                f"{shown(found.lower)}-{shown(found.upper)}",
                ", ".join(found.lists),
                ", ".join(f"{a}×{b}" for a, b in found.interactions) or "none",
            ]
        )
    rounding = (
        "" if page.protection is None else f" Estimates and intervals are rounded to the nearest {ESTIMATE_ROUNDING}."
    )
    page.section(
        "Estimated victims, those never identified included",
        "How many victims there are, not only how many were found: a multiple systems estimate from how the "
        "lists of the agencies that met each victim overlap (the exports' recorded_by), presumed and identified "
        "victims of all years. A Poisson log-linear model with a term for victims' differing visibility and the "
        "interactions between lists that AIC keeps; the 95 % interval is the profile likelihood's, widened to "
        "the models the data support nearly as well. It assumes a closed population, records linked without "
        "error and every victim within reach of every list; where visibility differs very strongly it is too "
        "low (docs/analyst.md gives its coverage on simulated populations)." + rounding,
        _table(["country", "recorded", "estimated", "95 % interval", "lists", "interactions between lists"], rows),
    )


def _modus_operandi(page: _Page, con: duckdb.DuckDBPyConnection) -> None:
    parts = []
    for dimension in MODUS_OPERANDI:
        cells = [
            c
            for c in trend_cells(con, dimension, min_cell=page.min_cell, protection=page.protection)
            if c.country == REGION
        ]
        figure = go.Figure()
        for category in sorted({c.category for c in cells}):
            points = [c for c in cells if c.category == category]
            figure.add_scatter(
                name=category, x=[c.period for c in points], y=[c.share for c in points], mode="lines+markers"
            )
        label = dimension.replace("_", " ")
        figure.update_layout(title=f"Region: share of victims by {label}", yaxis_tickformat=".0%")
        figure.update_xaxes(type="category")
        rows = [
            [c.period, c.category, page.count(c.victims), _share(c.share),
             "" if c.change is None else f"{c.change:+.1%}", "yes" if c.flagged else ""]
            for c in cells
        ]  # fmt: skip
        parts += [page.chart(figure), _table(["year", label, "victims", "share", "change", "flagged"], rows)]
    page.section(
        "Modus operandi over time (region)",
        "Shares of the region's victims each year. List dimensions (means of control, travel, "
        "communication) count a victim under each code recorded, so shares add up to more than 100%.",
        *parts,
    )


def _routes(page: _Page, con: duckdb.DuckDBPyConnection) -> None:
    cells = victim_cells(con, ["route"], min_cell=page.min_cell, protection=page.protection)
    shown = sorted(
        (c for c in cells if not c.suppressed and c.key[0] != "not_recorded"), key=lambda c: -(c.victims or 0)
    )
    top = shown[:MAX_ROUTES]
    figure = go.Figure()
    figure.add_bar(
        x=[c.victims for c in reversed(top)], y=[str(c.key[0]) for c in reversed(top)], orientation="h", name="victims"
    )
    figure.update_layout(title="Most frequent routes (recruited in > transit > exploited in)", xaxis_title="victims")
    hidden = sum(1 for c in cells if c.suppressed)
    page.section(
        "Routes between countries",
        f"Where victims were recruited, passed through and were exploited, all years. {hidden} routes with fewer "
        f"than {page.min_cell} victims are suppressed; a route whose two ends are the same country is domestic.",
        page.chart(figure),
        _count_table(page, ["route"], sorted(cells, key=lambda c: (c.suppressed, -(c.victims or 0), str(c.key[0])))),
    )


def _perpetrators(page: _Page, con: duckdb.DuckDBPyConnection) -> None:
    parts = []
    for dimension in PERPETRATOR_PROFILES:
        cells = perpetrator_cells(con, ["year", dimension], min_cell=page.min_cell, protection=page.protection)
        label = dimension.replace("_", " ")
        parts += [
            page.chart(_bars(f"Perpetrators by year of registration and {label}", cells, "year", label)),
            _count_table(page, ["year", dimension], cells, counted="perpetrators"),
        ]
    linked = perpetrator_cells(con, ["linked_to_victim"], min_cell=page.min_cell, protection=page.protection)
    page.section(
        "Perpetrator profiles",
        "Distinct perpetrators (suspected, charged, convicted or acquitted) by year of registration. A perpetrator "
        "with several roles counts once under each. Perpetrators are linked to victims of the same case by the "
        "pseudonymised case reference: " + ", ".join(f"{c.key[0]} {page.count(c.victims)}" for c in linked) + ".",
        *parts,
    )


def write_analysis_report(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    min_cell: int,
    alpha: float = 0.05,
    protection: Perturbation | None = None,
) -> Path:
    """Write the report to ``path``: one self-contained HTML file; its counts protected
    (disclosure/perturbation.py) when ``protection`` is given."""
    page = _Page(min_cell=min_cell, protection=protection)
    _regional_picture(page, con)
    _by_country(page, con)
    _flagged_shifts(page, con, alpha)
    _estimates(page, con)
    _modus_operandi(page, con)
    _routes(page, con)
    _perpetrators(page, con)
    document = render(
        "analysis.html.j2",
        banner=BANNER,
        min_cell=min_cell,
        noise_sd=protection.sd if protection else None,
        generated=f"{datetime.now(UTC):%Y-%m-%d %H:%M}",
        sections=page.sections,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document, encoding="utf-8")
    return path
