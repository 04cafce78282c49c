"""How long the country topics keep an event: until the hub has loaded it, and a stated
time after that at most.

Kafka is the way in, not a second store: the warehouse is where events are kept. After
each load the hub moves each partition's start up to the offsets the warehouse committed
(``trim``: the Kafka DeleteRecords request), so no consumer can read a loaded event again,
and the broker deletes a segment's file once the whole segment lies below the start.
Events not yet loaded stay, however long the hub is away (``retention.ms=-1``).

Kafka deletes whole segments only, and never the active one; it rolls a segment only
when a message arrives after ``segment.ms``. A quiet topic would keep loaded events in
its active segment until the country next pushes, so the hub's clock (``run_clock`` below,
a thread of the release service) appends an empty tick (a message with no value, which
the pipeline skips) to each partition every half ``segment.ms`` for the stated time after
a load or an erasure.

A tick lands above the partition's start, and a segment holding anything at or above the
start is never deleted: a tick appended to the loaded events' segment before it rolled
would keep that segment (and the events in it) until the next load. So after each tick
the clock also moves the start past the ticks lying at it (``skip_ticks``): they carry
nothing, and the start stops at the first event, loaded or not.

The stated time E (``THBDB_ERASURE_SECONDS``, a day by default) bounds how long after its
load an event is still in a file of the broker. With part = E/6, ``segment.ms`` is one
part and the broker looks for deletable segments every part at most: a trimmed event's
segment rolls within 1.5 parts (a tick comes every half part), is found below the start
within one more, and its file is deleted ``file.delete.delay.ms`` (at most a part) after:
3.5 parts in all, well within E. An erasure loads what was waiting first (release/erasure.py),
so the same bound holds for an erased record from the moment it is erased.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from config.settings import Settings, country_topic
from pipeline import kafka_security
from pipeline.sources import pipeline_consumer
from release.files import replace_file

log = logging.getLogger(__name__)

CLOCK_KEY = b"thbdb-hub-clock"  # the key of the clock's ticks: no record has it
_PARTS = 6


def part_ms(settings: Settings) -> int:
    """One part of the stated time, in milliseconds."""
    return max(1000, int(settings.erasure_seconds * 1000 / _PARTS))


def tick_seconds(settings: Settings) -> float:
    """How often the hub's clock appends a tick."""
    return part_ms(settings) / 2000


def topic_config(settings: Settings) -> dict[str, str]:
    """The country topics' retention (set when a topic is made, and on every `thbdb up`)."""
    part = part_ms(settings)
    return {
        "cleanup.policy": "delete",
        "retention.ms": "-1",  # nothing goes before the hub has loaded it
        "retention.bytes": "-1",
        "segment.ms": str(part),
        "file.delete.delay.ms": str(min(60_000, part)),
    }


def broker_properties(settings: Settings) -> list[str]:
    """The broker's part of the bound: how often it looks for segments to delete."""
    return [f"log.retention.check.interval.ms={min(300_000, part_ms(settings))}"]


def trim(settings: Settings, loaded: Mapping[str, Mapping[int, int]], principal: str) -> int:
    """Move each partition's start up to the offset the warehouse has loaded to
    (``loaded``: topic -> partition -> next offset); how many partitions moved."""
    wanted = [TopicPartition(t, p, o) for t, parts in loaded.items() for p, o in parts.items() if o > 0]
    if not wanted:
        return 0
    client = AdminClient(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "log_level": 0,
            **kafka_security.client_config(settings, principal),
        }
    )
    moved = 0
    for partition, future in client.delete_records(wanted, request_timeout=30).items():
        try:
            future.result()
            moved += 1
        except Exception as error:
            raise RuntimeError(f"could not trim {partition.topic}[{partition.partition}]: {error}") from error
    return moved


def tick(settings: Settings, topics: list[str]) -> None:
    """Append one clock tick to each partition of ``topics``, so that every partition's
    active segment can roll."""
    producer = Producer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "acks": "all",
            "message.timeout.ms": 60_000,
            "log_level": 2,
            **kafka_security.client_config(settings, kafka_security.ERASER),
        }
    )
    known = producer.list_topics(timeout=30).topics
    for topic in topics:
        for partition in sorted(known[topic].partitions) if topic in known else ():
            producer.produce(topic, key=CLOCK_KEY, value=None, partition=partition)
    left = producer.flush(60)
    if left:
        raise RuntimeError(f"the broker did not take {left} clock tick(s)")


