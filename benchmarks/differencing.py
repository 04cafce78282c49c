"""Differencing attacks on the counts that leave the hub, and how many withheld cells they recover.

The analyst's attacks of the differencing issue, played against two releases of the same
data: suppression alone, recomputed for every query (what the hub did before; the
positive control), and the protected counts of ``disclosure/perturbation.py``.

A target is a cell the direct query withholds (true count 1 to threshold-1). Each
attack is a path to it through published cells:

- **ranges**: ``--from y --to L`` minus ``--from y+1 --to L``, and ``--from F --to y``
  minus ``--from F --to y-1``, for every L and F;
- **totals**: the year's total (``--totals``) minus the other categories;
- **region**: the region's cell minus the other five countries';
- **country table**: the same three ways in the table ``year,country,D``, whose
  suppression pattern is its own;
- **trends**: the trend query's row for the same year, country and category, whose
  withheld cells were chosen apart from the count's;
- **links**: a withheld pair and year of cross-border persons by ranges of years;
- **pooled tables**: every value published for a cell in any table asked (``year,D``,
  ``year,country,D`` and ``year,D,D2`` for other dimensions D2, whose totals over D2 are
  the same cells) pooled, and the totals and region paths played again with them, so
  that a sibling withheld in one table but shown in another is used.

The attacker averages every path's estimate, knows a withheld cell is 1 to
threshold-1 (and clamps to it), and guesses the most common small value where no path
reaches. A cell is recovered when that estimate, rounded, is the true count. The aim:
no better than guessing the most common small value for every target.

Run: ``python -m benchmarks.differencing [--quick]`` (prints figures, writes JSON).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import duckdb

from config.settings import COUNTRIES
from disclosure.perturbation import Perturbation
from disclosure.suppression import TOTAL
from warehouse.link_queries import link_counts
from warehouse.protected_counts import protected_link_counts, protected_victim_counts
from warehouse.queries import CountCell, Scope, victim_counts
from warehouse.trends import trend_cells

DIMENSIONS = ("sex", "age_group", "citizenship", "recruitment", "case_category", "identified_by",
              "country_of_exploitation", "exploitation", "means_of_travel")  # fmt: skip
SINGLE_VALUED = frozenset(DIMENSIONS) - {"exploitation", "means_of_travel"}
QUICK_DIMENSIONS = ("sex", "age_group", "citizenship", "recruitment", "identified_by", "exploitation")

Ask = Callable[[tuple[str, ...], str | None, int | None, int | None, bool], tuple[CountCell, ...]]


@dataclass
class AttackResult:
    release: str
    targets: int  # withheld cells with a true count 1..threshold-1
    reached: int  # targets with at least one path through published cells
    recovered: int  # the attacker's rounded estimate is the true count
    recovered_rate: float
    guess_rate: float  # guessing the most common small value for every target
    paths: int  # paths tried: each a difference of two queries or more
    query_pairs: int
    queries: int
    seconds: float

    @property
    def meets_aim(self) -> bool:
        return self.recovered_rate <= self.guess_rate


def oracle(con: duckdb.DuckDBPyConnection, protection: Perturbation | None, threshold: int) -> Ask:
    """What an analyst gets back: suppression alone at ``threshold``, or protected counts."""

    @cache
    def ask(
        by: tuple[str, ...], country: str | None, first: int | None, last: int | None, totals: bool
    ) -> tuple[CountCell, ...]:
        scope = Scope(country, first, last)
        if protection is None:
            return tuple(victim_counts(con, list(by), scope, threshold, totals))
        return tuple(protected_victim_counts(con, list(by), protection, scope, totals))

    return ask


def _link_oracle(
    con: duckdb.DuckDBPyConnection, protection: Perturbation | None, threshold: int
) -> Callable[[tuple[str, ...], int | None, int | None], dict[tuple[object, ...], int | None]]:
    @cache
    def ask(by: tuple[str, ...], first: int | None, last: int | None) -> dict[tuple[object, ...], int | None]:
        if protection is None:
            cells, _ = link_counts(con, list(by), Scope(None, first, last), threshold)
        else:
            cells, _ = protected_link_counts(con, list(by), protection, Scope(None, first, last))
        return {c.key: c.victims for c in cells}

    return ask


def _minus(total: int | None, parts: list[int | None]) -> float | None:
    """``total`` minus ``parts``: an estimate of what is left, if every value is shown."""
    if total is None or any(p is None for p in parts):
        return None
    return float(total - sum(p for p in parts if p is not None))


def _shown(cells: tuple[CountCell, ...]) -> dict[tuple[object, ...], int | None]:
    return {c.key: c.victims for c in cells}


def play(
    con: duckdb.DuckDBPyConnection,
    protection: Perturbation | None,
    threshold: int,
    dimensions: tuple[str, ...] = DIMENSIONS,
    name: str = "",
) -> AttackResult:
    started = time.perf_counter()
    ask = oracle(con, protection, threshold)
    years = sorted(
        {int(r[0]) for r in con.execute("SELECT DISTINCT year FROM mart_victims WHERE year IS NOT NULL").fetchall()}
    )
    truth_cache: dict[tuple[str, str | None], dict[tuple[object, ...], int]] = {}

    @cache
    def trends(dimension: str, country: str | None) -> dict[tuple[str, str, str], int | None]:
        cells = trend_cells(con, dimension, Scope(country), min_cell=threshold, protection=protection)
        return {(c.period, c.country, c.category): c.victims for c in cells}

    def truth(dimension: str, country: str | None) -> dict[tuple[object, ...], int]:
        if (dimension, country) not in truth_cache:
            exact = victim_counts(con, ["year", dimension], Scope(country), min_cell=1)
            truth_cache[(dimension, country)] = {c.key: c.victims or 0 for c in exact}
        return truth_cache[(dimension, country)]

    targets: list[tuple[int, list[float]]] = []  # (true value, estimates)
    paths = pairs = 0
    for dimension in dimensions:
        for country in (*COUNTRIES, None):
            direct = _shown(ask(("year", dimension), country, None, None, False))
            exact = truth(dimension, country)
            for (year_shown, value), shown in direct.items():
                year = int(year_shown)  # type: ignore[call-overload]
                true = exact.get((year, value), 0)
                if shown is not None or not 1 <= true < threshold:
                    continue
                # One entry per path tried: the estimate, or None where a part is withheld.
                found: list[float | None] = []

                def difference(a: int | None, b: int | None) -> float | None:
                    return None if a is None or b is None else float(a - b)

                # Ranges ending at L (or starting at F) with and without the year.
                for last in (y for y in years if y > year):
                    wide = _shown(ask((dimension,), country, year, last, False)).get((value,))
                    narrow = _shown(ask((dimension,), country, year + 1, last, False)).get((value,))
                    found.append(difference(wide, narrow))
                for first in (y for y in years if y < year):
                    wide = _shown(ask((dimension,), country, first, year, False)).get((value,))
                    narrow = _shown(ask((dimension,), country, first, year - 1, False)).get((value,))
                    found.append(difference(wide, narrow))
                # The year's total minus the other categories (an exact sum for single-valued ones).
                if dimension in SINGLE_VALUED:
                    table = _shown(ask(("year", dimension), country, None, None, True))
                    others = [v for (y, k), v in table.items() if y == year and k not in (value, TOTAL)]
                    found.append(_minus(table.get((year, TOTAL)), others))
                # The region minus the other countries.
                if country is not None:
                    region = _shown(ask(("year", dimension), None, None, None, False)).get((year, value))
                    rest = [_shown(ask(("year", dimension), c, None, None, False)).get((year, value), 0)
                            for c in COUNTRIES if c != country]  # fmt: skip
                    found.append(_minus(region, rest))
                # The year x country x D table: its own suppression, its own margins.
                table3 = _shown(ask(("year", "country", dimension), None, None, None, True))
                if country is not None and dimension in SINGLE_VALUED:
                    others = [
                        v for (y, c, k), v in table3.items() if y == year and c == country and k not in (value, TOTAL)
                    ]
                    found.append(_minus(table3.get((year, country, TOTAL)), others))
                if country is not None:
                    rest = [table3.get((year, c, value), 0) for c in COUNTRIES if c != country]
                    found.append(_minus(table3.get((year, TOTAL, value)), rest))
                # Pooled: any table's published value of each part.
                for _path, parts, total in _pooled_paths(ask, dimension, country, year, value, dimensions):
                    found.append(_minus(total, parts))
                # The trend query of the same dimension, whose withheld cells were its own.
                trend = trends(dimension, country).get((str(year), country or "ALL", str(value)))
                found.append(None if trend is None else float(trend))
                estimates = [e for e in found if e is not None]
                paths += len(found)
                pairs += len(found)
                targets.append((true, estimates))
    # Cross-border persons: a withheld pair and year, by ranges of years.
    links = _link_oracle(con, protection, threshold)
    exact_links: dict[tuple[object, ...], int] = {
        c.key: c.victims or 0 for c in link_counts(con, ["pair", "year"], min_cell=1)[0]
    }
    for (pair, year_shown), shown in links(("pair", "year"), None, None).items():
        year = int(year_shown)  # type: ignore[call-overload]
        true = exact_links.get((pair, year), 0)
        if shown is not None or not 1 <= true < threshold:
            continue
        found = []
        for last in (y for y in years if y > year):
            found.append(
                _minus(links(("pair",), year, last).get((pair,)), [links(("pair",), year + 1, last).get((pair,))])
            )
        for first in (y for y in years if y < year):
            found.append(
                _minus(links(("pair",), first, year).get((pair,)), [links(("pair",), first, year - 1).get((pair,))])
            )
        paths += len(found)
        pairs += len(found)
        targets.append((true, [e for e in found if e is not None]))
    small = Counter(true for true, _ in targets)
    guess = small.most_common(1)[0][0] if small else 1
    recovered = 0
    for true, estimates in targets:
        if estimates:
            estimate = min(max(statistics.fmean(estimates), 1.0), float(threshold - 1))
            recovered += round(estimate) == true
        else:
            recovered += guess == true
    n = len(targets)
    return AttackResult(
        release=name or ("suppression alone" if protection is None else f"perturbed (sd {protection.sd})"),
        targets=n,
        reached=sum(bool(e) for _, e in targets),
        recovered=recovered,
        recovered_rate=round(recovered / n, 4) if n else 0.0,
        guess_rate=round(small[guess] / n, 4) if n else 0.0,
        paths=paths,
        query_pairs=pairs,
        queries=ask.cache_info().currsize,  # type: ignore[attr-defined]
        seconds=round(time.perf_counter() - started, 1),
    )


def _pooled_paths(
    ask: Ask, dimension: str, country: str | None, year: int, value: object, dimensions: tuple[str, ...]
) -> list[tuple[str, list[int | None], int | None]]:
    """Paths to the cell (year, country, dimension=value) with each part's value taken
    from whichever table shows it: (which path, the parts to subtract, the total)."""
    # (country or TOTAL, category, D2 slice) -> shown; None where every table withholds it.
    known: dict[tuple[object, object, object], int | None] = {}

    def learn(key: tuple[object, object, object], shown: int | None) -> None:
        if shown is not None or key not in known:
            known[key] = shown

    seen_countries = (*COUNTRIES, None)
    for other in [d for d in dimensions if d != dimension][:4]:
        for c in seen_countries:
            for cell in ask(("year", dimension, other), c, None, None, True):
                y, category, slice_ = cell.key
                if y == year and slice_ == TOTAL:
                    learn((c or TOTAL, category, TOTAL), cell.victims)
    for c in seen_countries:
        for cell in ask(("year", dimension), c, None, None, True):
            y, category = cell.key
            if y == year:
                learn((c or TOTAL, category, TOTAL), cell.victims)
    where = country or TOTAL
    categories = {k[1] for k in known if k[0] == where} | {value}
    paths: list[tuple[str, list[int | None], int | None]] = []
    if dimension in SINGLE_VALUED:
        siblings = [known.get((where, k, TOTAL)) for k in categories if k not in (value, TOTAL)]
        paths.append(("totals", siblings, known.get((where, TOTAL, TOTAL))))
    if country is not None:
        rest = [known.get((c, value, TOTAL), 0) for c in COUNTRIES if c != country]
        paths.append(("region", rest, known.get((TOTAL, value, TOTAL))))
    return paths


def demo_release(folder: Path, seed: int = 7) -> Path:
    """The demo's synthetic exports loaded and published as a release snapshot."""

    from config.settings import Settings
    from release import snapshot
    from tests.warehouse_builder import load_demo

    settings = Settings(home=folder / "home")
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    load_demo(settings.warehouse, folder / "exports", seed=seed, linkage_key=bytes(range(32)))
    from warehouse.loader import connect

    with connect(settings.warehouse) as con:
        return snapshot.publish(con, settings)


