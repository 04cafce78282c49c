"""The deployed form run for real on one machine (`thbdb up --cluster`), and faults in it.

One cluster for the module: three KRaft brokers (topics at replication 3,
``min.insync.replicas=2``), PostgreSQL as Airflow's database, Redis with a password,
Airflow with the Celery executor and two workers, and the supervisor that starts again
what exits. Each fault is injected three times on the real processes:

- a broker SIGKILLed during a push, and a broker paused (SIGSTOP) for longer than its
  KRaft session timeout during a push, then resumed;
- a broker SIGKILLed during a drain;
- the Celery worker running a drain task SIGKILLed (its whole process group);
- PostgreSQL restarted during a run (fast shutdown; the supervisor starts it again, and
  whatever of Airflow exited meanwhile).

Each time, the run finishes (or is run again to success), and the warehouse holds what an
uninterrupted load holds: 0 lost, 0 doubled. The figures are printed (FAULT lines).
The module runs before tests/stack (one stack at a time on a machine) and stops its
cluster when it ends.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import ConfigResource, ResourceType

from config.settings import COUNTRIES, Settings, country_topic
from pipeline.drain import drain_country
from producers.push import PushReport, push_export
from tests.conftest import Stack
from tests.fault_checks import contents, offsets, task_process, victims_export
from thbdb import airflow_stack, kafka_broker, postgres
from thbdb.processes import running_pid
from thbdb.stack import isolated_env
from warehouse.loader import connect, refresh_marts

pytestmark = [pytest.mark.stack, pytest.mark.timeout(1800)]

ROUNDS = 3
# Longer than the brokers' KRaft session timeout (broker.session.timeout.ms, 9 s by
# default): the paused broker is fenced and its partitions' leadership moves.
PAUSE_SECONDS = 13.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[Stack]:
    # Under /tmp, which PostgreSQL's own account may pass (pytest's folder is root's alone).
    folder = Path(tempfile.mkdtemp(prefix="thbdb-cluster-", dir="/tmp"))
    folder.chmod(0o711)
    env = isolated_env(folder / "home", THBDB_ACCOUNTS="off", THBDB_BATCH_SIZE="400", THBDB_ERASURE_SECONDS="60")
    (folder / "home").mkdir()
    starting = Stack(Settings.from_env(env), env)
    try:
        starting.thbdb("up", "--cluster", timeout=900)
        yield Stack(Settings.from_env(env), env)  # now read as a cluster (its layout file)
    finally:
        starting.thbdb("down", check=False, timeout=300)
        shutil.rmtree(folder, ignore_errors=True)


def test_the_cluster_runs_the_deployed_form(cluster: Stack) -> None:
    status = json.loads(cluster.thbdb("status", "--format", "json").stdout)
    assert status["profile"] == "cluster"
    expected = {
        *("kafka-1", "kafka-2", "kafka-3", "postgres", "redis", "supervisor", "release-service"),
        *("airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-worker-1", "airflow-worker-2"),
    }
    assert set(status["processes"]) == expected
    assert all(isinstance(pid, int) for pid in status["processes"].values()), status["processes"]
    assert status["kafka_brokers_answering"] == 3
    assert status["cluster"]["postgres_running"] and status["cluster"]["redis_running"]

    settings = cluster.settings
    admin = kafka_broker.admin(settings)
    topics = admin.list_topics(timeout=10).topics
    for country in COUNTRIES:
        partitions = topics[country_topic(country)].partitions.values()
        assert partitions and all(len(p.replicas) == 3 for p in partitions)
    resources = [ConfigResource(ResourceType.TOPIC, country_topic(c)) for c in COUNTRIES]
    for future in admin.describe_configs(resources).values():
        assert future.result()["min.insync.replicas"].value == "2"

    # Redis and PostgreSQL take no one without the password.
    import psycopg2
    import redis

    layout = settings.cluster_layout
    assert layout is not None
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(port=layout.redis_port, socket_timeout=3).ping()
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(host="127.0.0.1", port=layout.postgres_port, user="airflow", password="wrong")
    # Airflow reads its database and its broker from the hub's secret files, not its environment.
    env = airflow_stack.airflow_env(settings)
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert not any(postgres.password(settings) in value for value in env.values())


# --- faults during a push ------------------------------------------------------------


def _signal_node(settings: Settings, node: int, sig: signal.Signals) -> int:
    """Signal one broker's process group, once all three answer (not one still rejoining)."""
    _until(lambda: kafka_broker.brokers_answering(settings) == 3, 180, "all three brokers answering")
    pid = running_pid(settings.run_dir, f"kafka-{node}")
    assert pid is not None, f"kafka-{node} is not running"
    os.killpg(pid, sig)
    return pid


