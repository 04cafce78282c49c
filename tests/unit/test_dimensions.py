"""Modus-operandi dimensions: bridges for list fields, derived scope and route."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from producers.synthetic import VictimProfile, victim_rows, write_victims_csv
from tests.warehouse_builder import load_exports
from warehouse.loader import connect
from warehouse.queries import QueryError, Scope, parse_dimensions, victim_counts


def _victim(record: str, **fields: object) -> VictimProfile:
    return VictimProfile(record, date(2024, 5, 5), "F", 25, fields.pop("citizenship", "XK"), ["sexual"], **fields)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("dimensions")
    profiles = [
        # recruited and exploited at home: domestic
        _victim("XK-1", recruited_in="XK", country_of_exploitation="XK", means_of_control=["emotional_dependence"],
                means_of_communication=["social_network", "messaging_app"], means_of_travel=["none"]),
        # a foreign citizen, recruitment place not recorded, exploited here: cross-border by citizenship
        _victim("XK-2", citizenship="AL", country_of_exploitation="XK",
                means_of_control=["physical_violence", "documents_withheld"]),
        # recruited here, through Serbia to Italy
        _victim("XK-3", recruited_in="XK", transit_countries=["RS"], country_of_exploitation="IT",
                means_of_travel=["bus", "car"]),
        # where exploited is not known
        _victim("XK-4", recruited_in="XK"),
        # a domestic route that passes through another country is not domestic
        _victim("XK-5", recruited_in="XK", transit_countries=["MK"], country_of_exploitation="XK"),
    ]  # fmt: skip
    export = write_victims_csv(base / "victims.csv", victim_rows("XK", profiles, seed=8))
    return load_exports(base / "w.duckdb", [("XK", export)])


def _counts(path: Path, dimension: str) -> dict[object, int | None]:
    with connect(path, read_only=True) as con:
        return {c.key[0]: c.victims for c in victim_counts(con, [dimension], min_cell=1)}


def test_trafficking_scope_is_derived(warehouse: Path) -> None:
    assert _counts(warehouse, "trafficking_scope") == {"domestic": 1, "cross_border": 3, "not_recorded": 1}


def test_route_runs_from_recruitment_through_transit_to_exploitation(warehouse: Path) -> None:
    assert _counts(warehouse, "route") == {
        "XK > XK": 1,
        "XK > RS > IT": 1,
        "XK > MK > XK": 1,
        "not_recorded": 2,
    }
    assert _counts(warehouse, "recruited_in") == {"XK": 4, "not_recorded": 1}


def test_list_dimensions_count_a_victim_under_each_code(warehouse: Path) -> None:
    assert _counts(warehouse, "means_of_control") == {
        "emotional_dependence": 1,
        "physical_violence": 1,
        "documents_withheld": 1,
        "not_recorded": 3,
    }
    assert _counts(warehouse, "means_of_communication") == {"social_network": 1, "messaging_app": 1, "not_recorded": 4}
    assert _counts(warehouse, "means_of_travel") == {"none": 1, "bus": 1, "car": 1, "not_recorded": 3}


def test_two_list_dimensions_together_count_distinct_victims(warehouse: Path) -> None:
    with connect(warehouse, read_only=True) as con:
        cells = victim_counts(con, ["country", "means_of_control", "means_of_travel"], min_cell=1)
    assert sum(c.victims or 0 for c in cells if c.key[1] == "not_recorded") == 3 + 1  # XK-3 has two travel codes


def test_new_dimensions_are_known_to_the_query_parser() -> None:
    assert parse_dimensions("trafficking_scope,route,perpetrator_structure") == [
        "trafficking_scope",
        "route",
        "perpetrator_structure",
    ]
    with pytest.raises(QueryError):
        parse_dimensions("modus")


def test_presumed_and_identified_victims_are_counted_apart(tmp_path: Path) -> None:
    """Identification takes two steps: `status` is a dimension of counts and a filter of
    trends; withdrawn records count under no status."""
    from warehouse.trends import trend_cells

    statuses = ["presumed"] * 3 + ["identified"] * 4 + ["withdrawn"]
    profiles = [_victim(f"XK-S{i}", status=s) for i, s in enumerate(statuses)]
    export = write_victims_csv(tmp_path / "victims.csv", victim_rows("XK", profiles, seed=9))
    with connect(load_exports(tmp_path / "w.duckdb", [("XK", export)]), read_only=True) as con:
        counted = {c.key[0]: c.victims for c in victim_counts(con, ["status"], min_cell=1)}
        presumed = trend_cells(con, "sex", Scope("XK"), min_cell=1, filters={"status": "presumed"})
    assert counted == {"presumed": 3, "identified": 4}
    assert sum(c.victims or 0 for c in presumed if c.country == "XK") == 3
