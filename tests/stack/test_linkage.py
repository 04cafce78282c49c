"""A victim identified in RS (Cyrillic, full birth date) and in MK (Latin, birth year
only) counts once regionally and once in each country; namesakes born in other years
count twice; a withdrawal undoes the link."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from producers.pseudonymise import Pseudonymiser, load_or_create_country_key
from producers.synthetic import VictimProfile, victim_rows, write_victims_csv
from tests.conftest import Stack
from warehouse import linkage_store

pytestmark = pytest.mark.stack
YEAR = "2017"  # no other stack test uses it


def _push(stack: Stack, country: str, path: Path, people: list[tuple[str, str, str, str, str]]) -> None:
    """people: (record_id, given_name, family_name, date_of_birth, status)"""
    rows = []
    for record, given, family, birth, status in people:
        updated = datetime(2017, 9 if status == "withdrawn" else 6, 1, tzinfo=UTC)
        profile = VictimProfile(record, date(2017, 5, 4), "F", 23, "RS", ["sexual"], status=status, updated_at=updated)
        (row,) = victim_rows(country, [profile], seed=3)
        row.update(given_name=given, family_name=family, date_of_birth=birth)
        rows.append(row)
    stack.thbdb("produce", "--country", country, "--input", str(write_victims_csv(path, rows)), "--create-key")


def _counts(stack: Stack, by: str) -> dict[str, int]:
    output = stack.thbdb("query", "counts", "--by", by, "--from", YEAR, "--to", YEAR, "--min-cell", "1",
                         "--format", "csv")  # fmt: skip
    return {r[by]: int(r["victims"]) for r in csv.DictReader(io.StringIO(output.stdout))}


def _links(stack: Stack) -> list[dict[str, str]]:
    output = stack.thbdb("query", "links", "--from", YEAR, "--to", YEAR, "--min-cell", "1", "--format", "csv")
    return list(csv.DictReader(io.StringIO(output.stdout)))


def test_one_person_in_two_countries_counts_once_regionally(stack: Stack, tmp_path: Path) -> None:
    _push(stack, "RS", tmp_path / "rs.csv", [
        ("RS-L-1", "Јована", "Петровић", "1994-03-02", "identified"),
        ("RS-L-2", "Марко", "Николић", "1990-01-20", "identified"),
    ])  # fmt: skip
    _push(stack, "MK", tmp_path / "mk.csv", [
        ("MK-L-1", "Jovana", "Petrovic", "1994", "identified"),
        ("MK-L-2", "Marko", "Nikolic", "1985", "identified"),  # a namesake: another birth year
    ])  # fmt: skip
    stack.thbdb("run")

    assert _counts(stack, "year") == {YEAR: 3}
    assert _counts(stack, "country") == {"MK": 2, "RS": 2}
    assert _links(stack) == [
        {"pair": "MK-RS", "year": YEAR, "victims": "1", "suppressed": "false"},
        {"pair": "total", "year": "total", "victims": "1", "suppressed": "false"},
    ]
    table = stack.thbdb("query", "links", "--min-cell", "1").stdout
    assert "MK-RS" in table

    # North Macedonia withdraws its record: the person is counted once, by Serbia alone.
    _push(stack, "MK", tmp_path / "mk-withdrawn.csv", [("MK-L-1", "Jovana", "Petrovic", "1994", "withdrawn")])
    stack.thbdb("run")
    assert _counts(stack, "year") == {YEAR: 3}
    assert _counts(stack, "country") == {"MK": 1, "RS": 2}
    assert _links(stack) == [{"pair": "total", "year": "total", "victims": "0", "suppressed": "false"}]

    # The withdrawn record's encoding has left the linkage store; the warehouse never had one.
    store = stack.settings.warehouse.with_name(stack.settings.warehouse.stem + linkage_store.SUFFIX)
    assert store.stat().st_mode & 0o777 == 0o600
    mk_key = load_or_create_country_key(stack.settings.country_keys_dir("MK"), "MK", create=False)
    withdrawn, namesake = (Pseudonymiser("MK", mk_key, "").record_ref(r) for r in ("MK-L-1", "MK-L-2"))
    with duckdb.connect(str(store), read_only=True) as con:
        kept = {r for (r,) in con.execute("SELECT record_ref FROM encodings WHERE country = 'MK'").fetchall()}
    assert namesake in kept and withdrawn not in kept
