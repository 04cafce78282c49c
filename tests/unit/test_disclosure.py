"""Disclosure control: suppression that cannot be undone by subtraction, a public export
that is k-anonymous by pycanon's count, and a risk report that agrees with pycanon."""

from __future__ import annotations

import json
import random
from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pycanon import anonymity

from disclosure import policy as disclosure
from disclosure.suppression import TOTAL, Key, derivable, lines, suppress
from exports.htcds import COLUMNS, public_microdata
from reports.privacy import write_privacy_report
from tests.unit.disclosure_fixtures import victims_warehouse
from warehouse.queries import victim_counts


def _table_with_margins(interior: dict[tuple[str, str], int]) -> dict[Key, int]:
    counts: dict[Key, int] = dict(interior)
    rows = {r for r, _ in interior}
    cols = {c for _, c in interior}
    for r in rows:
        counts[(r, TOTAL)] = sum(n for (rr, _), n in interior.items() if rr == r)
    for c in cols:
        counts[(TOTAL, c)] = sum(n for (_, cc), n in interior.items() if cc == c)
    counts[(TOTAL, TOTAL)] = sum(interior.values())
    return counts


def _determined(counts: dict[Key, int], withheld: frozenset[Key]) -> list[Key]:
    """Withheld cells of an additive 2-D table fixed by the published equations: those
    whose unit vector lies in the row space of the line equations over the unknowns."""
    unknown = sorted(withheld, key=str)
    index = {k: i for i, k in enumerate(unknown)}
    rows_of_m = []
    keys = list(counts)
    for d in (0, 1):
        by_line: dict[object, list[Key]] = {}
        for k in keys:
            by_line.setdefault(k[:d] + k[d + 1 :], []).append(k)
        for line in by_line.values():
            total = [k for k in line if k[d] == TOTAL]
            parts = [k for k in line if k[d] != TOTAL]
            row = np.zeros(len(unknown))
            for k in parts:
                if k in index:
                    row[index[k]] += 1
            for k in total:
                if k in index:
                    row[index[k]] -= 1
            rows_of_m.append(row)
    m = np.array(rows_of_m) if rows_of_m else np.zeros((0, len(unknown)))
    rank = np.linalg.matrix_rank(m) if len(unknown) else 0
    found = []
    for k, i in index.items():
        unit = np.zeros(len(unknown))
        unit[i] = 1
        if np.linalg.matrix_rank(np.vstack([m, unit])) == rank:
            found.append(k)
    return found


@pytest.mark.parametrize("seed", range(40))
def test_no_withheld_cell_of_a_table_can_be_recovered_from_its_totals(seed: int) -> None:
    rng = random.Random(seed)
    rows, cols = [f"r{i}" for i in range(rng.randint(2, 6))], [f"c{j}" for j in range(rng.randint(2, 6))]
    interior = {(r, c): rng.choice([0, 1, 2, 3, 4, 6, 9, 15, 40]) for r, c in product(rows, cols)}
    counts = _table_with_margins({k: n for k, n in interior.items() if n})
    table = suppress(counts, min_cell=5)
    assert all(not (0 < n < 5) for k, n in counts.items() if k not in table.withheld)
    assert derivable(table) == []
    assert _determined(counts, table.withheld) == []


def test_a_single_small_cell_takes_a_partner_in_its_row_and_column() -> None:
    counts = _table_with_margins({("a", "x"): 3, ("a", "y"): 20, ("b", "x"): 30, ("b", "y"): 40})
    table = suppress(counts, 5)
    assert table.primary == {("a", "x")}
    assert {("a", "y"), ("b", "x"), ("b", "y")} <= table.secondary  # the 2x2 block hides together
    assert TOTAL not in {v for k in table.secondary for v in k}  # totals stay visible


def test_analyst_counts_hide_small_cells_and_every_way_back_to_them() -> None:
    con = victims_warehouse(600)
    for dims in (["year", "country"], ["country", "sex", "age_group"], ["year", "exploitation"]):
        cells = victim_counts(con, dims, min_cell=5, totals=True)
        shown = [c for c in cells if not c.suppressed]
        assert all(c.victims is not None and c.victims >= 5 for c in shown)
        assert any(c.suppressed for c in cells)
        withheld = frozenset(c.key for c in cells if c.suppressed)
        for line in lines([c.key for c in cells]):
            assert sum(k in withheld for k in line) != 1, line
    everything = victim_counts(con, ["year", "country"], min_cell=1)
    assert not any(c.suppressed for c in everything)
    assert sum(c.victims or 0 for c in everything) == 600


