"""Reports: the analyst's trend report and the data-protection officer's report.

Both read the warehouse read-only and show aggregates only; every count an analyst sees
has small cells suppressed; the data-protection report holds no personal value at all.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import plotly.graph_objects as go

from thbdb.privacy_report import measured_risk
from transforms.disclosure import load_policy
from warehouse.queries import CountCell, victim_counts

BANNER = (
    "Information for analysis, not evidence: it supports investigations and policy"
    " and never replaces evidence gathered under national law."
)


def _table_html(dims: list[str], cells: list[CountCell]) -> str:
    head = "".join(f"<th>{html.escape(d)}</th>" for d in dims) + "<th>victims</th>"
    body = "".join(
        "<tr>"
        + "".join(f"<td>{html.escape(str(k))}</td>" for k in c.key)
        + f"<td>{'&lt;suppressed&gt;' if c.suppressed else c.victims}</td></tr>"
        for c in cells
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def write_analysis_report(con: duckdb.DuckDBPyConnection, path: Path, min_cell: int) -> Path:
    """One self-contained HTML file: charts embedded, no network needed to view it."""
    sections = []
    include_js: bool | str = True  # plotly.js inlined once, in the first chart
    for title, dims in (
        ("Victims by year and reporting country", ["year", "country"]),
        ("Victims by year and exploitation form", ["year", "exploitation"]),
        ("Victims by year and age group", ["year", "age_group"]),
    ):
        cells = victim_counts(con, dims, min_cell=min_cell)
        figure = go.Figure()
        for series in sorted({str(c.key[1]) for c in cells}):
            shown = [c for c in cells if str(c.key[1]) == series]
            figure.add_bar(name=series, x=[c.key[0] for c in shown], y=[c.victims or 0 for c in shown])
        figure.update_layout(title=title, barmode="group", height=420)
        chart = figure.to_html(full_html=False, include_plotlyjs=include_js)
        include_js = False
        sections.append(f"<section><h2>{html.escape(title)}</h2>{chart}{_table_html(dims, cells)}</section>")
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>thbdb: regional trend report</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 8px}.banner{background:#fff3cd;padding:1em}</style></head><body>"
        f"<h1>Trafficking in human beings: regional trends</h1><p class='banner'>{html.escape(BANNER)}</p>"
        f"<p>Cells under {min_cell} victims are suppressed. Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.</p>"
        + "".join(sections)
        + "</body></html>"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def write_data_protection_report(
    con: duckdb.DuckDBPyConnection, directory: Path, min_cell: int = 5
) -> tuple[Path, Path]:
    """Validation results, quarantine reasons and disclosure risk: JSON and HTML."""
    validation = con.execute(
        "SELECT country, count(*), sum(events), sum(events_failed)"
        " FROM validation_runs GROUP BY country ORDER BY country"
    ).fetchall()
    quarantine = con.execute(
        "SELECT country, reasons, count(*) FROM quarantine GROUP BY ALL ORDER BY country, 3 DESC"
    ).fetchall()
    loads = con.execute("SELECT count(*), sum(events_loaded), sum(events_duplicate) FROM load_batches").fetchone()
    report = {
        "generated_at": datetime.now(UTC).isoformat(),
        "validation_by_country": [
            {"country": c, "runs": r, "events": int(e or 0), "events_failed": int(f or 0)} for c, r, e, f in validation
        ],
        "quarantine_reasons": [{"country": c, "reasons": r, "events": n} for c, r, n in quarantine],
        "loads": {
            "batches": loads[0] if loads else 0,
            "events_loaded": int(loads[1] or 0) if loads else 0,
            "duplicates_skipped": int(loads[2] or 0) if loads else 0,
        },
        # The full disclosure-risk report is privacy.html; its headline figures here.
        "disclosure_risk": measured_risk(con, min_cell, load_policy()),
    }
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / "data-protection.json"
    json_path.write_text(json.dumps(report, indent=2), encoding="utf-8")
    html_path = directory / "data-protection.html"
    html_path.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>thbdb: data-protection report</title></head><body>"
        "<h1>Data-protection report</h1><p>Aggregates only: this report holds no personal value.</p>"
        f"<pre>{html.escape(json.dumps(report, indent=2))}</pre></body></html>",
        encoding="utf-8",
    )
    return json_path, html_path
