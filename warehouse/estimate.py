"""Multiple systems estimation: how many victims there are, those never identified included.

Each agency that met a victim (the export's recorded_by, the identifying one included)
keeps a list; how the lists overlap tells how many persons no list holds. The counts of
persons by the combination of lists that recorded them (2^K - 1 cells for K lists) are
fitted with a Poisson log-linear model, as the UK and Netherlands modern-slavery estimates
did (Bales, Hesketh and Silverman 2015; van der Heijden et al.), and the model's count for
the missing cell (on no list) is the hidden number.

The model always holds:
- a main effect per list (lists differ in size);
- a heterogeneity term, quadratic in the number of lists a person is on (Darroch et al.
  1993's partial quasi-symmetry, the log-linear form of a Rasch model of catchability):
  victims differ in how visible they are, and leaving this out is what made the
  simulations' intervals miss (benchmarks/estimate_coverage.py);
- an interaction for each pair of lists that refer victims to each other, chosen forward
  by AIC (each must lower it by more than 2), while one degree of freedom remains.

The 95 % interval is the profile likelihood's (Cormack 1992): the hidden count is varied,
the model refitted with it as the missing cell, and the interval is where the deviance
stays within chi-square(1) of the best. It is asymmetric, as a count's should be. To allow
for the choice of model, it spans the intervals of the models the search fitted whose AIC
is within 2 of the chosen one's.

What it does on populations of known size, and where it fails (strong differences in
visibility, which every model of this family underestimates), is measured by
benchmarks/estimate_coverage.py and written in docs/analyst.md.

Computed on exact counts inside the hub; release/answers.py decides what leaves.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import statsmodels.api as sm
from scipy.optimize import brentq

from warehouse.queries import QueryError

MAX_LISTS = 5  # more lists make sparse tables; the smallest are merged into "other"
MIN_LIST = 10  # a list smaller than this joins "other"
MIN_OVERLAP = 10  # persons on two lists or more, below which nothing can be estimated
LARGEST_HIDDEN = 100  # times the observed: an interval reaching beyond is not bounded
_CHI2_95 = 3.841458820694124  # chi-square with one degree of freedom, 95 %
OTHER = "other"
ESTIMATE_ROUNDING = 10  # what an estimate is rounded to for a role not entitled to exact counts

ASSUMPTIONS = (
    "the population is closed over the period: victims neither enter nor leave it between lists",
    "each person is counted once and only once: records are linked without error "
    "(the linkage benchmark's missed links make the estimate somewhat high)",
    "every victim could have been recorded by every list (no list is out of reach of a group)",
    "differences in how visible victims are follow the heterogeneity term; pairs of lists that "
    "refer to each other are found by the model, a dependence within the hidden cell is not",
)


class EstimateRefused(QueryError):
    """The data cannot support an estimate; the message says why, without a count (it
    goes to roles not entitled to exact counts too)."""


@dataclass(frozen=True)
class Estimate:
    observed: int
    estimate: float
    lower: float
    upper: float
    lists: tuple[str, ...]
    list_sizes: tuple[int, ...]
    overlap: int  # persons on two lists or more
    interactions: tuple[tuple[str, str], ...]
    # The quadratic term's coefficient (> 0: some victims far more visible than others);
    # None for the classical model without it (the benchmark's baseline).
    heterogeneity: float | None

    @property
    def model(self) -> str:
        pairs = ", ".join(f"{a}×{b}" for a, b in self.interactions)
        visibility = "" if self.heterogeneity is None else ", heterogeneity (quadratic in the number of lists)"
        return (
            f"Poisson log-linear: main effects of {len(self.lists)} lists{visibility}"
            f"{', interactions ' + pairs if pairs else ''}"
        )


def rounded(value: float) -> int:
    """An estimate's figure as a role not entitled to exact counts receives it."""
    return int(round(value / ESTIMATE_ROUNDING) * ESTIMATE_ROUNDING)


def choose_lists(persons: Sequence[frozenset[str]]) -> tuple[str, ...]:
    """The lists the estimate uses: the agencies by size, at most MAX_LISTS; the small
    ones, and those beyond the largest MAX_LISTS - 1, merged into 'other'."""
    sizes = Counter(code for person in persons for code in person)
    ranked = [code for code, _ in sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0]))]
    kept = [c for c in ranked if sizes[c] >= MIN_LIST and c != OTHER]
    if len(kept) + (len(kept) < len(ranked)) > MAX_LISTS:
        kept = kept[: MAX_LISTS - 1]
    return (*kept, OTHER) if len(kept) < len(ranked) else tuple(kept)


