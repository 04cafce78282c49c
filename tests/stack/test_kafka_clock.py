"""The hub's clock (pipeline/kafka_retention.py): loaded events leave the broker's files
within the stated time, even when the clock's ticks landed above the partition's start.

A segment is deleted only when all of it lies below the start. A tick appended after the
hub's read and before its trim lies above the start, in the loaded events' segment, and
used to keep that segment (and the events in it) until the next load: an erasure test
caught an erased record still in a broker file after the stated time. The clock now moves
the start past the ticks lying at it, and never past an event.
"""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Producer, TopicPartition
from confluent_kafka.admin import NewTopic

from pipeline import kafka_retention, kafka_security
from pipeline.sources import pipeline_consumer
from tests.conftest import Stack
from tests.kafka_files import broker_text
from thbdb.kafka_broker import admin, node_dir

pytestmark = pytest.mark.stack
TOPIC = "thbdb.events.clock-test"  # under the country topics' prefix: the hub's grants cover it


def _span(stack: Stack) -> tuple[int, int]:
    consumer = pipeline_consumer(stack.settings, kafka_security.ERASER)
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(TOPIC, 0), timeout=15)
    finally:
        consumer.close()
    return int(low), int(high)


def _on_disk(stack: Stack, marker: bytes) -> bool:
    """The marker in any file of the topic's folders (the events are not compressed), or
    in what Kafka's own tool reads from its segments."""
    folders = [node_dir(stack.settings, n) / "data" for n in stack.settings.kafka_nodes]
    raw = any(marker in p.read_bytes() for f in folders for p in f.glob(f"{TOPIC}-*/*") if p.is_file())
    return raw or marker in broker_text(stack.settings, TOPIC)


def test_ticks_above_the_start_do_not_keep_loaded_events(stack: Stack) -> None:
    settings = stack.settings
    client = admin(settings)
    created = client.create_topics([NewTopic(TOPIC, 1, 1, config=kafka_retention.topic_config(settings))])
    created[TOPIC].result(timeout=30)
    try:
        marker = f"clock-test-{uuid.uuid4().hex}".encode()
        producer = Producer(
            {"bootstrap.servers": settings.kafka_bootstrap, "acks": "all",
             **kafka_security.client_config(settings, kafka_security.ERASER)}
        )  # fmt: skip
        for n in range(3):
            producer.produce(TOPIC, key=b"event-%d" % n, value=marker, partition=0)
        assert producer.flush(30) == 0

        # A tick behind events not yet loaded: the start does not pass them.
        kafka_retention.tick(settings, [TOPIC])
        kafka_retention.skip_ticks(settings, [TOPIC])
        assert _span(stack) == (0, 4)

        # The hub loads the three events, but the tick came after its read: it trims to 3.
        kafka_retention.trim(settings, {TOPIC: {0: 3}}, kafka_security.ERASER)
        assert _span(stack) == (3, 4)
        kafka_retention.skip_ticks(settings, [TOPIC])
        assert _span(stack) == (4, 4), "the tick at the start is passed"

        # The clock goes on ticking; the events' file goes within the stated time.
        started = time.monotonic()
        deadline = started + settings.erasure_seconds
        while _on_disk(stack, marker) and time.monotonic() < deadline:
            time.sleep(kafka_retention.tick_seconds(settings))
            kafka_retention.tick(settings, [TOPIC])
            kafka_retention.skip_ticks(settings, [TOPIC])
            low, high = _span(stack)
            assert low == high, "only ticks lie above the start: the clock passes them all"
        took = time.monotonic() - started
        print(f"\nKAFKA CLOCK: loaded events gone from the broker's files after {took:.0f} s "
              f"(stated time {settings.erasure_seconds:.0f} s)")  # fmt: skip
        assert not _on_disk(stack, marker)
    finally:
        client.delete_topics([TOPIC])[TOPIC].result(timeout=30)
