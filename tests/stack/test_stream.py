"""Streaming on: a push becomes countable without `thbdb run`, a `thbdb run` at the same
time as the streaming consumer counts nothing twice, and turning streaming off in the
middle of a drain loses nothing."""

from __future__ import annotations

import json
import threading
import time
from datetime import date
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from config.settings import country_topic
from producers.synthetic import VictimProfile, victim_rows, write_victims_csv
from tests.conftest import Stack
from warehouse.loader import connect

pytestmark = pytest.mark.stack
COUNTRY = "AL"
TOPIC = country_topic(COUNTRY)
TIMEOUT = 600  # generous: the first window pays Airflow's task start-up and the GE import


def _export(tmp_path: Path, name: str, n: int, seed: int) -> Path:
    profiles = [VictimProfile(f"AL-S{name}{i}", date(2023, 2, 3), "F", 24, "AL", ["labour"]) for i in range(n)]
    return write_victims_csv(tmp_path / f"{name}.csv", victim_rows(COUNTRY, profiles, seed))


def _counted(stack: Stack) -> int:
    result = stack.thbdb(
        "query", "counts", "--by", "country", "--country", COUNTRY, "--min-cell", "1", "--format", "json", check=False
    )
    if result.returncode != 0:  # no warehouse yet, or busy for longer than the query waits
        return -1
    return sum(int(row["victims"] or 0) for row in json.loads(result.stdout))


def _wait_until_counted(stack: Stack, expected: int) -> None:
    deadline = time.monotonic() + TIMEOUT
    while (counted := _counted(stack)) < expected:
        assert time.monotonic() < deadline, f"{counted} of {expected} victims countable after {TIMEOUT} s"
        time.sleep(1)
    assert counted == expected


def _quarantined(stack: Stack) -> int:
    with connect(stack.settings.warehouse, read_only=True) as con:
        row = con.execute("SELECT count(*) FROM quarantine WHERE topic = ?", [TOPIC]).fetchone()
    return int(row[0]) if row else 0


def _topic_end(stack: Stack) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": stack.settings.kafka_bootstrap, "group.id": "thbdb-test-stream"})
    try:
        partitions = consumer.list_topics(TOPIC, timeout=15).topics[TOPIC].partitions
        return {p: consumer.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=15)[1] for p in partitions}
    finally:
        consumer.close()


def test_streaming_makes_a_push_countable_and_a_concurrent_run_counts_nothing_twice(
    stack: Stack, tmp_path: Path
) -> None:
    stack.thbdb("run")  # the warehouse exists and holds whatever earlier tests pushed
    before = _counted(stack)
    quarantined_before = _quarantined(stack)  # earlier tests put malformed events on this topic
    assert "streaming        off" in stack.thbdb("status").stdout
    stack.thbdb("stream", "on")
    try:
        assert "streaming on" in stack.thbdb("stream", "status").stdout
        stack.thbdb("produce", "--country", COUNTRY, "--input", str(_export(tmp_path, "a", 40, 1)), "--create-key")
        _wait_until_counted(stack, before + 40)  # no `thbdb run`

        # A larger push, drained by the consumer and by a `thbdb run` at the same time.
        big = _export(tmp_path, "b", 6000, 2)
        stack.thbdb("produce", "--country", COUNTRY, "--input", str(big), "--create-key")
        ran: list[str] = []
        runner = threading.Thread(target=lambda: ran.append(stack.thbdb("run", timeout=TIMEOUT).stdout))
        runner.start()
        _wait_until_counted(stack, before + 6040)
        runner.join(TIMEOUT)
        assert ran and "succeeded" in ran[0], ran
        _wait_until_counted(stack, before + 6040)
        assert "consumer running" in stack.thbdb("stream", "status").stdout
        # Turned off while it drains a larger push: it stops after a committed batch,
        # and `thbdb run` loads the rest.
        stack.thbdb("produce", "--country", COUNTRY, "--input", str(_export(tmp_path, "c", 20000, 3)), "--create-key")
        pushed_to = _topic_end(stack)  # beyond it only the hub's clock ticks come
    finally:
        stack.thbdb("stream", "off", timeout=TIMEOUT)
    assert "consumer not running" in stack.thbdb("stream", "status").stdout
    assert "streaming        off" in stack.thbdb("status").stdout
    stack.thbdb("run", timeout=TIMEOUT)
    assert _counted(stack) == before + 26040

    with connect(stack.settings.warehouse, read_only=True) as con:
        rows = con.execute(
            "SELECT count(*), count(DISTINCT event_id) FROM raw_victim_events WHERE topic = ?", [TOPIC]
        ).fetchone()
        loaded = con.execute("SELECT sum(events_loaded) FROM load_batches WHERE topic = ?", [TOPIC]).fetchone()
        offsets = dict(
            con.execute("SELECT kafka_partition, next_offset FROM kafka_offsets WHERE topic = ?", [TOPIC]).fetchall()
        )
    assert rows is not None and rows[0] == rows[1]  # one row per event
    assert loaded == (rows[0],)  # each event was loaded by exactly one of the two paths
    # Read up to the end of what was pushed, never sent back.
    assert all(offsets[p] >= end for p, end in pushed_to.items())
    assert _quarantined(stack) == quarantined_before  # these pushes are all valid
