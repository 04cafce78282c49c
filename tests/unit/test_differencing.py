"""The differencing harness (benchmarks/differencing.py) in its quick form: the known
attacks recover withheld cells from suppression alone (the positive control) and no
better than a guess from the protected counts, in the same run."""

from __future__ import annotations

from benchmarks.differencing import run


def test_protected_counts_resist_differencing_that_breaks_suppression_alone() -> None:
    suppression, protected = run(quick=True)
    print(suppression, protected, sep="\n")
    assert suppression.query_pairs >= 1000 and protected.query_pairs >= 1000
    assert suppression.recovered >= 150  # the attacks work: today's behaviour falls to them
    assert protected.targets == suppression.targets > 0
    assert protected.meets_aim, protected  # no better than guessing the most common small value
