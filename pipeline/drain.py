"""The regional pipeline's work, callable from an Airflow task, a test or a benchmark.

``drain_country`` reads a country's topic from where the warehouse says it stopped, in
micro-batches: each batch is parsed, validated with Great Expectations, generalised and
loaded, with its offsets, in one warehouse transaction.
"""

from __future__ import annotations

import gc
import logging
import time
import uuid
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TypeVar

import duckdb

from config.settings import COUNTRIES, Settings, country_topic
from expectations.data_docs import build_data_docs, store_redacted_result
from expectations.runner import ValidationOutcome
from expectations.suites import CASE_EVENTS, PERPETRATOR_EVENTS
from pipeline import kafka_retention, kafka_security
from pipeline.sources import EventSource, KafkaSource, Message
from release.files import hub_secret
from reports.privacy import write_privacy_report
from reports.validation import write_validation_report
from transforms.events import EventRejected, PerpetratorEvent, VictimEvent, parse_event
from transforms.rows import perpetrator_rows, read_events, victim_rows
from warehouse import erasure, waiters
from warehouse.loader import (
    LoadBatch,
    QuarantinedEvent,
    connect,
    ensure_schema,
    load_batch,
    refresh_marts,
    stored_offsets,
)
from warehouse.marts import Refreshed

log = logging.getLogger(__name__)
EventT = TypeVar("EventT", VictimEvent, PerpetratorEvent)
T = TypeVar("T")


@dataclass
class LoadCounts:
    """What loading read and did: one drain's counts, or the sum a run or a streaming
    window adds up."""

    batches: int = 0
    read: int = 0
    loaded: int = 0
    duplicates: int = 0
    quarantined: int = 0
    held_back: int = 0
    erased: int = 0  # events of erased records, dropped (warehouse/erasure.py)

    def add(self, other: LoadCounts) -> None:
        for name in LOAD_COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


LOAD_COUNTERS = tuple(f.name for f in fields(LoadCounts))


@dataclass(kw_only=True)
class DrainReport(LoadCounts):
    country: str
    load_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if k != "load_ids"}


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Python's cycle collector off while a batch is decoded: tens of thousands of new
    events set it off again and again, and each pass walks every object alive, which
    doubled the parsing time. A batch's objects hold no cycles to find; reference
    counting frees them as ever, and the collector runs again after the batch."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def build_batch(
    country: str,
    messages: list[Message],
    airflow_run_id: str | None,
) -> tuple[LoadBatch, list[tuple[str, ValidationOutcome]]]:
    """Parse, de-duplicate and validate messages; accepted rows and quarantine entries.

    Victim and perpetrator events share the topic; each kind has its suite. Returns the
    batch and each suite's outcome."""
    with _cyclic_gc_paused():
        return _build_batch(country, messages, airflow_run_id)


