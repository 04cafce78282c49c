"""Validation on the real stack: quarantine seen and fixed by the national operator,
redacted Data Docs, the validation report, and the published-table check."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from confluent_kafka import Producer

from config.settings import country_topic
from producers.synthetic import VictimProfile, victim_rows, write_victims_csv
from tests.conftest import Stack
from tests.stack.test_quarantine import _events

pytestmark = pytest.mark.stack


def _rows(stack: Stack, *args: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(stack.thbdb(*args, "--format", "csv").stdout)))


def test_an_operator_sees_a_refused_record_by_its_id_and_fixes_it(stack: Stack, tmp_path: Path) -> None:
    # Serbia did not record forced begging before 2007: the hub refuses such an event.
    first = VictimProfile("RS-OLD-77", date(2004, 5, 6), "F", 15, "RS", ["begging"],
                          updated_at=datetime(2024, 1, 1, tzinfo=UTC))  # fmt: skip
    export = write_victims_csv(tmp_path / "victims.csv", victim_rows("RS", [first], 3))
    stack.thbdb("produce", "--country", "RS", "--input", str(export), "--create-key")
    assert "1 quarantined" in stack.thbdb("run").stdout

    (entry,) = _rows(stack, "quarantine", "--country", "RS", "--records", str(export))
    assert entry["record"] == "RS-OLD-77"
    assert "did not collect before 2007" in entry["reasons"]

    fixed = VictimProfile("RS-OLD-77", date(2004, 5, 6), "F", 15, "RS", ["sexual"],
                          updated_at=datetime(2024, 2, 1, tzinfo=UTC))  # fmt: skip
    stack.thbdb(
        "produce",
        "--country",
        "RS",
        "--input",
        str(write_victims_csv(tmp_path / "fix.csv", victim_rows("RS", [fixed], 3))),
    )
    stack.thbdb("run")
    assert _rows(stack, "quarantine", "--country", "RS") == []
    (resolved,) = _rows(stack, "quarantine", "--country", "RS", "--all")
    assert resolved["resolved"] == "true"


def test_data_docs_and_reports_hold_no_failing_value(stack: Stack) -> None:
    planted = ["qwcanaryvalue", "zx_canary_code"]
    events = _events("XK", 3)
    bad = [{**events[0], "sex": planted[0]}, {**events[1], "recruitment_method": planted[1]}]
    producer = Producer({"bootstrap.servers": stack.settings.kafka_bootstrap})
    for event in (*bad, events[2]):
        producer.produce(country_topic("XK"), value=json.dumps(event).encode())
    assert producer.flush(30) == 0
    assert "2 quarantined" in stack.thbdb("run").stdout

    reported = stack.thbdb("report", "validation").stdout
    docs = stack.settings.gx_dir / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
    assert docs.exists() and "Data Docs" in reported
    assert any(p.suffix == ".html" for p in docs.parent.rglob("*.html") if p != docs)
    # The broker's own segments hold what this test sent raw, on purpose; everything
    # the hub wrote from them (Data Docs, results, reports, logs, warehouse) must not.
    broker_data = stack.settings.home / "kafka"
    found = [
        f"{path}: {value}"
        for path in stack.settings.home.rglob("*")
        if path.is_file() and broker_data not in path.parents
        for value in planted
        if value.encode() in path.read_bytes()
    ]
    assert not found, found