def _until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Wait for ``condition``; the seconds it took."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"{what}: not within {timeout:.0f} s"
        time.sleep(0.3)
    return time.monotonic() - started


def _restarted(settings: Settings, name: str, old_pid: int, timeout: float = 120) -> float:
    """Wait until the supervisor has started ``name`` again; the seconds it took."""
    return _until(lambda: running_pid(settings.run_dir, name) not in (None, old_pid), timeout, f"{name} restarted")


def _push_with_fault(settings: Settings, country: str, export: Path, fault: Callable[[], None]) -> PushReport:
    """Push ``export``; at its 1,000th row, inject ``fault`` while rows are in flight."""
    reached, injected = threading.Event(), threading.Event()

    def progress(rows: int) -> None:
        if rows == 1000:
            reached.set()
        elif rows == 1500:
            assert injected.wait(300)

    outcome: dict[str, object] = {}

    def push() -> None:
        try:
            outcome["report"] = push_export(settings, country, export, create_key=True, on_progress=progress)
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            outcome["error"] = error

    pusher = threading.Thread(target=push)
    pusher.start()
    assert reached.wait(300)
    try:
        fault()
    finally:
        injected.set()
    pusher.join(600)
    assert "error" not in outcome, outcome.get("error")
    report = outcome["report"]
    assert isinstance(report, PushReport)
    return report


def _reference(settings: Settings, folder: Path, countries: list[str]) -> Settings:
    """The uninterrupted load: what the topics hold now, drained in one go, in-process,
    into a warehouse of its own (the same batch size as the cluster's tasks)."""
    brokers = settings.kafka_bootstrap
    reference = settings.model_copy(update={"home": folder, "cluster": False, "external_kafka": brokers})
    for country in countries:
        drain_country(reference, country)
    with connect(reference.warehouse) as con:
        refresh_marts(con)
    return reference


def _same_as_reference(
    settings: Settings, reference: Settings, pushed: list[tuple[str, str]], since: dict[str, dict[int, int]]
) -> list[str]:
    """One line per pushed batch: rows, lost, doubled; asserts the batch equals the reference's."""
    lines = []
    for country, batch in pushed:
        raw, mart, quarantine = contents(settings.warehouse, country, batch, since[country])
        ref_raw, ref_mart, ref_quarantine = contents(reference.warehouse, country, batch, since[country])
        held = {r[0] for r in raw}
        lost, doubled = len({r[0] for r in ref_raw} - held), len(raw) - len(held)
        lines.append(f"{country} {batch[:8]}: {len(raw)} rows (of {len(ref_raw)}), lost {lost}, doubled {doubled}")
        assert (lost, doubled) == (0, 0), lines[-1]
        assert raw == ref_raw and mart == ref_mart and quarantine == ref_quarantine, lines[-1]
    return lines


def test_brokers_killed_or_paused_during_pushes_lose_and_double_nothing(cluster: Stack, tmp_path: Path) -> None:
    # No run first to drain the topics: each pushed batch is compared by its id, and the
    # reference reads whatever the topics still hold, as the cluster's run does.
    settings, n = cluster.settings, 2000
    pushed: list[tuple[str, str]] = []
    since: dict[str, dict[int, int]] = {}
    faults: list[str] = []
    for r in range(ROUNDS):
        node = 1 + r % 3

        def kill(node: int = node) -> None:
            pid = _signal_node(settings, node, signal.SIGKILL)
            took = _restarted(settings, f"kafka-{node}", pid)
            faults.append(f"SIGKILL kafka-{node} (restarted by the supervisor in {took:.1f} s)")

        def pause(node: int = 1 + (r + 1) % 3) -> None:
            pid = _signal_node(settings, node, signal.SIGSTOP)
            try:
                fenced = _until(lambda: kafka_broker.brokers_answering(settings) == 2, 30, f"kafka-{node} fenced")
                time.sleep(max(0.0, PAUSE_SECONDS - fenced))
            finally:
                os.killpg(pid, signal.SIGCONT)
            back = _until(lambda: kafka_broker.brokers_answering(settings) == 3, 120, f"kafka-{node} back")
            faults.append(f"SIGSTOP kafka-{node} {PAUSE_SECONDS:.0f} s (fenced in {fenced:.1f} s, back {back:.1f} s)")

        for country, fault, label in (("AL", kill, "KILL"), ("ME", pause, "STOP")):
            since.setdefault(country, offsets(settings, country))
            export = victims_export(tmp_path, country, f"{country}-C{label}{r}", n, 2015 + r)
            report = _push_with_fault(settings, country, export, fault)
            assert report.published == n and not report.refused
            pushed.append((country, report.batch_id))

    reference = _reference(settings, tmp_path / "reference", ["AL", "ME"])
    ran = cluster.thbdb("run")
    assert "succeeded" in ran.stdout
    lines = _same_as_reference(settings, reference, pushed, since)
    print(f"\nFAULT cluster push: {len(faults)} injected: " + "; ".join(faults) + "\n  " + "\n  ".join(lines))


