"""`thbdb erase`: after it and the stated time, no store of the hub holds the records.

A country pushes records (one with a later version, one withdrawn, one with a version
still waiting in Kafka when the order comes), the pipeline loads them, and the country's
officer erases some. Then every store is searched for the records' pseudonyms and
linkage encodings: the broker's segment files (read with Kafka's own tool, so what lies
below a partition's start is searched too), every DuckDB file under the home (the
warehouse, the linkage store, the release snapshots) table by table, and every other
file under the home byte by byte (logs, reports, Great Expectations results, the audit
log). The admin's exact count goes down by exactly the records erased, and pushing them
again brings nothing back.
"""

from __future__ import annotations

import csv
import io
import re
import time
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from config.settings import country_topic
from producers.pseudonymise import Pseudonymiser, load_or_create_country_key
from producers.synthetic import VictimProfile, victim_rows, write_victims_csv
from tests.conftest import Stack
from tests.kafka_files import broker_text
from warehouse import linkage_store
from warehouse.loader import connect

pytestmark = pytest.mark.stack
COUNTRY, YEAR = "MK", 2011
ERASED = ["MK-ERASE-01", "MK-ERASE-02", "MK-ERASE-03", "MK-ERASE-04"]  # 04: withdrawn before
FIRST, LATER = datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC)


def _profile(record: str, i: int, updated: datetime, status: str = "identified") -> VictimProfile:
    return VictimProfile(
        record, date(YEAR, 1 + i % 12, 3), "FM"[i % 2], 19 + i, COUNTRY, ["labour"], status=status, updated_at=updated
    )


def _export(path: Path, profiles: list[VictimProfile]) -> Path:
    return write_victims_csv(path, victim_rows(COUNTRY, profiles, 31))


def _exact_total(stack: Stack) -> int:
    counted = stack.thbdb(
        "query", "counts", "--country", COUNTRY, "--by", "year", "--from", str(YEAR), "--to", str(YEAR),
        "--min-cell", "1", "--format", "csv",
    )  # fmt: skip
    return sum(int(r["victims"]) for r in csv.DictReader(io.StringIO(counted.stdout)) if r["victims"])


def _encodings(stack: Stack, refs: list[str]) -> tuple[int, set[str]]:
    """How many encodings the records have in the linkage store, and the values only they
    carry (a birth-year token is shared by everyone born that year; two people of the
    same name and birth have the same filter: those stay with the others' records)."""
    with connect(stack.settings.warehouse, read_only=True) as con:
        linkage_store.attach(con, read_only=True)
        rows = con.execute(
            f"SELECT country = ? AND list_contains(?, record_ref), clk, birth_year, birth_month, birth_day"
            f" FROM {linkage_store.ALIAS}.encodings",
            [COUNTRY, refs],
        ).fetchall()
    theirs = {v for erased, *values in rows if erased for v in values if v}
    others = {v for erased, *values in rows if not erased for v in values if v}
    return sum(1 for erased, *_values in rows if erased), theirs - others


def _database_text(path: Path, into: Path) -> bytes:
    """Every table of a DuckDB file as CSV text (stored strings may be compressed)."""
    into.mkdir(parents=True)
    con = duckdb.connect(str(path), read_only=True)
    try:
        con.execute(f"EXPORT DATABASE '{into}' (FORMAT csv)")
    finally:
        con.close()
    return b"".join(p.read_bytes() for p in sorted(into.glob("*.csv")))


def _found_in_stores(stack: Stack, needles: list[bytes], scratch: Path) -> list[str]:
    home = stack.settings.home
    found = []
    broker = broker_text(stack.settings, country_topic(COUNTRY))
    found += [f"broker files: {n[:12]!r}" for n in needles if n in broker]
    for number, path in enumerate(sorted(home.rglob("*.duckdb"))):
        text = _database_text(path, scratch / f"db-{number}")
        found += [f"{path.relative_to(home)} tables: {n[:12]!r}" for n in needles if n in text]
    for path in home.rglob("*"):
        if path.is_file() and not path.is_relative_to(stack.settings.kafka_dir / "data"):
            data = path.read_bytes()
            found += [f"{path.relative_to(home)}: {n[:12]!r}" for n in needles if n in data]
    return found


