"""Trends: shares per period, change, the trend of a whole series, and flags after false-discovery control."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import pytest
from scipy.stats import fisher_exact

from producers.synthetic import VictimProfile, victim_rows, write_victims_csv
from tests.warehouse_builder import load_exports
from warehouse.loader import connect
from warehouse.queries import QueryError, Scope
from warehouse.trends import (
    APPROXIMATE_FROM,
    TrendCell,
    assess,
    change_test,
    parse_filters,
    previous_period,
    trend_cells,
    yates_chi_square,
)


def test_the_exact_test_flags_2_to_9_of_20_and_not_5_to_6() -> None:
    assert change_test(2, 20, 9, 20) < 0.05
    assert change_test(5, 20, 6, 20) > 0.5


def test_previous_periods() -> None:
    assert previous_period("2024") == "2023"
    assert previous_period("2024-Q1") == "2023-Q4"
    assert previous_period("2024-Q3") == "2024-Q2"


def _minors(year: int, begging: int, labour: int, n: int = 20) -> list[VictimProfile]:
    """n minors in XK in ``year``: the first ``begging`` begged, the next ``labour`` worked."""
    out = []
    for i in range(n):
        forms = ["begging"] if i < begging else ["labour"] if i < begging + labour else ["sexual"]
        out.append(VictimProfile(f"XK-{year}-{i}", date(year, 1 + i % 12, 3), "M", 12, "XK", forms))
    return out


@pytest.fixture(scope="module")
def shifted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Forced begging among 20 minors a year in XK goes 2 -> 9; labour 5 -> 6."""
    base = tmp_path_factory.mktemp("trends")
    profiles = _minors(2023, 2, 5) + _minors(2024, 9, 6)
    export = write_victims_csv(base / "victims.csv", victim_rows("XK", profiles, seed=3))
    return load_exports(base / "w.duckdb", [("XK", export)])


def _cell(cells: list[TrendCell], period: str, category: str, country: str = "XK") -> TrendCell:
    (cell,) = [c for c in cells if (c.period, c.category, c.country) == (period, category, country)]
    return cell


def test_a_rise_from_2_to_9_is_flagged_and_5_to_6_is_not(shifted: Path) -> None:
    with connect(shifted, read_only=True) as con:
        cells = trend_cells(con, "exploitation", Scope("XK"), min_cell=1)
    begging = _cell(cells, "2024", "begging")
    assert (begging.victims, begging.share, begging.flagged, begging.direction) == (9, 0.45, True, "up")
    assert begging.change == pytest.approx(0.35)
    assert begging.p_value is not None and begging.p_value < 0.05
    labour = _cell(cells, "2024", "labour")
    assert (labour.victims, labour.flagged) == (6, False)
    assert labour.change == pytest.approx(0.05)
    first = _cell(cells, "2023", "begging")
    assert first.change is None and not first.flagged  # no period before it


def test_small_cells_are_suppressed_and_reveal_nothing_through_the_change(shifted: Path) -> None:
    with connect(shifted, read_only=True) as con:
        cells = trend_cells(con, "exploitation", Scope("XK"), min_cell=5)
    earlier = _cell(cells, "2023", "begging")
    assert (earlier.victims, earlier.share, earlier.suppressed) == (None, None, True)
    later = _cell(cells, "2024", "begging")
    # 9 is shown, but its change would give away the suppressed 2: left empty; the flag stays.
    assert (later.victims, later.change, later.p_value, later.flagged) == (9, None, None, True)


def test_one_suppressed_cell_of_a_dimension_that_adds_up_hides_a_second(tmp_path: Path) -> None:
    profiles = [VictimProfile(f"XK-{i}", date(2024, 2, 2), "F" if i < 15 else "M", 30, "XK", ["sexual"])
                for i in range(18)]  # fmt: skip
    profiles += [VictimProfile("XK-X", date(2024, 2, 2), None, 30, "XK", ["sexual"])]
    export = write_victims_csv(tmp_path / "victims.csv", victim_rows("XK", profiles, seed=4))
    with connect(load_exports(tmp_path / "w.duckdb", [("XK", export)]), read_only=True) as con:
        cells = {c.category: c for c in trend_cells(con, "sex", Scope("XK"), min_cell=5)}
    # M (3) is under 5; F (15) could give it away from the total 19, so not_recorded (1)
    # is hidden too -- it is under 5 itself -- and F stays; with two hidden, neither is known.
    assert cells["M"].suppressed and cells["not_recorded"].suppressed
    assert cells["F"].victims == 15


def test_quarters_and_the_region(shifted: Path) -> None:
    with connect(shifted, read_only=True) as con:
        cells = trend_cells(con, "exploitation", period="quarter", min_cell=1)
    assert {c.period for c in cells} >= {"2023-Q1", "2024-Q4"}
    assert {c.country for c in cells} == {"XK", "ALL"}


def test_filters_and_bad_input() -> None:
    assert parse_filters("age_group=minor, sex=M") == {"age_group": "minor", "sex": "M"}
    with pytest.raises(QueryError):
        parse_filters("shoe_size=42")


