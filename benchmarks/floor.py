"""The floor: the same events read from Kafka by the fastest client and bulk-inserted
into DuckDB with no validation, no pseudonym checks, no generalisation.

Run as its own process (``python -m benchmarks.floor``) so its time includes start-up as
the pipeline's does, and its peak memory is its own. Like the pipeline it keeps its
offsets in its database and resumes where it stopped; it prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import duckdb
from confluent_kafka import Consumer, KafkaError, TopicPartition

# The event's fields, typed, for DuckDB's vectorised JSON reader.
STRUCTURE = {
    "event_id": "VARCHAR",
    "country": "VARCHAR",
    "batch_id": "VARCHAR",
    "produced_at": "TIMESTAMPTZ",
    "codelist_version": "INTEGER",
    "record_ref": "VARCHAR",
    "case_ref": "VARCHAR",
    "updated_at": "TIMESTAMPTZ",
    "status": "VARCHAR",
    "case_category": "VARCHAR",
    "sex": "VARCHAR",
    "citizenship": "VARCHAR",
    "age_at_identification": "INTEGER",
    "identified_year": "INTEGER",
    "identified_month": "INTEGER",
    "identified_by": "VARCHAR",
    "exploitation_types": ["VARCHAR"],
    "recorded_by": ["VARCHAR"],
    "country_of_exploitation": "VARCHAR",
    "recruited_in": "VARCHAR",
    "transit_countries": ["VARCHAR"],
    "recruitment_method": "VARCHAR",
    "means_of_control": ["VARCHAR"],
    "means_of_travel": ["VARCHAR"],
    "means_of_communication": ["VARCHAR"],
}
CHUNK = 50_000


def drain(bootstrap: str, topic: str, database: str) -> dict[str, float]:
    started = time.monotonic()
    con = duckdb.connect(database)
    columns = ", ".join(f"{name} {'VARCHAR[]' if isinstance(t, list) else t}" for name, t in STRUCTURE.items())
    con.execute(f"CREATE TABLE IF NOT EXISTS floor_events ({columns})")
    con.execute("CREATE TABLE IF NOT EXISTS floor_offsets (kafka_partition INTEGER PRIMARY KEY, next_offset BIGINT)")
    stored = dict(con.execute("SELECT kafka_partition, next_offset FROM floor_offsets").fetchall())
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "thbdb-bench-floor",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "fetch.max.bytes": 52_428_800,
            "log_level": 3,
        }
    )
    read = 0
    try:
        partitions = sorted(consumer.list_topics(topic, timeout=15).topics[topic].partitions)
        assignment, pending, nexts = [], set(), dict[int, int]()
        for p in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=15)
            position = max(stored.get(p, low), low)
            if position < high:
                assignment.append(TopicPartition(topic, p, position))
                pending.add(p)
        consumer.assign(assignment)
        payloads: list[str] = []
        sql = json.dumps(STRUCTURE)

        def flush() -> None:
            con.execute("BEGIN TRANSACTION")
            con.execute(
                "INSERT INTO floor_events SELECT unnest(json_transform(p, ?)) FROM (SELECT unnest(?::VARCHAR[]) AS p)",
                [sql, payloads],
            )
            for p, offset in nexts.items():
                con.execute("INSERT OR REPLACE INTO floor_offsets VALUES (?, ?)", [p, offset])
            con.execute("COMMIT")
            payloads.clear()

        while pending:
            for message in consumer.consume(num_messages=10_000, timeout=1.0):
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        pending.discard(message.partition())
                        continue
                    raise RuntimeError(error.str())
                nexts[message.partition() or 0] = (message.offset() or 0) + 1
                if message.value() is None:
                    continue  # the hub's clock ticks (pipeline/kafka_retention.py): no event
                payloads.append(message.value().decode())  # type: ignore[union-attr]
                read += 1
            if len(payloads) >= CHUNK:
                flush()
        if payloads:
            flush()
    finally:
        consumer.close()
        con.close()
    return {
        "events": read,
        "seconds": time.monotonic() - started,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--database", required=True)
    args = parser.parse_args()
    print(json.dumps(drain(args.bootstrap, args.topic, args.database)))


if __name__ == "__main__":
    main()