def test_erased_records_leave_every_store_and_do_not_come_back(stack: Stack, tmp_path: Path) -> None:
    kept = [_profile(f"MK-KEEP-{i:02d}", i, FIRST) for i in range(8)]
    erased = [_profile(r, i, FIRST, "withdrawn" if r.endswith("04") else "identified") for i, r in enumerate(ERASED)]
    first = _export(tmp_path / "march.csv", kept + erased)
    stack.thbdb("produce", "--country", COUNTRY, "--input", str(first), "--create-key")
    later = _export(tmp_path / "june.csv", [_profile(ERASED[0], 0, LATER)])  # a second version
    stack.thbdb("produce", "--country", COUNTRY, "--input", str(later))
    stack.thbdb("run")
    before = _exact_total(stack)
    # A version of an erased record pushed after the last run: still waiting in Kafka.
    waiting = _export(tmp_path / "july.csv", [_profile(ERASED[1], 1, datetime(2024, 7, 1, tzinfo=UTC))])
    stack.thbdb("produce", "--country", COUNTRY, "--input", str(waiting))

    key = load_or_create_country_key(stack.settings.country_keys_dir(COUNTRY), COUNTRY, create=False)
    refs = [Pseudonymiser(COUNTRY, key, "").record_ref(r) for r in ERASED]
    held, encodings = _encodings(stack, refs)
    assert held == 3, "the counted records' encodings are there: finding none after would prove nothing"
    assert any(len(e) > 100 for e in encodings)  # a Bloom filter at least
    needles = [r.encode() for r in refs] + [e.encode() for e in encodings]

    order = tmp_path / "court-order.csv"
    order.write_text("record_id\n" + "\n".join(ERASED) + "\n", encoding="utf-8")
    officer = stack.thbdb("users", "add", "mk-officer", "--role", "national", "--country", COUNTRY).stdout
    other = stack.thbdb("users", "add", "al-officer", "--role", "national", "--country", "AL").stdout
    refused = stack.thbdb(
        "erase", "--country", COUNTRY, "--records", str(order), "--yes", check=False, token=other.splitlines()[-1]
    )
    assert refused.returncode == 2 and "may erase records of AL only" in refused.stderr
    assert "Traceback" not in refused.stderr

    erased_out = stack.thbdb(
        "erase", "--country", COUNTRY, "--records", str(order), "--yes", token=officer.splitlines()[-1]
    ).stdout
    assert "4 of 4 records found and erased" in erased_out
    assert not any(r in erased_out for r in refs)
    # The erased records were counted once each (the withdrawn one not at all).
    assert _exact_total(stack) == before - 3

    # The stated time, then a search of every store.
    stated = re.search(r"after (\S+)Z", erased_out)
    assert stated, erased_out
    clear_by = datetime.fromisoformat(stated.group(1) + "+00:00")
    time.sleep(max(0.0, (clear_by - datetime.now(UTC)).total_seconds()) + 2)
    found = _found_in_stores(stack, needles, tmp_path / "after-erase")
    print(f"\nERASURE: {len(refs)} records, {len(needles)} pseudonyms and encodings searched for; found {found}")
    assert not found

    # Pushed again, and read again: nothing comes back.
    stack.thbdb("produce", "--country", COUNTRY, "--input", str(first))
    ran = stack.thbdb("run")
    assert "succeeded" in ran.stdout and "4 of erased records dropped" in " ".join(ran.stdout.split())
    assert _exact_total(stack) == before - 3
    with connect(stack.settings.warehouse, read_only=True) as con:
        held = con.execute("SELECT count(*) FROM raw_victim_events WHERE list_contains(?, record_ref)", [refs])
        assert held.fetchone() == (0,)
    audit = stack.thbdb("audit", "--format", "json").stdout
    assert '"operation": "erase"' in audit and not any(r in audit for r in refs)