def _build_batch(
    country: str,
    messages: list[Message],
    airflow_run_id: str | None,
) -> tuple[LoadBatch, list[tuple[str, ValidationOutcome]]]:
    topic = country_topic(country)
    batch = LoadBatch(
        topic=topic,
        country=country,
        load_id=uuid.uuid4().hex,
        validation_run_id=uuid.uuid4().hex,
        airflow_run_id=airflow_run_id,
    )
    parsed: list[tuple[Message, VictimEvent]] = []
    perpetrators: list[tuple[Message, PerpetratorEvent]] = []
    seen: set[str] = set()
    for message in messages:
        if message.value() is None:
            continue  # no value: the hub's clock tick, not an event (pipeline/kafka_retention.py)
        try:
            event = parse_event(message.value() or b"")
        except EventRejected as rejected:
            batch.quarantined.append(
                QuarantinedEvent(message.partition() or 0, message.offset() or 0, None, None, rejected.reason)
            )
            continue
        # A file pushed twice before a run puts both copies in one batch: the second copy
        # is a duplicate (counted at load), not a fault that should quarantine the first.
        if event.event_id in seen:
            batch.duplicates_in_batch += 1
            continue
        seen.add(event.event_id)
        if isinstance(event, PerpetratorEvent):
            perpetrators.append((message, event))
        else:
            parsed.append((message, event))
    # Each kind's events are read once into columns: the suite's frame and the warehouse
    # rows are both cut from them.
    victims = read_events([e for _, e in parsed], VictimEvent)
    outcome = CASE_EVENTS.validate_read(country, victims)
    batch.validation_summary = outcome.summary
    batch.warnings = outcome.warnings
    keep, positions = _sort(batch, parsed, outcome)
    batch.accepted = victim_rows(victims, positions, keep)
    held = read_events([e for _, e in perpetrators], PerpetratorEvent)
    perpetrator_outcome = PERPETRATOR_EVENTS.validate_read(country, held)
    for key in ("expectations", "expectations_failed"):
        batch.validation_summary[key] = outcome.summary.get(key, 0) + perpetrator_outcome.summary.get(key, 0)
    keep, positions = _sort(batch, perpetrators, perpetrator_outcome)
    batch.accepted_perpetrators = perpetrator_rows(held, positions, keep)
    for message in messages:
        partition = message.partition() or 0
        batch.next_offsets[partition] = max(batch.next_offsets.get(partition, 0), (message.offset() or 0) + 1)
    return batch, [(CASE_EVENTS.name, outcome), (PERPETRATOR_EVENTS.name, perpetrator_outcome)]


def _sort(
    batch: LoadBatch, parsed: Sequence[tuple[Message, EventT]], outcome: ValidationOutcome
) -> tuple[list[int], list[tuple[int, int]]]:
    """Each validated event to quarantine with its reasons, or to the accepted events
    (returned as their indexes, with the partition and offset each was read at)."""
    accepted: list[int] = []
    positions: list[tuple[int, int]] = []
    for index, (message, event) in enumerate(parsed):
        reasons = outcome.failures.get(index)
        partition, offset = message.partition() or 0, message.offset() or 0
        if reasons:
            batch.quarantined.append(
                QuarantinedEvent(partition, offset, event.event_id, event.record_ref, "; ".join(reasons))
            )
        else:
            accepted.append(index)
            positions.append((partition, offset))
    return accepted, positions


# Below this many events a failure rate says little; such batches are never held back.
HOLD_BACK_MIN_EVENTS = 20


def hold_back_if_failing(batch: LoadBatch, max_failure_rate: float) -> None:
    """Quarantine a whole batch whose failure rate passes the threshold.

    So many failures at once usually mean a broken export (a shifted column, a new
    national code list), not bad records: nothing of such a batch is counted. Its events
    are kept in quarantine with the reason, and the operator fixes the export and pushes
    it again (a re-push of the same rows then loads).
    """
    if batch.events_read < HOLD_BACK_MIN_EVENTS or not batch.quarantined:
        return
    rate = len(batch.quarantined) / batch.events_read
    if rate <= max_failure_rate:
        return
    batch.held_back = (
        f"{rate:.0%} of the batch's {batch.events_read} events failed validation"
        f" (threshold {max_failure_rate:.0%}): the batch is held back as a whole"
    )
    for rows in (batch.accepted, batch.accepted_perpetrators):
        columns = (rows[c].tolist() for c in ("kafka_partition", "kafka_offset", "event_id", "record_ref"))
        for partition, offset, event_id, record_ref in zip(*columns, strict=True):
            batch.quarantined.append(
                QuarantinedEvent(int(partition), int(offset), str(event_id), str(record_ref), batch.held_back)
            )
    batch.accepted = batch.accepted.iloc[:0]
    batch.accepted_perpetrators = batch.accepted_perpetrators.iloc[:0]


def _checked(
    built: tuple[LoadBatch, list[tuple[str, ValidationOutcome]]], max_failure_rate: float
) -> tuple[LoadBatch, list[tuple[str, ValidationOutcome]]]:
    hold_back_if_failing(built[0], max_failure_rate)
    return built


