"""The validation report for data-protection officers: pass rates per country over time,
open quarantine by reason, and where the (redacted) Great Expectations Data Docs are."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from expectations.data_docs import data_docs_index
from thbdb.settings import Settings

# A quarantined record is resolved once a later version of it was accepted.
OPEN_QUARANTINE_SQL = """
SELECT q.*, EXISTS (
    SELECT 1 FROM raw_victim_events r
    WHERE r.country = q.country AND r.record_ref = q.record_ref AND r.loaded_at >= q.quarantined_at
) AS resolved
FROM quarantine q
"""


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
        f" FROM ({OPEN_QUARANTINE_SQL}) {where} ORDER BY quarantined_at DESC, kafka_offset",
        [country] if country else [],
    ).fetchall()
    keys = ("quarantined_at", "country", "topic", "partition", "offset", "record_ref", "reasons", "resolved")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def _percent(rate: float | None) -> str:
    return "" if rate is None else f"{rate:.1%}"


def write_validation_report(con: duckdb.DuckDBPyConnection, settings: Settings) -> Path:
    """reports/validation.html and .json; links the Data Docs. No personal value."""
    history = validation_history(con)
    quarantine = con.execute(
        f"SELECT country, reasons, count(*) FILTER (WHERE NOT resolved), count(*) FILTER (WHERE resolved)"
        f" FROM ({OPEN_QUARANTINE_SQL}) GROUP BY ALL ORDER BY 1, 3 DESC"
    ).fetchall()
    report = {
        "generated_at": datetime.now(UTC).isoformat(),
        "data_docs": str(data_docs_index(settings.gx_dir)),
        "pass_rates": history,
        "quarantine_by_reason": [
            {"country": c, "reasons": r, "open": int(o), "resolved": int(s)} for c, r, o, s in quarantine
        ],
    }
    settings.reports_dir.mkdir(parents=True, exist_ok=True)
    (settings.reports_dir / "validation.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    rows = "".join(
        f"<tr><td>{h['day']}</td><td>{h['country']}</td><td>{h['events']}</td><td>{h['failed']}</td>"
        f"<td>{_percent(h['pass_rate'])}</td><td>{h['batches_held_back']}</td>"
        f"<td>{html.escape(h['warnings'])}</td></tr>"
        for h in history
    )
    reasons = "".join(
        f"<tr><td>{c}</td><td>{html.escape(r)}</td><td>{o}</td><td>{s}</td></tr>" for c, r, o, s in quarantine
    )
    docs = data_docs_index(settings.gx_dir).as_uri()
    path = settings.reports_dir / "validation.html"
    path.write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>thbdb: validation</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{border:1px solid #ccc;padding:2px 8px}"
        "table{border-collapse:collapse}</style></head><body><h1>Validation of national pushes</h1>"
        "<p>Counts, reasons and positions only: no personal value is kept in any validation result.</p>"
        f"<p>Great Expectations Data Docs (redacted): <a href='{docs}'>index</a></p>"
        "<h2>Pass rate per country and day</h2><table><tr><th>day</th><th>country</th><th>events</th>"
        f"<th>failed</th><th>pass rate</th><th>batches held back</th><th>batch warnings</th></tr>{rows}</table>"
        "<h2>Quarantine by reason</h2><table><tr><th>country</th><th>reasons</th><th>open</th>"
        f"<th>resolved by a later version</th></tr>{reasons}</table></body></html>",
        encoding="utf-8",
    )
    return path
