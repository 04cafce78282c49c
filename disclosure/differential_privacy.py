"""Differential privacy for counts: OpenDP's Laplace mechanism on a vector of counts, at a
stated privacy loss, and the threshold under which a noisy count is dropped."""

from __future__ import annotations

import math

import opendp.prelude as dp


def drop_below(cells: int, epsilon: float) -> int:
    """The count under which a noisy cell is dropped: P(Laplace noise >= t) = exp(-t*eps)/2;
    a compromise between inventing victims in empty cells and losing the small true ones."""
    return max(1, math.ceil(math.log(cells) / (2 * epsilon)))


def noisy_histogram(counts: list[int], epsilon: float) -> list[int]:
    """OpenDP's Laplace mechanism on the vector of counts (L1 sensitivity 1: each person
    in one cell), at the stated epsilon; refuses a mechanism that would spend more."""
    dp.enable_features("contrib")
    mechanism = dp.m.make_laplace(dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int), scale=1 / epsilon)
    spent = mechanism.map(1)
    if spent > epsilon + 1e-9:
        raise RuntimeError(f"the mechanism spends epsilon {spent}, more than the {epsilon} asked")
    noisy: list[int] = mechanism(counts)
    return noisy