def skip_ticks(settings: Settings, topics: list[str]) -> int:
    """Move the start of each partition of ``topics`` past the ticks lying at it (up to
    the first event, or the end); how many partitions moved."""
    consumer = pipeline_consumer(settings, kafka_security.ERASER)
    try:
        known = consumer.list_topics(timeout=30).topics
        spans: dict[tuple[str, int], tuple[int, int]] = {}
        for topic in topics:
            for partition in sorted(known[topic].partitions) if topic in known else ():
                low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=15)
                if high > low:
                    spans[(topic, partition)] = (low, high)
        past = _past_leading_ticks(consumer, spans)
    finally:
        consumer.close()
    moved: dict[str, dict[int, int]] = {}
    for (topic, partition), offset in past.items():
        if offset > spans[(topic, partition)][0]:
            moved.setdefault(topic, {})[partition] = offset
    return trim(settings, moved, kafka_security.ERASER)


def _past_leading_ticks(
    consumer: Consumer, spans: dict[tuple[str, int], tuple[int, int]], wait_seconds: float = 30.0
) -> dict[tuple[str, int], int]:
    """For each partition (its start and end), the offset after the run of ticks at its
    start: the first event's offset, or the end if there are only ticks."""
    if not spans:
        return {}
    past = {where: low for where, (low, _high) in spans.items()}
    pending = set(spans)
    consumer.assign([TopicPartition(t, p, low) for (t, p), (low, _high) in spans.items()])
    deadline = time.monotonic() + wait_seconds
    while pending and time.monotonic() < deadline:
        for message in consumer.consume(num_messages=500, timeout=1.0) or []:
            where = (message.topic() or "", message.partition() or 0)
            if where not in pending:
                continue
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    raise RuntimeError(f"reading {where[0]}[{where[1]}] failed: {error.str()}")
                pending.discard(where)
            elif message.value() is not None:  # an event: the start stops here
                pending.discard(where)
            else:
                past[where] = (message.offset() or 0) + 1
                if past[where] >= spans[where][1]:
                    pending.discard(where)
    consumer.unassign()
    return past


# The clock's list: countries whose topics get ticks, and until when. A file, written by
# the pipeline after a load and by an erasure, read by the release service's clock thread;
# a restarted service carries on where the last one stopped.
CLOCK_FILE = "kafka-clock.json"
_clock_lock = threading.Lock()  # within one process; across processes the writes are atomic


def _clock_path(settings: Settings) -> Path:
    return settings.run_dir / CLOCK_FILE


def _read_clock(settings: Settings) -> dict[str, float]:
    try:
        return {str(k): float(v) for k, v in json.loads(_clock_path(settings).read_text("utf-8")).items()}
    except (FileNotFoundError, ValueError):
        return {}


def _write_clock(settings: Settings, clock: dict[str, float]) -> None:
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    replace_file(_clock_path(settings), json.dumps(clock, sort_keys=True).encode())


def keep_ticking(settings: Settings, countries: list[str]) -> float:
    """Put ``countries`` on the clock for the stated time from now; until when."""
    until = time.time() + settings.erasure_seconds
    with _clock_lock:
        clock = _read_clock(settings)
        clock.update({c: max(until, clock.get(c, 0.0)) for c in countries})
        _write_clock(settings, clock)
    return until


def tick_due(settings: Settings, now: float | None = None) -> list[str]:
    """Tick every country still on the clock, and take off those whose time is up."""
    now = time.time() if now is None else now
    with _clock_lock:
        clock = _read_clock(settings)
        due = {c: t for c, t in clock.items() if t > now}
        if due != clock:
            _write_clock(settings, due)
    if due:
        topics = [country_topic(c) for c in sorted(due)]
        tick(settings, topics)
        skip_ticks(settings, topics)
    return sorted(due)


def run_clock(settings: Settings, stop: threading.Event) -> None:
    """The release service's clock thread: tick what is due, until ``stop``."""
    while not stop.wait(tick_seconds(settings)):
        try:
            tick_due(settings)
        except Exception:  # a broker away for a while: the next tick tries again
            log.warning("the Kafka clock could not tick", exc_info=True)