# --- faults during a drain -----------------------------------------------------------


class _Run:
    """One pipeline run triggered through Airflow's API, watched by the test."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.api = airflow_stack._Api(settings)
        self.dag = airflow_stack.DAG_ID
        self.run_id = self.api.post(f"/api/v2/dags/{self.dag}/dagRuns", {"logical_date": None})["dag_run_id"]
        self.quoted = urllib.parse.quote(self.run_id, safe="")
        self.task_pid: int | None = None  # the watched drain task's process, once seen running

    def drain(self, country: str) -> dict[str, object]:
        # A new API client each time: the API server may itself have been restarted.
        self.api = airflow_stack._Api(self.settings)
        instances = self.api.get(f"/api/v2/dags/{self.dag}/dagRuns/{self.quoted}/taskInstances")["task_instances"]
        index = COUNTRIES.index(country)
        return next(t for t in instances if t["task_id"] == "drain_country" and t["map_index"] == index)

    def batches_loaded(self, country: str) -> int:
        with connect(self.settings.warehouse, read_only=True) as con:
            row = con.execute(
                "SELECT count(*) FROM load_batches WHERE airflow_run_id = ? AND topic = ?",
                [self.run_id, country_topic(country)],
            ).fetchone()
        return int(row[0]) if row else 0

    def when_a_batch_is_committed(self, country: str, timeout: float = 600) -> dict[str, object]:
        """Wait until the country's drain task runs and has committed a batch; its instance."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                ti = self.drain(country)
            except Exception:  # noqa: BLE001 - the API server restarting: ask again
                time.sleep(0.5)
                continue
            assert ti["state"] not in ("success", "failed"), "the drain ended before the fault could be injected"
            if ti["state"] == "running":
                # Looked for while it runs: a drain of a few batches may end soon after its
                # first commit, before a search begun then finds its process.
                self.task_pid = task_process(str(ti["id"])) or self.task_pid
                if self.batches_loaded(country) >= 1:
                    return ti
            time.sleep(0.3)
        raise AssertionError(f"the drain of {country} never committed a batch")

    def wait(self, timeout: float = 900) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.api = airflow_stack._Api(self.settings)
                state = str(self.api.get(f"/api/v2/dags/{self.dag}/dagRuns/{self.quoted}")["state"])
            except Exception:  # noqa: BLE001 - the API server restarting: ask again
                state = "unknown"
            if state in ("success", "failed"):
                return state
            time.sleep(1)
        raise AssertionError(f"run {self.run_id} did not end in {timeout:.0f} s")


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def _ancestors(pid: int) -> list[int]:
    chain = []
    while pid > 1:
        pid = _parent(pid)
        chain.append(pid)
    return chain


