"""The disclosure-risk report a data-protection officer signs: JSON and HTML.

Written by the pipeline after every load and by `thbdb report privacy`. It measures the
warehouse's k-anonymity and l-diversity over the declared quasi-identifiers with its own
SQL and checks both figures independently with pycanon; it shows records at risk by
country, the cells suppressed in the standard analyst tables, what the public export
keeps, and what is generalised. It holds counts and code-list names only: never a
record, a pseudonym or a personal value.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from pycanon import anonymity

from disclosure.policy import DisclosurePolicy, load_policy
from exports.htcds import public_microdata
from reports.pages import render
from warehouse import superseded
from warehouse.queries import victim_counts
from warehouse.superseded import PROBE_WINDOW_DAYS

# Above this many records the report written after a load leaves the pycanon check and
# the public-export search to `thbdb report privacy` run by hand: at 100,000 records the
# two cost 40 s of every run, where the region's whole history is a few thousand records.
PYCANON_LIMIT = 50_000

# The analyst tables shown in the demo summary and the analysis report.
STANDARD_TABLES = (("year", "country"), ("year", "exploitation"), ("year", "age_group"), ("country", "sex"))

GENERALISED = (
    "Names, birth dates, document and phone numbers never reach the hub: keyed HMAC pseudonyms at source.",
    "Free-text notes are dropped at source.",
    "Birth date becomes age at identification, stored only as an age band and minor/adult.",
    "Identification date is stored as year and month only, never the day.",
)

# A record version withdrawn, or put back as it was, this soon after the version before
# it (by the national record's own updated_at) looks like a probe: a key holder pushing a
# named person to watch a cross-border count move, then taking the row back. The demo's
# genuine withdrawals come about two months after the record.
PROBING_COLUMNS = (f"withdrawn within {PROBE_WINDOW_DAYS} days", f"changed back within {PROBE_WINDOW_DAYS} days")

# The sensitive attribute as one value per victim: the sorted set of exploitation forms.
_SA = "coalesce(array_to_string(list_sort(exploitation_types), ';'), 'not_recorded')"


def _qi_table(con: duckdb.DuckDBPyConnection, policy: DisclosurePolicy) -> pd.DataFrame:
    qi = ", ".join(policy.warehouse_quasi_identifiers)
    frame: pd.DataFrame = con.execute(f"SELECT {qi}, {_SA} AS exploitation FROM mart_victims").df()
    return frame.astype(str)


def measured_risk(con: duckdb.DuckDBPyConnection, min_cell: int, policy: DisclosurePolicy) -> dict[str, Any]:
    """k, l and records at risk, computed in SQL over the warehouse itself."""
    qi = ", ".join(policy.warehouse_quasi_identifiers)
    classes = f"SELECT country, count(*) AS n, count(DISTINCT {_SA}) AS l FROM mart_victims GROUP BY {qi}"
    k, l_div, count, small, at_risk, records = con.execute(
        f"SELECT min(n), min(l), count(*), count(*) FILTER (WHERE n < ?), coalesce(sum(n) FILTER (WHERE n < ?), 0),"
        f" coalesce(sum(n), 0) FROM ({classes})",
        [min_cell, min_cell],
    ).fetchone() or (None, None, 0, 0, 0, 0)
    by_country = con.execute(
        f"SELECT country, sum(n), coalesce(sum(n) FILTER (WHERE n < ?), 0), count(*) FROM ({classes})"
        " GROUP BY country ORDER BY country",
        [min_cell],
    ).fetchall()
    return {
        "records": int(records),
        "k_anonymity": k,
        "l_diversity": l_div,
        "equivalence_classes": int(count),
        f"classes_below_{min_cell}": int(small),
        f"records_in_classes_below_{min_cell}": int(at_risk),
        "by_country": [
            {"country": c, "records": int(n), "records_at_risk": int(r), "share_at_risk": round(r / n, 4)}
            for c, n, r, _ in by_country
        ],
    }


def generalisation_steps(
    con: duckdb.DuckDBPyConnection, min_cell: int, policy: DisclosurePolicy
) -> list[dict[str, Any]]:
    """What each further step up the hierarchies would buy: k and records at risk."""
    frame = con.execute(
        "SELECT country, year::VARCHAR AS year, month::VARCHAR AS month, sex, age_band, age_group, citizenship"
        " FROM mart_victims"
    ).df()
    if frame.empty:
        return []
    qis = list(policy.warehouse_quasi_identifiers)
    steps = []
    for label, change in (
        ("as stored", {}),
        ("month to quarter", {"month": lambda f: ((f["month"].astype(int) - 1) // 3).astype(str)}),
        ("month to year", {"month": lambda f: "-"}),
        ("and age band to minor/adult", {"age_band": lambda f: f["age_group"]}),
        ("and citizenship to region", {"citizenship": lambda f: f["citizenship"].map(policy.region)}),
    ):
        for column, how in change.items():
            frame[column] = how(frame)
        sizes = frame.groupby(qis, dropna=False)[qis[0]].transform("size")
        steps.append(
            {"generalisation": label, "k_anonymity": int(sizes.min()), "records_at_risk": int((sizes < min_cell).sum())}
        )
    return steps


def pycanon_check(
    con: duckdb.DuckDBPyConnection, policy: DisclosurePolicy, limit: int | None = PYCANON_LIMIT
) -> dict[str, Any]:
    """The same k and l, computed by pycanon on the same table."""
    frame = _qi_table(con, policy)
    if frame.empty:
        return {"checked": False, "why": "the warehouse holds no victim yet"}
    if limit is not None and len(frame) > limit:
        return {"checked": False, "why": f"{len(frame)} records: run `thbdb report privacy` to check by hand"}
    qis = list(policy.warehouse_quasi_identifiers)
    return {
        "checked": True,
        "k_anonymity": int(anonymity.k_anonymity(frame, qis)),
        "l_diversity": int(anonymity.l_diversity(frame, qis, ["exploitation"])),
    }


def suppressed_cells(con: duckdb.DuckDBPyConnection, min_cell: int) -> list[dict[str, Any]]:
    """How many cells the standard analyst tables withhold, and why."""
    tables = []
    for dims in STANDARD_TABLES:
        cells = victim_counts(con, list(dims), min_cell=min_cell, totals=True)
        tables.append(
            {
                "table": " x ".join(dims),
                "cells": len(cells),
                "withheld_small": sum(c.suppressed and not c.secondary for c in cells),
                "withheld_to_protect_others": sum(c.secondary for c in cells),
            }
        )
    return tables


def probing_signs(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Per country, records withdrawn or changed back within ``PROBE_WINDOW_DAYS`` of the
    version before: counts only, for the officer to ask the country about. Summed from
    the records' flags, which every refresh keeps (warehouse/superseded.py)."""
    # This file's tables only: another attached (a snapshot being written) is not this one.
    tables = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
        ).fetchall()
    }
    if "release_probing_signs" in tables:  # a release snapshot: the signs as published
        source = "SELECT * FROM release_probing_signs"
    elif superseded.PROBING_FLAGS in tables:
        source = (
            "SELECT country, count(*) FILTER (WHERE withdrawn_soon), count(*) FILTER (WHERE changed_back)"
            f" FROM {superseded.PROBING_FLAGS} GROUP BY country"
        )
    else:
        return []  # a marts-only file (tests, a copy): no versions to read
    rows = con.execute(f"SELECT * FROM ({source}) ORDER BY country").fetchall()
    return [{"country": c, PROBING_COLUMNS[0]: w, PROBING_COLUMNS[1]: b} for c, w, b in rows]


