"""The embedded Airflow 3: SQLite metadata database under $THBDB_HOME, LocalExecutor,
and the three processes a triggered run needs (API server, scheduler, DAG processor).
In the cluster profile (`thbdb up --cluster`, thbdb/cluster.py) the same three run on
PostgreSQL with the Celery executor, and tasks run in Celery workers fed through Redis.

`thbdb run` triggers the pipeline DAG through Airflow's REST API and polls it.
The API listens on loopback only and every caller is an admin there (Airflow's simple
auth manager); the deployed form (docker-compose.yml) puts real authentication in front.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from config import deployed
from config.settings import Settings
from thbdb import accounts
from thbdb.processes import running_pid, start_process, stop_process
from thbdb.secret_files import made_once

DAG_ID = "thbdb_pipeline"
STREAM_DAG_ID = "thbdb_stream"  # the streaming consumer, paused until `thbdb stream on`
PROCESSES = ("airflow-api-server", "airflow-scheduler", "airflow-dag-processor")
# Task slots per Celery worker: the drain runs two countries at a time (dags/thbdb_pipeline.py).
WORKER_CONCURRENCY = 2


def processes(settings: Settings) -> list[str]:
    """Airflow's processes of this home: the three, and the Celery workers of a cluster."""
    layout = settings.cluster_layout
    return [*PROCESSES, *(layout.worker_names if layout else ())]


class AirflowError(RuntimeError):
    pass


def _airflow_bin() -> str:
    return str(Path(sys.executable).with_name("airflow"))


def _secret(path: Path) -> str:
    """A secret shared by the Airflow processes of this home (JWT signing, sessions)."""
    return made_once(path, secrets.token_hex(32)).read_text().strip()


AIRFLOW_USER = "thbdb"
PASSWORDS = "passwords.json"


def _passwords(home: Path) -> Path:
    """The Airflow user's password (random, 0600), in the form Airflow's simple auth
    manager reads: {"user": "password"}."""
    return made_once(home / PASSWORDS, json.dumps({AIRFLOW_USER: secrets.token_urlsafe(24)}))


def login(settings: Settings) -> tuple[str, str]:
    """The Airflow user and password of this home (the UI's login; for the hub's account and root)."""
    return AIRFLOW_USER, json.loads(_passwords(settings.airflow_home).read_text())[AIRFLOW_USER]


def airflow_env(settings: Settings) -> dict[str, str]:
    home = settings.airflow_home
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_", "AIRFLOW__"))}
    env.update(settings.to_env())
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(settings.dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            # One Airflow user, the hub's, whose password is a file only the hub's account reads:
            # a local user on the machine cannot take a token (README, Accounts).
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{AIRFLOW_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(_passwords(home)),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{settings.airflow_url}/execution/",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(settings.airflow_port),
            "AIRFLOW__API__BASE_URL": settings.airflow_url,
            "AIRFLOW__API_AUTH__JWT_SECRET": _secret(home / "jwt_secret"),
            "AIRFLOW__API__SECRET_KEY": _secret(home / "api_secret"),
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "GX_ANALYTICS_ENABLED": "False",
            "NO_PROXY": "*",
        }
    )
    if settings.cluster:
        # The deployed form's executor and database; secrets read from the hub's files.
        del env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        secrets_dir = str(settings.hub_secrets_dir)
        env.update({k: v.format(secrets=secrets_dir) for k, v in deployed.CLUSTER_AIRFLOW_CONFIG.items()})
        env.update({k: v for k, v in deployed.shortened_in_tests().items() if k.startswith("AIRFLOW__")})
        env["AIRFLOW__CELERY__WORKER_CONCURRENCY"] = str(WORKER_CONCURRENCY)
    return env


def _commands(settings: Settings) -> dict[str, list[str]]:
    commands = {
        "airflow-api-server": [
            _airflow_bin(),
            "api-server",
            "--host",
            "127.0.0.1",
            "--port",
            str(settings.airflow_port),
        ],
        "airflow-scheduler": [_airflow_bin(), "scheduler"],
        "airflow-dag-processor": [_airflow_bin(), "dag-processor"],
    }
    layout = settings.cluster_layout
    for number, name in enumerate(layout.worker_names if layout else (), start=1):
        # Logs stay in the shared log folder, read from there by the API server: the
        # workers of one machine need no log server (and would share its port).
        commands[name] = [
            _airflow_bin(), "celery", "worker", "--celery-hostname", f"worker{number}@%h",
            "--concurrency", str(WORKER_CONCURRENCY), "--pid", str(settings.run_dir / f"{name}.celery.pid"),
            "--skip-serve-logs",
        ]  # fmt: skip
    return commands


