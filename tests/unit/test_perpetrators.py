"""Perpetrator records: checked and pseudonymised at source, validated, loaded, linked to
the victims of their case, and counted as profiles that match the generated truth."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from expectations.suites import PERPETRATOR_EVENTS
from producers.code_mapping import load_mapping
from producers.national_export import ExportRejected, open_export
from producers.pseudonymise import Pseudonymiser
from producers.row_checker import PerpetratorRowChecker, VictimRowChecker
from producers.synthetic import VictimProfile, demo_profiles, victim_rows, write_victims_csv
from producers.synthetic_crossborder import cross_border_records
from producers.synthetic_perpetrators import (
    PerpetratorProfile,
    demo_perpetrators,
    perpetrator_rows,
    write_perpetrators_csv,
)
from tests.unit.conftest import DEMO_SEED
from tests.warehouse_builder import load_exports
from transforms.events import PerpetratorEvent, parse_event
from warehouse.loader import connect
from warehouse.perpetrators import perpetrator_counts
from warehouse.queries import victim_counts

TODAY = date(2026, 11, 25)


def _profile(record: str = "P-1", case: str | None = "RS-C-1", **changes: object) -> PerpetratorProfile:
    fields: dict[str, object] = {
        "record_id": record,
        "case_ref": case,
        "registered_on": date(2024, 3, 5),
        "sex": "M",
        "age": 41,
        "citizenship": "RS",
        "roles": ["recruiter", "exploiter"],
        "structure": "organised_group",
        "relation_to_victim": "acquaintance",
    }
    fields.update(changes)
    return PerpetratorProfile(**fields)  # type: ignore[arg-type]


def _export(tmp_path: Path, *profiles: PerpetratorProfile, **cells: str) -> Path:
    rows = perpetrator_rows("RS", profiles or [_profile()], seed=2)
    rows[0].update(cells)
    return write_perpetrators_csv(tmp_path / "perpetrators.csv", rows)


def _check(path: Path) -> list[object]:
    kind, header, rows = open_export(path)
    assert kind == "perpetrators"
    checker = PerpetratorRowChecker("RS", load_mapping("RS"))
    return [checker.check(n, header, f, TODAY) for n, f in rows]


def test_a_good_row_is_read_with_its_codes(tmp_path: Path) -> None:
    (row,) = _check(_export(tmp_path))
    assert not isinstance(row, list)
    assert row.carried["roles"] == ("recruiter", "exploiter")
    assert row.carried["structure"] == "organised_group"


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("status", "identified", "not a code of the regional status_perpetrator list"),
        ("role", "recruiter;Petrović", "perpetrator_role"),
        ("structure", "mafia", "perpetrator_structure"),
        ("relation_to_victim", "Jovana", "relation_to_victim"),
        ("registered_on", "", "required, but empty"),
        ("registered_on", "05.03.2024", "not a YYYY-MM-DD date"),
        ("citizenship", "Srbija", "alpha-2"),
        ("family_name", "", "required, but empty"),
    ],
)
def test_bad_rows_are_refused_by_row_and_column_without_the_value(
    tmp_path: Path, column: str, value: str, reason: str
) -> None:
    (refusals,) = _check(_export(tmp_path, **{column: value}))
    assert isinstance(refusals, list)
    text = "; ".join(str(r) for r in refusals)
    assert f"row 2, column {column}" in text and reason in text
    if value:
        assert value not in text


def test_a_perpetrators_file_needs_registered_on_in_its_header(tmp_path: Path) -> None:
    path = tmp_path / "perpetrators.csv"
    path.write_text("record_id,updated_at,status,given_name,family_name,role\n")
    with pytest.raises(ExportRejected, match="cannot tell the kind"):
        open_export(path)


def test_pseudonyms_link_the_case_and_nothing_identifying_travels(tmp_path: Path) -> None:
    pseudonymiser = Pseudonymiser("RS", bytes(range(32)), "0" * 32)
    (perpetrator,) = _check(_export(tmp_path, _profile(record="RS-1", case="RS-C-9")))
    (victim_row,) = victim_rows("RS", [VictimProfile("RS-1", date(2024, 3, 1), "F", 17, "RS", ["sexual"])], seed=1)
    victim_row["case_ref"] = "RS-C-9"
    victims = write_victims_csv(tmp_path / "victims.csv", [victim_row])
    _kind, header, rows = open_export(victims)
    (victim,) = [VictimRowChecker("RS", load_mapping("RS")).check(n, header, f, TODAY) for n, f in rows]
    event = pseudonymiser.pseudonymise_perpetrator(perpetrator, produced_at=datetime(2024, 3, 6, tzinfo=UTC))  # type: ignore[arg-type]
    victim_event = pseudonymiser.pseudonymise_victim(victim)  # type: ignore[arg-type]
    assert event.case_ref == victim_event.case_ref  # the same case meets at the hub
    assert event.record_ref != victim_event.record_ref  # the same national id of another register does not
    payload = event.to_bytes()
    assert isinstance(parse_event(payload), PerpetratorEvent)
    (raw,) = perpetrator_rows("RS", [_profile(record="RS-1", case="RS-C-9")], seed=2)
    for column in ("given_name", "family_name", "date_of_birth", "document_number", "phone", "address", "RS-C-9"):
        value = raw.get(column, column)
        assert value.encode() not in payload, column
    assert event.age_at_registration == 41 and event.registered_month == 3


def test_the_suite_quarantines_a_bad_event_and_keeps_no_value() -> None:
    pseudonymiser = Pseudonymiser("RS", bytes(32), "0" * 32)
    good = pseudonymiser.pseudonymise_perpetrator(
        PerpetratorRowChecker("RS", load_mapping("RS")).check(  # type: ignore[arg-type]
            2, ["record_id", "updated_at", "status", "given_name", "family_name", "registered_on", "structure"],
            ["P-1", "2024-03-05T00:00:00+00:00", "suspected", "A", "B", "2024-03-05", "family"], TODAY,
        )
    )  # fmt: skip
    bad = good.model_copy(update={"event_id": "f" * 32, "structure": "qwcanaryvalue"})
    outcome = PERPETRATOR_EVENTS.validate("RS", [good, bad])
    assert outcome.failures == {1: ["structure: not a code of the regional perpetrator_structure list"]}
    assert "qwcanaryvalue" not in str(outcome.result.to_json_dict())


def test_victims_and_perpetrators_of_a_case_are_linked(tmp_path: Path) -> None:
    victims = [
        VictimProfile("RS-1", date(2024, 1, 5), "F", 20, "RS", ["sexual"], case_ref="C-1"),
        VictimProfile("RS-2", date(2024, 1, 6), "F", 22, "RS", ["sexual"], case_ref="C-1"),
        VictimProfile("RS-3", date(2024, 1, 7), "M", 15, "RS", ["begging"], case_ref="C-2"),
        VictimProfile("RS-4", date(2024, 1, 8), "M", 30, "RS", ["labour"], case_ref="C-3"),
    ]
    perpetrators = [
        _profile("P-1", "C-1", structure="organised_group"),
        _profile("P-2", "C-1", structure="organised_group", roles=["transporter"]),
        _profile("P-3", "C-2", structure="family", relation_to_victim="family_member"),
        _profile("P-4", "C-9", structure="individual"),  # a case with no victim recorded
    ]
    files = [
        ("RS", write_victims_csv(tmp_path / "victims.csv", victim_rows("RS", victims, seed=1))),
        ("RS", write_perpetrators_csv(tmp_path / "perpetrators.csv", perpetrator_rows("RS", perpetrators, seed=2))),
    ]
    with connect(load_exports(tmp_path / "w.duckdb", files), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM mart_case_links").fetchone() == (5,)  # 2 x 2 + 1
        by_structure = {c.key[0]: c.victims for c in victim_counts(con, ["perpetrator_structure"], min_cell=1)}
        assert by_structure == {"organised_group": 2, "family": 1, "no_perpetrator_linked": 1}
        linked = {c.key[0]: c.victims for c in perpetrator_counts(con, ["linked_to_victim"], min_cell=1)}
        assert linked == {"linked": 3, "not_linked": 1}
        roles = {c.key[0]: c.victims for c in perpetrator_counts(con, ["role"], min_cell=1)}
        assert roles == {"recruiter": 3, "exploiter": 3, "transporter": 1}


def test_a_withdrawn_perpetrator_counts_nowhere(tmp_path: Path) -> None:
    first = _profile("P-1", updated_at=datetime(2024, 3, 6, tzinfo=UTC))
    gone = _profile("P-1", status="withdrawn", updated_at=datetime(2024, 4, 6, tzinfo=UTC))
    files = [
        ("RS", write_perpetrators_csv(tmp_path / "a.csv", perpetrator_rows("RS", [first, _profile("P-2")], seed=2))),
        ("RS", write_perpetrators_csv(tmp_path / "b.csv", perpetrator_rows("RS", [gone], seed=2))),
    ]
    with connect(load_exports(tmp_path / "w.duckdb", files), read_only=True) as con:
        assert [c.victims for c in perpetrator_counts(con, ["country"], min_cell=1)] == [1]


@pytest.mark.parametrize("dimension", ["role", "structure", "sex", "citizenship", "relation_to_victim"])
def test_demo_profiles_count_as_generated(demo_warehouse: Path, dimension: str) -> None:
    truth: Counter[tuple[str, str]] = Counter()
    cross_border = cross_border_records(DEMO_SEED)  # the demo adds persons seen in two countries
    for country in ("AL", "BA", "ME", "MK", "RS", "XK"):
        profiles = demo_profiles(country, DEMO_SEED) + [p for p, _ in cross_border.get(country, [])]
        for p in demo_perpetrators(country, profiles, DEMO_SEED):
            if dimension == "role":
                for role in p.roles or ["not_recorded"]:
                    truth[(country, role)] += 1
            else:
                truth[(country, getattr(p, dimension) or "not_recorded")] += 1
    with connect(demo_warehouse, read_only=True) as con:
        cells = perpetrator_counts(con, ["country", dimension], min_cell=1)
    counted = {(str(c.key[0]), str(c.key[1])): c.victims for c in cells}
    assert counted == dict(truth)


def test_published_perpetrator_schema_matches_the_code() -> None:
    import json

    from transforms.events import PERPETRATOR_SCHEMA_PATH, json_schema

    published = json.loads(PERPETRATOR_SCHEMA_PATH.read_text())
    assert published == json.loads(json.dumps(json_schema(PerpetratorEvent))), "run `make schema`"


def test_a_perpetrator_event_with_a_name_is_rejected_without_the_value() -> None:
    from transforms.events import EventRejected

    payload = b'{"schema_version": 1, "kind": "perpetrator", "given_name": "Bzorvalda"}'
    with pytest.raises(EventRejected) as caught:
        parse_event(payload)
    assert "given_name" in caught.value.reason and "Bzorvalda" not in caught.value.reason


def test_an_operator_finds_refused_perpetrator_records_by_national_id(tmp_path: Path) -> None:
    from producers.pseudonymise import load_or_create_country_key, record_ids_by_pseudonym

    key = load_or_create_country_key(tmp_path / "keys", "RS", create=True)
    export = _export(tmp_path, _profile(record="RS-P-7"))
    names = record_ids_by_pseudonym(tmp_path / "keys", "RS", export)
    assert names == {Pseudonymiser("RS", key, "").perpetrator_ref("RS-P-7"): "RS-P-7"}
