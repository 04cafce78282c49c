"""The local stack as one thing: broker, Airflow and the warehouse file under one home.

Only one stack runs on a machine at a time (the ports are shared); a lock file in the
system's temporary folder names the home that runs it.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from config.settings import Settings
from thbdb import accounts, airflow_stack, cluster, kafka_broker
from thbdb import release_process as release_service
from thbdb.ports import free_port
from thbdb.processes import running_pid

LOCK = Path(tempfile.gettempdir()) / f"thbdb-stack-{os.getuid()}.json"


class StackError(RuntimeError):
    pass


PROCESSES = (kafka_broker.PROCESS, *airflow_stack.PROCESSES, release_service.PROCESS)


def processes(settings: Settings) -> list[str]:
    """Every process this home runs: the embedded stack's, or the cluster profile's."""
    if settings.cluster:
        return [*cluster.processes(settings), release_service.PROCESS]
    return list(PROCESSES)


def isolated_env(home: Path, **settings: str) -> dict[str, str]:
    """The environment of a stack of its own (tests, benchmarks): this process's, less
    every THBDB_ and AIRFLOW variable, with its own home, free ports for the broker and
    Airflow, and ``settings`` (THBDB_ variables) on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THBDB_", "AIRFLOW"))}
    env.update(
        {
            "THBDB_HOME": str(home),
            "THBDB_KAFKA_PORT": str(free_port()),
            "THBDB_KAFKA_CONTROLLER_PORT": str(free_port()),
            "THBDB_AIRFLOW_PORT": str(free_port()),
            "COLUMNS": "200",  # wide enough that tables are not wrapped in captured output
            **settings,
        }
    )
    return env


def _other_running_home(settings: Settings) -> Path | None:
    try:
        home = Path(json.loads(LOCK.read_text())["home"])
    except (FileNotFoundError, ValueError, KeyError):
        return None
    if home == settings.home:
        return None
    run_dir = home / "run"
    alive = any(running_pid(run_dir, name) for name in processes(Settings(home=home)))
    return home if alive else None


def up(settings: Settings, airflow: bool = True, cluster_profile: bool = False) -> list[str]:
    """Start what is not running and wait until everything answers. Idempotent.

    ``cluster_profile`` (or a home that has one) runs the deployed form (thbdb/cluster.py)."""
    other = _other_running_home(settings)
    if other is not None:
        raise StackError(
            f"another thbdb stack is running, with THBDB_HOME={other}. Stop it first: THBDB_HOME={other} thbdb down"
        )
    settings.home.mkdir(parents=True, exist_ok=True)
    LOCK.write_text(json.dumps({"home": str(settings.home)}))
    if cluster_profile or settings.cluster:
        settings = cluster.ensure_layout(settings)
    started = []
    if kafka_broker.start_broker(settings, timeout=180 if settings.cluster else 90):
        started.append("kafka" if not settings.cluster else f"kafka ({len(settings.kafka_nodes)} brokers)")
    kafka_broker.ensure_topics(settings)
    if airflow and settings.cluster:
        started.extend(cluster.start_services(settings))
    if airflow:
        started.extend(airflow_stack.start_airflow(settings, timeout=360 if settings.cluster else 240))
    if airflow and settings.cluster and cluster.start_supervisor(settings):
        started.append("supervisor")
    if release_service.start_service(settings):
        started.append("release service")
    return started


def down(settings: Settings) -> list[str]:
    stopped = []
    if release_service.stop_service(settings):
        stopped.append("release service")
    if settings.cluster:
        stopped.extend(cluster.stop(settings))
    for name in airflow_stack.stop_airflow(settings):
        stopped.append(name)
    if kafka_broker.stop_broker(settings):
        stopped.append("kafka")
    try:
        if Path(json.loads(LOCK.read_text())["home"]) == settings.home:
            LOCK.unlink()
    except (FileNotFoundError, ValueError, KeyError):
        pass
    return stopped


def status(settings: Settings) -> dict[str, object]:
    running = {name: running_pid(settings.run_dir, name) for name in processes(settings)}
    answering = kafka_broker.brokers_answering(settings)  # one metadata request for both figures
    return {
        "home": str(settings.home),
        "profile": "cluster" if settings.cluster else "embedded",
        "kafka_bootstrap": settings.kafka_bootstrap,
        "kafka_running": answering >= kafka_broker.brokers_wanted(settings),
        "kafka_brokers_answering": answering,
        "airflow_url": settings.airflow_url,
        "airflow_running": airflow_stack.is_ready(settings),
        "streaming": _streaming(settings),
        "hub_url": settings.hub_url,
        # The browser's pages (release/web.py): sign in there with a token of `thbdb users add`.
        "hub_pages": f"{settings.hub_url}/ui/",
        "hub_running": release_service.is_ready(settings),
        "hub_ca": str(settings.hub_ca_file),
        "warehouse": str(settings.warehouse),
        "warehouse_exists": settings.warehouse.exists(),
        "processes": running,
        **({"cluster": _cluster_status(settings)} if settings.cluster else {}),
        # Which account each role runs as (thbdb/accounts.py); "off": the caller's own.
        "accounts": (
            {"hub": accounts.HUB, "countries": accounts.country_account("CC")}
            if accounts.enforced(settings.accounts)
            else "off"
        ),
    }


def _cluster_status(settings: Settings) -> dict[str, object]:
    from thbdb import postgres, redis_server

    layout = settings.cluster_layout
    assert layout is not None
    return {
        "brokers": {node.process: f"{settings.kafka_host}:{node.port}" for node in layout.brokers},
        "postgres": f"127.0.0.1:{layout.postgres_port}",
        "postgres_running": postgres.is_ready(settings),
        "redis": f"127.0.0.1:{layout.redis_port}",
        "redis_running": redis_server.is_ready(settings),
        "celery_workers": layout.worker_names,
    }


def _streaming(settings: Settings) -> str:
    """on or off (`thbdb stream`), or unknown while Airflow does not answer."""
    try:
        return "on" if airflow_stack.stream_state(settings).on else "off"
    except (RuntimeError, OSError, ValueError, KeyError):
        return "unknown (Airflow not running)"
