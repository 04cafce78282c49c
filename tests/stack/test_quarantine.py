"""Events that fail validation are quarantined with reasons while the rest of the batch
loads: real broker, real Great Expectations, real warehouse (the pipeline function the
Airflow task calls)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from confluent_kafka import Producer

from config.settings import country_topic
from pipeline.drain import drain_country
from producers.code_mapping import CodeMapping
from producers.pseudonymise import Pseudonymiser
from producers.row_checker import VictimRowChecker
from producers.synthetic import VictimProfile, victim_rows
from tests.conftest import Stack
from warehouse.loader import connect

pytestmark = pytest.mark.stack


def _events(country: str, n: int) -> list[dict[str, object]]:
    rows = victim_rows(
        country, [VictimProfile(f"{country}-Q{i}", date(2024, 1, 5), "F", 30, country, None) for i in range(n)], 9
    )
    pseudonymiser = Pseudonymiser(country, bytes(range(32)), "f" * 32)
    checker = VictimRowChecker(country, CodeMapping(country))
    events = []
    for row in rows:
        checked = checker.check(2, list(row), list(row.values()), date(2026, 1, 1))
        assert not isinstance(checked, list)
        events.append(json.loads(pseudonymiser.pseudonymise_victim(checked).to_bytes()))
    return events


def test_bad_events_are_quarantined_with_reasons_and_good_ones_load(stack: Stack) -> None:
    good = _events("BA", 3)
    bad_code = {**_events("BA", 4)[3], "sex": "female"}
    other_country = {**_events("XK", 1)[0], "country": "XK"}  # published on BA's topic
    messages = [json.dumps(e).encode() for e in (*good, bad_code, other_country)]
    messages += [b"not json at all", json.dumps({**good[0], "schema_version": 9}).encode()]
    producer = Producer({"bootstrap.servers": stack.settings.kafka_bootstrap})
    for value in messages:
        producer.produce(country_topic("BA"), value=value)
    assert producer.flush(30) == 0

    report = drain_country(stack.settings, "BA")
    assert (report.read, report.loaded, report.quarantined) == (7, 3, 4)

    with connect(stack.settings.warehouse, read_only=True) as con:
        reasons = [
            r
            for (r,) in con.execute(
                "SELECT reasons FROM quarantine WHERE country = 'BA' ORDER BY kafka_offset"
            ).fetchall()
        ]
    assert any("sex: not a code of the regional sex list" in r for r in reasons)
    assert any("country: not the country of the topic" in r for r in reasons)
    assert any("not JSON" in r for r in reasons)
    assert any("schema_version" in r for r in reasons)
    assert not any("female" in r for r in reasons)

    assert drain_country(stack.settings, "BA").read == 0  # offsets moved with the rows
