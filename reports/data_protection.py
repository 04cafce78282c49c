"""Reports: the data-protection officer's report (the analyst's report is in
``analysis_report.py``, re-exported here).

Both read the warehouse read-only and show aggregates only; every count an analyst sees
has small cells suppressed; the data-protection report holds no personal value at all.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from disclosure.policy import load_policy
from reports.analysis import BANNER, write_analysis_report
from reports.pages import render
from reports.privacy import measured_risk, perturbation_cost

__all__ = [
    "BANNER",
    "data_protection_html",
    "data_protection_report",
    "write_analysis_report",
    "write_data_protection_report",
]


def data_protection_report(con: duckdb.DuckDBPyConnection, min_cell: int = 5) -> dict[str, Any]:
    """Validation results, quarantine reasons, loads and disclosure risk: counts only."""
    validation = con.execute(
        "SELECT country, count(*), sum(events), sum(events_failed)"
        " FROM validation_runs GROUP BY country ORDER BY country"
    ).fetchall()
    quarantine = con.execute(
        "SELECT country, reasons, count(*) FROM quarantine_status GROUP BY ALL ORDER BY country, 3 DESC"
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
        # What protecting the counts costs them (README, "Counts that cannot be differenced").
        "perturbation": perturbation_cost(con, min_cell, load_policy()),
    }
    return report


def data_protection_html(report: dict[str, Any]) -> str:
    """The report as a page an officer reads and files: sections, tables, what each
    figure means and what to do when it is red; printed as it is (its print stylesheet)."""
    return render("data_protection.html.j2", report=report, flags=data_protection_flags(report))


def data_protection_flags(report: dict[str, Any]) -> dict[str, bool]:
    """What in the report is red: each needs the officer to act (the page says how)."""
    risk = report["disclosure_risk"]
    at_risk = next((v for k, v in risk.items() if k.startswith("records_in_classes_below_")), 0)
    validation = report["validation_by_country"]
    return {
        "failures": any(v["events"] and v["events_failed"] / v["events"] > 0.05 for v in validation),
        "quarantine": bool(report["quarantine_reasons"]),
        "records_at_risk": bool(at_risk),
        "perturbation": bool(report["perturbation"].get("computed"))
        and report["perturbation"].get("share_withheld", 0) > 0.5,
    }


def write_data_protection_report(
    con: duckdb.DuckDBPyConnection, directory: Path, min_cell: int = 5
) -> tuple[Path, Path]:
    """The report as JSON and HTML in ``directory``."""
    report = data_protection_report(con, min_cell)
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / "data-protection.json"
    json_path.write_text(json.dumps(report, indent=2), encoding="utf-8")
    html_path = directory / "data-protection.html"
    html_path.write_text(data_protection_html(report), encoding="utf-8")
    return json_path, html_path