# DuckDB's own memory while a drain holds the warehouse: held open, its cache of the
# tables would otherwise grow with them (a batch's load needs far less).
DRAIN_MEMORY = "128MB"
# A checkpoint when the write-ahead log holds about three batches, not after each (16 MB,
# DuckDB's default, is less than one batch): 1.0 s of commits per 100,000 events against
# 1.9 s, measured. A crash replays at most that much at the next opening.
DRAIN_WAL = "64MB"


class HeldWarehouse:
    """The warehouse kept open across a drain's batches. Closing it after every batch
    checkpointed it every time, which cost as much as the load; held, DuckDB checkpoints
    when its write-ahead log is full. Another process that finds the file locked says
    it waits (warehouse/waiters.py), and the drain lets go after the batch it is on."""

    def __init__(self, path: Path):
        self.path = path
        self._open = ExitStack()
        self._con: duckdb.DuckDBPyConnection | None = None

    def connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            self._con = self._open.enter_context(connect(self.path))
            self._con.execute(f"SET memory_limit = '{DRAIN_MEMORY}'")
            self._con.execute(f"SET wal_autocheckpoint = '{DRAIN_WAL}'")
        return self._con

    def let_go_if_waited_for(self) -> None:
        if self._con is not None and waiters.others_waiting(self.path):
            self.close()
            waiters.let_them_in(self.path)

    def close(self) -> None:
        self._con = None
        self._open.close()


_END = object()


def _read_ahead(items: Iterator[T]) -> Generator[T, None, None]:
    """``items``, the next one read and prepared in a worker thread while the caller uses
    the current one: a batch is read from Kafka and validated while the one before is
    written, DuckDB's work overlapping Python's on a second core. Batches are still
    loaded one at a time and in order, so the stored offsets stay exact; when the
    caller stops early, the batch prepared ahead is dropped, never loaded."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="drain-read-ahead") as worker:
        ahead = worker.submit(next, items, _END)
        while (item := ahead.result()) is not _END:
            ahead = worker.submit(next, items, _END)
            yield item  # type: ignore[misc]


def drain_country(
    settings: Settings,
    country: str,
    airflow_run_id: str | None = None,
    on_batch: Callable[[DrainReport], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    principal: str = kafka_security.PIPELINE,
    source: EventSource | None = None,
    warehouse: Path | None = None,
) -> DrainReport:
    """Load everything published to the country's topic so far, batch by batch.

    ``should_stop`` is asked after each committed batch; when it says so the drain ends
    there, and the next drain starts from that batch's offsets. ``principal``: who reads
    on a secure broker (the release service drains as the eraser before an erasure).
    ``source``: where the events come from, by default the country's Kafka topic (a
    MemorySource in tests: pipeline/sources.py); ``warehouse``: by default the home's."""
    topic = country_topic(country)
    report = DrainReport(country=country)
    secret = hub_secret(settings.hub_secrets_dir, erasure.SECRET_FILE)
    with connect(warehouse or settings.warehouse) as con:
        ensure_schema(con)
        start = stored_offsets(con, topic)
    source = source or KafkaSource(settings, country, principal)
    built = (
        _checked(build_batch(country, messages, airflow_run_id), settings.max_failure_rate)
        for messages in source.batches(start, settings.batch_size)
    )
    ready = _read_ahead(built)
    held = HeldWarehouse(warehouse or settings.warehouse)
    try:
        for batch, outcomes in ready:
            result = load_batch(held.connection(), batch, secret)
            held.let_go_if_waited_for()
            for suite_name, outcome in outcomes:
                if outcome.result is not None:
                    store_redacted_result(
                        settings.gx_dir,
                        outcome.result,
                        suite_name,
                        airflow_run_id or "manual",
                        f"{country}-{batch.load_id}",
                    )
            if batch.held_back:
                report.held_back += batch.events_read
                log.warning("%s: a batch of %d events was held back: %s", country, batch.events_read, batch.held_back)
            for warning in batch.warnings:
                log.warning("%s batch %d: %s", country, report.batches + 1, warning)
            report.batches += 1
            report.read += batch.events_read
            report.loaded += result.loaded
            report.duplicates += result.duplicates
            report.quarantined += result.quarantined
            report.erased += result.erased
            report.load_ids.append(batch.load_id)
            log.info(
                "%s batch %d: read %d, loaded %d, duplicates %d, quarantined %d, erased %d",
                country,
                report.batches,
                batch.events_read,
                result.loaded,
                result.duplicates,
                result.quarantined,
                result.erased,
            )
            if on_batch:
                on_batch(report)
            if should_stop is not None and should_stop():
                log.info("%s: drain stopped after batch %d, as asked", country, report.batches)
                break
    finally:
        held.close()  # before waiting for the batch prepared ahead: others may be waiting
        ready.close()  # waits for the batch being prepared ahead, then drops it
        source.close()
    return report


