"""The validation report for data-protection officers: pass rates per country over time,
open quarantine by reason, and where the (redacted) Great Expectations Data Docs are."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from config.settings import Settings
from expectations.data_docs import data_docs_index
from reports.pages import render


def validation_history(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Events validated and their pass rate, per country and day."""
    rows = con.execute(
        "SELECT country, CAST(ran_at AS DATE) AS day, count(*) AS batches, sum(events) AS events,"
        " sum(events_failed) AS failed, count(held_back) AS held_back, string_agg(DISTINCT warnings, '; ')"
        " FROM validation_runs GROUP BY ALL ORDER BY day, country"
    ).fetchall()
    return [
        {"country": c, "day": str(d), "batches": b, "events": int(e), "failed": int(f),
         "pass_rate": round(1 - f / e, 4) if e else None, "batches_held_back": h, "warnings": w or ""}
        for c, d, b, e, f, h, w in rows
    ]  # fmt: skip


def open_quarantine(con: duckdb.DuckDBPyConnection, country: str | None = None) -> list[dict[str, Any]]:
    """Quarantined events, newest first, with whether a later version resolved them."""
    where = "WHERE country = ?" if country else ""
    rows = con.execute(
        f"SELECT quarantined_at, country, topic, kafka_partition, kafka_offset, record_ref, reasons, resolved"
        f" FROM quarantine_status {where} ORDER BY quarantined_at DESC, kafka_offset",
        [country] if country else [],
    ).fetchall()
    keys = ("quarantined_at", "country", "topic", "partition", "offset", "record_ref", "reasons", "resolved")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def _percent(rate: float | None) -> str:
    return "" if rate is None else f"{rate:.1%}"


def validation_report(con: duckdb.DuckDBPyConnection, settings: Settings, country: str | None = None) -> dict[str, Any]:
    """Pass rates and quarantine by reason, of every country or of ``country`` only."""
    history = [h for h in validation_history(con) if country is None or h["country"] == country]
    where = "WHERE country = ?" if country else ""
    quarantine = con.execute(
        "SELECT country, reasons, count(*) FILTER (WHERE NOT resolved), count(*) FILTER (WHERE resolved)"
        f" FROM quarantine_status {where} GROUP BY ALL ORDER BY 1, 3 DESC",
        [country] if country else [],
    ).fetchall()
    return {
        "generated_at": datetime.now(UTC).isoformat(),
        "country": country or "all",
        "data_docs": str(data_docs_index(settings.gx_dir)),
        "pass_rates": history,
        "quarantine_by_reason": [
            {"country": c, "reasons": r, "open": int(o), "resolved": int(s)} for c, r, o, s in quarantine
        ],
    }


def validation_html(report: dict[str, Any]) -> str:
    """The report as one HTML page: counts, reasons and positions, no personal value."""
    pass_rates = [
        [h["day"], h["country"], h["events"], h["failed"], _percent(h["pass_rate"]), h["batches_held_back"],
         h["warnings"]]
        for h in report["pass_rates"]
    ]  # fmt: skip
    quarantine = [[q["country"], q["reasons"], q["open"], q["resolved"]] for q in report["quarantine_by_reason"]]
    return render(
        "validation.html.j2",
        report=report,
        data_docs=Path(report["data_docs"]).as_uri(),
        pass_rates=pass_rates,
        quarantine=quarantine,
    )


def write_validation_report(con: duckdb.DuckDBPyConnection, settings: Settings) -> Path:
    """reports/validation.html and .json; links the Data Docs. No personal value."""
    report = validation_report(con, settings)
    settings.reports_dir.mkdir(parents=True, exist_ok=True)
    (settings.reports_dir / "validation.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    path = settings.reports_dir / "validation.html"
    path.write_text(validation_html(report), encoding="utf-8")
    return path
