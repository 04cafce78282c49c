"""Erasure in the warehouse: the records leave every table and the files' bytes, a keyed
deny list keeps them out, and asking twice changes nothing more."""

from __future__ import annotations

from pathlib import Path

import pytest

from producers.erasure_list import ErasureListRejected, pseudonyms, record_ids
from release.access import Identity, Refused, Role, may_erase
from tests.unit.test_linkage import _events
from warehouse import erasure, linkage_store
from warehouse.loader import LoadBatch, QuarantinedEvent, connect, ensure_schema, load_batch, refresh_marts

SECRET = "ab" * 32


def _ref(batch: LoadBatch) -> str:
    return str(batch.accepted.iloc[0]["record_ref"])


def _loaded(path: Path) -> tuple[LoadBatch, LoadBatch]:
    erased, kept = (
        _events("RS", "RS-1", "Јована", "Петровић", "1994-03-02"),
        _events("MK", "MK-1", "Ana", "Ilic", "1990"),
    )
    with connect(path) as con:
        ensure_schema(con)
        load_batch(con, erased)
        load_batch(con, kept)
        # A later event of the same record refused by validation: quarantined by pseudonym.
        quarantined = LoadBatch("thbdb.events.rs", "RS", "q", "vq", None, next_offsets={0: 2})
        quarantined.quarantined.append(QuarantinedEvent(0, 1, "e-q", _ref(erased), "sex: not in the code list"))
        load_batch(con, quarantined)
        refresh_marts(con)
    return erased, kept


def _texts(path: Path) -> set[str]:
    """Every text value in every table of the warehouse and its linkage store."""
    with connect(path, read_only=True) as con:
        linkage_store.attach(con, read_only=True)
        values: set[str] = set()
        for catalog, table, column in con.execute(
            "SELECT table_catalog, table_name, column_name FROM information_schema.columns"
            " WHERE data_type = 'VARCHAR' AND table_schema = 'main'"
        ).fetchall():
            query = f'SELECT DISTINCT "{column}" FROM "{catalog}"."{table}"'
            values.update(str(v) for (v,) in con.execute(query).fetchall())
    return values


def test_erase_removes_every_version_and_the_encodings_and_denies_by_keyed_hash(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    erased, kept = _loaded(path)
    ref, clk = _ref(erased), str(erased.accepted.iloc[0]["linkage_clk"])
    assert ref in _texts(path) and clk in _texts(path)
    with connect(path) as con:
        done = erasure.erase(con, "RS", "victims", [ref], SECRET)
        refresh_marts(con)
        erasure.rewrite(con)
    assert (done.records, done.found, done.versions, done.quarantined, done.encodings) == (1, 1, 1, 1, 1)
    texts = _texts(path)
    assert ref not in texts and clk not in texts
    assert _ref(kept) in texts  # the other country's record stays
    assert erasure.deny_hash(SECRET, "RS", ref) in texts  # the list holds the keyed hash only
    for file in (path, path.with_name(path.stem + linkage_store.SUFFIX)):
        assert ref.encode() not in file.read_bytes() and clk.encode() not in file.read_bytes()
    with connect(path) as con:  # asked twice: nothing more to do, nothing added
        again = erasure.erase(con, "RS", "victims", [ref], SECRET)
    assert (again.found, again.versions, again.newly_denied) == (0, 0, 0)


def test_an_erased_record_pushed_again_is_dropped_at_load(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    erased, _kept = _loaded(path)
    with connect(path) as con:
        erasure.erase(con, "RS", "victims", [_ref(erased)], SECRET)
        again = _events("RS", "RS-1", "Јована", "Петровић", "1994-03-02")
        again.load_id = "again"
        result = load_batch(con, again, SECRET)
        assert (result.loaded, result.erased) == (0, 1)
        with pytest.raises(RuntimeError, match="no erasure secret"):
            load_batch(con, _events("RS", "RS-1", "Јована", "Петровић", "1994-03-02"))
        held = con.execute("SELECT count(*) FROM raw_victim_events WHERE record_ref = ?", [_ref(erased)])
        assert held.fetchone() == (0,)


def test_the_erasure_list_takes_ids_one_per_line_or_a_record_id_column(tmp_path: Path) -> None:
    plain, table, bad = tmp_path / "plain.txt", tmp_path / "table.csv", tmp_path / "bad.csv"
    plain.write_text("RS-2\nRS-1\n\nRS-1\n", encoding="utf-8")
    table.write_text("sex,record_id\nF,RS-1\nM,RS-2\n", encoding="utf-8")
    bad.write_text("sex,name\nF,Jovana Petrović\n", encoding="utf-8")
    assert record_ids(plain) == record_ids(table) == ["RS-1", "RS-2"]
    with pytest.raises(ErasureListRejected) as refused:
        record_ids(bad)
    assert "Jovana" not in str(refused.value) and "record_id" in str(refused.value)
    (tmp_path / "RS.key").write_text("11" * 32 + "\n", encoding="ascii")
    victims = pseudonyms(tmp_path, "RS", "victims", ["RS-1"])
    perpetrators = pseudonyms(tmp_path, "RS", "perpetrators", ["RS-1"])
    assert len(victims[0]) == 64 and victims != perpetrators and "RS-1" not in victims[0]


def test_only_the_country_officer_or_the_admin_may_erase() -> None:
    may_erase(Identity("a", Role.admin), "RS")
    may_erase(Identity("rs", Role.national, "RS"), "RS")
    for who in (Identity("xk", Role.national, "XK"), Identity("d", Role.dpo), Identity("an", Role.analyst)):
        with pytest.raises(Refused):
            may_erase(who, "RS")
