"""Whatever order versions arrive in, and however often, the warehouse ends where the
latest updated_at of each record says: duplicated events (in one file, across pushes,
and byte-identical copies on the topic), older versions arriving after newer ones in a
later run, a withdrawal arriving before the record it withdraws, a whole month pushed
again. test_corrections.py covers the single-push cases; this one mixes them across
three pushes and three pipeline runs and checks every record against an expectation
computed independently from the versions pushed.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from config.settings import country_topic
from producers.pseudonymise import Pseudonymiser, load_or_create_country_key
from producers.synthetic import VictimProfile, victim_rows, write_victims_csv
from tests.conftest import Stack
from warehouse.loader import connect

pytestmark = pytest.mark.stack
COUNTRY = "ME"
BASE = datetime(2024, 3, 1, tzinfo=UTC)


def _version(record: str, day: int, sex: str, status: str = "identified") -> VictimProfile:
    return VictimProfile(record, date(2023, 11, 20), sex, 31, "ME", ["labour"], status=status,
                         updated_at=BASE + timedelta(days=day))  # fmt: skip


def _push(stack: Stack, path: Path, versions: list[VictimProfile]) -> str:
    export = write_victims_csv(path, victim_rows(COUNTRY, versions, 13))
    out = stack.thbdb("produce", "--country", COUNTRY, "--input", str(export), "--create-key").stdout
    return out.split("(batch ")[1].split(")")[0]


def _copy_on_topic(stack: Stack, batch_id: str) -> int:
    """Publish a byte-identical second copy of every message of a push (a non-idempotent
    producer retrying, a mirror replaying): the pipeline must count each once."""
    settings = stack.settings
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "order-check",
                         "enable.partition.eof": True, "enable.auto.commit": False, "log_level": 0})  # fmt: skip
    topic = country_topic(COUNTRY)
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(settings.topic_partitions)])
    copies, ended = [], set()
    while len(ended) < settings.topic_partitions:
        for message in consumer.consume(500, timeout=5):
            if message.error():
                ended.add(message.partition())
            elif batch_id.encode() in (message.value() or b""):
                copies.append((message.key(), message.value()))
    consumer.close()
    producer = Producer({"bootstrap.servers": settings.kafka_bootstrap, "enable.idempotence": False})
    for key, value in copies:
        producer.produce(topic, key=key, value=value)
    assert producer.flush(60) == 0
    return len(copies)


def test_the_latest_updated_at_per_record_decides_whatever_the_order(stack: Stack, tmp_path: Path) -> None:
    rng = random.Random(8)
    pushes: list[list[VictimProfile]] = [[], [], []]
    # Named cases first.
    pushes[0].append(_version("ME-ORD-W", 40, "F", "withdrawn"))  # the withdrawal comes first...
    pushes[2].append(_version("ME-ORD-W", 10, "F"))  # ...the record it withdraws two runs later
    pushes[0].append(_version("ME-ORD-N", 30, "M"))  # newer first
    pushes[1].append(_version("ME-ORD-N", 5, "F"))  # older in the next run: changes nothing
    pushes[0] += [_version("ME-ORD-D", 7, "X")] * 2  # the same version twice in one file
    pushes[1].append(_version("ME-ORD-D", 7, "X"))  # and again in the next push
    pushes[1].append(_version("ME-ORD-P", 3, "F", "presumed"))  # presumed, then identified later
    pushes[2].append(_version("ME-ORD-P", 9, "F", "identified"))
    # Random histories: up to four versions of each record, dealt to pushes in any order.
    for i in range(30):
        days = rng.sample(range(1, 60), rng.randint(1, 4))
        for day in days:
            status = rng.choice(["identified", "identified", "presumed", "withdrawn"])
            pushes[rng.randrange(3)].append(_version(f"ME-ORD-{i:02d}", day, rng.choice("FMX"), status))
    for versions in pushes:
        rng.shuffle(versions)
    # A re-pushed month: the second push sends the whole first file again with its own rows.
    pushes[1] = pushes[0] + pushes[1]

    duplicated = 0
    for number, versions in enumerate(pushes):
        batch = _push(stack, tmp_path / f"push-{number}.csv", versions)
        if number == 0:
            duplicated += _copy_on_topic(stack, batch)
        assert "succeeded" in stack.thbdb("run").stdout

    latest: dict[str, VictimProfile] = {}
    for version in (v for versions in pushes for v in versions):
        held = latest.get(version.record_id)
        if held is None or (version.updated_at or BASE) > (held.updated_at or BASE):
            latest[version.record_id] = version
    key = load_or_create_country_key(stack.settings.country_keys_dir(COUNTRY), COUNTRY, create=False)
    names = Pseudonymiser(COUNTRY, key, "").record_ref
    expected = {names(r): (v.sex, v.status) for r, v in latest.items() if v.status != "withdrawn"}
    refs = [names(r) for r in latest]
    with connect(stack.settings.warehouse, read_only=True) as con:
        found = con.execute(
            "SELECT record_ref, sex, status FROM mart_victims WHERE country = ? AND list_contains(?, record_ref)",
            [COUNTRY, refs],
        ).fetchall()
        raw = con.execute(
            "SELECT count(*), count(DISTINCT event_id) FROM raw_victim_events WHERE list_contains(?, record_ref)",
            [refs],
        ).fetchone()
    sent = sum(len(v) for v in pushes) + duplicated
    distinct = len({(v.record_id, v.updated_at) for versions in pushes for v in versions})
    print(
        f"\nORDER: {sent} events sent for {len(latest)} records ({distinct} distinct versions,"
        f" {sent - distinct} duplicates incl. {duplicated} byte-identical copies); warehouse holds {raw};"
        f" {len(expected)} counted, {len(latest) - len(expected)} withdrawn"
    )
    assert raw == (distinct, distinct)
    assert {r: (s, st) for r, s, st in found} == expected
    assert names("ME-ORD-W") not in expected and names("ME-ORD-N") in expected
