"""Multiple systems estimation against a known truth: simulated populations of known size.

Each run draws a population of N victims (100 to 2,000) and 3 to 5 agencies' lists:
- two classes of catchability: 30 % of victims are visible (each list records them with
  a probability between 0.2 and 0.4), the others are RATIO times less likely to be
  recorded by every list (RATIO drawn between 2 and 4);
- dependence between lists: the second list also records 30 % of those the first one
  recorded (a referral);
- linkage errors at the rates the linkage benchmark measures (benchmarks/linkage-quality.json
  at its threshold: recall 0.937, precision 0.998): a person on several lists is split in
  two with probability 1 - recall (every overlap is taken to need linkage, the worst
  case), and two persons are merged into one with the false links' rate.

The estimator (warehouse/estimate.py) is run on what the lists show, and its 95 % interval
checked against N. The baseline is the classical model without the heterogeneity term.

    python -m benchmarks.estimate_coverage [--sims 200] [--seed 1] [--sensitivity]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from warehouse.estimate import EstimateRefused, estimate_persons

LINK_RECALL = 0.937  # benchmarks/linkage-quality.json, at the threshold
LINK_PRECISION = 0.9979
AGENCIES = ("police", "ngo", "social_services", "labour_inspection", "border_police")


@dataclass(frozen=True)
class Design:
    """What a simulated population varies over; the defaults are the acceptance design."""

    smallest: int = 100
    largest: int = 2000
    fewest_lists: int = 3
    most_lists: int = 5
    ratio_low: float = 2.0  # how many times less visible the hidden class is
    ratio_high: float = 4.0
    visible_share: float = 0.3
    referral: float = 0.3  # share of the first list's persons the second one also records
    linkage_share: float = 1.0  # share of overlaps that linkage had to find


def simulate(rng: np.random.Generator, design: Design) -> tuple[int, list[frozenset[str]]]:
    """A population's true size and the persons its lists show, one set of lists each."""
    size = int(rng.integers(design.smallest, design.largest + 1))
    k = int(rng.integers(design.fewest_lists, design.most_lists + 1))
    ratio = rng.uniform(design.ratio_low, design.ratio_high)
    visible = rng.random(size) < design.visible_share
    chance = rng.uniform(0.2, 0.4, k)
    p = np.where(visible[:, None], chance[None, :], (chance / ratio)[None, :])
    caught = rng.random((size, k)) < p
    caught[:, 1] |= caught[:, 0] & (rng.random(size) < design.referral)
    names = AGENCIES[:k]
    persons: list[frozenset[str]] = []
    for row in caught[caught.any(axis=1)]:
        held = [names[i] for i in np.flatnonzero(row)]
        if len(held) >= 2 and rng.random() < design.linkage_share and rng.random() > LINK_RECALL:
            rng.shuffle(held)  # a missed link: the person's records stay two persons
            cut = int(rng.integers(1, len(held)))
            persons += [frozenset(held[:cut]), frozenset(held[cut:])]
        else:
            persons.append(frozenset(held))
    merges = int(rng.binomial(len(persons), 1 - LINK_PRECISION))
    for _ in range(merges):  # a false link: two persons taken for one
        if len(persons) < 2:
            break
        i, j = sorted(rng.choice(len(persons), 2, replace=False))
        persons[i] = persons[i] | persons.pop(j)
    return size, persons


@dataclass(frozen=True)
class Coverage:
    sims: int
    estimated: int
    refused: int
    coverage: float  # of the estimates made, the share whose interval holds the true size
    median_relative_error: float
    median_relative_width: float
    seconds: float


def coverage(sims: int, seed: int, design: Design = Design(), heterogeneity: bool = True) -> Coverage:
    rng = np.random.default_rng(seed)
    hits, errors, widths, refused = 0, [], [], 0
    started = time.perf_counter()
    for _ in range(sims):
        size, persons = simulate(rng, design)
        try:
            found = estimate_persons(persons, heterogeneity=heterogeneity)
        except EstimateRefused:
            refused += 1
            continue
        hits += found.lower <= size <= found.upper
        errors.append(abs(found.estimate - size) / size)
        widths.append((found.upper - found.lower) / size)
    made = sims - refused
    return Coverage(
        sims=sims,
        estimated=made,
        refused=refused,
        coverage=round(hits / made, 4) if made else 0.0,
        median_relative_error=round(statistics.median(errors), 4) if errors else 0.0,
        median_relative_width=round(statistics.median(widths), 4) if widths else 0.0,
        seconds=round(time.perf_counter() - started, 1),
    )


SENSITIVITY = {
    "no heterogeneity (ratio 1)": Design(ratio_low=1.0, ratio_high=1.0),
    "ratio 2": Design(ratio_low=2.0, ratio_high=2.0),
    "ratio 4": Design(ratio_low=4.0, ratio_high=4.0),
    "ratio 6": Design(ratio_low=6.0, ratio_high=6.0),
    "no linkage errors": Design(linkage_share=0.0),
    "a third of overlaps linked": Design(linkage_share=1 / 3),
}


def _row(name: str, result: Coverage) -> str:
    return (
        f"{name:<34} coverage {result.coverage:6.3f}  median rel. error {result.median_relative_error:6.3f}"
        f"  median width {result.median_relative_width:6.3f}  refused {result.refused:3d}/{result.sims}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sims", type=int, default=200, help="simulated populations per design")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sensitivity", action="store_true", help="also vary heterogeneity and linkage errors")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    args = parser.parse_args(argv)
    results: dict[str, dict[str, object]] = {}
    print(f"Multiple systems estimation, {args.sims} simulated populations of known size (seed {args.seed})")
    for name, heterogeneity in (("estimator (with heterogeneity)", True), ("baseline (classical model)", False)):
        result = coverage(args.sims, args.seed, heterogeneity=heterogeneity)
        results[name] = asdict(result)
        print(_row(name, result), flush=True)
    if args.sensitivity:
        print("Sensitivity of the estimator to the design:")
        for name, design in SENSITIVITY.items():
            result = coverage(args.sims, args.seed, design)
            results[name] = asdict(result)
            print(_row(name, result), flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
