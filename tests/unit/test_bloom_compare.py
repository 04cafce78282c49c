"""The compiled comparison (warehouse/bloom_compare.py) finds exactly the pairs, with
exactly the scores, that the matcher's rule in plain Python finds."""

from __future__ import annotations

import base64

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from warehouse.person_linkage import FULL_DATE_BONUS, MONTH_BONUS, LinkRecord, PersonIndex, dice


def _compatible(a: LinkRecord, b: LinkRecord) -> bool:
    """Nothing both records know disagrees (beyond the names and the birth year)."""
    known = ((a.birth_month, b.birth_month), (a.birth_day, b.birth_day), (a.sex, b.sex))
    return all(mine is None or theirs is None or mine == theirs for mine, theirs in known)


def _score(a: LinkRecord, b: LinkRecord) -> float:
    """The names' similarity, plus the bonus for a birth date both know and agree on."""
    bonus = 0.0
    if a.birth_day is not None and a.birth_day == b.birth_day:
        bonus = FULL_DATE_BONUS
    elif a.birth_month is not None and a.birth_month == b.birth_month:
        bonus = MONTH_BONUS
    return dice(a.clk, b.clk) + bonus


def _reference(record: LinkRecord, known: list[LinkRecord], threshold: float) -> set[tuple[float, str]]:
    return {
        (round(_score(record, other), 6), other.key)
        for other in known
        if other.country != record.country
        and other.birth_year == record.birth_year
        and _compatible(record, other)
        and dice(record.clk, other.clk) >= threshold - FULL_DATE_BONUS
        and _score(record, other) >= threshold
    }


def _clk(bits: list[int]) -> str:
    words = np.zeros(16, dtype=np.uint64)
    for bit in bits:
        words[bit // 64] |= np.uint64(1) << np.uint64(bit % 64)
    return base64.b64encode(words.tobytes()).decode()


# Filters drawn around a few shared names, so that pairs land on both sides of the threshold.
_names = st.lists(st.integers(0, 1023), min_size=0, max_size=60)


@st.composite
def _records(draw: st.DrawFn) -> list[LinkRecord]:
    bases = draw(st.lists(_names, min_size=1, max_size=3))
    records = []
    for i in range(draw(st.integers(1, 14))):
        base = set(draw(st.sampled_from(bases)))
        flipped = set(draw(st.lists(st.integers(0, 1023), max_size=6)))
        month = draw(st.sampled_from([None, "m1", "m2"]))
        day = None if month is None else draw(st.sampled_from([None, f"{month}d1", f"{month}d2"]))
        records.append(
            LinkRecord(
                key=f"{draw(st.sampled_from(['RS', 'MK', 'BA']))}:{i}",
                country="",
                key_id="k",
                clk=_clk(sorted(base ^ flipped)),
                birth_year=draw(st.sampled_from(["y1", "y2"])),
                birth_month=month,
                birth_day=day,
                sex=draw(st.sampled_from([None, "F", "M"])),
            )
        )
    return [LinkRecord(r.key, r.key[:2], *list(r.__dict__.values())[2:]) for r in records]


@settings(max_examples=150, deadline=None)
@given(_records(), st.sampled_from([0.6, 0.7, 0.8, 0.9]))
def test_compiled_candidates_are_the_rule_in_plain_python(records: list[LinkRecord], threshold: float) -> None:
    index = PersonIndex(records)
    everyone = dict(index.all_candidates(threshold))
    arriving = index.candidates_of(records, threshold)
    for record, found in zip(records, arriving, strict=True):
        expected = _reference(record, records, threshold)
        assert {(score, other.key) for score, other in found} == expected
        assert {(score, other.key) for score, other in everyone[record]} == expected
