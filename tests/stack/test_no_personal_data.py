"""No name, birth date, document, phone or address from the input reaches $THBDB_HOME:
not Kafka's log segments, not Airflow's logs or database, not the warehouse or reports.

Files are searched byte for byte; Kafka segments and DuckDB blocks may be compressed, so
the topic's messages and every text column of the warehouse are also read back through
their own clients and searched as text.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import duckdb
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from config.settings import country_topic
from producers.pseudonymise import normalise_name
from producers.synthetic import VictimProfile, victim_rows, write_victims_csv
from tests.conftest import Stack
from tests.kafka_files import broker_text

pytestmark = pytest.mark.stack

CANARIES = {
    "given_name": "Qwendolyna",
    "family_name": "Zyxcanarović",
    "date_of_birth": "1981-07-13",
    "document_number": "AL99CANARY4417",
    "phone": "+355 69 777 5511",
    "address": "Rruga Kanarinës 77, Tiranë",
    "notes": "Canary note: she told us about Zyxcanarović",
}


def _needles() -> list[bytes]:
    texts = set(CANARIES.values()) | {normalise_name(CANARIES["family_name"]), "Zyxcanarov", "ЗЫХ", "19810713"}
    texts |= {"13.07.1981", "1981/07/13", "Qwendolyna".lower(), "zyxcanarovic"}
    needles = set()
    for text in texts:
        for encoding in ("utf-8", "utf-16-le"):
            needles.add(text.encode(encoding))
    return sorted(needles)


def _kafka_values(stack: Stack, country: str) -> list[bytes]:
    consumer = Consumer({"bootstrap.servers": stack.settings.kafka_bootstrap, "group.id": "canary-check",
                         "enable.partition.eof": True, "enable.auto.commit": False})  # fmt: skip
    topic = country_topic(country)
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    values, open_partitions = [], set(partitions)
    while open_partitions:
        for message in consumer.consume(500, timeout=5):
            if message.error():
                open_partitions.discard(message.partition())
            else:
                values.append(message.value() or b"")
    consumer.close()
    return values


def _warehouse_text(stack: Stack, into: Path) -> bytes:
    con = duckdb.connect(str(stack.settings.warehouse), read_only=True)
    try:
        con.execute(f"EXPORT DATABASE '{into}' (FORMAT csv)")
    finally:
        con.close()
    return b"".join(p.read_bytes() for p in sorted(into.glob("*.csv")))


def test_canary_values_appear_nowhere_under_home(stack: Stack, tmp_path: Path) -> None:
    profile = VictimProfile("AL-CANARY-1", date(2024, 2, 2), "F", 42, "AL", ["sexual"])
    (row,) = victim_rows("AL", [profile], seed=1)
    row.update(CANARIES)
    export = write_victims_csv(tmp_path / "victims.csv", [row])
    stack.thbdb("produce", "--country", "AL", "--input", str(export), "--create-key")
    stack.thbdb("run")
    # The record arrived: otherwise finding nothing would prove nothing.
    counted = stack.thbdb("query", "counts", "--country", "AL", "--by", "year", "--min-cell", "1", "--format", "csv")
    assert "2024,1,false" in counted.stdout or "2024," in counted.stdout
    # Every report and export lands under home too, so the search below covers them.
    stack.thbdb("report", "privacy")
    stack.thbdb("report", "validation")
    stack.thbdb("export", "--format", "htcds", "--out", str(stack.settings.home / "exports" / "htcds.csv"))

    needles = _needles()
    found = []
    for path in stack.settings.home.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            found.extend(f"{path}: {n!r}" for n in needles if n in data)
    for value in _kafka_values(stack, "AL"):
        found.extend(f"kafka message: {n!r}" for n in needles if n in value)
    in_broker_files = broker_text(stack.settings, country_topic("AL"))  # also what the run deleted
    found.extend(f"kafka files: {n!r}" for n in needles if n in in_broker_files)
    warehouse = _warehouse_text(stack, tmp_path / "warehouse-dump")
    found.extend(f"warehouse: {n!r}" for n in needles if n in warehouse)
    assert not found, "personal values found:\n" + "\n".join(found)
    with export.open(encoding="utf-8") as handle:
        assert next(csv.DictReader(handle))["family_name"] == CANARIES["family_name"]  # the planted input was real
