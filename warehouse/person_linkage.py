"""Regional persons: which national records, in different countries, are one person.

Runs at the hub on the encodings producers computed (producers/linkage.py) and holds no
key: it compares Bloom filters by their Dice similarity, 2|A∩B| / (|A| + |B|), within
blocks of equal keyed birth year, so a record is compared with a few thousand others
even among 200,000 known persons.

Two records are linked when they come from different countries, their score (the Dice
similarity, plus a bonus when both know the full birth date and agree on it) reaches
``threshold``, nothing known contradicts it (a different birth month or day where both
countries have one, a different recorded sex), each is the other's best match, and no
rival about as good could be someone else: a false merge hides a victim, so a guess
links nothing. Links are accepted from the best down; a group never takes two records
of one country (within a country the national record_id decides who is one person),
and every two records of a group must look alike, so a chain A(RS)~B(MK)~C(BA) of
different persons does not become one. Records without a birth year are not linked.

Links are recomputed from the current records of every block that changed since the
last refresh (warehouse/link_blocks.py), so a correction (a name fixed, a birth date
added) or a withdrawal re-evaluates every link it touched, and the same records always
give the same persons.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd

from warehouse import link_blocks, linkage_store
from warehouse.link_blocks import Block

# Scheme v2 flips 2 % of bits (BLIP), which lowers the similarity of two spellings of one
# name: 0.8 keeps precision above 0.99 (benchmarks/linkage-quality.json).
DEFAULT_THRESHOLD = 0.8
# Added to the names' similarity when both records know and agree on the birth date
# (or on its month): a match score, not a similarity, so it may pass 1.
FULL_DATE_BONUS = 0.1
MONTH_BONUS = 0.03
# How far the best candidate must lead any rival that cannot be the same person as it.
AMBIGUITY_MARGIN = 0.05


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


UNKNOWN = -1  # a birth month, day or sex the record does not know (bloom_compare reads < 0)


@dataclass(frozen=True)
class _Block:
    """One country's records of one block, as arrays the comparison reads."""

    records: list[LinkRecord]
    words: np.ndarray  # one row of 16 64-bit words per record
    ones: np.ndarray  # bits set per record
    facts: np.ndarray  # birth month, birth day, sex per record, as codes (UNKNOWN: not known)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.words, self.ones, self.facts


Candidates = list[tuple[float, LinkRecord]]


class PersonIndex:
    """Known persons' encodings, blocked by (key fingerprint, keyed birth year), and
    within a block by country: a record is only ever compared with other countries'
    records, so a country re-pushing its whole archive costs no comparison at all."""

    def __init__(self, records: Iterable[LinkRecord] = ()):
        self._codes: dict[str, int] = {}  # birth-date tokens and sexes, as small integers
        grouped: dict[tuple[str, str], dict[str, list[LinkRecord]]] = {}
        for record in records:
            grouped.setdefault((record.key_id, record.birth_year), {}).setdefault(record.country, []).append(record)
        self._blocks: dict[tuple[str, str], dict[str, _Block]] = {
            block_key: {country: self._block(members) for country, members in by_country.items()}
            for block_key, by_country in grouped.items()
        }

    def _code(self, value: str | None) -> int:
        """A small integer for a token or a sex; ``UNKNOWN`` for none."""
        return UNKNOWN if value is None else self._codes.setdefault(value, len(self._codes))

    def _block(self, members: list[LinkRecord]) -> _Block:
        words = np.stack([clk_words(r.clk) for r in members])
        ones = np.bitwise_count(words).sum(axis=1).astype(np.int64)
        facts = np.array(
            [(self._code(r.birth_month), self._code(r.birth_day), self._code(r.sex)) for r in members],
            dtype=np.int64,
        ).reshape(len(members), 3)
        return _Block(members, words, ones, facts)

    def __len__(self) -> int:
        return sum(len(b.records) for block in self._blocks.values() for b in block.values())

    def blocks(self) -> Iterator[list[LinkRecord]]:
        for block in self._blocks.values():
            yield [r for b in block.values() for r in b.records]

    def candidates_of(self, records: list[LinkRecord], threshold: float) -> list[Candidates]:
        """For each record, the known records of other countries scoring at least
        ``threshold`` with nothing known against them; the records of one block and
        country compared with each other country's records of the block at once
        (warehouse/bloom_compare.py)."""
        found: list[Candidates] = [[] for _ in records]
        grouped: dict[tuple[str, str, str], list[int]] = {}
        for position, record in enumerate(records):
            grouped.setdefault((record.key_id, record.birth_year, record.country), []).append(position)
        for (key_id, birth_year, country), positions in grouped.items():
            known = self._blocks.get((key_id, birth_year), {})
            if not any(other != country for other in known):
                continue
            new = self._block([records[p] for p in positions])
            for other, block in known.items():
                if other != country:
                    for row, candidate in _compare(new, block, threshold):
                        found[positions[row]].append(candidate)
        return found

    def all_candidates(self, threshold: float) -> Iterator[tuple[LinkRecord, Candidates]]:
        """Every known record with its candidates among the others."""
        for block in self._blocks.values():
            for country, own in block.items():
                found: list[Candidates] = [[] for _ in own.records]
                for other, theirs in block.items():
                    if other != country:
                        for row, candidate in _compare(own, theirs, threshold):
                            found[row].append(candidate)
                yield from zip(own.records, found, strict=True)


