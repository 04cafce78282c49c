"""What a role not entitled to exact counts gets from the release service's answers
(release/answers.py): never a cell under the threshold, whatever the parameters; the
same cell the same value by every route; exact counts for the entitled."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from benchmarks.differencing import demo_release
from config.settings import Settings
from disclosure.policy import load_policy
from release import answers
from release.access import Identity, Refused, Role
from warehouse.protected_counts import grid_of, victim_grid
from warehouse.queries import DIMENSION_CELLS, DIMENSIONS, Scope, joins_for, victim_counts

ANALYST = Identity("ana", Role.analyst)


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Path]]:
    """The demo's exports loaded with linkage (so there are cross-border persons) and released."""
    folder = tmp_path_factory.mktemp("protection")
    path = demo_release(folder)
    yield Settings(home=folder / "home"), path


def _ask(released: tuple[Settings, Path], compute: answers.Computation, request: dict[str, object]) -> answers.Answer:
    settings, path = released
    with duckdb.connect(str(path), read_only=True) as con:
        return compute(con, answers.Context(ANALYST, load_policy(), settings), request)


def test_an_analyst_gets_no_cell_under_the_threshold_through_any_parameter(released: tuple[Settings, Path]) -> None:
    threshold = load_policy().min_cell
    shown: list[int] = []
    for by, country, first, last, totals in itertools.product(
        ("sex", "year,sex", "country,exploitation", "age_group,citizenship", "year,country,recruitment"),
        (None, "XK", "ME"),
        (None, 2022),
        (None, 2023),
        (False, True),
    ):
        request = {"by": by, "country": country, "year_from": first, "year_to": last, "totals": totals}
        shown += [c["count"] for c in _ask(released, answers.counts, request).document["cells"] if c["count"]]
        for min_cell in range(1, threshold):
            with pytest.raises(Refused, match="role analyst"):
                _ask(released, answers.counts, {**request, "min_cell": min_cell})
    for dimension, country in itertools.product(("sex", "exploitation", "age_group"), (None, "RS")):
        rows = _ask(released, answers.trends, {"dimension": dimension, "country": country}).document["rows"]
        shown += [r["victims"] for r in rows if r["victims"]] + [
            r["period_victims"] for r in rows if r["period_victims"]
        ]
    links = 0
    for by in ("pair", "pair,year", "country"):
        cells = _ask(released, answers.links, {"by": by}).document["cells"]
        links += len(cells)
        shown += [c["count"] for c in cells if c["count"]]
    assert links > 3  # there are cross-border persons to count
    for by in ("year,role", "sex,country"):
        shown += [c["count"] for c in _ask(released, answers.perpetrators, {"by": by}).document["cells"] if c["count"]]
    assert shown and min(shown) >= threshold


def test_the_same_cell_shows_the_same_value_by_every_route(released: tuple[Settings, Path]) -> None:
    def cell(by: str, key: list[object], **more: object) -> int | None:
        cells = _ask(released, answers.counts, {"by": by, **more}).document["cells"]
        return next(c["count"] for c in cells if c["key"] == key)

    direct = cell("year,sex", [2023, "F"], country="RS")
    assert direct is not None
    assert cell("year,sex", [2023, "F"], country="RS") == direct  # asked again
    assert cell("sex", ["F"], country="RS", year_from=2023, year_to=2023) == direct  # as a range
    assert cell("year,country,sex", [2023, "RS", "F"]) == direct  # in another table
    assert cell("year,sex,age_group", [2023, "F", "total"], country="RS", totals=True) == direct


def test_entitled_counts_are_exact_and_protected_ones_are_close(released: tuple[Settings, Path]) -> None:
    settings, path = released
    admin = Identity("admin", Role.admin)
    with duckdb.connect(str(path), read_only=True) as con:
        exact = victim_counts(con, ["year", "country"], min_cell=1)
        answer = answers.counts(
            con, answers.Context(admin, load_policy(), settings), {"by": "year,country", "min_cell": 1}
        )
    assert [c["count"] for c in answer.document["cells"]] == [c.victims for c in exact]
    protected = _ask(released, answers.counts, {"by": "year,country"}).document["cells"]
    true = {tuple(c.key): c.victims for c in exact}
    errors = [abs(c["count"] - true[tuple(c["key"])]) for c in protected if c["count"] is not None]
    assert errors and max(errors) <= load_policy().perturbation_spread


def test_what_protection_cannot_give_is_refused_naming_the_role(released: tuple[Settings, Path]) -> None:
    with pytest.raises(Refused, match=r"^role analyst: protected counts combine at most 2"):
        _ask(released, answers.counts, {"by": "sex,age_group,citizenship"})
    with pytest.raises(Refused, match=r"^role analyst: protected trends are by year"):
        _ask(released, answers.trends, {"dimension": "sex", "period": "quarter"})
    with pytest.raises(Refused, match=r"^role analyst: protected trends"):
        _ask(released, answers.trends, {"dimension": "sex", "filter": "age_group=minor,citizenship=RS"})


def test_protected_trends_carry_the_exact_tests_flags_and_nothing_more(released: tuple[Settings, Path]) -> None:
    """Tests run on the exact counts inside the hub; what a protected trend shows is the
    protected count and share, and the flag the exact test earned: no p-value, q-value or
    slope, which are functions of the exact counts."""
    from disclosure.perturbation import Perturbation
    from warehouse.trends import trend_cells

    minors = {"age_group": "minor"}
    with duckdb.connect(str(released[1]), read_only=True) as con:
        exact = trend_cells(con, "exploitation", Scope("XK"), min_cell=1, filters=minors)
        shown = trend_cells(
            con, "exploitation", Scope("XK"), filters=minors, protection=Perturbation.of(load_policy(), 5)
        )
    earned = {(c.period, c.category): c for c in exact}
    assert all(c.p_value is None and c.q_value is None and c.slope is None for c in shown)
    for cell in shown:
        expected = earned[(cell.period, cell.category)]
        assert cell.flagged == (expected.flagged and not cell.suppressed)
        assert cell.alarm == ("" if cell.suppressed else expected.alarm)
    assert any(c.flagged and c.direction for c in shown)  # flags do come through, on shown cells


@pytest.mark.parametrize("dimension", [None, *sorted(DIMENSION_CELLS)])
def test_the_pre_aggregated_grid_is_the_grid_of_every_victim(
    released: tuple[Settings, Path], dimension: str | None
) -> None:
    """The snapshot's pre-aggregated grid (persons with one record) plus the linked persons
    counted exactly gives the grid counted over every victim: the same persons and the
    same cell keys in every cell, so every protected count is what it was."""
    dimensions = [dimension] if dimension else []
    with duckdb.connect(str(released[1]), read_only=True) as con:
        fast = victim_grid(con, dimensions)
        expressions = ["v.year", "v.country", *(DIMENSIONS[d] for d in dimensions)]
        every = grid_of(con, expressions, f"mart_victims v{joins_for(dimensions)}", "v.person_key", "v.cell_key")
    assert fast == every
