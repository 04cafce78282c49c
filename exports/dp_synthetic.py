"""A differentially private synthetic export: records drawn from a noisy histogram.

The histogram is over a domain fixed in advance from the code lists (years of the
declared window, reporting country, sex, minor/adult, broad exploitation group), never
from the data, so its shape reveals nothing. Each victim falls in exactly one cell, so
adding or removing one victim changes one count by one (L1 sensitivity 1). OpenDP's
Laplace mechanism adds the noise and states the privacy loss epsilon; everything after
it (rounding, dropping counts under a threshold, drawing records) is post-processing
and spends no privacy.
"""

from __future__ import annotations

import csv
import itertools
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from disclosure import policy as disclosure
from disclosure.differential_privacy import drop_below, noisy_histogram
from disclosure.policy import DisclosurePolicy, load_policy
from exports.htcds import load_records
from transforms.codelists import NOT_RECORDED

FIELDS = ("yearOfRegistration", "reportingCountry", "gender", "majorityStatus", "exploitationGroup")
SEXES = ("F", "M", "X", NOT_RECORDED)
AGE_GROUPS = ("minor", "adult", "unknown")
GROUPS = ("sexual", "labour", "other", "several", NOT_RECORDED)
FIRST_YEAR = 2010  # the window is public: from here to the current year

Cell = tuple[str, str, str, str, str]


@dataclass
class SyntheticSummary:
    epsilon: float
    cells: int
    dropped_below: int
    true_records: int
    synthetic_records: int
    marginal_error: dict[str, float]  # mean absolute error of each one-way count

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def domain(countries: tuple[str, ...], last_year: int) -> list[Cell]:
    years = [str(y) for y in range(FIRST_YEAR, last_year + 1)]
    return list(itertools.product(years, countries, SEXES, AGE_GROUPS, GROUPS))


def victim_cell(record: Any, policy: DisclosurePolicy) -> Cell:
    groups = disclosure.exploitation(record.exploitation, "broad", policy)
    group = groups[0] if len(groups) == 1 else "several"
    return (
        str(record.year),
        record.country,
        record.sex if record.sex in SEXES else NOT_RECORDED,
        disclosure.age(record.age_band, "age_group"),
        group if group in GROUPS else "other",
    )


def _marginal_error(true: Counter[Cell], synthetic: Counter[Cell]) -> dict[str, float]:
    errors = {}
    for i, name in enumerate(FIELDS):
        t: Counter[str] = Counter()
        s: Counter[str] = Counter()
        for cell, n in true.items():
            t[cell[i]] += n
        for cell, n in synthetic.items():
            s[cell[i]] += n
        keys = set(t) | set(s)
        errors[name] = round(sum(abs(t[k] - s[k]) for k in keys) / max(len(keys), 1), 2)
    return errors


def write_dp_synthetic(con: duckdb.DuckDBPyConnection, path: Path, epsilon: float = 1.0) -> SyntheticSummary:
    if epsilon <= 0:
        raise ValueError("epsilon must be positive")
    policy = load_policy()
    countries = tuple(sorted({"AL", "BA", "ME", "MK", "RS", "XK"}))
    cells = domain(countries, datetime.now(UTC).year)
    index = {cell: i for i, cell in enumerate(cells)}
    true: Counter[Cell] = Counter()
    for record in load_records(con):
        cell = victim_cell(record, policy)
        if cell in index:  # years outside the public window are left out of the release
            true[cell] += 1
    noisy = noisy_histogram([true[c] for c in cells], epsilon)
    # Most cells are empty; their noise alone would invent victims. Counts under the
    # level that noise reaches about once in the whole domain are dropped.
    threshold = drop_below(len(cells), epsilon)
    synthetic = Counter({c: n for c, n in zip(cells, noisy, strict=True) if n >= threshold})
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(FIELDS)
        for cell, n in sorted(synthetic.items()):
            writer.writerows([cell] * n)
    return SyntheticSummary(
        epsilon=epsilon,
        cells=len(cells),
        dropped_below=threshold,
        true_records=sum(true.values()),
        synthetic_records=sum(synthetic.values()),
        marginal_error=_marginal_error(true, synthetic),
    )