def run(quick: bool = False, seed: int = 7) -> list[AttackResult]:
    from disclosure.policy import load_policy

    policy = load_policy()
    dimensions = QUICK_DIMENSIONS if quick else DIMENSIONS
    with tempfile.TemporaryDirectory(prefix="thbdb-differencing-") as folder:
        path = demo_release(Path(folder), seed)
        con = duckdb.connect(str(path), read_only=True)
        try:
            results = [play(con, None, policy.min_cell, dimensions)]
            protection = Perturbation.of(policy, policy.min_cell)
            results.append(play(con, protection, policy.min_cell, dimensions))
        finally:
            con.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer dimensions (the test's run)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("differencing.json"))
    arguments = parser.parse_args()
    results = run(arguments.quick, arguments.seed)
    print(f"{'release':<24}{'targets':>8}{'reached':>9}{'recovered':>11}{'rate':>8}{'guess':>8}{'pairs':>8}{'s':>7}")
    for r in results:
        print(f"{r.release:<24}{r.targets:>8}{r.reached:>9}{r.recovered:>11}{r.recovered_rate:>8.1%}"
              f"{r.guess_rate:>8.1%}{r.query_pairs:>8}{r.seconds:>7}")  # fmt: skip
    arguments.out.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")


if __name__ == "__main__":
    main()
