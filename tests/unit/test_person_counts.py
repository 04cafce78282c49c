"""The cheap way of counting distinct victims (pre-aggregated cells, roll-up, linked
persons apart) gives exactly what count(DISTINCT person_key) over a CUBE gives."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from benchmarks.query_speed import build_warehouse
from disclosure.suppression import Key
from warehouse import marts
from warehouse.loader import connect, layer_files, run_sql_file
from warehouse.queries import (
    CELL_DIMENSIONS,
    DIMENSION_CELLS,
    DIMENSIONS,
    Scope,
    cube_counts,
    joins_for,
    person_counts,
)
from warehouse.trends import _period_counts, _yearly_counts, trend_cells

QUERIES = [
    ["year"],
    ["country"],
    ["exploitation"],
    ["year", "country"],
    ["exploitation", "age_group"],
    ["year", "exploitation"],
    ["year", "sex", "age_group"],
    ["citizenship", "exploitation", "country"],
    ["month", "recruitment"],
    ["means_of_travel", "exploitation"],
    ["means_of_control", "means_of_communication", "sex"],
    ["trafficking_scope", "route"],
    ["age_band", "identified_by", "case_category"],
    ["perpetrator_structure", "year", "sex"],  # not pre-aggregated: counted the exact way
    # Each dimension of mart_victim_dimension_cells, alone and by year and country.
    *([d] for d in sorted(DIMENSION_CELLS)),
    *(["year", d] for d in sorted(DIMENSION_CELLS)),
    *([d, "country", "year"] for d in sorted(DIMENSION_CELLS)),
]
FILTERS = [(None, None, None), ("RS", None, None), (None, 2015, 2018), ("AL", 2020, 2020)]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("person-counts") / "w.duckdb"
    build_warehouse(path, 6000)
    with connect(path) as con:
        # Link records across countries, pairs and one of three, as linkage would: the
        # person is the smallest record key of the group.
        con.execute(
            "CREATE TEMP TABLE groups AS SELECT record_key, country, record_ref, (row_number() OVER"
            " (ORDER BY record_key)) // 2 AS g FROM mart_victims WHERE hash(record_key) % 9 = 0"
        )
        con.execute(
            "INSERT INTO person_links SELECT country, record_ref, min(record_key) OVER (PARTITION BY"
            " CASE WHEN g < 3 THEN 0 ELSE g END), 1.0 FROM groups"
        )
        for sql in layer_files("staging"):
            run_sql_file(con, sql)
        marts.refresh(con, "person_links", full=True)
        assert con.execute("SELECT count(*) FROM mart_victims WHERE is_linked").fetchone()[0] > 500  # type: ignore[index]
    return path


def _exact(
    con: duckdb.DuckDBPyConnection, by: list[str], country: str | None, a: int | None, b: int | None
) -> dict[Key, int]:
    where, params = Scope(country, a, b).where("v")
    source = f"mart_victims v{joins_for(by)}"
    return cube_counts(con, [DIMENSIONS[d] for d in by], source, where, params, "v.person_key")


@pytest.mark.parametrize("by", QUERIES, ids=",".join)
def test_cheap_counts_equal_distinct_counts(warehouse: Path, by: list[str]) -> None:
    with connect(warehouse, read_only=True) as con:
        for country, year_from, year_to in FILTERS:
            exact = _exact(con, by, country, year_from, year_to)
            assert person_counts(con, by, Scope(country, year_from, year_to)) == exact, (country, year_from, year_to)
            assert exact  # the filters leave victims to count


def test_the_dimension_cells_hold_every_dimension_the_queries_read_there(warehouse: Path) -> None:
    with connect(warehouse, read_only=True) as con:
        held = {r[0] for r in con.execute("SELECT DISTINCT dimension FROM mart_victim_dimension_cells").fetchall()}
    assert held == DIMENSION_CELLS


@pytest.mark.parametrize("dimension", ["perpetrator_structure", "perpetrator_relation", "means_of_control"])
def test_cells_of_cases_with_perpetrators_equal_distinct_counts(demo_warehouse: Path, dimension: str) -> None:
    """The demo has perpetrators (several to a case), linked persons and withdrawn records."""
    with connect(demo_warehouse, read_only=True) as con:
        for by in ([dimension], ["year", dimension], [dimension, "country"]):
            for country, year_from, year_to in FILTERS:
                exact = _exact(con, by, country, year_from, year_to)
                assert person_counts(con, by, Scope(country, year_from, year_to)) == exact, (by, country)


@pytest.fixture
def old_warehouse(warehouse: Path, tmp_path: Path) -> Path:
    """The same warehouse as built before the cells mart and is_linked: counted the exact way."""
    old = tmp_path / "old.duckdb"
    old.write_bytes(warehouse.read_bytes())
    with connect(old) as con:
        con.execute("DROP TABLE mart_victim_cells")
        con.execute("DROP TABLE mart_victim_dimension_cells")
        con.execute("ALTER TABLE mart_victims DROP COLUMN is_linked")
    return old


def test_a_warehouse_built_before_the_cells_is_counted_alike(warehouse: Path, old_warehouse: Path) -> None:
    with connect(old_warehouse, read_only=True) as con, connect(warehouse, read_only=True) as new:
        for by in QUERIES[:6]:
            assert person_counts(con, by) == person_counts(new, by)


def test_trends_by_year_equal_the_exact_way(warehouse: Path, old_warehouse: Path) -> None:
    with connect(old_warehouse, read_only=True) as slow, connect(warehouse, read_only=True) as fast:
        for dimension in ("exploitation", "sex", "means_of_travel", "route"):
            for country in (None, "ME"):
                scope = Scope(country)
                assert trend_cells(fast, dimension, scope, min_cell=3) == trend_cells(
                    slow, dimension, scope, min_cell=3
                )


def test_the_cells_mart_holds_the_cell_dimensions(warehouse: Path) -> None:
    with connect(warehouse, read_only=True) as con:
        columns = [
            r[0]
            for r in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = 'mart_victim_cells'"
            ).fetchall()
        ]
    assert columns == [*CELL_DIMENSIONS, "exploitation_first", "victims"]


def test_yearly_trend_counts_equal_the_direct_sql(warehouse: Path) -> None:
    with connect(warehouse, read_only=True) as con:
        for dimension in ("exploitation", "sex", "citizenship", "means_of_travel", "trafficking_scope"):
            for country in (None, "XK"):
                scope = Scope(country, 2012)
                assert _yearly_counts(con, dimension, scope) == _period_counts(con, dimension, scope, "year", {})
