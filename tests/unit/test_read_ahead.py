"""The drain prepares the next batch while it loads one (pipeline/drain.py's _read_ahead):
in order, one ahead at most, and a stop or a failure loses nothing it loaded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipeline.drain import _read_ahead


def test_items_come_in_order_and_at_most_one_ahead() -> None:
    prepared: list[int] = []

    def batches() -> Iterator[int]:
        for n in range(5):
            prepared.append(n)
            yield n

    ahead = _read_ahead(batches())
    seen = []
    for item in ahead:
        seen.append(item)
        if item == 2:
            break
    ahead.close()
    assert seen == [0, 1, 2]
    assert prepared == [0, 1, 2, 3]  # the one prepared ahead is dropped, nothing further read


def test_a_failure_while_preparing_reaches_the_caller_after_what_came_before() -> None:
    def batches() -> Iterator[int]:
        yield 1
        raise RuntimeError("the broker went away")

    seen = []
    with pytest.raises(RuntimeError, match="broker"):
        for item in _read_ahead(batches()):
            seen.append(item)
    assert seen == [1]
