"""Linkage redoes only the blocks that changed (warehouse/link_blocks.py), and gives the
same persons as linking every record again, after any sequence of new records,
corrections, withdrawals and erasures."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from producers.code_mapping import CodeMapping
from producers.pseudonymise import Pseudonymiser
from producers.row_checker import VictimRowChecker
from producers.synthetic import VictimProfile, victim_rows
from tests.unit.test_linkage import ENCODER
from transforms.rows import victim_frame
from warehouse import erasure, link_blocks, linkage_store
from warehouse.loader import LoadBatch, connect, ensure_schema, load_batch, refresh_marts
from warehouse.person_linkage import current_link_records, link_persons

SECRET = "cd" * 32
_loads = iter(range(10**6))


def _version(
    country: str, record: str, name: tuple[str, str], birth: str, day: int, status: str = "identified", sex: str = "F"
) -> LoadBatch:
    """One version of one record, as a batch of one event (``day``: when it was updated)."""
    profile = VictimProfile(record, date(2024, 4, 2), sex, 30, "MD", ["sexual"], status=status,
                            updated_at=datetime(2024, 5, day, tzinfo=UTC))  # fmt: skip
    (row,) = victim_rows(country, [profile], 1)
    row.update(given_name=name[0], family_name=name[1], date_of_birth=birth)
    checked = VictimRowChecker(country, CodeMapping(country)).check(2, list(row), list(row.values()), date(2026, 1, 1))
    assert not isinstance(checked, list), checked
    event = Pseudonymiser(country, bytes([ord(country[0])]) * 32, "0" * 32, ENCODER).pseudonymise_victim(checked)
    load = next(_loads)
    return LoadBatch(f"thbdb.events.{country.lower()}", country, f"l{load}", f"v{load}", None,
                     accepted=victim_frame([event], [(0, load)]), next_offsets={0: load + 1})  # fmt: skip


def _links(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, float]]:
    rows = con.execute("SELECT country, record_ref, person_key, score FROM person_links").fetchall()
    return {f"{c}:{r}": (str(p), float(s)) for c, r, p, s in rows}


def _as_if_linked_again(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, float]]:
    return link_persons(current_link_records(con))


def _kept_blocks(con: duckdb.DuckDBPyConnection) -> set[tuple[object, ...]]:
    return set(con.execute(f"SELECT * EXCLUDE (event_id) FROM {link_blocks.RECORD_BLOCKS}").fetchall())


def _blocks_read_again(con: duckdb.DuckDBPyConnection) -> set[tuple[object, ...]]:
    """Every current encoded record's block and signature, read from every record."""
    return set(
        con.execute(
            "SELECT country, record_ref, key_id, birth_year, sex,"
            " hash(country, record_ref, clk, birth_month, birth_day, sex)"
            f" FROM ({linkage_store.CURRENT_ENCODINGS})"
        ).fetchall()
    )


def _step(con: duckdb.DuckDBPyConnection, *batches: LoadBatch) -> int:
    """Load, refresh; the links equal linking everything again, the blocks kept equal
    those read from every record, and the store holds the current encodings only.
    Returns blocks re-linked."""
    for batch in batches:
        load_batch(con, batch, SECRET)
    changes = refresh_marts(con).linked
    assert changes is not None
    assert _links(con) == _as_if_linked_again(con)
    assert _kept_blocks(con) == _blocks_read_again(con)
    stored = con.execute(f"SELECT count(*) FROM {linkage_store.ALIAS}.encodings").fetchone()
    assert stored == (len(_blocks_read_again(con)),)  # superseded and withdrawn ones purged
    return len(changes.dirty)


JOVANA = ("Јована", "Петровић")
ARBEN = ("Arben", "Gashi")