def _compare(new: _Block, known: _Block, threshold: float) -> Iterator[tuple[int, tuple[float, LinkRecord]]]:
    """(row of ``new``, (score, known record)) for each pair that reaches ``threshold``."""
    # Imported here: numba costs half a second to import, and every pipeline process
    # imports this module, most of them to load batches that link nothing.
    from warehouse.bloom_compare import matching_pairs

    rows, cols, scores = matching_pairs(
        new.arrays(), known.arrays(), threshold - FULL_DATE_BONUS, threshold, FULL_DATE_BONUS, MONTH_BONUS
    )
    for row, col, score in zip(rows.tolist(), cols.tolist(), scores.tolist(), strict=True):
        yield row, (round(score, 6), known.records[col])


def link_persons(
    records: Iterable[LinkRecord],
    threshold: float = DEFAULT_THRESHOLD,
    margin: float = AMBIGUITY_MARGIN,
) -> dict[str, tuple[str, float]]:
    """record key -> (regional person key, score of its link) for linked records.

    A link needs both records to be each other's best candidate in the other's country,
    and no rival within ``margin`` of that best that cannot be the same person as it:
    when two records fit a Serbian one about equally (namesakes, a birth date known only
    to the year), guessing would merge two victims into one, so nothing is linked. The person key of
    a group is its smallest record key, whatever order the records arrived in.
    """
    index = PersonIndex(records)
    countries: dict[str, str] = {}
    found: dict[str, list[tuple[float, str, str]]] = {}  # record -> (score, candidate, its country), best first
    alike: set[tuple[str, str]] = set()  # every pair of records that could be one person
    for record, matches in index.all_candidates(threshold):
        countries[record.key] = record.country
        candidates = [(score, c.key, c.country) for score, c in matches]
        found[record.key] = sorted(candidates, key=lambda c: (-c[0], c[1]))
        alike.update((record.key, key) for _score, key, _country in candidates)
    best: dict[tuple[str, str], tuple[float, str] | None] = {}  # (record, other country) -> its match
    for key, candidates in found.items():
        for score, candidate, country in candidates:
            if (key, country) in best:
                continue  # not the best of its country
            # A rival as good (within the margin) that cannot be the same person as this
            # candidate (same country, another birth day, ...) makes the choice a guess.
            rivals = [
                other
                for other_score, other, _ in candidates
                if other != candidate and other_score > score - margin and (candidate, other) not in alike
            ]
            best[(key, country)] = None if rivals else (score, candidate)
    edges = []
    for (key, _country), match in best.items():
        if match is None:
            continue
        score, other = match
        back = best.get((other, countries[key]))
        if key < other and back is not None and back[1] == key:
            edges.append((score, key, other))
    # Most similar first; ties broken by the keys, so the result never depends on order.
    edges.sort(key=lambda e: (-e[0], e[1], e[2]))
    parent: dict[str, str] = {}
    members: dict[str, list[str]] = {}
    scores: dict[str, float] = {}

    def root(key: str) -> str:
        while parent.get(key, key) != key:
            key = parent[key]
        return key

    for score, a, b in edges:
        ra, rb = root(a), root(b)
        if ra == rb:
            continue
        ga, gb = members.get(ra, [ra]), members.get(rb, [rb])
        if {countries[k] for k in ga} & {countries[k] for k in gb}:
            continue  # would put two records of one country in one person
        if any((x, y) not in alike for x in ga for y in gb):
            continue  # every two records of a person must look alike, not just a chain of them
        keep, merged = min(ra, rb), max(ra, rb)
        parent[merged] = keep
        members[keep] = ga + gb
        scores.setdefault(a, score)
        scores.setdefault(b, score)
    return {key: (root(key), score) for key, score in scores.items()}