def is_ready(settings: Settings) -> bool:
    """True when the API answers and the scheduler and DAG processor are healthy."""
    try:
        health = httpx.get(f"{settings.airflow_url}/api/v2/monitor/health", timeout=3).json()
    except (httpx.HTTPError, ValueError):
        return False
    return all((health.get(p) or {}).get("status") == "healthy" for p in ("metadatabase", "scheduler", "dag_processor"))


def start_airflow(settings: Settings, timeout: float = 240.0) -> list[str]:
    """Initialise the metadata database once and start what is not running."""
    started = start_missing(settings)
    _wait_until_ready(settings, timeout)
    return [n.replace("airflow-", "airflow ") for n in started]


def missing(settings: Settings) -> list[str]:
    """Airflow's processes of this home that are not running."""
    return [name for name in processes(settings) if running_pid(settings.run_dir, name) is None]


def start_missing(settings: Settings) -> list[str]:
    """Start Airflow's processes that are not running, without waiting for them."""
    # Looked at first: the cluster's supervisor asks every two seconds, and preparing the
    # environment and the hub's folders is work only a start needs.
    missing_now = missing(settings)
    if not missing_now:
        return []
    env = airflow_env(settings)
    settings.airflow_home.mkdir(parents=True, exist_ok=True)
    hub = accounts.hub_for(settings)  # None unless accounts are on: then Airflow runs as the hub
    if hub:
        env["HOME"] = str(settings.airflow_home)
    if "airflow-api-server" in missing_now or (
        not settings.cluster and not (settings.airflow_home / "airflow.db").exists()
    ):
        result = subprocess.run(
            [_airflow_bin(), "db", "migrate"], env=env, capture_output=True, text=True, **(hub.popen() if hub else {})
        )
        if result.returncode != 0:
            raise AirflowError(f"`airflow db migrate` failed:\n{result.stderr[-2000:]}")
    commands = _commands(settings)
    for name in missing_now:
        start_process(
            settings.run_dir, settings.logs_dir, name, commands[name], env, cwd=settings.airflow_home, account=hub
        )
    return missing_now