def refresh_warehouse(settings: Settings) -> None:
    """Rebuild the marts from the raw layer and the validation reports (idempotent)."""
    refresh_queryable(settings)
    write_reports(settings)


def refresh_queryable(settings: Settings) -> Refreshed:
    """Bring the marts up to date with the raw layer and publish them as the release
    snapshot that the release service answers from: what was loaded becomes countable.
    Then the loaded events leave Kafka."""
    started = time.monotonic()
    refreshed = publish_marts(settings)
    released = time.monotonic()
    try:
        trim_loaded(settings, kafka_security.PIPELINE)
    except Exception:  # the broker away for a moment: the next load deletes this one's events too
        log.warning("could not delete the loaded events from Kafka; the next load will", exc_info=True)
    log.info(
        "marts refreshed and released in %.2f s, loaded events deleted from Kafka in %.2f s",
        released - started,
        time.monotonic() - released,
    )
    return refreshed


def publish_marts(settings: Settings, full: bool = False) -> Refreshed:
    """Refresh the marts and publish the release snapshot; ``full``: rebuild every mart,
    relink every block and write the snapshot whole (`thbdb rebuild`)."""
    from release import snapshot

    with connect(settings.warehouse, wait_seconds=600 if full else 60) as con:
        ensure_schema(con)
        refreshed = refresh_marts(con, settings.link_threshold, settings.warehouse_memory, full=full)
        snapshot.publish(con, settings, whole=full)
    return refreshed


def loaded_since_release(settings: Settings) -> bool:
    """Whether a batch was loaded after the current release snapshot was published (or
    loads exist and nothing was released yet)."""
    from release import snapshot

    if not settings.warehouse.exists():
        return False
    with connect(settings.warehouse, read_only=True) as con:
        row = con.execute("SELECT max(loaded_at) FROM load_batches").fetchone()
    last_load = row[0] if row else None
    if last_load is None:
        return False
    try:
        with snapshot.open_current(settings) as release:
            published = release.execute("SELECT published_at FROM release_info").fetchone()
    except snapshot.NoRelease:
        return True
    return published is None or last_load > published[0]


def trim_loaded(settings: Settings, principal: str) -> None:
    """Delete from the country topics what the warehouse has loaded, and put the topics on
    the clock so the broker's files follow within the stated time (pipeline/kafka_retention.py)."""
    with connect(settings.warehouse, read_only=True) as con:
        rows = con.execute("SELECT topic, kafka_partition, next_offset FROM kafka_offsets").fetchall()
    loaded: dict[str, dict[int, int]] = {}
    for topic, partition, next_offset in rows:
        loaded.setdefault(str(topic), {})[int(partition)] = int(next_offset)
    kafka_retention.trim(settings, loaded, principal)
    kafka_retention.keep_ticking(settings, [c for c in COUNTRIES if country_topic(c) in loaded])


def write_reports(settings: Settings) -> None:
    """The Data Docs, the validation report and the disclosure-risk report, from the
    release just published (what leaves the hub is what they describe)."""
    from release import snapshot

    build_data_docs(settings.gx_dir)
    with snapshot.open_current(settings) as con:
        write_validation_report(con, settings)
        write_privacy_report(con, settings.reports_dir, settings.min_cell, automatic=True)