def perturbation_cost(con: duckdb.DuckDBPyConnection, min_cell: int, policy: DisclosurePolicy) -> dict[str, Any]:
    """The protected counts' cost to utility on the exported victim tables (README,
    "Counts that cannot be differenced"); computed on a release snapshot only."""
    from disclosure.perturbation import Perturbation
    from exports.counts import VICTIM_TABLES
    from warehouse.protected_counts import cost_to_utility

    has_keys = con.execute(
        "SELECT count(*) FROM duckdb_columns() WHERE table_name = 'mart_victims' AND column_name = 'cell_key'"
    ).fetchone()
    if not has_keys or not has_keys[0]:
        return {"computed": False, "why": "computed on a release snapshot (thbdb report privacy)"}
    protection = Perturbation.of(policy, min_cell)
    return {"computed": True, **cost_to_utility(con, protection, VICTIM_TABLES)}


def privacy_report(con: duckdb.DuckDBPyConnection, min_cell: int, automatic: bool = False) -> dict[str, Any]:
    policy = load_policy()
    measured = measured_risk(con, min_cell, policy)
    independent = pycanon_check(con, policy, PYCANON_LIMIT if automatic else None)
    agree = None
    if independent.get("checked"):
        agree = (independent["k_anonymity"], independent["l_diversity"]) == (
            measured["k_anonymity"],
            measured["l_diversity"],
        )
    export: dict[str, Any]
    if automatic and measured["records"] > PYCANON_LIMIT:
        # After every load of a large warehouse this search would slow the pipeline.
        export = {"computed": False, "why": f"{measured['records']} records: run `thbdb report privacy`"}
    else:
        export = {"computed": True, **public_microdata(con, policy=policy)[1].as_dict()}
    return {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quasi_identifiers": list(policy.warehouse_quasi_identifiers),
        "sensitive_attribute": policy.sensitive_attribute,
        "min_cell": min_cell,
        "warehouse": measured,
        "pycanon": independent,
        "pycanon_agrees": agree,
        "generalisation_steps": generalisation_steps(con, min_cell, policy),
        "suppressed_cells": suppressed_cells(con, min_cell),
        "probing": {"window_days": PROBE_WINDOW_DAYS, "by_country": probing_signs(con)},
        "perturbation": perturbation_cost(con, min_cell, policy),
        "public_export": export,
        "generalised": list(GENERALISED),
        "hierarchies": {name: list(levels) for name, levels in policy.hierarchies.items()},
    }


def _report_html(report: dict[str, Any]) -> str:
    levels = [{"field": k, "level": v} for k, v in report["public_export"].get("levels", {}).items()]
    hierarchies = [{"field": k, "levels": " → ".join(v)} for k, v in report["hierarchies"].items()]
    return render("privacy.html.j2", report=report, levels=levels, hierarchies=hierarchies)


def write_privacy_report(
    con: duckdb.DuckDBPyConnection, directory: Path, min_cell: int, automatic: bool = False
) -> tuple[Path, Path, dict[str, Any]]:
    """``automatic``: written after a load, so the slowest checks wait above a size."""
    report = privacy_report(con, min_cell, automatic)
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / "privacy.json"
    html_path = directory / "privacy.html"
    json_path.write_text(json.dumps(report, indent=2), encoding="utf-8")
    html_path.write_text(_report_html(report), encoding="utf-8")
    return json_path, html_path, report