def current_link_records(con: duckdb.DuckDBPyConnection, blocks: list[Block] | None = None) -> list[LinkRecord]:
    """Current, counted records that carry a linkage encoding with a birth year, in
    blocks that hold records of more than one country (the others cannot link, and a
    country's archive of a million records would otherwise be read into memory); with
    ``blocks``, of those blocks only.

    Encodings come from the linkage store (warehouse/linkage_store.py), the one file
    besides the producers' that holds them; the warehouse has none.
    """
    if not linkage_store.attach(con):
        return []
    wanted = pd.DataFrame(blocks or [], columns=["key_id", "birth_year"], dtype=object)  # noqa: F841
    only_wanted = "JOIN wanted USING (key_id, birth_year)" if blocks is not None else ""
    rows = con.execute(
        f"""
        WITH encoded AS (
            SELECT country || ':' || record_ref AS key, country, key_id, clk, birth_year, birth_month, birth_day, sex
            FROM ({linkage_store.CURRENT_ENCODINGS})
        ),
        shared_blocks AS (
            SELECT key_id, birth_year FROM encoded GROUP BY ALL HAVING count(DISTINCT country) > 1
        )
        SELECT encoded.* FROM encoded JOIN shared_blocks USING (key_id, birth_year) {only_wanted}
        ORDER BY 1
        """
    ).fetchall()
    return [LinkRecord(*row) for row in rows]


# What the links depend on besides the records: a change re-links every block.
# 2: blocks re-linked only when they changed; 3: the blocks found from the touched
# records alone (warehouse/link_blocks.py's record_blocks, filled by a full linkage)
RULES_VERSION = 3


def refresh_person_links(
    con: duckdb.DuckDBPyConnection, threshold: float = DEFAULT_THRESHOLD, full: bool = False
) -> link_blocks.BlockChanges | None:
    """Bring ``person_links`` up to date with the current records: the blocks whose
    records changed since the last linkage are linked again, the others keep their
    links (``full``: every block). Called inside the marts' transaction, before the marts
    read it; the caller records the blocks with ``link_blocks.record`` once it committed.
    None when there is no linkage store (a warehouse in memory): nothing links.
    """
    if not linkage_store.attach(con):
        con.execute("DELETE FROM person_links")
        return None
    rules = f"v{RULES_VERSION} threshold={threshold} margin={AMBIGUITY_MARGIN} bonus={FULL_DATE_BONUS}/{MONTH_BONUS}"
    changes = link_blocks.changed_blocks(con, rules, full)
    records = [LinkRecord(*row) for row in link_blocks.members(con, changes.dirty)]  # type: ignore[arg-type]
    linked = link_persons(records, threshold) if records else {}
    if linked:
        rows = [(*key.split(":", 1), person, score) for key, (person, score) in sorted(linked.items())]
        links = pd.DataFrame(rows, columns=["country", "record_ref", "person_key", "score"])  # noqa: F841
        con.execute("INSERT INTO person_links SELECT country, record_ref, person_key, score FROM links")
    return changes