def test_the_public_export_is_k_anonymous_by_pycanon(tmp_path: Path) -> None:
    con = victims_warehouse(3000)
    rows, summary = public_microdata(con)
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    assert len(frame) == summary.chosen.kept > 0
    assert anonymity.k_anonymity(frame, list(COLUMNS)) >= 11
    refs = {r for (r,) in con.execute("SELECT record_ref FROM mart_victims").fetchall()}
    assert not refs & set(frame.to_numpy().ravel())


def test_a_stricter_k_keeps_fewer_or_coarser_records() -> None:
    con = victims_warehouse(1500)
    _, at_11 = public_microdata(con, k=11)
    _, at_25 = public_microdata(con, k=25)
    assert at_25.chosen.loss >= at_11.chosen.loss
    assert at_25.chosen.smallest_class is None or at_25.chosen.smallest_class >= 25


def test_the_risk_report_agrees_with_pycanon_and_holds_no_record(tmp_path: Path) -> None:
    con = victims_warehouse(800)
    json_path, html_path, report = write_privacy_report(con, tmp_path, min_cell=5)
    frame = (
        con.execute(
            "SELECT country, year, month, sex, age_band, citizenship,"
            " coalesce(array_to_string(list_sort(exploitation_types), ';'), 'not_recorded') AS sa FROM mart_victims"
        )
        .df()
        .astype(str)
    )
    qis = ["country", "year", "month", "sex", "age_band", "citizenship"]
    assert report["warehouse"]["k_anonymity"] == anonymity.k_anonymity(frame, qis)
    assert report["warehouse"]["l_diversity"] == anonymity.l_diversity(frame, qis, ["sa"])
    assert report["pycanon_agrees"] is True
    assert json.loads(json_path.read_text())["warehouse"]["records"] == 800
    text = json_path.read_text() + html_path.read_text()
    refs = [r for (r,) in con.execute("SELECT record_ref FROM mart_victims").fetchall()]
    assert not [r for r in refs if r in text]


def test_hierarchies_climb_to_coarser_values() -> None:
    assert [disclosure.period(2024, 5, lv) for lv in ("month", "quarter", "year", "five_years", "*")] == [
        "2024-05", "2024-Q2", "2024", "2020-2024", "*",
    ]  # fmt: skip
    assert [disclosure.age("9-17", lv) for lv in ("age_band", "age_group", "*")] == ["9-17", "minor", "*"]
    assert disclosure.country("MD", "region") == "other_europe"
    assert disclosure.country("ZZ", "region") == "rest_of_world"
    assert disclosure.exploitation(["organ_removal", "sexual"], "form") == ("other", "sexual")
    assert disclosure.exploitation(["begging", "labour"], "broad") == ("labour", "other")


def test_the_dp_synthetic_export_spends_the_stated_epsilon_and_invents_no_code(tmp_path: Path) -> None:
    from disclosure.differential_privacy import noisy_histogram
    from exports.dp_synthetic import FIELDS, write_dp_synthetic

    assert len(noisy_histogram([3, 0, 7], epsilon=0.5)) == 3  # raises if it spent more than 0.5
    con = victims_warehouse(2000)
    summary = write_dp_synthetic(con, tmp_path / "dp.csv", epsilon=1.0)
    frame = pd.read_csv(tmp_path / "dp.csv", dtype=str, keep_default_na=False)
    assert list(frame.columns) == list(FIELDS)
    assert len(frame) == summary.synthetic_records
    assert set(frame["reportingCountry"]) <= {"AL", "BA", "ME", "MK", "RS", "XK"}
    assert set(frame["exploitationGroup"]) <= {"sexual", "labour", "other", "several", "not_recorded"}
    assert summary.true_records == 2000 and set(summary.marginal_error) == set(FIELDS)
