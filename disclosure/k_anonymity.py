"""The k-anonymity search: over every combination of generalisation levels of the
quasi-identifiers, the one that loses least information while the records kept are in
equivalence classes of k or more (the others suppressed). Works on integer codes of each
quasi-identifier at each level, whatever the records are."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class Generalisation:
    levels: dict[str, str]
    records: int
    kept: int
    loss: float
    smallest_class: int | None  # among kept records

    @property
    def suppressed(self) -> int:
        return self.records - self.kept


def class_sizes(columns: list[np.ndarray]) -> np.ndarray:
    """The size of each record's equivalence class over the given coded columns."""
    key = np.zeros(len(columns[0]), dtype=np.int64)
    span = 1
    for column in columns:
        radix = int(column.max()) + 1
        if span * radix >= 2**62:  # re-factorise so that the combined key never overflows
            key = np.unique(key, return_inverse=True)[1].astype(np.int64)
            span = int(key.max()) + 1
        key = key * radix + column
        span *= radix
    _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    sizes: np.ndarray = counts[inverse]
    return sizes


def least_loss(
    codes: Mapping[tuple[str, str], np.ndarray],
    levels: Mapping[str, Sequence[str]],
    weights: Mapping[str, float],
    records: int,
    k: int,
) -> tuple[Generalisation, int]:
    """The combination of levels (finest first in ``levels``) that loses least: a
    suppressed record loses 1, a kept one the weighted share of the hierarchy climbed.
    Returns it and how many combinations were tried."""
    qis = list(levels)
    if not records:
        return Generalisation({qi: levels[qi][0] for qi in qis}, 0, 0, 0.0, None), 0
    best: Generalisation | None = None
    tried = 0
    weight = [weights.get(qi, 1.0) for qi in qis]
    for combination in itertools.product(*(levels[qi] for qi in qis)):
        tried += 1
        sizes = class_sizes([codes[(qi, level)] for qi, level in zip(qis, combination, strict=True)])
        kept_mask = sizes >= k
        kept = int(kept_mask.sum())
        climbed = np.average(
            [levels[qi].index(level) / max(len(levels[qi]) - 1, 1) for qi, level in zip(qis, combination, strict=True)],
            weights=weight,
        )
        loss = (records - kept + kept * float(climbed)) / records
        candidate = Generalisation(
            dict(zip(qis, combination, strict=True)), records, kept, loss, int(sizes[kept_mask].min()) if kept else None
        )
        if best is None or (candidate.loss, candidate.suppressed) < (best.loss, best.suppressed):
            best = candidate
    assert best is not None
    return best, tried
