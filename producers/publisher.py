"""Publishing events to the country's Kafka topic with an idempotent producer."""

from __future__ import annotations

from collections.abc import Iterable

from confluent_kafka import KafkaError, Message, Producer

from transforms.events import CaseEvent


class PublishFailed(RuntimeError):
    """Some events were not acknowledged by the broker."""


class EventPublisher:
    """Sends events keyed by record pseudonym, so all versions of a record share a
    partition and arrive in order; acks=all with idempotence, so a retry after a broker
    fault neither loses nor duplicates a message."""

    def __init__(self, bootstrap: str, topic: str, delivery_timeout_ms: int = 120_000):
        self.topic = topic
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                "compression.type": "zstd",
                "linger.ms": 20,
                "message.timeout.ms": delivery_timeout_ms,
                "client.id": f"thbdb-producer-{topic}",
                "log_level": 3,  # retries during a broker restart are expected, not news
            }
        )
        self.delivered = 0
        self.failed: list[str] = []

    def _on_delivery(self, error: KafkaError | None, _message: Message) -> None:
        if error is None:
            self.delivered += 1
        else:
            self.failed.append(error.str())

    def publish(self, events: Iterable[CaseEvent]) -> int:
        """Send the events and wait until every one is acknowledged or has failed."""
        sent = 0
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
        remaining = self._producer.flush(timeout=180)
        if remaining or self.failed:
            reasons = sorted(set(self.failed))[:3]
            raise PublishFailed(
                f"{len(self.failed) + remaining} of {sent} events were not acknowledged"
                f" by the broker ({'; '.join(reasons) or 'timed out'})"
            )
        return sent
