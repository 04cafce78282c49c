"""The linkage store: encodings kept apart from the analysts' warehouse, owner only,
purged when linkage no longer reads them."""

from __future__ import annotations

import base64
from pathlib import Path

import duckdb

from tests.unit.test_linkage import _events
from warehouse import linkage_store
from warehouse.link_queries import link_counts
from warehouse.loader import LoadBatch, connect, ensure_schema, load_batch, refresh_marts


def _secrets(batches: list[LoadBatch]) -> set[str]:
    """Every filter and birth token the batches carried."""
    found = set()
    for batch in batches:
        for row in batch.accepted.to_dict("records"):
            found.update(str(row[f]) for f in linkage_store.ROW_FIELDS[1:] if row[f])
    return found


def _values_in_warehouse(path: Path) -> set[str]:
    """Every text value in every table and view of the warehouse file, as read-only
    analysts' connections see it (the store is not attached there)."""
    values: set[str] = set()
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM duckdb_databases() WHERE NOT internal").fetchone() == (1,)
        columns = con.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE data_type = 'VARCHAR'"
        ).fetchall()
        for table, column in columns:
            values.update(str(v) for (v,) in con.execute(f'SELECT DISTINCT "{column}" FROM "{table}"').fetchall())
    return values


def test_no_file_an_analyst_opens_holds_a_filter_or_a_birth_token(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    batches = [
        _events("RS", "RS-1", "Јована", "Петровић", "1994-03-02"),
        _events("MK", "MK-1", "Jovana", "Petrovic", "1994"),
    ]
    with connect(warehouse) as con:
        ensure_schema(con)
        for batch in batches:
            load_batch(con, batch)
        refresh_marts(con)
        assert link_counts(con, ["pair"], min_cell=1)[1].victims == 1  # linked, from the store
    secrets = _secrets(batches)
    assert len(secrets) >= 4
    assert not secrets & _values_in_warehouse(warehouse)
    raw = warehouse.read_bytes()
    for secret in secrets:
        assert secret.encode() not in raw
        if len(secret) > 20:
            assert base64.b64decode(secret) not in raw
    store = tmp_path / f"w{linkage_store.SUFFIX}"
    assert store.stat().st_mode & 0o777 == 0o600
    with duckdb.connect(str(store), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM encodings").fetchone() == (2,)


def _load_one_person_in_rs_and_mk(con: duckdb.DuckDBPyConnection) -> None:
    ensure_schema(con)
    load_batch(con, _events("RS", "RS-1", "Ana", "Ilić", "1990-01-02"))
    load_batch(con, _events("MK", "MK-1", "Ana", "Ilikj", "1990"))
    refresh_marts(con)


def test_a_withdrawn_record_s_encodings_are_gone_after_the_next_refresh(tmp_path: Path) -> None:
    with connect(tmp_path / "w.duckdb") as con:
        _load_one_person_in_rs_and_mk(con)
        load_batch(con, _events("MK", "MK-1", "Ana", "Ilikj", "1990", status="withdrawn"))
        refresh_marts(con)
        left = con.execute("SELECT country, count(*) FROM linkage_store.encodings GROUP BY ALL").fetchall()
        assert left == [("RS", 1)]
        assert link_counts(con, ["pair"], min_cell=1)[1].victims == 0


def test_a_warehouse_made_before_the_store_moves_its_encodings_out(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    batch = _events("RS", "RS-1", "Ana", "Ilić", "1990-01-02")
    with connect(warehouse) as con:
        ensure_schema(con)
        load_batch(con, batch)
        # As the raw layer was before the store: the encoding in columns of its own.
        con.execute("DETACH linkage_store")
        (tmp_path / f"w{linkage_store.SUFFIX}").unlink()
        row = batch.accepted.iloc[0]
        for field in linkage_store.ROW_FIELDS:
            con.execute(f"ALTER TABLE raw_victim_events ADD COLUMN {field} VARCHAR")
            con.execute(f"UPDATE raw_victim_events SET {field} = ?", [row[field]])
        con.execute("DROP TABLE schema_version")  # it came later too
    with connect(warehouse) as con:
        ensure_schema(con)
        columns = {c for (c,) in con.execute("SELECT column_name FROM information_schema.columns").fetchall()}
        assert not columns & set(linkage_store.ROW_FIELDS)
        assert con.execute("SELECT clk FROM linkage_store.encodings").fetchall() == [(row["linkage_clk"],)]


def test_the_privacy_report_lists_records_withdrawn_soon_after_they_were_pushed(tmp_path: Path) -> None:
    from reports.privacy import probing_signs

    with connect(tmp_path / "w.duckdb") as con:
        _load_one_person_in_rs_and_mk(con)
        assert probing_signs(con) == []
        # A probe: pushed on 1 May, withdrawn on 2 May.
        load_batch(con, _events("MK", "MK-1", "Jovana", "Petrovic", "1994", status="withdrawn"))
        refresh_marts(con)
        assert probing_signs(con) == [{"country": "MK", "withdrawn within 7 days": 1, "changed back within 7 days": 0}]