def on_lists(persons: Iterable[frozenset[str]], lists: Sequence[str]) -> Counter[tuple[int, ...]]:
    """Persons by the combination of lists that recorded them (1 = on that list)."""
    kept = set(lists)
    patterns: Counter[tuple[int, ...]] = Counter()
    for person in persons:
        merged = {c if c in kept else OTHER for c in person}
        patterns[tuple(int(name in merged) for name in lists)] += 1
    return patterns


class _Model:
    """The design of one log-linear model over all 2^K cells; row 0 is the missing cell."""

    def __init__(self, k: int, pairs: Sequence[tuple[int, int]], heterogeneity: bool = True):
        self.pairs = tuple(pairs)
        cells = np.array(list(itertools.product((0, 1), repeat=k)), dtype=float)
        on = cells.sum(axis=1)
        columns = [np.ones(len(cells)), *cells.T, *([on * (on - 1) / 2] if heterogeneity else [])]
        columns += [cells[:, i] * cells[:, j] for i, j in self.pairs]
        self.design = np.column_stack(columns)
        self.heterogeneity_column = k + 1

    @property
    def parameters(self) -> int:
        return int(self.design.shape[1])

    def fit(self, counts: np.ndarray, with_missing: float | None = None, start: np.ndarray | None = None):  # type: ignore[no-untyped-def]
        """Fitted to the observed cells, or to all of them with ``with_missing`` persons
        in the missing cell (the profile likelihood's refits)."""
        if with_missing is None:
            y, x = counts[1:], self.design[1:]
        else:
            y, x = np.concatenate(([with_missing], counts[1:])), self.design
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a perfect fit's warnings; checked below
            model = sm.GLM(y, x, family=sm.families.Poisson())
            try:
                return model.fit(start_params=start)
            except ValueError:  # the start, far from this fit, overflowed: from scratch
                return model.fit()

    def hidden(self, params: np.ndarray) -> float:
        return float(np.exp(params @ self.design[0]))


def _select(counts: np.ndarray, k: int, heterogeneity: bool) -> tuple[_Model, Any, list[tuple[_Model, Any]]]:
    """Forward selection of list interactions by AIC, keeping a degree of freedom: the
    model chosen, its fit, and every model the search fitted on the way."""
    model = _Model(k, [], heterogeneity)
    fitted = model.fit(counts)
    tried = [(model, fitted)]
    while True:
        candidates = []
        for pair in itertools.combinations(range(k), 2):
            if pair in model.pairs:
                continue
            bigger = _Model(k, [*model.pairs, pair], heterogeneity)
            if bigger.parameters > 2**k - 2:
                continue
            candidates.append((bigger, bigger.fit(counts)))
        tried += candidates
        if not candidates:
            return model, fitted, tried
        best, best_fit = min(candidates, key=lambda c: c[1].aic)
        if best_fit.aic >= fitted.aic - 2:
            return model, fitted, tried
        model, fitted = best, best_fit


def _profile_interval(model: _Model, counts: np.ndarray, hidden: float, start: np.ndarray) -> tuple[float, float]:
    """The hidden counts whose profile deviance stays within chi-square(1)'s 95 %."""

    def loglik(z: float) -> float:
        return float(model.fit(counts, with_missing=z, start=start).llf)

    best = loglik(hidden)

    def excess(z: float) -> float:
        return 2 * (best - loglik(z)) - _CHI2_95

    lower = 0.0 if excess(0.0) <= 0 else brentq(excess, 0.0, hidden, xtol=0.25)
    ceiling = LARGEST_HIDDEN * max(counts[1:].sum(), 1.0)
    top = max(2 * hidden, 10.0)
    while excess(top) < 0:
        if top >= ceiling:
            return lower, math.inf
        top = min(2 * top, ceiling)
    return lower, brentq(excess, hidden, top, xtol=0.25)


