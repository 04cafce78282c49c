"""Faults on the real stack: nothing lost, nothing doubled.

- The Kafka broker is stopped (SIGTERM) and, later, killed (SIGKILL) while a national
  push publishes; the producer rides both out and says so; after `thbdb run` every
  record is in the warehouse exactly once.
- The process loading a micro-batch is killed (SIGKILL) inside the warehouse
  transaction, and again at an arbitrary point of a later batch; after `thbdb run` the
  warehouse holds what an uninterrupted load holds, and at every moment the stored
  offsets and the stored rows agree.
- The Airflow task draining a country is killed (SIGKILL of its task process) after it
  committed a batch; Airflow retries it and the run ends as an uninterrupted load.

Each test prints how many faults it injected and what was lost or doubled.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import urllib.parse
from pathlib import Path

import duckdb
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from config.settings import COUNTRIES, Settings, country_topic
from pipeline.drain import drain_country
from producers.push import push_export
from tests.conftest import Stack
from tests.fault_checks import contents, offsets, task_process, victims_export
from thbdb import airflow_stack, kafka_broker
from thbdb.processes import running_pid
from warehouse.loader import connect, refresh_marts

pytestmark = pytest.mark.stack


def _topic_copies(settings: Settings, country: str, batch_id: str) -> int:
    """How many messages of one push the topic holds (more than pushed = doubled in Kafka)."""
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": "fault-check",
                         "enable.partition.eof": True, "enable.auto.commit": False, "log_level": 0})  # fmt: skip
    topic = country_topic(country)
    # From each partition's start: what the hub loaded is no longer there (pipeline/kafka_retention.py).
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(settings.topic_partitions)])
    copies, ended, needle = 0, set(), batch_id.encode()
    while len(ended) < settings.topic_partitions:
        for message in consumer.consume(1000, timeout=5):
            if message.error():
                ended.add(message.partition())
            elif needle in (message.value() or b""):
                copies += 1
    consumer.close()
    return copies


def _kill_broker(settings: Settings) -> None:
    """SIGKILL the broker's process group: no shutdown, no flush, like a power cut of the JVM."""
    pid = running_pid(settings.run_dir, kafka_broker.PROCESS)
    assert pid is not None
    os.killpg(pid, signal.SIGKILL)
    while running_pid(settings.run_dir, kafka_broker.PROCESS) is not None:
        threading.Event().wait(0.2)


def test_broker_stopped_and_killed_during_a_push_loses_and_doubles_nothing(stack: Stack, tmp_path: Path) -> None:
    settings, n = stack.settings, 5000
    export = victims_export(tmp_path, "AL", "AL-BRK", n, 2016)
    # The push pauses at chosen rows until the fault is in place, so the faults land
    # while events are in flight and queued, not before or after the push.
    stopped, restarted, killed = threading.Event(), threading.Event(), threading.Event()
    faults_wanted = threading.Event()

    def progress(rows: int) -> None:
        if rows == 1000:
            faults_wanted.set()
        elif rows == 2000:
            assert stopped.wait(300)
        elif rows == 3000:
            assert restarted.wait(300)
        elif rows == 4000:
            assert killed.wait(300)

    outcome: dict[str, object] = {}

    def push() -> None:
        try:
            outcome["report"] = push_export(settings, "AL", export, create_key=True, on_progress=progress)
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            outcome["error"] = error

    pusher = threading.Thread(target=push)
    pusher.start()
    assert faults_wanted.wait(300)
    assert kafka_broker.stop_broker(settings)  # fault 1: orderly stop (SIGTERM)
    stopped.set()
    kafka_broker.start_broker(settings, timeout=300)
    restarted.set()
    _kill_broker(settings)  # fault 2: SIGKILL
    killed.set()
    kafka_broker.start_broker(settings, timeout=300)
    pusher.join(600)
    assert "error" not in outcome, outcome.get("error")
    report = outcome["report"]
    assert report.published == n and not report.refused  # type: ignore[attr-defined]
    assert report.broker_interruptions > 0  # type: ignore[attr-defined]  # it noticed, retried, reported

    batch = report.batch_id  # type: ignore[attr-defined]
    in_kafka = _topic_copies(settings, "AL", batch)  # before the run, which deletes what it loaded
    ran = stack.thbdb("run")
    assert "succeeded" in ran.stdout
    with connect(settings.warehouse, read_only=True) as con:
        rows, distinct = con.execute(
            "SELECT count(*), count(DISTINCT record_ref) FROM raw_victim_events WHERE producer_batch_id = ?", [batch]
        ).fetchone() or (0, 0)
        counted = con.execute("SELECT count(*) FROM mart_victims WHERE country = 'AL' AND year = 2016").fetchone()
    print(
        f"\nFAULT broker: 2 injected (1 SIGTERM, 1 SIGKILL) during a push of {n} events;"
        f" producer reported {report.broker_interruptions} interruptions;"  # type: ignore[attr-defined]
        f" Kafka holds {in_kafka} copies; warehouse {rows} rows, {distinct} records;"
        f" lost {n - distinct}, doubled {rows - distinct}"
    )
    assert (rows, distinct) == (n, n)
    assert counted == (n,)
    assert in_kafka == n  # idempotent producer: not even Kafka holds a second copy