def _descendants(pid: int) -> list[int]:
    """Every live process under ``pid``, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            children.setdefault(_parent(int(entry.name)), []).append(int(entry.name))
    found, frontier = [], [pid]
    while frontier:
        below = children.get(frontier.pop(), [])
        found.extend(below)
        frontier.extend(below)
    return found


def _faulted_runs(
    cluster: Stack,
    tmp_path: Path,
    name: str,
    country: str,
    fault: Callable[[_Run, dict[str, object]], str],
    n: int = 2400,
) -> None:
    """Three times: push ``n`` events, take the reference, run, inject ``fault`` once the
    drain of ``country`` committed a batch, and hold the result to the reference. The
    broker and worker faults push 6,000 (15 batches): since 1 Dec a drain of 2,400 could
    end before a fault injected after its first commit reached it."""
    settings = cluster.settings
    lines = []
    for r in range(ROUNDS):
        since = {country: offsets(settings, country)}
        export = victims_export(tmp_path, country, f"{country}-{name[:3].upper()}{r}", n, 2016 + r)
        batch = push_export(settings, country, export, create_key=True).batch_id
        reference = _reference(settings, tmp_path / f"reference-{r}", [country])
        run = _Run(settings)
        ti = run.when_a_batch_is_committed(country)
        injected = fault(run, ti)
        state = run.wait()
        again = ""
        if state != "success":  # "finishes or is run again to success"
            ran = cluster.thbdb("run")
            assert "succeeded" in ran.stdout
            again = " (failed; run again: succeeded)"
        tries = run.drain(country)["try_number"]
        [compared] = _same_as_reference(settings, reference, [(country, batch)], since)
        lines.append(f"{injected}; run {state}{again}, drain try {tries}; {compared}")
    print(f"\nFAULT cluster {name}: {len(lines)} injected\n  " + "\n  ".join(lines))


def test_a_broker_killed_during_a_drain_loses_and_doubles_nothing(cluster: Stack, tmp_path: Path) -> None:
    settings = cluster.settings

    def kill_a_broker(run: _Run, ti: dict[str, object]) -> str:
        node = 1 + len(list(tmp_path.glob("reference-*"))) % 3
        pid = _signal_node(settings, node, signal.SIGKILL)
        took = _restarted(settings, f"kafka-{node}", pid)
        return f"SIGKILL kafka-{node} after {run.batches_loaded('BA')} batches (restarted in {took:.1f} s)"

    _faulted_runs(cluster, tmp_path, "broker-killed-in-drain", "BA", kill_a_broker, n=6000)


def test_a_celery_worker_killed_during_a_drain_task_is_retried_to_the_same_result(
    cluster: Stack, tmp_path: Path
) -> None:
    settings = cluster.settings

    def kill_its_worker(run: _Run, ti: dict[str, object]) -> str:
        pid = run.task_pid
        for _ in range(100):
            if pid is not None:
                break
            pid = task_process(str(ti["id"]))
            time.sleep(0.1)
        assert pid is not None, "the drain task's process was not found"
        workers = {running_pid(settings.run_dir, w): w for w in airflow_stack.processes(settings) if "worker" in w}
        ancestors = _ancestors(pid)
        worker_pid = next((p for p in ancestors if p in workers), None)
        assert worker_pid is not None, "the drain task does not run under a Celery worker"
        worker = workers[worker_pid]
        loaded = run.batches_loaded("MK")
        # The worker and every process under it, as a container killed: the task's own
        # process runs in a session of its own, out of the worker's process group.
        for process in [worker_pid, *_descendants(worker_pid)]:
            try:
                os.kill(process, signal.SIGKILL)
            except ProcessLookupError:
                pass
        took = _restarted(settings, worker, worker_pid)
        return f"SIGKILL {worker} after {loaded} batches (restarted in {took:.1f} s)"

    _faulted_runs(cluster, tmp_path, "worker-killed", "MK", kill_its_worker, n=6000)
    assert _until(lambda: airflow_stack.is_ready(settings), 120, "Airflow healthy") >= 0


def test_postgres_restarted_during_a_run_is_ridden_out(cluster: Stack, tmp_path: Path) -> None:
    settings = cluster.settings

    def restart_postgres(run: _Run, ti: dict[str, object]) -> str:
        airflow = {name: running_pid(settings.run_dir, name) for name in airflow_stack.processes(settings)}
        pid = running_pid(settings.run_dir, postgres.PROCESS)
        assert pid is not None
        os.kill(pid, signal.SIGINT)  # a fast shutdown; the supervisor starts it again
        took = _restarted(settings, postgres.PROCESS, pid)
        _until(lambda: postgres.is_ready(settings), 120, "PostgreSQL answering")
        _until(lambda: airflow_stack.is_ready(settings), 300, "Airflow healthy again")
        again = [name for name, old in airflow.items() if running_pid(settings.run_dir, name) != old]
        return (
            f"PostgreSQL restarted (back in {took:.1f} s); restarted by the supervisor after it:"
            f" {', '.join(again) or 'nothing'}"
        )

    _faulted_runs(cluster, tmp_path, "postgres-restarted", "RS", restart_postgres)
