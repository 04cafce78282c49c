"""Regional persons: which national records, in different countries, are one person.

Runs at the hub on the encodings producers computed (producers/linkage.py) and holds no
key: it compares Bloom filters by their Dice similarity, 2|A∩B| / (|A| + |B|), within
blocks of equal keyed birth year, so a record is compared with a few thousand others
even among 200,000 known persons.

Two records are linked when they come from different countries, their filters are at
least ``threshold`` alike, and nothing known contradicts it (a different birth month or
day where both countries have one, a different recorded sex). Links are accepted from
the most similar down, and a group never takes two records of one country: within a
country the national record_id decides who is one person, and a chain A(RS)~B(MK)~C(RS)
must not merge two Serbian records through Macedonia.

Everything is recomputed from the current records at every refresh, so a correction
(a name fixed, a birth date added) or a withdrawal re-evaluates every link it touched,
and the same records always give the same persons.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd

DEFAULT_THRESHOLD = 0.8
_WORDS = 16  # 1024 bits as 64-bit words


@dataclass(frozen=True)
class LinkRecord:
    """One current national record as the matcher sees it: pseudonyms and encodings."""

    key: str  # country:record_ref, the record's person key within its country
    country: str
    key_id: str
    clk: str  # base64 Bloom filter
    birth_year: str
    birth_month: str | None = None
    birth_day: str | None = None
    sex: str | None = None


def clk_words(clk: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(clk), dtype=np.uint64)


def dice(a: str, b: str) -> float:
    """Dice similarity of two base64 Bloom filters."""
    x, y = clk_words(a), clk_words(b)
    total = int(np.bitwise_count(x).sum() + np.bitwise_count(y).sum())
    return 2 * int(np.bitwise_count(x & y).sum()) / total if total else 0.0


def compatible(a: LinkRecord, b: LinkRecord) -> bool:
    """Nothing both records know disagrees (beyond the names and the birth year)."""
    for mine, theirs in ((a.birth_month, b.birth_month), (a.birth_day, b.birth_day), (a.sex, b.sex)):
        if mine is not None and theirs is not None and mine != theirs:
            return False
    return True


@dataclass
class _Block:
    records: list[LinkRecord] = field(default_factory=list)
    words: np.ndarray = field(default_factory=lambda: np.zeros((0, _WORDS), dtype=np.uint64))
    ones: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


class PersonIndex:
    """Known persons' encodings, blocked by (key fingerprint, keyed birth year)."""

    def __init__(self, records: Iterable[LinkRecord] = ()):
        grouped: dict[tuple[str, str], list[LinkRecord]] = {}
        for record in records:
            grouped.setdefault((record.key_id, record.birth_year), []).append(record)
        self._blocks: dict[tuple[str, str], _Block] = {}
        for block_key, members in grouped.items():
            words = np.stack([clk_words(r.clk) for r in members])
            self._blocks[block_key] = _Block(members, words, np.bitwise_count(words).sum(axis=1).astype(np.int64))

    def __len__(self) -> int:
        return sum(len(b.records) for b in self._blocks.values())

    def blocks(self) -> Iterator[list[LinkRecord]]:
        yield from (b.records for b in self._blocks.values())

    def candidates(self, record: LinkRecord, threshold: float) -> list[tuple[float, LinkRecord]]:
        """Known records of other countries at least ``threshold`` alike and compatible."""
        block = self._blocks.get((record.key_id, record.birth_year))
        if block is None:
            return []
        words = clk_words(record.clk)
        common = np.bitwise_count(block.words & words).sum(axis=1)
        scores = 2 * common / (block.ones + int(np.bitwise_count(words).sum()))
        found = []
        for i in np.flatnonzero(scores >= threshold):
            other = block.records[int(i)]
            if other.country != record.country and compatible(record, other):
                found.append((float(scores[i]), other))
        return found


def link_persons(records: Iterable[LinkRecord], threshold: float = DEFAULT_THRESHOLD) -> dict[str, tuple[str, float]]:
    """record key -> (regional person key, similarity of its link) for linked records.

    The person key of a group is its smallest record key, so it is stable whichever
    order the records arrived in.
    """
    index = PersonIndex(records)
    edges: list[tuple[float, str, str]] = []
    countries: dict[str, str] = {}
    for members in index.blocks():
        for record in members:
            countries[record.key] = record.country
            for score, other in index.candidates(record, threshold):
                if record.key < other.key:
                    edges.append((score, record.key, other.key))
    # Most similar first; ties broken by the keys, so the result never depends on order.
    edges.sort(key=lambda e: (-e[0], e[1], e[2]))
    parent: dict[str, str] = {}
    group_countries: dict[str, set[str]] = {}
    best: dict[str, float] = {}

    def root(key: str) -> str:
        while parent.get(key, key) != key:
            key = parent[key]
        return key

    for score, a, b in edges:
        ra, rb = root(a), root(b)
        if ra == rb:
            continue
        ca = group_countries.get(ra, {countries[a]})
        cb = group_countries.get(rb, {countries[b]})
        if ca & cb:  # would put two records of one country in one person
            continue
        keep, merged = min(ra, rb), max(ra, rb)
        parent[merged] = keep
        group_countries[keep] = ca | cb
        best.setdefault(a, score)
        best.setdefault(b, score)
    linked = {}
    for key in best:
        linked[key] = (root(key), best[key])
    return linked


def current_link_records(con: duckdb.DuckDBPyConnection) -> list[LinkRecord]:
    """Current, counted records that carry a linkage encoding with a birth year."""
    rows = con.execute(
        """
        SELECT country || ':' || record_ref, country, linkage_key_id, linkage_clk, linkage_birth_year,
               linkage_birth_month, linkage_birth_day, sex
        FROM stg_victim_current
        WHERE status <> 'withdrawn' AND linkage_clk IS NOT NULL AND linkage_birth_year IS NOT NULL
        ORDER BY 1
        """
    ).fetchall()
    return [LinkRecord(*row) for row in rows]


def refresh_person_links(con: duckdb.DuckDBPyConnection, threshold: float = DEFAULT_THRESHOLD) -> int:
    """Recompute ``person_links`` from the current records; returns the linked records.

    Called inside the marts' transaction, before the marts read it.
    """
    linked = link_persons(current_link_records(con), threshold)
    con.execute("DELETE FROM person_links")
    if linked:
        rows = [(*key.split(":", 1), person, score) for key, (person, score) in sorted(linked.items())]
        links = pd.DataFrame(rows, columns=["country", "record_ref", "person_key", "similarity"])  # noqa: F841
        con.execute("INSERT INTO person_links SELECT country, record_ref, person_key, similarity FROM links")
    return len(linked)