# The child loads with the pipeline's own function; the test only decides when it dies.
# Hook: loader._count runs inside the batch transaction, after the rows are inserted and
# before COMMIT; at batch PAUSE_AT the child says so and waits to be killed.
_CHILD = """
import sys
from pipeline.drain import drain_country
from config.settings import Settings
from warehouse import loader

pause_at, calls = int(sys.argv[1]), [0]
real_count = loader._count

def count(con, table):
    calls[0] += 1
    if pause_at and calls[0] == 2 * pause_at:  # the second call of batch pause_at: after INSERT
        print("in-transaction", flush=True)
        sys.stdin.readline()
    return real_count(con, table)

loader._count = count
drain_country(Settings.from_env(), sys.argv[2], on_batch=lambda r: print("batch", r.batches, flush=True))
print("done", flush=True)
"""


def _killed_drain(stack: Stack, country: str, pause_at: int, batch_size: int) -> str:
    """Run a drain in its own process and SIGKILL it; the last line it printed."""
    env = {**stack.env, "THBDB_BATCH_SIZE": str(batch_size)}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(pause_at), country],
        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    assert child.stdout is not None
    wanted = "in-transaction" if pause_at else "batch 1"
    line = ""
    while line.strip() != wanted:
        line = child.stdout.readline()
        assert line, "the loading process ended before the fault could be injected"
    child.send_signal(signal.SIGKILL)
    child.wait(60)
    assert child.returncode == -signal.SIGKILL
    return line.strip()


def _offsets_agree_with_rows(
    con: duckdb.DuckDBPyConnection, topic: str, reference: Path, batch: str
) -> tuple[int, int]:
    """Rows of the push ``batch`` held, and rows the stored offsets say were read: they
    must agree.

    The reference warehouse (an uninterrupted load of what the topic held, this push
    alone: the run before deleted what it had loaded) says at which offsets the events are.
    """
    con.execute(f"ATTACH '{reference}' AS ref (READ_ONLY)")
    try:
        held = con.execute(
            "SELECT count(*) FROM raw_victim_events WHERE topic = ? AND producer_batch_id = ?", [topic, batch]
        ).fetchone()
        expected = con.execute(
            "SELECT count(*) FROM ref.raw_victim_events r JOIN kafka_offsets o"
            " ON o.topic = r.topic AND o.kafka_partition = r.kafka_partition"
            " WHERE r.topic = ? AND r.kafka_offset < o.next_offset",
            [topic],
        ).fetchone()
        beyond = con.execute(
            "SELECT count(*) FROM raw_victim_events r LEFT JOIN kafka_offsets o"
            " ON o.topic = r.topic AND o.kafka_partition = r.kafka_partition"
            " WHERE r.topic = ? AND (o.next_offset IS NULL OR r.kafka_offset >= o.next_offset)",
            [topic],
        ).fetchone()
    finally:
        con.execute("DETACH ref")
    assert beyond == (0,), "rows stored beyond the stored offsets"
    return int((held or (0,))[0]), int((expected or (0,))[0])


