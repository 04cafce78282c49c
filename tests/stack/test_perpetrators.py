"""Perpetrators end to end on the real stack, and the analyst's commands on what they
loaded: `thbdb produce` (perpetrators.csv detected from its header), `thbdb run`,
`thbdb query counts/perpetrators/trends`, `thbdb report analysis`, `thbdb export`."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest

from producers.synthetic import VictimProfile, victim_rows, write_victims_csv
from producers.synthetic_perpetrators import PerpetratorProfile, perpetrator_rows, write_perpetrators_csv
from tests.conftest import Stack

pytestmark = pytest.mark.stack
COUNTRY = "BA"


def _victims() -> list[VictimProfile]:
    """20 minors a year in 2022 and 2023; forced begging rises from 2 to 9."""
    profiles = []
    for year, begging in ((2022, 2), (2023, 9)):
        for i in range(20):
            profiles.append(
                VictimProfile(f"BA-S{year}-{i}", date(year, 1 + i % 12, 4), "M", 13, "BA",
                              ["begging"] if i < begging else ["labour"], case_ref=f"BA-CASE-{year}-{i // 2}")
            )  # fmt: skip
    return profiles


def _perpetrators() -> list[PerpetratorProfile]:
    """One organised group of three in each 2022 case, one individual in each 2023 case."""
    out = []
    for case in range(10):
        for k in range(3):
            out.append(PerpetratorProfile(f"BA-P22-{case}-{k}", f"BA-CASE-2022-{case}", date(2022, 6, 1), "M", 35,
                                          "BA", ["recruiter"] if k == 0 else ["exploiter"], "organised_group",
                                          "stranger"))  # fmt: skip
        out.append(PerpetratorProfile(f"BA-P23-{case}", f"BA-CASE-2023-{case}", date(2023, 6, 1), "F", 29, "RS",
                                      ["recruiter", "exploiter"], "individual", "intimate_partner"))  # fmt: skip
    return out


def _csv(stack: Stack, *args: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(stack.thbdb(*args, "--min-cell", "1", "--format", "csv").stdout)))


def test_perpetrators_end_to_end_and_the_analysts_commands(stack: Stack, tmp_path: Path) -> None:
    victims = write_victims_csv(tmp_path / "victims.csv", victim_rows(COUNTRY, _victims(), seed=21))
    rows = perpetrator_rows(COUNTRY, _perpetrators(), seed=22)
    rows.append({**rows[0], "record_id": "BA-P-TYPO", "structure": "Petrović"})  # refused at source
    perpetrators = write_perpetrators_csv(tmp_path / "perpetrators.csv", rows)

    stack.thbdb("produce", "--country", COUNTRY, "--input", str(victims), "--create-key")
    pushed = stack.thbdb("produce", "--country", COUNTRY, "--input", str(perpetrators), check=False)
    assert pushed.returncode == 1
    assert "40 rows published, 1 rows refused" in pushed.stdout
    assert "row 42, column structure" in pushed.stderr and "Petrović" not in pushed.stderr
    ran = stack.thbdb("run")
    assert "0 quarantined" in ran.stdout, ran.stdout

    by_structure = _csv(stack, "query", "counts", "--country", COUNTRY, "--from", "2022", "--to", "2023",
                        "--by", "year,perpetrator_structure")  # fmt: skip
    assert [(r["year"], r["perpetrator_structure"], r["victims"]) for r in by_structure] == [
        ("2022", "organised_group", "20"),
        ("2023", "individual", "20"),
    ]
    roles = _csv(stack, "query", "perpetrators", "--country", COUNTRY, "--by", "year,role")
    assert {(r["year"], r["role"]): r["perpetrators"] for r in roles} == {
        ("2022", "recruiter"): "10",
        ("2022", "exploiter"): "20",
        ("2023", "recruiter"): "10",
        ("2023", "exploiter"): "10",
    }
    relation = _csv(stack, "query", "perpetrators", "--country", COUNTRY, "--by", "relation_to_victim,citizenship")
    assert {(r["relation_to_victim"], r["citizenship"]): r["perpetrators"] for r in relation} == {
        ("stranger", "BA"): "30",
        ("intimate_partner", "RS"): "10",
    }

    def trend_rows(*more: str) -> dict[tuple[str, str], dict[str, str]]:
        trends = stack.thbdb("query", "trends", "--dimension", "exploitation", "--country", COUNTRY,
                             "--from", "2022", "--to", "2023", "--format", "csv", *more).stdout  # fmt: skip
        header, *lines = list(csv.reader(io.StringIO(trends)))
        assert header[:7] == ["period", "country", "category", "victims", "share", "change", "flagged"]
        return {(r[0], r[2]): dict(zip(header, r, strict=True)) for r in lines}

    # Exact counts, suppressed at 4 (the admin's to ask for): the exact test flags the shift.
    cells = trend_rows("--min-cell", "4")
    assert cells[("2022", "begging")]["victims"] == "" and cells[("2022", "begging")]["share"] == ""  # 2 < 4
    assert (cells[("2023", "begging")]["victims"], cells[("2023", "begging")]["flagged"]) == ("9", "true")
    assert cells[("2023", "labour")]["flagged"] == "true"  # 18 -> 11 of 20, the other side of the same shift
    # Protected (everyone's by default): the small cell withheld, the others perturbed a little.
    protected = trend_rows()
    assert protected[("2022", "begging")]["victims"] == ""
    assert abs(int(protected[("2023", "begging")]["victims"]) - 9) <= 5

    report = tmp_path / "report.html"
    stack.thbdb("report", "analysis", "--out", str(report))
    assert "Information for analysis, not evidence" in report.read_text()

    stack.thbdb("export", "--format", "parquet", "--out", str(tmp_path / "parquet"))
    stack.thbdb("export", "--format", "csv", "--out", str(tmp_path / "csv"))
    assert (tmp_path / "parquet" / "perpetrators_by_year_country_role.parquet").exists()
    exported = (tmp_path / "csv" / "perpetrators_by_year_country_role.csv").read_text().splitlines()
    (row,) = [line.split(",") for line in exported if line.startswith("2022,BA,exploiter,")]
    assert abs(int(row[3]) - 20) <= 5 and row[4] == "false"  # protected: perturbed a little
    stack.thbdb("export", "--format", "csv", "--min-cell", "1", "--out", str(tmp_path / "exact"))
    exact = (tmp_path / "exact" / "perpetrators_by_year_country_role.csv").read_text().splitlines()
    assert "2022,BA,exploiter,20,false" in exact  # the admin's exact counts


PERPETRATOR_CANARIES = {
    "given_name": "Bzorvalda",
    "family_name": "Kwyxcanarević",
    "date_of_birth": "1977-03-29",
    "document_number": "XK88CANARY9902",
    "phone": "+383 44 313 9090",
    "address": "Rruga Kanarinëve 12, Prishtinë",
    "notes": "Canary note: he was seen with Kwyxcanarević",
    "case_ref": "XK-CANARY-CASE-5150",
}


def test_no_perpetrator_canary_value_reaches_the_hub(stack: Stack, tmp_path: Path) -> None:
    from tests.stack.test_no_personal_data import _kafka_values, _warehouse_text

    profile = PerpetratorProfile("XK-P-CANARY", None, date(2024, 2, 2), "M", 46, "XK", ["exploiter"], "individual",
                                 "employer")  # fmt: skip
    (row,) = perpetrator_rows("XK", [profile], seed=5)
    row.update(PERPETRATOR_CANARIES)
    export = write_perpetrators_csv(tmp_path / "perpetrators.csv", [row])
    stack.thbdb("produce", "--country", "XK", "--input", str(export), "--create-key")
    stack.thbdb("run")
    counted = _csv(stack, "query", "perpetrators", "--country", "XK", "--by", "relation_to_victim")
    assert {"relation_to_victim": "employer", "perpetrators": "1", "suppressed": "false"} in counted

    needles = sorted({v.encode(e) for v in PERPETRATOR_CANARIES.values() for e in ("utf-8", "utf-16-le")})
    needles += [b"19770329", b"kwyxcanarevic", b"bzorvalda"]
    found = []
    for path in stack.settings.home.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            found.extend(f"{path}: {n!r}" for n in needles if n in data)
    for value in _kafka_values(stack, "XK"):
        found.extend(f"kafka message: {n!r}" for n in needles if n in value)
    warehouse = _warehouse_text(stack, tmp_path / "warehouse-dump")
    found.extend(f"warehouse: {n!r}" for n in needles if n in warehouse)
    assert not found, "personal values found:\n" + "\n".join(found)
