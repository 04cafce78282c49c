"""`thbdb` for data-protection officers: the validation and disclosure-risk reports, and
the release service's audit log."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from thbdb.cli.common import (
    FormatOption,
    OutputFormat,
    ReportOut,
    TokenOption,
    _ask,
    _print_rows,
    _save,
    _upper,
    app,
    out,
    report_app,
)


@report_app.command("validation")
def report_validation(
    country: Annotated[
        str | None, typer.Option("--country", help="One country only (a national officer's is always its own).")
    ] = None,
    out_dir: ReportOut = None,
    token: TokenOption = None,
) -> None:
    """Write the validation report (pass rates per country, quarantine by reason) and
    say where it and the redacted Great Expectations Data Docs are. For data-protection
    officers (a national one: its country's) and the administrator."""
    answer = _ask("report/validation", {"country": _upper(country)}, token)
    path = _save(answer, out_dir, "validation.html")
    report = answer["report"]
    table = Table(
        "day", "country", "events", "failed", "pass rate", "held back", title="Validation per country and day"
    )
    for h in report["pass_rates"][-30:]:
        rate = "" if h["pass_rate"] is None else f"{h['pass_rate']:.1%}"
        table.add_row(h["day"], h["country"], str(h["events"]), str(h["failed"]), rate, str(h["batches_held_back"]))
    out.print(table)
    out.print(f"Validation report: {path}")
    out.print(f"Data Docs (redacted, no sample values; on the hub): {report['data_docs']}")


@report_app.command("privacy")
def report_privacy(out_dir: ReportOut = None, token: TokenOption = None) -> None:
    """Write the disclosure-risk report (k-anonymity and l-diversity checked with pycanon,
    records at risk by country, cells suppressed, the public export) and say where it is.
    For data-protection officers and the administrator."""
    answer = _ask("report/privacy", {}, token)
    html_path = _save(answer, out_dir, "privacy.html")
    report = answer["report"]
    w, p, export = report["warehouse"], report["pycanon"], report["public_export"]
    out.print(
        f"Warehouse: {w['records']} victim records, k-anonymity {w['k_anonymity']}, l-diversity {w['l_diversity']}"
    )
    if p.get("checked"):
        verdict = "agrees" if report["pycanon_agrees"] else "[bold red]DISAGREES[/]"
        out.print(f"pycanon: k {p['k_anonymity']}, l {p['l_diversity']}: {verdict}")
    else:
        out.print(f"pycanon: not run ({p['why']})")
    out.print(
        f"Public export at k = {export['k_required']}: {export['records_exported']} of {export['records']} records kept"
    )
    out.print(f"Disclosure-risk report: {html_path} (JSON: {html_path.with_suffix('.json')})")


@app.command("audit")
def audit(
    last: Annotated[int | None, typer.Option("--last", min=1, help="Only the last N requests.")] = 50,
    format: FormatOption = OutputFormat.table,
    token: TokenOption = None,
) -> None:
    """The release service's audit log: who asked what, when, the outcome, and how many
    cells were withheld. For data-protection officers (a national one: its country's
    identities) and the administrator."""
    entries = _ask("audit", {"last": last}, token)["entries"]
    if format is OutputFormat.json:
        sys.stdout.write(json.dumps(entries, indent=2) + "\n")
        return
    columns = ["at", "who", "role", "country", "operation", "outcome", "cells", "withheld", "parameters"]
    rows = [
        [str(e.get(c, "") if e.get(c) is not None else "") if c != "parameters" else json.dumps(e.get(c, {}))
         for c in columns]
        for e in entries
    ]  # fmt: skip
    _print_rows(columns, rows, format, title="Release service: audit log")