def test_a_load_killed_mid_batch_reruns_to_the_uninterrupted_result(stack: Stack, tmp_path: Path) -> None:
    settings, country, n, batch_size = stack.settings, "XK", 400, 40
    stack.thbdb("run")  # start from a drained topic, so only this test's events are pending
    since = offsets(settings, country)
    export = victims_export(tmp_path, country, "XK-KILL", n, 2016)
    batch = push_export(settings, country, export, create_key=True).batch_id

    # The uninterrupted load: the same topic, drained in one go into a warehouse of its own.
    reference = settings.model_copy(update={"home": tmp_path / "reference", "batch_size": batch_size})
    drain_country(reference, country)
    with connect(reference.warehouse) as con:
        refresh_marts(con)

    topic = country_topic(country)
    with connect(settings.warehouse, read_only=True) as con:
        before = _offsets_agree_with_rows(con, topic, reference.warehouse, batch)
    assert before[0] == before[1]

    faults = []
    # Fault 1: inside the second batch's transaction, rows inserted, COMMIT not yet run.
    faults.append(_killed_drain(stack, country, pause_at=2, batch_size=batch_size))
    with connect(settings.warehouse, read_only=True) as con:
        held, expected = _offsets_agree_with_rows(con, topic, reference.warehouse, batch)
    assert held == expected == before[0] + batch_size  # batch 1 committed, batch 2 left no trace
    # Fault 2: wherever the next loader happens to be once it has committed a batch.
    faults.append(_killed_drain(stack, country, pause_at=0, batch_size=batch_size))
    with connect(settings.warehouse, read_only=True) as con:
        held, expected = _offsets_agree_with_rows(con, topic, reference.warehouse, batch)
    assert held == expected >= before[0] + 2 * batch_size

    ran = stack.thbdb("run")  # the re-run, through Airflow
    assert "succeeded" in ran.stdout
    raw, mart, quarantine = contents(settings.warehouse, country, batch, since)
    ref_raw, ref_mart, ref_quarantine = contents(reference.warehouse, country, batch, since)
    with connect(settings.warehouse, read_only=True) as con:
        rows = con.execute(
            "SELECT count(*), count(DISTINCT event_id) FROM raw_victim_events WHERE country = ?"
            " AND producer_batch_id = ?",
            [country, batch],
        ).fetchone() or (0, 0)
    print(
        f"\nFAULT load killed: {len(faults)} SIGKILLs of the loading process ({', '.join(faults)});"
        f" after the re-run {rows[0]} rows ({rows[1]} distinct), uninterrupted {len(ref_raw)};"
        f" lost {len({r[0] for r in ref_raw} - {r[0] for r in raw})}, doubled {rows[0] - rows[1]},"
        f" extra {len({r[0] for r in raw} - {r[0] for r in ref_raw})}"
    )
    assert raw == ref_raw
    assert mart == ref_mart
    assert quarantine == ref_quarantine
    assert rows[0] == rows[1]


def test_the_airflow_task_killed_mid_drain_is_retried_to_the_uninterrupted_result(stack: Stack, tmp_path: Path) -> None:
    # 40,000 events: since 1 Dec a drain of 16,000 could end before the test, which reads
    # the warehouse between the drain's batches, saw its first commit.
    settings, country, n = stack.settings, "BA", 40_000
    stack.thbdb("run")
    since = offsets(settings, country)
    export = victims_export(tmp_path, country, "BA-AFK", n, 2018)
    batch = push_export(settings, country, export, create_key=True).batch_id
    reference = settings.model_copy(
        update={"home": tmp_path / "reference"}
    )  # the same batch size as the Airflow task's
    drain_country(reference, country)
    with connect(reference.warehouse) as con:
        refresh_marts(con)

    api = airflow_stack._Api(settings)
    dag = airflow_stack.DAG_ID
    run_id = api.post(f"/api/v2/dags/{dag}/dagRuns", {"logical_date": None})["dag_run_id"]
    quoted = urllib.parse.quote(run_id, safe="")
    index = COUNTRIES.index(country)
    topic = country_topic(country)

    def drain_instance() -> dict[str, object]:
        instances = api.get(f"/api/v2/dags/{dag}/dagRuns/{quoted}/taskInstances")["task_instances"]
        return next(t for t in instances if t["task_id"] == "drain_country" and t["map_index"] == index)

    def batches_loaded() -> int:
        with connect(settings.warehouse, read_only=True) as con:
            row = con.execute(
                "SELECT count(*) FROM load_batches WHERE airflow_run_id = ? AND topic = ?", [run_id, topic]
            ).fetchone()
        return int(row[0]) if row else 0

    # Wait until the task has committed a batch of its drain, then SIGKILL its process.
    killed_after, pid = -1, None
    for _ in range(1200):
        ti = drain_instance()
        assert ti["state"] not in ("success", "failed"), "the drain ended before the fault could be injected"
        if ti["state"] == "running":
            pid = pid or task_process(str(ti["id"]))  # found while it runs, before the commit is seen
            if pid is not None and batches_loaded() >= 1:
                os.kill(pid, signal.SIGKILL)
                killed_after = batches_loaded()
                break
        threading.Event().wait(0.5)
    assert pid is not None and 1 <= killed_after < -(-n // settings.batch_size)

    state = "running"
    for _ in range(1800):
        state = api.get(f"/api/v2/dags/{dag}/dagRuns/{quoted}")["state"]
        if state in ("success", "failed"):
            break
        threading.Event().wait(1)
    tries = drain_instance()["try_number"]
    raw, mart, quarantine = contents(settings.warehouse, country, batch, since)
    ref_raw, ref_mart, ref_quarantine = contents(reference.warehouse, country, batch, since)
    doubled = len(raw) - len({r[0] for r in raw})
    print(
        f"\nFAULT airflow task killed: 1 SIGKILL of the drain_country[{country}] task process after"
        f" {killed_after} committed batches; Airflow retried it (try {tries}); run {state};"
        f" {len(raw)} rows, uninterrupted {len(ref_raw)}; lost {len({r[0] for r in ref_raw} - {r[0] for r in raw})},"
        f" doubled {doubled}"
    )
    assert state == "success" and tries >= 2
    assert raw == ref_raw
    assert mart == ref_mart
    assert quarantine == ref_quarantine
