"""The regional pipeline's work, callable from an Airflow task, a test or a benchmark.

``drain_country`` reads a country's topic from where the warehouse says it stopped, in
micro-batches: each batch is parsed, validated with Great Expectations, generalised and
loaded, with its offsets, in one warehouse transaction.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaError, Message, TopicPartition

from expectations.case_events import validate_events, write_redacted
from thbdb.settings import Settings, country_topic
from transforms.events import EventRejected, VictimEvent, parse_event
from transforms.rows import victim_row
from warehouse.loader import (
    LoadBatch,
    QuarantinedEvent,
    connect,
    ensure_schema,
    load_batch,
    refresh_marts,
    stored_offsets,
)

log = logging.getLogger(__name__)


class PipelineError(RuntimeError):
    pass


@dataclass
class DrainReport:
    country: str
    batches: int = 0
    read: int = 0
    loaded: int = 0
    duplicates: int = 0
    quarantined: int = 0
    load_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if k != "load_ids"}


def _consumer(settings: Settings) -> Consumer:
    # Offsets live in the warehouse, not in Kafka's consumer group: the group id only
    # names the client; nothing is committed to the broker.
    return Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": "thbdb-pipeline",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            "fetch.max.bytes": 52_428_800,
            "log_level": 3,
        }
    )


def build_batch(
    country: str,
    messages: list[Message],
    airflow_run_id: str | None,
) -> tuple[LoadBatch, dict[str, object]]:
    """Parse, de-duplicate and validate messages; accepted rows and quarantine entries."""
    topic = country_topic(country)
    batch = LoadBatch(
        topic=topic,
        country=country,
        load_id=uuid.uuid4().hex,
        validation_run_id=uuid.uuid4().hex,
        airflow_run_id=airflow_run_id,
    )
    parsed: list[tuple[Message, VictimEvent]] = []
    for message in messages:
        try:
            event = parse_event(message.value() or b"")
        except EventRejected as rejected:
            batch.quarantined.append(
                QuarantinedEvent(message.partition() or 0, message.offset() or 0, None, None, rejected.reason)
            )
            continue
        parsed.append((message, event))
    outcome = validate_events(country, [e for _, e in parsed], run_id=batch.validation_run_id)
    batch.validation_summary = outcome.summary
    for index, (message, event) in enumerate(parsed):
        reasons = outcome.failures.get(index)
        partition, offset = message.partition() or 0, message.offset() or 0
        if reasons:
            batch.quarantined.append(
                QuarantinedEvent(partition, offset, event.event_id, event.record_ref, "; ".join(reasons))
            )
        else:
            batch.accepted.append((partition, offset, victim_row(event)))
    for message in messages:
        partition = message.partition() or 0
        batch.next_offsets[partition] = max(batch.next_offsets.get(partition, 0), (message.offset() or 0) + 1)
    return batch, outcome.redacted


def drain_country(
    settings: Settings,
    country: str,
    airflow_run_id: str | None = None,
    on_batch: Callable[[DrainReport], None] | None = None,
) -> DrainReport:
    """Load everything published to the country's topic so far, batch by batch."""
    topic = country_topic(country)
    report = DrainReport(country=country)
    with connect(settings.warehouse) as con:
        ensure_schema(con)
        start = stored_offsets(con, topic)
    consumer = _consumer(settings)
    try:
        metadata = consumer.list_topics(topic, timeout=15)
        if topic not in metadata.topics or metadata.topics[topic].error is not None:
            raise PipelineError(f"topic {topic} does not exist on {settings.kafka_bootstrap}")
        ends: dict[int, int] = {}
        assignment = []
        for partition in sorted(metadata.topics[topic].partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=15)
            position = max(start.get(partition, low), low)
            if position < high:
                ends[partition] = high
                assignment.append(TopicPartition(topic, partition, position))
        if not assignment:
            return report
        consumer.assign(assignment)
        pending = dict(ends)  # partitions not yet read up to their end
        while pending:
            messages: list[Message] = []
            while pending and len(messages) < settings.batch_size:
                polled = consumer.consume(num_messages=settings.batch_size - len(messages), timeout=2.0)
                if not polled:
                    continue
                for message in polled:
                    error = message.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            pending.pop(message.partition() or 0, None)
                            continue
                        raise PipelineError(f"reading {topic} failed: {error.str()}")
                    messages.append(message)
                    partition = message.partition() or 0
                    if (message.offset() or 0) + 1 >= ends.get(partition, 0):
                        pending.pop(partition, None)
            if not messages:
                break
            batch, validation_report = build_batch(country, messages, airflow_run_id)
            with connect(settings.warehouse) as con:
                result = load_batch(con, batch)
            if validation_report:
                write_redacted(validation_report, settings.gx_dir / "validations")
            report.batches += 1
            report.read += batch.events_read
            report.loaded += result.loaded
            report.duplicates += result.duplicates
            report.quarantined += result.quarantined
            report.load_ids.append(batch.load_id)
            log.info(
                "%s batch %d: read %d, loaded %d, duplicates %d, quarantined %d",
                country,
                report.batches,
                batch.events_read,
                result.loaded,
                result.duplicates,
                result.quarantined,
            )
            if on_batch:
                on_batch(report)
    finally:
        consumer.close()
    return report


def refresh_warehouse(settings: Settings) -> None:
    """Rebuild the marts from the raw layer (idempotent)."""
    with connect(settings.warehouse) as con:
        ensure_schema(con)
        refresh_marts(con)
