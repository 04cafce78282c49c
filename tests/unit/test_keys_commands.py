"""`thbdb keys`: keys made or imported once, owner only, never overwritten; `produce`
without a key names the command that makes one."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from thbdb.cli import app


def _thbdb(home: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"THBDB_HOME": str(home), "THBDB_ACCOUNTS": "off"})
    return result.exit_code, result.output


def test_a_country_key_is_made_once_and_owner_only(tmp_path: Path) -> None:
    code, said = _thbdb(tmp_path, "keys", "init", "--country", "rs")
    assert code == 0, said
    key = tmp_path / "country" / "RS" / "RS.key"
    assert key.stat().st_mode & 0o777 == 0o600 and len(key.read_text().strip()) == 64
    before = key.read_bytes()
    code, said = _thbdb(tmp_path, "keys", "init", "--country", "RS")
    assert code == 2 and "exists" in said and key.read_bytes() == before
    assert _thbdb(tmp_path, "keys", "init", "--country", "ZZ")[0] == 2


def test_the_linkage_key_is_made_at_one_country_and_imported_by_another(tmp_path: Path) -> None:
    assert _thbdb(tmp_path, "keys", "init-linkage", "--country", "MK")[0] == 0
    made = tmp_path / "country" / "MK" / "linkage.key"
    handed_over = tmp_path / "handed-over.key"
    handed_over.write_text(made.read_text())
    code, said = _thbdb(tmp_path, "keys", "import-linkage", str(handed_over), "--country", "AL")
    assert code == 0, said
    stored = tmp_path / "country" / "AL" / "linkage.key"
    assert stored.read_text() == made.read_text() and stored.stat().st_mode & 0o777 == 0o600
    assert _thbdb(tmp_path, "keys", "import-linkage", str(handed_over), "--country", "AL")[0] == 2
    handed_over.write_text("not a key\n")
    assert _thbdb(tmp_path, "keys", "import-linkage", str(handed_over), "--country", "BA")[0] == 2


def test_produce_without_a_key_names_the_command_that_makes_one(tmp_path: Path) -> None:
    from datetime import date

    from producers.synthetic import VictimProfile, victim_rows, write_victims_csv

    export = write_victims_csv(
        tmp_path / "v.csv", victim_rows("RS", [VictimProfile("RS-1", date(2024, 1, 2), "F", 20, "RS", None)], 1)
    )
    code, said = _thbdb(tmp_path / "home", "produce", "--country", "RS", "--input", str(export))
    assert code == 2
    assert "thbdb keys init --country RS" in " ".join(said.split())