def _wait_until_ready(settings: Settings, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_ready(settings) and all(_dag_registered(settings, d) for d in (DAG_ID, STREAM_DAG_ID)):
            return
        for name in processes(settings):
            if running_pid(settings.run_dir, name) is None:
                raise AirflowError(f"{name} exited; see {settings.logs_dir / (name + '.log')}")
        time.sleep(1)
    raise AirflowError(f"Airflow at {settings.airflow_url} was not ready in {timeout:.0f} s")


def stop_airflow(settings: Settings) -> list[str]:
    return [name for name in reversed(processes(settings)) if stop_process(settings.run_dir, name)]


class _Api:
    def __init__(self, settings: Settings):
        self.base = settings.airflow_url
        user, password = login(settings)
        answer = httpx.post(f"{self.base}/auth/token", json={"username": user, "password": password}, timeout=10)
        if answer.status_code >= 400:
            raise AirflowError(f"Airflow refused the hub's login: {answer.status_code} {answer.text[:200]}")
        token = answer.json()["access_token"]
        self.client = httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def get(self, path: str) -> Any:
        response = self.client.get(path)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        response = self.client.post(path, json=body)
        if response.status_code >= 400:
            raise AirflowError(f"Airflow refused {path}: {response.status_code} {response.text[:300]}")
        return response.json()

    def patch(self, path: str, body: dict[str, Any]) -> Any:
        response = self.client.patch(path, json=body)
        if response.status_code == 404:
            raise AirflowError(f"Airflow does not know {path} (yet): the DAG processor may still be parsing dags/")
        if response.status_code >= 400:
            raise AirflowError(f"Airflow refused {path}: {response.status_code} {response.text[:300]}")
        return response.json()


def _dag_registered(settings: Settings, dag_id: str) -> bool:
    try:
        _Api(settings).get(f"/api/v2/dags/{dag_id}")
    except (httpx.HTTPError, KeyError, ValueError):
        return False
    return True


@dataclass
class RunResult:
    run_id: str
    state: str
    seconds: float
    totals: dict[str, int] = field(default_factory=dict)
    failed_tasks: list[str] = field(default_factory=list)
    warehouse: str = ""

    @property
    def succeeded(self) -> bool:
        return self.state == "success"

    def summary_line(self) -> str:
        if not self.succeeded:
            tasks = ", ".join(self.failed_tasks) or "unknown task"
            return (
                f"pipeline run {self.run_id} {self.state} after {self.seconds:.0f} s (failed: {tasks});"
                " the task logs are in the Airflow UI (thbdb status gives its address)"
            )
        t = self.totals
        return (
            f"pipeline run {self.run_id} succeeded in {self.seconds:.0f} s: {t.get('read', 0)} events read,"
            f" {t.get('loaded', 0)} loaded, {t.get('duplicates', 0)} duplicates skipped,"
            f" {t.get('quarantined', 0)} quarantined"
            + (f" ({t['held_back']} held back with failing batches)" if t.get("held_back") else "")
            + (f", {t['erased']} of erased records dropped" if t.get("erased") else "")
            + f"; warehouse {self.warehouse}"
        )


def run_pipeline(settings: Settings, timeout: float = 1800.0, poll: float = 1.0) -> RunResult:
    """Trigger the pipeline DAG and wait until it ends."""
    if not is_ready(settings):
        raise AirflowError("Airflow is not running: start the stack with `thbdb up`")
    api = _Api(settings)
    started = time.monotonic()
    run = api.post(f"/api/v2/dags/{DAG_ID}/dagRuns", {"logical_date": None})
    run_id = run["dag_run_id"]
    quoted = urllib.parse.quote(run_id, safe="")
    state = run["state"]
    while state not in ("success", "failed"):
        if time.monotonic() - started > timeout:
            raise AirflowError(f"pipeline run {run_id} still {state} after {timeout:.0f} s")
        time.sleep(poll)
        state = api.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{quoted}")["state"]
    result = RunResult(run_id, state, time.monotonic() - started, warehouse=str(settings.warehouse))
    if state == "success":
        xcom = api.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{quoted}/taskInstances/refresh_marts/xcomEntries/return_value")
        value = xcom.get("value")
        result.totals = value if isinstance(value, dict) else {}
    else:
        instances = api.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{quoted}/taskInstances")["task_instances"]
        result.failed_tasks = sorted(
            f"{ti['task_id']}[{ti['map_index']}]" if ti.get("map_index", -1) >= 0 else ti["task_id"]
            for ti in instances
            if ti["state"] in ("failed", "upstream_failed")
        )
    return result


# A consume task in these states runs or is about to: the executor has it. Airflow does
# not queue the tasks of a paused DAG, nor finish its runs at once, so a run may stay
# "running" after its consumer ended, and a task not yet queued never starts.
_CONSUMER_ACTIVE = ("queued", "running", "restarting")


@dataclass
class StreamState:
    """Whether the streaming consumer is on, and what its current run is doing."""

    on: bool
    run_id: str | None = None
    run_started: str | None = None
    consumer: str = "not running"  # the consume task's state: queued, running, up_for_retry, ...

    @property
    def consumer_active(self) -> bool:
        return self.consumer in _CONSUMER_ACTIVE

    def summary_line(self) -> str:
        if self.run_id is None or not (self.on or self.consumer_active):
            return f"streaming {'on' if self.on else 'off'}; consumer not running" + (
                " (Airflow starts it within seconds)" if self.on else ""
            )
        since = f" since {self.run_started[:19]}" if self.run_started else ""
        return f"streaming {'on' if self.on else 'off'}; consumer {self.consumer} (run {self.run_id}{since})"


def _connected(settings: Settings) -> _Api:
    # The API answering is enough to read or change the pause flag; a late scheduler
    # heartbeat under load must not make `thbdb stream` say Airflow is down.
    try:
        return _Api(settings)
    except (httpx.HTTPError, KeyError, ValueError):
        raise AirflowError("Airflow is not running: start the stack with `thbdb up`") from None


def stream_state(settings: Settings) -> StreamState:
    api = _connected(settings)
    try:
        dag = api.get(f"/api/v2/dags/{STREAM_DAG_ID}")
        runs = api.get(f"/api/v2/dags/{STREAM_DAG_ID}/dagRuns?state=queued&state=running")["dag_runs"]
    except httpx.HTTPStatusError as error:
        raise AirflowError(f"Airflow has no DAG {STREAM_DAG_ID}: {error.response.status_code}") from None
    state = StreamState(on=not dag["is_paused"])
    if runs:
        run = max(runs, key=lambda r: r.get("queued_at") or "")
        state.run_id, state.run_started = run["dag_run_id"], run.get("start_date") or run.get("queued_at")
        quoted = urllib.parse.quote(run["dag_run_id"], safe="")
        instances = api.get(f"/api/v2/dags/{STREAM_DAG_ID}/dagRuns/{quoted}/taskInstances")["task_instances"]
        state.consumer = next((ti["state"] or "not yet scheduled" for ti in instances), "starting")
    return state


def set_streaming(settings: Settings, on: bool, timeout: float = 300.0, poll: float = 1.0) -> StreamState:
    """Turn the streaming consumer on (unpause its DAG) or off (pause it and wait until
    the running window has ended: it ends early, after the batch in hand, once paused)."""
    api = _connected(settings)
    api.patch(f"/api/v2/dags/{STREAM_DAG_ID}", {"is_paused": not on})
    state = stream_state(settings)
    deadline = time.monotonic() + timeout
    while not on and state.consumer_active:
        if time.monotonic() > deadline:
            raise AirflowError(f"streaming paused, but run {state.run_id} still {state.consumer} after {timeout:.0f} s")
        time.sleep(poll)
        state = stream_state(settings)
    return state
