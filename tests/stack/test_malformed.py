"""Malformed input on the real stack, property-based (Hypothesis):

- national exports (arbitrary bytes, wrong encodings, missing and extra columns, rows of
  the wrong shape, huge fields, odd values, CSV injection) pushed with the producer's
  own entry point, plus a handful through the `thbdb produce` command;
- messages written straight to a topic (not JSON, not an object, wrong schema version,
  a field of the wrong type, an extra identifying field, oversized).

Every case ends in a refusal (producer) or a quarantine entry (pipeline) with a reason,
never a crash or a traceback; no message, log, quarantine entry or warehouse row holds a
planted canary; and the good rows and events that came with the bad ones all load.
The tests of this module run in order: the last one runs the pipeline and checks.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Message, Producer, TopicPartition
from hypothesis import HealthCheck, given, settings

from config.settings import country_topic
from producers.national_export import ExportRejected
from producers.pseudonymise import Pseudonymiser, load_or_create_country_key
from producers.push import push_export
from tests.conftest import Stack
from tests.kafka_files import broker_text
from tests.malformed_inputs import (
    CANARIES,
    INJECTIONS,
    canary_row,
    good_record_id,
    leaked,
    national_exports,
    topic_messages,
    valid_event,
)
from transforms.events import EventRejected, parse_event
from warehouse.loader import connect

pytestmark = pytest.mark.stack
EXPORTS, MESSAGES = "MK", "AL"  # the country whose producer is fed, the topic written to directly
ON_STACK = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@dataclass
class Ledger:
    """What the cases of this module sent, for the final check."""

    exports_tried: int = 0
    exports_refused_whole: int = 0
    commands_tried: int = 0
    messages_tried: int = 0
    good_rows: list[str] = field(default_factory=list)  # record ids pushed in good rows
    bad_positions: dict[tuple[int, int], str] = field(default_factory=dict)  # (partition, offset) -> kind
    good_events: list[str] = field(default_factory=list)  # event ids sent beside the bad messages


@pytest.fixture(scope="module")
def ledger() -> Ledger:
    return Ledger()


@pytest.fixture(scope="module")
def raw_producer(stack: Stack) -> Iterator[Producer]:
    producer = Producer(
        {"bootstrap.servers": stack.settings.kafka_bootstrap, "message.max.bytes": 2_000_000, "log_level": 0}
    )
    yield producer
    producer.flush(60)


def test_malformed_exports_through_the_producer(stack: Stack, ledger: Ledger) -> None:
    @ON_STACK
    @given(national_exports(EXPORTS))
    def push(case: tuple[str, bytes, str]) -> None:
        kind, data, good_id = case
        ledger.exports_tried += 1
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "victims.csv"
            path.write_bytes(data)
            try:
                report = push_export(stack.settings, EXPORTS, path, create_key=True)
            except ExportRejected as rejected:
                ledger.exports_refused_whole += 1
                assert not leaked(str(rejected)), (kind, str(rejected))
                return
        for refusal in report.refused:
            assert not leaked(str(refusal)), (kind, str(refusal))
        if report.published and not any(r.row == 2 for r in report.refused):  # the good row is row 2
            ledger.good_rows.append(good_id)

    push()


def test_malformed_exports_through_the_command(stack: Stack, ledger: Ledger, tmp_path: Path) -> None:
    good_id = good_record_id(EXPORTS)
    good = canary_row(EXPORTS, good_id)
    huge = dict(good, notes=CANARIES[0] * 2000, record_id=f"{EXPORTS}-HUGE")
    injected = dict(good, record_id=f"{EXPORTS}-INJ", sex=INJECTIONS[0], given_name=INJECTIONS[1])

    def text(header: list[str], *rows: list[str]) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows([header, *rows])
        return buffer.getvalue()

    columns, values = list(good), list(good.values())
    cases = {
        "bytes.csv": bytes(range(256)) * 3,
        "cp1251.csv": text(columns, values).encode("cp1251", errors="replace"),
        "extra_column.csv": text([*columns, CANARIES[1]], [*values, "x"]).encode(),
        "missing_required.csv": text(
            [c for c in columns if c != "given_name"], [v for c, v in good.items() if c != "given_name"]
        ).encode(),
        "huge_and_injected.csv": text(columns, values, list(huge.values()), list(injected.values())).encode(),
        "empty.csv": b"",
    }
    for name, data in cases.items():
        ledger.commands_tried += 1
        path = tmp_path / name
        path.write_bytes(data)
        result = stack.thbdb("produce", "--country", EXPORTS, "--input", str(path), "--create-key", check=False)
        output = result.stdout + result.stderr
        assert result.returncode in (1, 2), (name, output)
        assert "Traceback" not in output and not leaked(output), (name, output)
        if name == "huge_and_injected.csv":  # two rows refused, the good one published
            assert "1 rows published, 2 rows refused" in result.stdout, output
            assert "longer than 10000 characters" in result.stderr
            ledger.good_rows.append(good_id)
        else:
            assert "error:" in result.stderr, output


def test_malformed_messages_on_a_topic(stack: Stack, ledger: Ledger, raw_producer: Producer) -> None:
    topic = country_topic(MESSAGES)

    def sent(kind: str) -> object:
        def on_delivery(error: KafkaError | None, message: Message) -> None:
            assert error is None, error
            ledger.bad_positions[(message.partition() or 0, message.offset() or 0)] = kind

        return on_delivery

    @ON_STACK
    @given(topic_messages(MESSAGES))
    def publish(case: tuple[str, bytes]) -> None:
        kind, value = case
        try:
            parse_event(value)
        except EventRejected:
            pass
        else:  # a changed field that is still a valid event is not malformed: not counted
            return
        ledger.messages_tried += 1
        raw_producer.produce(topic, value=value, on_delivery=sent(kind))
        # Two good events beside each bad one: the batch stays under the hold-back rate.
        for _ in range(2):
            event = valid_event(MESSAGES)
            ledger.good_events.append(event["event_id"])
            raw_producer.produce(topic, key=event["record_ref"].encode(), value=json.dumps(event).encode())
        raw_producer.poll(0)

    publish()
    assert raw_producer.flush(120) == 0


def _topic_values(stack: Stack, country: str) -> Iterator[bytes]:
    consumer = Consumer({"bootstrap.servers": stack.settings.kafka_bootstrap, "group.id": "malformed-check",
                         "enable.partition.eof": True, "enable.auto.commit": False, "log_level": 0})  # fmt: skip
    topic = country_topic(country)
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(stack.settings.topic_partitions)])
    ended: set[int] = set()
    while len(ended) < stack.settings.topic_partitions:
        for message in consumer.consume(1000, timeout=5):
            if message.error():
                ended.add(message.partition() or 0)
            else:
                yield message.value() or b""
    consumer.close()


def test_after_the_run_the_bad_is_quarantined_the_good_loaded_and_nothing_leaked(
    stack: Stack, ledger: Ledger, tmp_path: Path
) -> None:
    ran = stack.thbdb("run")
    assert "succeeded" in ran.stdout and not leaked(ran.stdout + ran.stderr)

    key = load_or_create_country_key(stack.settings.country_keys_dir(EXPORTS), EXPORTS, create=False)
    good_refs = [Pseudonymiser(EXPORTS, key, "").record_ref(r) for r in ledger.good_rows]
    topic = country_topic(MESSAGES)
    with connect(stack.settings.warehouse, read_only=True) as con:
        loaded_rows = con.execute(
            "SELECT count(DISTINCT record_ref) FROM raw_victim_events"
            " WHERE country = ? AND list_contains(?, record_ref)",
            [EXPORTS, good_refs],
        ).fetchone()
        loaded_events = con.execute(
            "SELECT count(*) FROM raw_victim_events WHERE list_contains(?, event_id)", [ledger.good_events]
        ).fetchone()
        quarantined = {
            (p, o): r
            for p, o, r in con.execute(
                "SELECT kafka_partition, kafka_offset, reasons FROM quarantine WHERE topic = ?", [topic]
            ).fetchall()
        }
        con.execute(f"EXPORT DATABASE '{tmp_path / 'dump'}' (FORMAT csv)")
    missing = [position for position in ledger.bad_positions if not quarantined.get(position)]
    print(
        f"\nMALFORMED stack: {ledger.exports_tried} exports in-process ({ledger.exports_refused_whole} refused whole),"
        f" {ledger.commands_tried} through `thbdb produce`, {ledger.messages_tried} messages on {topic};"
        f" total {ledger.exports_tried + ledger.commands_tried + ledger.messages_tried};"
        f" quarantined {len(ledger.bad_positions) - len(missing)}/{len(ledger.bad_positions)};"
        f" good rows loaded {loaded_rows[0] if loaded_rows else 0}/{len(ledger.good_rows)};"
        f" good events loaded {loaded_events[0] if loaded_events else 0}/{len(ledger.good_events)}"
    )
    assert not missing, f"{len(missing)} malformed messages neither quarantined nor refused"
    assert loaded_rows == (len(ledger.good_rows),)
    assert loaded_events == (len(ledger.good_events),)
    assert ledger.messages_tried >= 50 and ledger.exports_tried >= 50

    found = [f"quarantine reason at {p}" for p, r in quarantined.items() if leaked(r)]
    found += [f"warehouse table {f.name}" for f in (tmp_path / "dump").glob("*.csv") if leaked(f.read_bytes())]
    found += [f"message on {EXPORTS}'s topic" for v in _topic_values(stack, EXPORTS) if leaked(v)]
    if leaked(broker_text(stack.settings, country_topic(EXPORTS))):  # what the run deleted, too
        found.append(f"the broker's files of {EXPORTS}'s topic")
    # Everything under the home but the broker's segments (the bad messages written
    # straight to a topic hold canaries by construction) and the keys.
    skip = (stack.settings.kafka_dir / "data", stack.settings.keys_dir, stack.settings.home / "country")
    for path in stack.settings.home.rglob("*"):
        if path.is_file() and not any(path.is_relative_to(s) for s in skip) and leaked(path.read_bytes()):
            found.append(str(path))
    assert not found, "canaries found: " + ", ".join(found[:20])