def test_the_demo_shift_is_flagged(demo_warehouse: Path) -> None:
    """The demo data carry a rise of forced begging among minors in XK in 2024."""
    with connect(demo_warehouse, read_only=True) as con:
        cells = trend_cells(con, "exploitation", Scope("XK"), filters={"age_group": "minor"})
    begging = _cell(cells, "2024", "begging")
    assert begging.flagged and begging.direction == "up"
    assert begging.q_value is not None and begging.q_value < 0.05  # the jump itself, after control
    # No other year's change is flagged; the series as a whole rises, on every row of it.
    others = [c for c in cells if c.category == "begging" and c.period != "2024"]
    assert not any(c.q_value is not None and c.q_value < 0.05 for c in others)
    assert {(c.test, c.slope, c.trend_q_value) for c in [begging, *others]} == {
        (begging.test, begging.slope, begging.trend_q_value)
    }
    assert begging.slope is not None and begging.slope > 0


def test_large_tables_get_the_flag_of_the_exact_test() -> None:
    rng = random.Random(5)
    tables = flips = 0
    while tables < 300:
        before_total, now_total = rng.randint(1000, 100_000), rng.randint(1000, 100_000)
        share = rng.uniform(0.02, 0.6)
        before = int(before_total * share)
        now = min(now_total, int(now_total * share * rng.uniform(0.9, 1.1)))
        table = [[before, before_total - before], [now, now_total - now]]
        expected = min(before_total, now_total) * min(before + now, before_total + now_total - before - now)
        if expected / (before_total + now_total) < APPROXIMATE_FROM:
            continue
        tables += 1
        exact = fisher_exact(table).pvalue
        approximate = change_test(before, before_total, now, now_total)
        assert abs(approximate - exact) < 0.025
        flips += (approximate < 0.05) != (exact < 0.05)
    assert flips <= 1
    assert change_test(2, 20, 9, 20) == fisher_exact([[2, 18], [9, 11]]).pvalue  # small: exact
    assert yates_chi_square(0, 0, 5, 7) == 1.0


def test_a_steady_rise_no_adjacent_pair_of_years_shows_is_flagged(tmp_path: Path) -> None:
    """Forced begging among 20 minors a year in XK: 2, 4, 6, ... 16 over eight years. No
    year differs enough from the one before (each step is two of twenty), the series does:
    its rows are flagged, up, with a positive slope whose interval excludes 0."""
    profiles = [p for i, year in enumerate(range(2017, 2025)) for p in _minors(year, 2 + 2 * i, 2)]
    export = write_victims_csv(tmp_path / "victims.csv", victim_rows("XK", profiles, seed=4))
    with connect(load_exports(tmp_path / "w.duckdb", [("XK", export)]), read_only=True) as con:
        cells = trend_cells(con, "exploitation", Scope("XK"), min_cell=1)
    begging = [c for c in cells if c.category == "begging" and c.country == "XK"]
    assert len(begging) == 8
    assert all(c.p_value is None or c.p_value > 0.05 for c in begging)  # no single step shows it
    assert all(c.flagged and c.direction == "up" for c in begging)
    (trend,) = {(c.test, c.slope, c.slope_low, c.trend_p_value, c.trend_q_value) for c in begging}
    assert trend[0] == "cochran-armitage" and trend[2] is not None and trend[2] > 0
    assert trend[4] is not None and trend[4] < 0.05 and trend[3] <= trend[4]


def test_histories_without_change_are_seldom_flagged_after_false_discovery_control() -> None:
    """500 histories of one country, 8 years, four categories whose shares never change:
    after Benjamini-Hochberg control over each history's 32 tests (28 changes, 4 series),
    at most 7 % of the histories flag anything."""
    rng = random.Random(17)
    shares = [0.4, 0.3, 0.2, 0.1]
    categories = ["a", "b", "c", "d"]
    flagged_runs = 0
    for _run in range(500):
        counts: dict[tuple[str, str, str], int] = {}
        totals: dict[tuple[str, str], int] = {}
        for year in range(2017, 2025):
            total = rng.randint(15, 45)
            drawn = rng.choices(categories, weights=shares, k=total)
            totals[(str(year), "XK")] = total
            for category in categories:
                counts[(str(year), "XK", category)] = drawn.count(category)
        cells = assess(counts, totals, multi=False, min_cell=1, alpha=0.05)
        flagged_runs += any(c.flagged for c in cells)
    rate = flagged_runs / 500
    print(f"\nTRENDS null: {flagged_runs} of 500 unchanged histories flagged after FDR control ({rate:.1%})")
    assert rate <= 0.07


def test_ears_alarms_a_sudden_rise_against_the_countrys_own_history() -> None:
    """Quarterly counts of one category: about 2 a quarter for three years, then 9. EARS
    C1 and C2 alarm on the jump and nowhere before; a flat history alarms nowhere."""
    quarters = [f"{year}-Q{q}" for year in (2021, 2022, 2023) for q in (1, 2, 3, 4)]
    begging = [2, 3, 2, 1, 2, 3, 2, 2, 3, 2, 2, 9]
    counts = {(p, "XK", "begging"): n for p, n in zip(quarters, begging, strict=True)}
    counts |= {(p, "XK", "labour"): 20 for p in quarters}
    totals = {(p, "XK"): counts[(p, "XK", "begging")] + 20 for p in quarters}
    cells = assess(counts, totals, multi=False, min_cell=1, alpha=0.05)
    alarms = {c.period: c.alarm for c in cells if c.category == "begging"}
    assert set(alarms["2023-Q4"].split(",")) >= {"C1", "C2"}
    assert not any(alarm for period, alarm in alarms.items() if period != "2023-Q4")
    assert not any(c.alarm for c in cells if c.category == "labour")
