"""The pseudonymisation keys (and any shared linkage secret kept beside them) never leave
the keys folder: not in a log, not in the warehouse, not on a Kafka topic, not in a
report. Each key is searched as raw bytes, as hex (both cases) and as base64, in every
file under $THBDB_HOME outside keys/, in every message of every country topic read back
through the client (segments may be compressed), in every warehouse table exported as
text, and in what the commands printed.
"""

from __future__ import annotations

import base64
import binascii
import stat
from datetime import date
from pathlib import Path

import duckdb
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from config.settings import COUNTRIES, country_topic
from producers.synthetic import VictimProfile, victim_rows, write_victims_csv
from tests.conftest import Stack
from tests.kafka_files import broker_text

pytestmark = pytest.mark.stack


def _secrets(keys_dir: Path) -> dict[str, bytes]:
    """Every key file under keys/ (pseudonymisation keys, linkage secrets) as raw bytes."""
    found = {}
    for path in keys_dir.rglob("*.key"):
        text = path.read_text("ascii").strip()
        try:
            found[path.name] = bytes.fromhex(text)
        except ValueError:
            found[path.name] = text.encode()
    return found


def _forms(secret: bytes) -> list[bytes]:
    hexed = binascii.hexlify(secret)
    return [secret, hexed, hexed.upper(), base64.b64encode(secret), base64.urlsafe_b64encode(secret).rstrip(b"=")]


def _messages(stack: Stack) -> bytes:
    consumer = Consumer({"bootstrap.servers": stack.settings.kafka_bootstrap, "group.id": "key-check",
                         "enable.partition.eof": True, "enable.auto.commit": False, "log_level": 0})  # fmt: skip
    parts = [
        TopicPartition(country_topic(c), p, OFFSET_BEGINNING)
        for c in COUNTRIES
        for p in range(stack.settings.topic_partitions)
    ]
    consumer.assign(parts)
    chunks, ended = [], set()
    while len(ended) < len(parts):
        for message in consumer.consume(1000, timeout=5):
            if message.error():
                ended.add((message.topic(), message.partition()))
            else:
                chunks += [message.key() or b"", message.value() or b""]
    consumer.close()
    return b"\n".join(chunks)


def test_keys_appear_nowhere_but_in_their_own_files(stack: Stack, tmp_path: Path) -> None:
    printed = []
    for country in ("BA", "XK"):
        profiles = [VictimProfile(f"{country}-KEY-{i}", date(2021, 4, 4), "F", 33, country, None) for i in range(3)]
        export = write_victims_csv(tmp_path / f"{country}.csv", victim_rows(country, profiles, 21))
        result = stack.thbdb("produce", "--country", country, "--input", str(export), "--create-key")
        printed.append((result.stdout + result.stderr).encode())
    ran = stack.thbdb("run")
    printed.append((ran.stdout + ran.stderr).encode())
    printed.append(stack.thbdb("status", "--format", "json").stdout.encode())

    key_folders = (stack.settings.keys_dir, stack.settings.home / "country")
    keys = {**_secrets(key_folders[0]), **_secrets(key_folders[1])}
    assert {"BA.key", "XK.key"} <= set(keys)
    for path in [p for folder in key_folders for p in folder.rglob("*.key")]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path

    con_dump = tmp_path / "warehouse"
    con = duckdb.connect(str(stack.settings.warehouse), read_only=True)
    try:
        con.execute(f"EXPORT DATABASE '{con_dump}' (FORMAT csv)")
    finally:
        con.close()
    places: dict[str, bytes] = {
        "kafka messages": _messages(stack),
        "kafka files": broker_text(stack.settings),
        "warehouse tables": b"".join(p.read_bytes() for p in sorted(con_dump.glob("*.csv"))),
        "command output": b"\n".join(printed),
    }
    for path in stack.settings.home.rglob("*"):
        if path.is_file() and not any(path.is_relative_to(folder) for folder in key_folders):
            places[str(path.relative_to(stack.settings.home))] = path.read_bytes()

    found = [
        f"{name} in {place}"
        for name, secret in keys.items()
        for place, data in places.items()
        if any(form in data for form in _forms(secret))
    ]
    print(f"\nKEYS: {len(keys)} keys searched in {len(places)} places (files, topics, tables, output); found {found}")
    assert not found