def fit_population(
    lists: Sequence[str], patterns: Counter[tuple[int, ...]], where: str = "", heterogeneity: bool = True
) -> Estimate:
    """The estimate from persons counted by the combination of lists that hold them.
    ``heterogeneity=False``: the classical model without it, the benchmark's baseline."""
    k = len(lists)
    observed = sum(patterns.values())
    sizes = tuple(sum(n for p, n in patterns.items() if p[i]) for i in range(k))
    overlap = sum(n for p, n in patterns.items() if sum(p) >= 2)
    if k < 3:
        named = ", ".join(lists) or "none"
        raise EstimateRefused(
            f"no estimate{where}: the records name {k} list{'s' * (k != 1)} of agencies ({named}); multiple"
            " systems estimation needs at least three, so that dependence between lists and differences in"
            " visibility can be allowed for (the export's recorded_by column names every agency that met a victim)"
        )
    if overlap == 0:
        raise EstimateRefused(
            f"no estimate{where}: no person is on two lists, so the lists' overlap says nothing; the exports"
            " carry no recorded_by (national export v1.1), which names every agency that met a victim"
        )
    if overlap < MIN_OVERLAP:
        raise EstimateRefused(
            f"no estimate{where}: too little overlap between the lists (fewer than {MIN_OVERLAP} persons on two"
            " lists or more); the hidden number cannot be told from the lists' sizes alone"
        )
    counts = np.array([patterns.get(cell, 0) for cell in itertools.product((0, 1), repeat=k)], dtype=float)
    model, fitted, tried = _select(counts, k, heterogeneity)
    params = np.asarray(fitted.params)
    hidden = model.hidden(params)
    if not math.isfinite(hidden) or hidden > LARGEST_HIDDEN * observed:
        raise EstimateRefused(
            f"no estimate{where}: the lists overlap too little for the model to bound the hidden number"
        )
    # The interval allows for the choice of model: it spans the intervals of every model
    # the search fitted that the data support nearly as well (AIC within 2 of the chosen).
    low, high = math.inf, 0.0
    for near, near_fit in tried:
        near_hidden = near.hidden(np.asarray(near_fit.params))
        if near_fit.aic > fitted.aic + 2 or not math.isfinite(near_hidden) or near_hidden > LARGEST_HIDDEN * observed:
            continue
        # The fit to the observed cells is already the full table's best with the missing
        # cell at near_hidden (only the intercept reaches that cell): the profile's start.
        near_low, near_high = _profile_interval(near, counts, near_hidden, np.asarray(near_fit.params))
        low, high = min(low, near_low), max(high, near_high)
    if not math.isfinite(high):
        raise EstimateRefused(
            f"no estimate{where}: the data do not bound the hidden number from above (its 95 % interval"
            f" reaches beyond {LARGEST_HIDDEN} times the persons recorded)"
        )
    return Estimate(
        observed=observed,
        estimate=observed + hidden,
        lower=observed + low,
        upper=observed + high,
        lists=tuple(lists),
        list_sizes=sizes,
        overlap=overlap,
        interactions=tuple((lists[i], lists[j]) for i, j in model.pairs),
        heterogeneity=float(params[model.heterogeneity_column]) if heterogeneity else None,
    )


def estimate_persons(persons: Sequence[frozenset[str]], where: str = "", heterogeneity: bool = True) -> Estimate:
    """From each person's set of agencies: the lists chosen, then the model fitted."""
    lists = choose_lists(persons)
    return fit_population(lists, on_lists(persons, lists), where, heterogeneity)


def country_estimate(
    con: duckdb.DuckDBPyConnection, country: str, year_from: int | None = None, year_to: int | None = None
) -> Estimate:
    """The estimate for one reporting country's counted victims (presumed and identified)
    identified in the years asked, each person once with every agency that recorded it."""
    rows = con.execute(
        """
        SELECT list_distinct(flatten(list(agencies))) AS agencies
        FROM mart_victims
        WHERE country = ? AND (? IS NULL OR year >= ?) AND (? IS NULL OR year <= ?)
        GROUP BY person_key
        """,
        [country, year_from, year_from, year_to, year_to],
    ).fetchall()
    persons = [frozenset(a for a in agencies if a != "not_recorded") for (agencies,) in rows]
    persons = [p for p in persons if p]
    years = f" {year_from or '…'}-{year_to or '…'}" if year_from or year_to else ""
    return estimate_persons(persons, f" for {country}{years}")
