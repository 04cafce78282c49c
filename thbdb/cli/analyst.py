"""`thbdb` for regional analysts: queries (counts, links, trends, estimate, perpetrators),
the analysis report, exports, and checking a published table."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from exports.answer_tables import counts_csv
from thbdb.cli.common import (
    CountryOption,
    FormatOption,
    MinCellOption,
    OutputFormat,
    TokenOption,
    YearToOption,
    _ask,
    _fail,
    _print_rows,
    _save,
    _upper,
    app,
    err,
    out,
    query_app,
    report_app,
)


def _count_rows(answer: dict[str, Any], count: str, format: OutputFormat, title: str, every: str) -> None:
    """Count cells as CSV (dimensions, count, suppressed), JSON or a table."""
    dims: list[str] = answer["dimensions"]
    cells = answer["cells"]
    if format is OutputFormat.json:
        rows = [{**dict(zip(dims, c["key"], strict=True)), count: c["count"], "suppressed": c["suppressed"]}
                for c in cells]  # fmt: skip
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
    elif format is OutputFormat.csv:  # the browser's download is the same text (exports/answer_tables.py)
        sys.stdout.write(counts_csv(dims, cells, count))
    else:
        table = Table(*dims, count, title=title)
        for c in cells:
            table.add_row(*(str(k) for k in c["key"]), "<suppressed>" if c["suppressed"] else str(c["count"]))
        out.print(table)
        if any(c["suppressed"] for c in cells):
            secondary = sum(c["secondary"] for c in cells)
            err.print(
                f"cells under {answer['threshold']} {every} are suppressed (--min-cell)"
                + (f", and {secondary} more so that none can be recovered from the totals" if secondary else "")
            )


@query_app.command("counts")
def query_counts(
    by: Annotated[str, typer.Option("--by", help="Comma-separated dimensions, e.g. year,country.")],
    country: CountryOption = None,
    year_from: Annotated[int | None, typer.Option("--from", help="First year (identification).")] = None,
    year_to: YearToOption = None,
    min_cell: MinCellOption = None,
    format: FormatOption = OutputFormat.table,
    totals: Annotated[
        bool, typer.Option("--totals", help="Also show the totals of every dimension (the value 'total').")
    ] = False,
    token: TokenOption = None,
) -> None:
    """Victim counts (distinct persons) grouped by dimensions, small cells suppressed.

    Cells under the threshold are withheld, and so are the cells that would let a
    withheld one be recovered from a total (secondary suppression). Answered by the
    hub's release service, which decides what your token may receive.

    Dimensions: year, month, country, citizenship, sex, age_group, age_band,
    exploitation, recruitment, case_category, identified_by, country_of_exploitation,
    status (presumed or identified; without it a count adds both, withdrawn in neither);
    modus operandi: means_of_control, means_of_travel, means_of_communication,
    recruited_in, trafficking_scope (domestic, cross_border), route (recruited in >
    transit > exploited in), perpetrator_structure, perpetrator_relation (of the
    perpetrators linked to the victim's case). A victim with several codes of a list
    (exploitation, means of ..., perpetrators) counts once under each; one with none
    recorded counts under not_recorded.
    """
    answer = _ask(
        "query/counts",
        {"by": by, "country": _upper(country), "year_from": year_from, "year_to": year_to, "min_cell": min_cell,
         "totals": totals},
        token,
    )  # fmt: skip
    dims = answer["dimensions"]
    counted = "" if "status" in dims else f" ({COUNTED_STATUSES})"
    _count_rows(answer, "victims", format, f"Victims{counted} by {', '.join(dims)}", "victims")


@query_app.command("links")
def query_links(
    by: Annotated[str, typer.Option("--by", help="Comma-separated: pair, year, country.")] = "pair,year",
    country: Annotated[str | None, typer.Option("--country", help="Only persons found in this country.")] = None,
    year_from: Annotated[int | None, typer.Option("--from", help="First year (first identification).")] = None,
    year_to: YearToOption = None,
    min_cell: MinCellOption = None,
    format: FormatOption = OutputFormat.table,
    token: TokenOption = None,
) -> None:
    """Cross-border persons: victims that privacy-preserving linkage found in two or more
    countries, by country pair (e.g. MK-RS), year of first identification in the region,
    or country. A person in three countries counts under each of its pairs. Small cells
    are suppressed as in `query counts`; the total comes last (CSV and JSON: a row with
    every dimension set to `total`). Never exact for a national officer.
    """
    answer = _ask(
        "query/links",
        {"by": by, "country": _upper(country), "year_from": year_from, "year_to": year_to, "min_cell": min_cell},
        token,
    )
    dims = answer["dimensions"]
    answer["cells"][-1]["key"] = ["total"] * len(dims)  # the last cell is the total
    _count_rows(answer, "victims", format, f"Cross-border persons by {', '.join(dims)}", "persons")


class TrendPeriod(StrEnum):
    year = "year"
    quarter = "quarter"


# The contract's first seven columns, then the tests: the change's (p, q after control) and
# the series' (test, slope with its interval, p, q), the same on each row of a series.
# Which victims a count adds when status is neither a dimension nor a filter.
COUNTED_STATUSES = "presumed and identified"


TREND_COLUMNS = ["period", "country", "category", "victims", "share", "change", "flagged", "p_value", "direction",
                 "period_victims", "suppressed", "q_value", "test", "slope", "slope_low", "slope_high",
                 "trend_p_value", "trend_q_value", "alarm"]  # fmt: skip


_TREND_TABLE_COLUMNS = ["period", "country", "category", "victims", "share", "change", "flagged", "direction",
                        "alarm"]  # fmt: skip


_TREND_DIGITS = {"share": 4, "change": 4, "p_value": 4, "q_value": 4, "slope": 3, "slope_low": 3, "slope_high": 3,
                 "trend_p_value": 4, "trend_q_value": 4}  # fmt: skip


@query_app.command("trends")
def query_trends(
    dimension: Annotated[str, typer.Option("--dimension", help="The dimension, e.g. exploitation, means_of_control.")],
    country: Annotated[
        str | None, typer.Option("--country", help="Only this reporting country (default: each, and ALL).")
    ] = None,
    period: Annotated[TrendPeriod, typer.Option("--period", help="year or quarter.")] = TrendPeriod.year,
    filter: Annotated[
        str | None,
        typer.Option("--filter", help="Only victims with DIM=VALUE, comma-separated, e.g. age_group=minor."),
    ] = None,
    year_from: Annotated[int | None, typer.Option("--from", help="First year.")] = None,
    year_to: YearToOption = None,
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level of the flag.")] = 0.05,
    flagged_only: Annotated[bool, typer.Option("--flagged-only", help="Only flagged rows.")] = False,
    min_cell: MinCellOption = None,
    format: FormatOption = OutputFormat.table,
    token: TokenOption = None,
) -> None:
    """Share of each category of a dimension per period and country, its change against
    the previous period, the trend of the whole series, and a flag where either is
    unlikely to be chance after false-discovery control (q < --alpha).

    The change is tested with Fisher's exact test, the series with the Cochran-Armitage
    test (its slope: the log-odds of the share per period, with a 95 % interval); all the
    query's p-values are adjusted together (Benjamini-Hochberg). Without --country, rows
    for each reporting country and for the region (ALL). A suppressed cell has empty
    victims and share; a change is shown only when neither period's cell is suppressed.
    Beside the tests, `alarm` names the EARS methods (C1, C2, C3) that find the count
    high against the country's seven periods before. CSV columns: period, country,
    category, victims, share, change, flagged, then p_value, direction, period_victims,
    suppressed, q_value, test, slope, slope_low, slope_high, trend_p_value,
    trend_q_value, alarm.
    """
    answer = _ask(
        "query/trends",
        {"dimension": dimension, "country": _upper(country), "period": period.value, "filter": filter,
         "year_from": year_from, "year_to": year_to, "alpha": alpha, "min_cell": min_cell},
        token,
    )  # fmt: skip
    cells = [c for c in answer["rows"] if c["flagged"] or not flagged_only]
    if format is OutputFormat.json:
        sys.stdout.write(json.dumps([{k: c[k] for k in TREND_COLUMNS} for c in cells], indent=2) + "\n")
        return

    def shown(column: str, value: object) -> str:
        if value is None:
            return ""
        if isinstance(value, bool):
            return str(value).lower()
        if column in _TREND_DIGITS:
            return f"{value:.{_TREND_DIGITS[column]}f}"
        return str(value)

    # A terminal shows what moved and whether it is flagged; CSV and JSON carry the tests.
    columns = _TREND_TABLE_COLUMNS if format is OutputFormat.table else TREND_COLUMNS
    text_rows = [[shown(k, c.get(k)) for k in columns] for c in cells]
    if format is OutputFormat.table:
        for row in text_rows:
            row[3] = row[3] or "<suppressed>"
            row[6] = "FLAGGED" if row[6] == "true" else ""
    statuses = (filter or "").split("status=")[1].split(",")[0] if "status=" in (filter or "") else COUNTED_STATUSES
    counted = "" if dimension == "status" else f", {statuses} victims"
    _print_rows(columns, text_rows, format, title=f"Trends of {dimension} by {period.value}{counted}")


ESTIMATE_COLUMNS = ["country", "year_from", "year_to", "observed", "estimate", "lower", "upper", "lists", "model"]


@query_app.command("estimate")
def query_estimate(
    country: Annotated[str, typer.Option("--country", help="The reporting country whose victims are estimated.")],
    year_from: Annotated[int | None, typer.Option("--from", help="First year (identification).")] = None,
    year_to: YearToOption = None,
    format: FormatOption = OutputFormat.table,
    token: TokenOption = None,
) -> None:
    """How many victims there are, those never identified included: a multiple systems
    estimate from how the lists of the agencies that met each victim overlap (the
    export's recorded_by, v1.1), with its 95 % interval.

    A Poisson log-linear model with a term for victims' differing visibility and the
    interactions between lists that AIC keeps; the interval is the profile likelihood's.
    Counts presumed and identified victims. Exact for the admin and a national officer of
    its own --country; for anyone else the observed number is protected as in `query
    counts` and the estimate and interval are rounded to the nearest 10. Refused (exit
    2, with the reason) when the data cannot support an estimate: fewer than three
    lists, or too little overlap between them. JSON: an object with observed, estimate,
    lower, upper, lists, model, assumptions. docs/analyst.md says what it assumes and how
    it did on simulated populations of known size.
    """
    answer = _ask("query/estimate", {"country": country.upper(), "year_from": year_from, "year_to": year_to}, token)
    document = {k: v for k, v in answer.items() if k not in ("release", "identity")}
    if format is OutputFormat.json:
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
        return
    row = {**document, "lists": ";".join(document["lists"])}
    if format is OutputFormat.csv:
        _print_rows(ESTIMATE_COLUMNS, [["" if row[k] is None else str(row[k]) for k in ESTIMATE_COLUMNS]], format, "")
        return
    years = f"{year_from or 'first'}-{year_to or 'last'}" if year_from or year_to else "all years"
    table = Table("", "", title=f"Estimated victims of {row['country']}, {years} (presumed and identified)")
    observed = "<suppressed>" if row["observed"] is None else str(row["observed"])
    table.add_row("recorded", observed + ("" if answer.get("exact") else " (protected)"))
    rounded = "" if answer.get("exact") else " (rounded to 10)"
    table.add_row("estimated", f"{row['estimate']}{rounded}")
    table.add_row("95 % interval", f"{row['lower']} to {row['upper']}")
    table.add_row("lists", ", ".join(document["lists"]))
    table.add_row("model", row["model"])
    out.print(table)
    err.print("Assumes: " + "; ".join(document["assumptions"]) + ".")


@query_app.command("perpetrators")
def query_perpetrators(
    by: Annotated[str, typer.Option("--by", help="Comma-separated dimensions, e.g. year,role.")],
    country: CountryOption = None,
    year_from: Annotated[int | None, typer.Option("--from", help="First year (registration).")] = None,
    year_to: YearToOption = None,
    min_cell: MinCellOption = None,
    format: FormatOption = OutputFormat.table,
    token: TokenOption = None,
) -> None:
    """Perpetrator profiles: distinct perpetrators by dimensions, small cells suppressed.

    Dimensions: year, country, status, sex, citizenship, age_group, age_band, role,
    structure, relation_to_victim, linked_to_victim. One with several roles counts once
    under each. CSV: one column per dimension, then perpetrators, then suppressed.
    """
    answer = _ask(
        "query/perpetrators",
        {"by": by, "country": _upper(country), "year_from": year_from, "year_to": year_to, "min_cell": min_cell},
        token,
    )
    dims = answer["dimensions"]
    if format is OutputFormat.table:
        rows = [[*(str(k) for k in c["key"]), "<suppressed>" if c["suppressed"] else str(c["count"])]
                for c in answer["cells"]]  # fmt: skip
        _print_rows([*dims, "perpetrators"], rows, format, title=f"Perpetrators by {', '.join(dims)}")
    else:
        _count_rows(answer, "perpetrators", format, "", "perpetrators")


class ExportFormat(StrEnum):
    csv = "csv"
    parquet = "parquet"
    htcds = "htcds"
    dp_synthetic = "dp-synthetic"


@app.command("export")
def export(
    format: Annotated[
        ExportFormat,
        typer.Option("--format", help="csv or parquet (aggregate counts), htcds (microdata), dp-synthetic."),
    ],
    out_path: Annotated[
        Path, typer.Option("--out", help="csv, parquet: the folder to write into; htcds, dp-synthetic: the file.")
    ],
    min_cell: MinCellOption = None,
    k: Annotated[
        int | None, typer.Option("--k", min=2, help="htcds: k-anonymity (default: the policy's 11; lower: admin only).")
    ] = None,
    epsilon: Annotated[
        float, typer.Option("--epsilon", min=0.01, help="dp-synthetic: privacy loss (default 1.0, capped by policy).")
    ] = 1.0,
    token: TokenOption = None,
) -> None:
    """Export for other tools; nothing exported can single out a victim.

    csv, parquet: the marts' aggregate counts, one file per table (victims by year,
    country and each dimension; perpetrators by year, country and each profile
    dimension) plus manifest.json, small cells suppressed. Never record-level rows.
    htcds: public microdata, one row per victim in CTDC/HTCDS columns, k-anonymous
    (k = 11 by default) by generalising first and suppressing what remains.
    dp-synthetic: synthetic records drawn from a differentially private histogram
    (OpenDP Laplace mechanism) at the stated epsilon; no row is a real victim.
    """
    from release.client import files, write_files

    if min_cell is not None and min_cell < 1:
        raise _fail("--min-cell must be at least 1 (1 turns suppression off)")
    body: dict[str, object] = {"format": format.value, "min_cell": min_cell, "k": k}
    if format is ExportFormat.dp_synthetic:
        body["epsilon"] = epsilon
    answer = _ask("export", body, token)
    if format in (ExportFormat.csv, ExportFormat.parquet):
        write_files(answer, out_path)
        out.print(f"{answer['tables']} {format.value} tables and manifest.json written to {out_path}")
        return
    (data,) = files(answer).values()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(data)
    s = answer["summary"]
    if format is ExportFormat.dp_synthetic:
        out.print(
            f"{s['synthetic_records']} synthetic records (from {s['true_records']} victims) written"
            f" to {out_path} at epsilon {s['epsilon']}; noisy counts under {s['dropped_below']} dropped"
        )
        errors = ", ".join(f"{key} {value}" for key, value in s["marginal_error"].items())
        out.print(f"Mean absolute error of one-way counts against the true ones: {errors}", highlight=False)
        return
    out.print(
        f"{s['records_exported']} of {s['records']} victim records exported to {out_path}"
        f" (k = {s['k_required']}, smallest class {s['smallest_class']}; {s['records_suppressed']} suppressed)"
    )
    levels = ", ".join(f"{field} as {level}" for field, level in s["levels"].items())
    out.print(f"Generalised: {levels}", highlight=False)


@report_app.command("analysis")
def report_analysis(
    out_path: Annotated[
        Path | None, typer.Option("--out", help="The HTML file (default: $THBDB_HOME/reports/analysis.html).")
    ] = None,
    min_cell: MinCellOption = None,
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level of the trend flags.")] = 0.05,
    token: TokenOption = None,
) -> None:
    """Write the analyst report: one self-contained HTML file (charts inlined, no network
    needed) with the regional picture over time, by country, flagged shifts in trends and
    modus operandi, routes and perpetrator profiles, each chart with its table."""
    from release.client import files

    answer = _ask("report/analysis", {"min_cell": min_cell, "alpha": alpha}, token)
    if out_path is None:
        out_path = _save(answer, None, "analysis.html")
    else:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_bytes(files(answer)["analysis.html"])
    out.print(f"Analyst report: {out_path}")


@app.command("check-table")
def check_table(
    table: Annotated[Path, typer.Argument(help="A published table: country,year,dimension,category,victims.")],
    token: TokenOption = None,
) -> None:
    """Check a published aggregate table: rows whose parts do not add up to the total,
    and cells the warehouse does not reproduce. Exit 1 if the warehouse differs.

    Compared with exact counts for the administrator and for the national officer of
    the table's country; for anyone else with the protected counts, and cells the hub
    withholds are not compared."""
    from dataclasses import asdict

    from transforms.published_tables import TableRejected, read_published_table

    try:
        cells = read_published_table(table)
    except (TableRejected, FileNotFoundError) as error:
        raise _fail(f"{table.name}: {error}") from None
    answer = _ask("check-table", {"cells": [asdict(c) for c in cells]}, token)
    inconsistencies, differences = answer["inconsistencies"], answer["differences"]
    out.print(f"[bold]{table.name}[/]: {len(cells)} cells")
    out.print(f"Rows that do not add up within the published table: {len(inconsistencies)}")
    for item in inconsistencies:
        out.print(f"  {item['severity']}: {item['text']}", highlight=False)
    out.print(f"Cells the warehouse does not reproduce: {len(differences)}")
    for difference in differences:
        out.print(f"  {difference}", highlight=False)
    if answer["not_compared"]:
        out.print(f"Cells not compared (the warehouse's count is withheld for {answer['identity']}): "
                  f"{answer['not_compared']}")  # fmt: skip
    if differences:
        raise typer.Exit(1)
