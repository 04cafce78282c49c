"""The streaming consumer: one long-lived process that makes a push queryable in seconds.

`thbdb run` pays for a whole DAG run per push (a task start-up per country, the Great
Expectations import, the reports). The stream pays those once per window: it keeps one
process with the validation suites built, asks the broker every `stream_poll` seconds
whether a country's topic grew, drains that country with the pipeline's own
``drain_country`` (same micro-batches, validation, quarantine and offsets), and rebuilds
the marts when anything was loaded. The reports and Data Docs are written once, at the
end of the window. The warehouse is opened per batch and closed between batches, so
analysts' queries and `thbdb run` are never locked out for long.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import Consumer, TopicPartition

from config.settings import COUNTRIES, Settings, country_topic
from expectations.suites import CASE_EVENTS, PERPETRATOR_EVENTS
from pipeline.drain import (
    LoadCounts,
    drain_country,
    loaded_since_release,
    refresh_queryable,
    write_reports,
)
from pipeline.sources import KafkaSource, pipeline_consumer

log = logging.getLogger(__name__)
# How often the consumer asks whether it was turned off (one call to Airflow each time).
STOP_CHECK_SECONDS = 2.0


@dataclass
class StreamReport(LoadCounts):
    """A streaming window: its drains' counts added up, and how often the marts refreshed."""

    seconds: float = 0.0
    drains: int = 0  # drains that read something
    mart_refreshes: int = 0

    def add(self, other: LoadCounts) -> None:
        self.drains += 1
        super().add(other)

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def high_watermarks(consumer: Consumer) -> dict[str, tuple[int, ...]]:
    """Each country's topic end, partition by partition (topics not created yet: absent)."""
    metadata = consumer.list_topics(timeout=10)
    ends = {}
    for country in COUNTRIES:
        topic = metadata.topics.get(country_topic(country))
        if topic is None or topic.error is not None:
            continue
        ends[country] = tuple(
            consumer.get_watermark_offsets(TopicPartition(topic.topic, partition), timeout=10)[1]
            for partition in sorted(topic.partitions)
        )
    return ends


def _asked_at_most_every(seconds: float, ask: Callable[[], bool], clock: Callable[[], float]) -> Callable[[], bool]:
    """``ask``, called at most every ``seconds``; once it has said yes, always yes."""
    last: list[float] = []
    said_yes = False

    def asked() -> bool:
        nonlocal said_yes
        if not said_yes and (not last or clock() - last[0] >= seconds):
            last[:] = [clock()]
            said_yes = ask()
        return said_yes

    return asked


def stream(
    settings: Settings,
    window: float | None = None,
    airflow_run_id: str | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    clock: Callable[[], float] = time.monotonic,
) -> StreamReport:
    """Drain every country as its events arrive, for ``window`` seconds, then return.

    ``should_stop`` is asked every few seconds at most (the task asks Airflow whether the
    DAG was paused): the window then ends early, after the batch in hand is committed and
    what was loaded is made countable.
    Errors are not caught: the Airflow task fails, and Airflow retries it; each batch was
    committed with its offsets, so the retry starts where the last commit ended.
    """
    started = clock()
    deadline = started + (settings.stream_window if window is None else window)
    report = StreamReport()
    stop_requested = _asked_at_most_every(STOP_CHECK_SECONDS, should_stop, clock)
    if stop_requested():
        return report
    for country in COUNTRIES:
        CASE_EVENTS.prepare(country)
        PERPETRATOR_EVENTS.prepare(country)
    log.info("stream: validation ready after %.1f s; polling every %.1f s", clock() - started, settings.stream_poll)
    if loaded_since_release(settings):
        # A window that failed after a commit and before its refresh (Airflow retries the
        # task): what it loaded becomes countable now, not at the next push.
        refresh_queryable(settings)
        report.mart_refreshes += 1
    # Topic ends already drained up to. Empty at the start: the first pass drains every
    # country once, so whatever arrived between two windows is picked up at once.
    drained_to: dict[str, tuple[int, ...]] = {}
    consumer = pipeline_consumer(settings)
    try:
        while True:
            ends = high_watermarks(consumer)
            grown = [country for country, end in ends.items() if drained_to.get(country) != end]
            loaded = 0
            draining = clock()
            for country in grown:
                drained = drain_country(
                    settings,
                    country,
                    airflow_run_id=airflow_run_id,
                    should_stop=stop_requested,
                    source=KafkaSource(settings, country, consumer=consumer),  # no new connection per push
                )
                if drained.read:
                    report.add(drained)
                    loaded += drained.loaded
                if stop_requested():
                    break
                drained_to[country] = ends[country]
            if loaded:
                refreshing = clock()
                refresh_queryable(settings)
                report.mart_refreshes += 1
                log.info(
                    "stream: %d events loaded in %.2f s; refreshed, released and trimmed in %.2f s",
                    loaded,
                    refreshing - draining,
                    clock() - refreshing,
                )
            if clock() >= deadline:
                break
            if stop_requested():
                log.info("stream: turned off; ending the window early")
                break
            if not grown:
                time.sleep(settings.stream_poll)
    finally:
        consumer.close()
    if report.read:
        write_reports(settings)  # once per window: the Data Docs and reports read everything
    report.seconds = round(clock() - started, 1)
    log.info("stream window ended: %s", report.as_dict())
    return report
