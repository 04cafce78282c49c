"""Disclosure control on the real stack: the risk report written after a load agrees
with pycanon on the warehouse itself, the public export is k-anonymous, and what
analysts see by default hides small cells and every way back to them."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from pycanon import anonymity

from disclosure.suppression import TOTAL, lines
from producers.synthetic import demo_profiles, victim_rows, write_victims_csv
from tests.conftest import Stack

pytestmark = pytest.mark.stack


def test_risk_report_export_and_counts_protect_victims(stack: Stack, tmp_path: Path) -> None:
    export = write_victims_csv(tmp_path / "victims.csv", victim_rows("BA", demo_profiles("BA", 11), 11))
    stack.thbdb("produce", "--country", "BA", "--input", str(export), "--create-key", check=False)
    stack.thbdb("run")

    # Written by the pipeline after the load; its figures are pycanon's on the same table.
    report = json.loads((stack.settings.reports_dir / "privacy.json").read_text("utf-8"))
    con = duckdb.connect(str(stack.settings.warehouse), read_only=True)
    try:
        frame = (
            con.execute(
                "SELECT country, year, month, sex, age_band, citizenship,"
                " coalesce(array_to_string(list_sort(exploitation_types), ';'), 'not_recorded') AS sa FROM mart_victims"
            )
            .df()
            .astype(str)
        )
    finally:
        con.close()
    qis = report["quasi_identifiers"]
    assert report["warehouse"]["records"] == len(frame) > 0
    assert report["warehouse"]["k_anonymity"] == anonymity.k_anonymity(frame, qis)
    assert report["warehouse"]["l_diversity"] == anonymity.l_diversity(frame, qis, ["sa"])
    printed = stack.thbdb("report", "privacy").stdout
    assert "agrees" in printed and "privacy.html" in printed

    public = tmp_path / "htcds.csv"
    stack.thbdb("export", "--format", "htcds", "--out", str(public))
    rows = pd.read_csv(public, dtype=str, keep_default_na=False)
    assert len(rows) > 0
    assert anonymity.k_anonymity(rows, list(rows.columns)) >= 11

    counted = stack.thbdb("query", "counts", "--by", "year,country", "--totals", "--format", "csv").stdout
    cells = list(csv.DictReader(io.StringIO(counted)))
    assert all(int(c["victims"]) >= 5 for c in cells if c["suppressed"] == "false")
    withheld = {(c["year"], c["country"]) for c in cells if c["suppressed"] == "true"}
    for line in lines([(c["year"], c["country"]) for c in cells]):
        assert sum(k in withheld for k in line) != 1, line
    assert any(TOTAL in (c["year"], c["country"]) for c in cells)
