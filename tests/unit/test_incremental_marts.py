"""The marts a refresh brings up to date equal the marts built whole from every record
(warehouse/marts.py), after any sequence of batches: new records, corrections,
withdrawals, perpetrators joining and leaving cases, records linked across countries
and apart again, and erasures. Two warehouses take the same batches; one is refreshed,
the other rebuilt whole each time, and every mart, cell and raw version must agree."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from producers.code_mapping import CodeMapping
from producers.pseudonymise import Pseudonymiser
from producers.row_checker import PerpetratorRowChecker, VictimRowChecker
from producers.synthetic import VictimProfile, victim_rows
from producers.synthetic_perpetrators import PerpetratorProfile, perpetrator_rows
from tests.unit.test_linkage import ENCODER
from transforms.rows import PERPETRATOR_EVENT_COLUMNS, no_rows, perpetrator_frame, victim_frame
from warehouse import erasure, marts
from warehouse.loader import LoadBatch, connect, ensure_schema, load_batch, refresh_marts

SECRET = "ef" * 32
NAMES = [("Јована", "Петровић"), ("Jovana", "Petrovic"), ("Arben", "Gashi"), ("Ana", "Ilić")]
BIRTHS = ["1994-03-02", "1994", "1988-01-01", "1990-07-09"]
CASES = [f"C-{n}" for n in range(3)]
COMPARED = (
    *(m.table for m in marts.MARTS),
    *marts.CELLS,
    "mart_victim_dimension_codes",
    "person_links",
    "victim_probing_flags",
)


def _pseudonymiser(country: str) -> Pseudonymiser:
    return Pseudonymiser(country, bytes([ord(country[0])]) * 32, "0" * 32, ENCODER)


def _victim(rng: random.Random, country: str, record: str, day: int) -> LoadBatch:
    status = rng.choice(["identified", "identified", "presumed", "withdrawn"])
    profile = VictimProfile(
        record, date(2023 + rng.randint(0, 1), rng.randint(1, 12), 2), rng.choice("FFM"), rng.choice([15, 30, 44]),
        rng.choice(["RS", "MK", "AL"]), rng.sample(["sexual", "labour", "begging"], rng.randint(0, 2)),
        status=status, updated_at=datetime(2024, 5, 1, tzinfo=UTC).replace(day=day),
        means_of_travel=rng.sample(["bus", "car"], rng.randint(0, 2)),
        recruited_in=rng.choice([None, "RS", "AL"]), country_of_exploitation=rng.choice([None, "RS", "MK"]),
        case_ref=rng.choice(CASES),
    )  # fmt: skip
    (row,) = victim_rows(country, [profile], rng.randint(0, 99))
    name = rng.choice(NAMES)
    row.update(given_name=name[0], family_name=name[1], date_of_birth=rng.choice(BIRTHS))
    checked = VictimRowChecker(country, CodeMapping(country)).check(2, list(row), list(row.values()), date(2026, 1, 1))
    assert not isinstance(checked, list), checked
    return _batch(country, victim_frame([_pseudonymiser(country).pseudonymise_victim(checked)], [(0, 0)]))


def _perpetrator(rng: random.Random, record: str, day: int) -> LoadBatch:
    profile = PerpetratorProfile(
        record, rng.choice([None, *CASES]), date(2024, 3, 5), "M", 41, "RS",
        rng.sample(["recruiter", "exploiter"], rng.randint(0, 2)),
        rng.choice(["organised_group", None]), rng.choice(["acquaintance", None]),
        status=rng.choice(["suspected", "charged", "withdrawn"]), updated_at=datetime(2024, 5, day, tzinfo=UTC),
    )  # fmt: skip
    (row,) = perpetrator_rows("RS", [profile], rng.randint(0, 99))
    checked = PerpetratorRowChecker("RS", CodeMapping("RS")).check(2, list(row), list(row.values()), date(2026, 1, 1))
    assert not isinstance(checked, list), checked
    event = _pseudonymiser("RS").pseudonymise_perpetrator(checked)
    return _batch("RS", no_rows(), perpetrator_frame([event], [(0, 0)]))


_loads = iter(range(10**6))


def _batch(country: str, victims: object, perpetrators: object = None) -> LoadBatch:
    load = next(_loads)
    return LoadBatch(
        f"thbdb.events.{country.lower()}", country, f"l{load}", f"v{load}", None,
        accepted=victims,  # type: ignore[arg-type]
        accepted_perpetrators=perpetrators if perpetrators is not None else no_rows(PERPETRATOR_EVENT_COLUMNS),  # type: ignore[arg-type]
    )  # fmt: skip


def _state(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[object, ...]]]:
    state = {table: sorted(con.execute(f"FROM {table}").fetchall(), key=repr) for table in COMPARED}
    for table in ("raw_victim_events", "raw_perpetrator_events"):  # stripped alike; loaded at other times
        state[table] = sorted(con.execute(f"SELECT * EXCLUDE (loaded_at) FROM {table}").fetchall(), key=repr)
    return state


def test_a_refresh_gives_the_marts_of_a_full_build_after_any_sequence(tmp_path: Path) -> None:
    rng = random.Random(19)
    victims = [(country, f"{country}-{n}") for country in ("RS", "MK") for n in range(4)]
    perpetrators = [f"P-{n}" for n in range(3)]
    day = dict.fromkeys([*victims, *perpetrators], 0)
    refreshed_only, linked, in_cases = 0, 0, 0
    with connect(tmp_path / "refreshed.duckdb") as refreshed, connect(tmp_path / "built.duckdb") as built:
        ensure_schema(refreshed)
        ensure_schema(built)
        for step in range(16):
            batches = []
            for country, record in rng.sample(victims, rng.randint(0, 3)):
                day[(country, record)] += 1
                batches.append(_victim(rng, country, record, day[(country, record)]))
            for record in rng.sample(perpetrators, rng.randint(0, 2)):
                day[record] += 1
                batches.append(_perpetrator(rng, record, day[record]))
            erased = step in (9, 13)
            for con in (refreshed, built):
                for batch in batches:
                    load_batch(con, replace(batch, accepted=batch.accepted.copy()), SECRET)
                if erased:  # a record of each kind goes, with whatever it was linked to
                    erasure.erase(con, "RS", "victims", _refs(con, "raw_victim_events")[:1], SECRET)
                    erasure.erase(con, "RS", "perpetrators", _refs(con, "raw_perpetrator_events")[:1], SECRET)
            done = refresh_marts(refreshed)
            refresh_marts(built, full=True)
            refreshed_only += not done.rebuilt
            state = _state(refreshed)
            assert state == _state(built), f"step {step}"
            linked = max(linked, sum(row[2] for row in state["mart_victims"]))  # type: ignore[misc]
            in_cases = max(in_cases, len(state["mart_case_links"]))
    assert refreshed_only == 15  # every step after the first took the incremental path
    assert linked >= 2 and in_cases >= 2  # the sequence linked persons and filled cases


def _refs(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = con.execute(f"SELECT DISTINCT record_ref FROM {table} WHERE country = 'RS' ORDER BY 1").fetchall()
    return [r[0] for r in rows]