def test_a_change_relinks_its_block_only_and_links_stay_those_of_a_full_relink(tmp_path: Path) -> None:
    with connect(tmp_path / "w.duckdb") as con:
        ensure_schema(con)
        jovana = _version("RS", "RS-1", JOVANA, "1994-03-02", 1), _version("MK", "MK-1", JOVANA, "1994", 1)
        arben = _version("AL", "AL-1", ARBEN, "1988-01-01", 1), _version("XK", "XK-1", ARBEN, "1988", 1)
        assert _step(con, *jovana, *arben) == 2
        assert len({person for person, _ in _links(con).values()}) == 2
        # Another record in Jovana's year: only that block is linked again.
        assert _step(con, _version("BA", "BA-1", JOVANA, "1994-03-02", 1)) == 1
        assert {key[:2] for key in _links(con)} == {"RS", "MK", "BA", "AL", "XK"}
        # A correction moves MK-1 to another name: it leaves Jovana's person.
        _step(con, _version("MK", "MK-1", ("Milica", "Jovanović"), "1994", 2))
        assert not any(key.startswith("MK:") for key in _links(con))
        # A withdrawal, then a birth year corrected into another block and back.
        _step(con, _version("BA", "BA-1", JOVANA, "1994-03-02", 3, status="withdrawn"))
        _step(con, _version("XK", "XK-1", ARBEN, "1989", 4))
        _step(con, _version("XK", "XK-1", ARBEN, "1988", 5))
        # Nothing changed: nothing is linked again, and the links stay.
        before = _links(con)
        assert _step(con) == 0
        assert _links(con) == before


def test_an_erased_record_leaves_its_links(tmp_path: Path) -> None:
    with connect(tmp_path / "w.duckdb") as con:
        ensure_schema(con)
        serbian = _version("RS", "RS-1", JOVANA, "1994-03-02", 1)
        _step(con, serbian, _version("MK", "MK-1", JOVANA, "1994", 1))
        assert len(_links(con)) == 2
        erasure.erase(con, "RS", "victims", [str(serbian.accepted.iloc[0]["record_ref"])], SECRET)
        _step(con)
        assert _links(con) == {}


def test_the_store_and_the_warehouse_out_of_step_link_everything_again(tmp_path: Path) -> None:
    with connect(tmp_path / "w.duckdb") as con:
        ensure_schema(con)
        _step(con, _version("RS", "RS-1", JOVANA, "1994-03-02", 1), _version("MK", "MK-1", JOVANA, "1994", 1))
        # As after a crash between the two commits: the store still has the older generation.
        con.execute(f"UPDATE {linkage_store.ALIAS}.link_generation SET generation = generation - 1")
        changes = refresh_marts(con).linked
        assert changes is not None and changes.full and len(changes.dirty) == 1
        assert _links(con) == _as_if_linked_again(con)
        assert not refresh_marts(con).linked.full  # type: ignore[union-attr]
        # Another threshold is another rule: everything again.
        changes = refresh_marts(con, link_threshold=0.9).linked
        assert changes is not None and changes.full


def test_any_sequence_of_versions_gives_the_links_of_a_full_relink(tmp_path: Path) -> None:
    rng = random.Random(11)
    names = [JOVANA, ("Jovana", "Petrovic"), ARBEN, ("Ana", "Ilić"), ("Marko", "Nikolić")]
    births = ["1994-03-02", "1994", "1988-01-01", "1988", "1990-07-09"]
    records = [(country, f"{country}-{n}") for country in ("RS", "MK", "BA", "XK") for n in range(3)]
    day = {record: 0 for record in records}
    linked_at_some_step: set[int] = set()
    with connect(tmp_path / "w.duckdb") as con:
        ensure_schema(con)
        for _ in range(14):
            batches = []
            for country, record in rng.sample(records, rng.randint(1, 4)):
                day[(country, record)] += 1
                status = "withdrawn" if rng.random() < 0.15 else "identified"
                sex = rng.choice("FFFM")
                batches.append(_version(country, record, rng.choice(names), rng.choice(births),
                                        day[(country, record)], status, sex))  # fmt: skip
            _step(con, *batches)
            linked_at_some_step.add(len(_links(con)))
        assert max(linked_at_some_step) >= 2  # the sequence did link persons, not only keep them apart


def test_a_new_version_that_changes_nothing_linkage_reads_keeps_its_links(tmp_path: Path) -> None:
    with connect(tmp_path / "w.duckdb") as con:
        ensure_schema(con)
        _step(con, _version("RS", "RS-1", JOVANA, "1994-03-02", 1), _version("MK", "MK-1", JOVANA, "1994", 1))
        before = _links(con)
        assert len(before) == 2
        # The same name, birth date and sex, a later version (another status): the block is as it was.
        assert _step(con, _version("RS", "RS-1", JOVANA, "1994-03-02", 2, status="presumed")) == 0
        assert _links(con) == before
