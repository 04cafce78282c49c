"""Superseded and withdrawn versions keep their facts and lose their content; the
current version of a counted record keeps everything; probing signs still see a change
back."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from producers.code_mapping import CodeMapping
from producers.pseudonymise import Pseudonymiser
from producers.row_checker import VictimRowChecker
from producers.synthetic import VictimProfile, victim_rows
from reports.privacy import probing_signs
from transforms.events import VictimEvent
from transforms.rows import victim_frame
from warehouse.loader import LoadBatch, connect, ensure_schema, load_batch, refresh_marts


def _version(record: str, sex: str, day: int, status: str = "identified") -> VictimEvent:
    profile = VictimProfile(record, date(2023, 2, 2), sex, 30, "RS", ["labour"], status=status,
                            updated_at=datetime(2024, 1, day, tzinfo=UTC))  # fmt: skip
    (row,) = victim_rows("RS", [profile], 1)
    checked = VictimRowChecker("RS", CodeMapping("RS")).check(2, list(row), list(row.values()), date(2026, 1, 1))
    assert not isinstance(checked, list), checked
    return Pseudonymiser("RS", bytes(32), "0" * 32).pseudonymise_victim(checked)


def test_only_the_current_version_of_a_counted_record_keeps_its_content(tmp_path: Path) -> None:
    versions = [
        _version("RS-1", "F", 1), _version("RS-1", "M", 2), _version("RS-1", "F", 3),  # changed, changed back
        _version("RS-2", "F", 1), _version("RS-2", "F", 4, "withdrawn"),
    ]  # fmt: skip
    batch = LoadBatch("thbdb.events.rs", "RS", "l", "v", None, next_offsets={0: len(versions)})
    batch.accepted = victim_frame(versions)
    with connect(tmp_path / "w.duckdb") as con:
        ensure_schema(con)
        load_batch(con, batch)
        refresh_marts(con)
        rows = con.execute(
            "SELECT updated_at, status, sex, age_band, exploitation_types, content_md5 IS NOT NULL"
            " FROM raw_victim_events ORDER BY record_ref, updated_at"
        ).fetchall()
        counted = con.execute("SELECT sex, age_band FROM mart_victims").fetchall()
        signs = probing_signs(con)
        refresh_marts(con)  # again: nothing more to strip, nothing changes
        assert con.execute("SELECT count(*) FROM raw_victim_events WHERE content_md5 IS NOT NULL").fetchone() == (4,)
    kept = [r for r in rows if not r[5]]
    stripped = [r for r in rows if r[5]]
    assert len(kept) == 1 and kept[0][2:5] == ("F", "30-38", ["labour"])
    assert len(stripped) == 4 and all(r[2:5] == (None, None, None) for r in stripped)
    assert {r[1] for r in stripped} == {"identified", "withdrawn"}  # the facts stay
    assert counted == [("F", "30-38")]
    assert signs and signs[0]["changed back within 7 days"] == 1 and signs[0]["withdrawn within 7 days"] == 1
