"""Where the pipeline reads a country's events from: a Kafka topic in production, a list
in memory for tests and benchmarks. Both hand ``drain_country`` the same thing, batches
of messages (value, partition, offset) from given offsets on, so that the rest of the
production path (parsing, Great Expectations, generalisation, the atomic load) is the
same whichever source feeds it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from confluent_kafka import Consumer, KafkaError, TopicPartition

from config.settings import Settings, country_topic
from pipeline import kafka_security

POLL_SECONDS = 0.1


class PipelineError(RuntimeError):
    """The pipeline cannot go on (a missing topic, a broker error)."""


class Message(Protocol):
    """What the pipeline reads of a message: confluent_kafka's Message has it."""

    def value(self) -> bytes | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...


class EventSource(Protocol):
    def batches(self, start: dict[int, int], batch_size: int) -> Iterator[list[Message]]:
        """Batches of at most ``batch_size`` events (valueless messages ride along
        uncounted), from ``start`` (partition -> next offset) up to what was there when
        reading began."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class StoredMessage:
    """A message held in memory."""

    payload: bytes | None
    at_partition: int
    at_offset: int

    def value(self) -> bytes | None:
        return self.payload

    def partition(self) -> int | None:
        return self.at_partition

    def offset(self) -> int | None:
        return self.at_offset


class MemorySource:
    """A country's events in a list (one partition), as a topic would hold them."""

    def __init__(self, payloads: Sequence[bytes | None]):
        self.messages = [StoredMessage(p, 0, offset) for offset, p in enumerate(payloads)]

    def batches(self, start: dict[int, int], batch_size: int) -> Iterator[list[Message]]:
        batch: list[Message] = []
        events = 0
        for message in self.messages[start.get(0, 0) :]:
            batch.append(message)
            events += message.payload is not None
            if events >= batch_size:
                yield batch
                batch, events = [], 0
        if batch:
            yield batch

    def close(self) -> None:
        pass


def pipeline_consumer(settings: Settings, principal: str = kafka_security.PIPELINE) -> Consumer:
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
            # What librdkafka fetches ahead of the drain, at most (64 MB by default): the
            # drain reads a batch while the one before is loaded, and a larger queue only
            # made its memory grow with the size of the push.
            "queued.max.messages.kbytes": 16_384,
            "log_level": 3,
            **kafka_security.client_config(settings, principal),
        }
    )


class KafkaSource:
    """A country's topic on the broker, read as the pipeline's principal (or another)."""

    def __init__(
        self,
        settings: Settings,
        country: str,
        principal: str = kafka_security.PIPELINE,
        consumer: Consumer | None = None,
    ):
        """``consumer``: one the caller keeps open across drains (the stream's), closed
        by the caller; by default the source opens its own and closes it."""
        self.settings = settings
        self.topic = country_topic(country)
        self.owned = consumer is None
        self.consumer = pipeline_consumer(settings, principal) if consumer is None else consumer

    def batches(self, start: dict[int, int], batch_size: int) -> Iterator[list[Message]]:
        consumer, topic = self.consumer, self.topic
        metadata = consumer.list_topics(topic, timeout=15)
        if topic not in metadata.topics or metadata.topics[topic].error is not None:
            raise PipelineError(f"topic {topic} does not exist on {self.settings.kafka_bootstrap}")
        ends: dict[int, int] = {}
        assignment = []
        for partition in sorted(metadata.topics[topic].partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=15)
            position = max(start.get(partition, low), low)
            if position < high:
                ends[partition] = high
                assignment.append(TopicPartition(topic, partition, position))
        if not assignment:
            return
        consumer.assign(assignment)
        pending = dict(ends)  # partitions not yet read up to their end
        while pending:
            messages: list[Message] = []
            events = 0  # the clock's empty ticks ride along without counting (pipeline/kafka_retention.py)
            while pending and events < batch_size:
                # Short waits: consume() may wait its whole timeout for a full batch when a
                # small push has fewer events; each partition's end is known and waited for.
                polled = consumer.consume(num_messages=batch_size - events, timeout=POLL_SECONDS)
                for message in polled or []:
                    error = message.error()
                    if error is not None:
                        if error.code() == KafkaError._PARTITION_EOF:
                            pending.pop(message.partition() or 0, None)
                            continue
                        raise PipelineError(f"reading {topic} failed: {error.str()}")
                    messages.append(message)
                    events += message.value() is not None
                    partition = message.partition() or 0
                    if (message.offset() or 0) + 1 >= ends.get(partition, 0):
                        pending.pop(partition, None)
            if not messages:
                return
            yield messages

    def close(self) -> None:
        if self.owned:
            self.consumer.close()
        else:
            self.consumer.unassign()
