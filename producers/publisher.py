"""Where a push sends its events: the country's Kafka topic (an idempotent producer), or
a list in memory for tests and benchmarks (ListSink), which the pipeline reads back with
pipeline/sources.py's MemorySource."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Protocol

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from transforms.events import CaseEvent


class PublishFailed(RuntimeError):
    """Some events were not acknowledged by the broker."""


class EventSink(Protocol):
    interruptions: int

    def publish(self, events: Iterable[CaseEvent]) -> int:
        """Send every event; how many were delivered."""
        ...


class ListSink:
    """Events kept as the bytes a topic would hold, in order."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.interruptions = 0

    def publish(self, events: Iterable[CaseEvent]) -> int:
        before = len(self.messages)
        self.messages.extend(event.to_bytes() for event in events)
        return len(self.messages) - before


class EventPublisher:
    """Sends events keyed by record pseudonym, so all versions of a record share a
    partition and arrive in order; acks=all with idempotence, so a retry after a broker
    fault neither loses nor duplicates a message."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        delivery_timeout_ms: int = 300_000,  # long enough to wait out a broker restart
        security: Mapping[str, str] | None = None,
    ):
        self.topic = topic
        self.delivered = 0
        self.failed: list[str] = []
        # Connection faults seen while publishing (broker down, restarting): librdkafka
        # retries them; they are counted so the push can report them.
        self.interruptions = 0
        # A fault no retry can fix (credentials refused, producer fenced): stop at once.
        self.fatal: str | None = None
        self._flush_seconds = 60 + delivery_timeout_ms / 1000
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                "compression.type": "zstd",
                "linger.ms": 20,
                # The local queue's bound: a push of any size holds at most this much
                # (librdkafka's default is a gigabyte).
                "queue.buffering.max.kbytes": 65_536,
                "message.timeout.ms": delivery_timeout_ms,
                "client.id": f"thbdb-producer-{topic}",
                "log_level": 2,  # failed connects during a broker restart are expected: counted, not printed
                "error_cb": self._on_error,
                **(security or {}),
            }
        )

    def _on_error(self, error: KafkaError) -> None:
        # Fatal errors never get here as a usable object (the client raises them from
        # poll/flush instead; see _fatal_reason); this sees the retriable kind.
        if error.code() == KafkaError._AUTHENTICATION:
            self.fatal = error.str()
        elif error.code() in (KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN):
            self.interruptions += 1

    def _on_delivery(self, error: KafkaError | None, _message: Message) -> None:
        if error is None:
            self.delivered += 1
        else:
            self.failed.append(error.str())

    def publish(self, events: Iterable[CaseEvent]) -> int:
        """Send the events and wait until every one is acknowledged or has failed."""
        sent = 0
        try:
            for event in events:
                while True:
                    try:
                        self._producer.produce(
                            self.topic,
                            key=event.record_ref.encode(),
                            value=event.to_bytes(),
                            on_delivery=self._on_delivery,
                        )
                        break
                    except BufferError:  # local queue full: let deliveries drain, then retry
                        self._producer.poll(0.5)
                sent += 1
                self._producer.poll(0)
                if self.fatal:
                    break
            remaining = self._wait_for_acknowledgements()
        except (KafkaException, SystemError) as error:
            self.fatal = _fatal_reason(error)
        if self.fatal:
            raise PublishFailed(f"the broker refused this producer ({self.fatal}); nothing more was sent")
        if remaining or self.failed:
            reasons = sorted(set(self.failed))[:3]
            raise PublishFailed(
                f"{len(self.failed) + remaining} of {sent} events were not acknowledged"
                f" by the broker ({'; '.join(reasons) or 'timed out'})"
            )
        return sent

    def _wait_for_acknowledgements(self) -> int:
        """Flush, but give up early on a fatal fault; the number still unacknowledged."""
        deadline = time.monotonic() + self._flush_seconds
        remaining = len(self._producer)
        while remaining and not self.fatal and time.monotonic() < deadline:
            remaining = self._producer.flush(timeout=1.0)
        if remaining and self.fatal:
            self._producer.purge()
            remaining = self._producer.flush(timeout=5.0)
        return remaining


def _fatal_reason(error: BaseException) -> str:
    """The broker's reason for a fatal client error (e.g. not authorised to produce).

    confluent-kafka raises a fatal error from inside the next callback it runs, so it
    may arrive wrapped in a SystemError whose cause (or context) is the KafkaException.
    """
    seen: BaseException | None = error
    for _ in range(5):  # the chain is short; never loop on a cycle
        if seen is None:
            break
        if isinstance(seen, KafkaException) and seen.args and isinstance(seen.args[0], KafkaError):
            return str(seen.args[0].str())
        seen = seen.__cause__ or seen.__context__
    return "fatal client error"
