"""The cluster profile: the deployed form (docker-compose.yml) run from the same packages
on one machine, on loopback (`thbdb up --cluster`).

- three Kafka brokers in KRaft mode, each a broker and a controller voter, every
  country topic at replication 3 with ``min.insync.replicas=2`` (config/deployed.py);
- PostgreSQL as Airflow's metadata database (thbdb/postgres.py);
- Redis with a password as the Celery executor's broker (thbdb/redis_server.py);
- Airflow's API server, scheduler and DAG processor with the Celery executor, and two
  Celery workers (thbdb/airflow_stack.py);
- a supervisor (``python -m thbdb.supervisor``) that starts again any of these that
  exits, as the compose file's ``restart: unless-stopped`` does: a broker killed, a
  scheduler that gave up when PostgreSQL restarted, a worker killed.

The ports are chosen on the first start and kept (config/cluster_layout.py).
"""

from __future__ import annotations

import sys

from config.cluster_layout import BROKERS, BrokerNode, ClusterLayout
from config.settings import Settings
from thbdb import accounts, airflow_stack, kafka_broker, postgres, redis_server
from thbdb.ports import free_port, is_free
from thbdb.processes import running_pid, start_process, stop_process

SUPERVISOR = "supervisor"


class ClusterError(RuntimeError):
    pass


def _port(preferred: int, taken: set[int]) -> int:
    """``preferred`` if nothing listens there, else any free port outside the ephemeral range."""
    port = preferred
    while port in taken or not is_free(port):
        port = free_port()
    taken.add(port)
    return port


def ensure_layout(settings: Settings) -> Settings:
    """The home's cluster layout, chosen now if it has none; the settings that read it.

    Node 1 keeps the embedded broker's ports; the others come next to them when free."""
    if ClusterLayout.read(settings.home) is None:
        if (settings.kafka_dir / "data" / "meta.properties").exists():
            raise ClusterError(
                f"{settings.home} holds the embedded stack's single broker; the cluster profile needs a fresh"
                " THBDB_HOME (the brokers' storage is formatted for three nodes)"
            )
        taken: set[int] = set()
        brokers = [
            BrokerNode(
                id=i,
                port=_port(settings.kafka_port + 10 * (i - 1), taken),
                controller_port=_port(settings.kafka_controller_port + 10 * (i - 1), taken),
            )
            for i in range(1, BROKERS + 1)
        ]
        ClusterLayout(brokers=brokers, postgres_port=_port(35432, taken), redis_port=_port(36379, taken)).write(
            settings.home
        )
    return settings.model_copy(update={"cluster": True})


def _write_airflow_secrets(settings: Settings) -> None:
    """The connection URLs Airflow reads with its _CMD settings: the deployed form's
    secrets airflow_db_url and celery_broker_url, as files of the hub's (0600)."""
    folder = settings.hub_secrets_dir
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    urls = {
        "airflow_db_url": postgres.url(settings),
        "celery_result_backend": "db+" + postgres.url(settings),
        "celery_broker_url": redis_server.url(settings),
    }
    for name, value in urls.items():
        path = folder / name
        path.touch(mode=0o600, exist_ok=True)
        path.chmod(0o600)
        path.write_text(value)  # no newline: Airflow takes the output of `cat` as it is
    hub = accounts.hub_for(settings)
    if hub:
        accounts.own(folder, hub)


def start_services(settings: Settings) -> list[str]:
    """PostgreSQL and Redis, before Airflow. The names of those started."""
    started = []
    if postgres.start(settings):
        started.append("postgres")
    if redis_server.start(settings):
        started.append("redis")
    _write_airflow_secrets(settings)
    return started


def processes(settings: Settings) -> list[str]:
    """Everything the cluster profile runs, in start order (the release service aside)."""
    return [
        *kafka_broker.processes(settings),
        postgres.PROCESS,
        redis_server.PROCESS,
        *airflow_stack.processes(settings),
        SUPERVISOR,
    ]


def start_supervisor(settings: Settings) -> bool:
    if running_pid(settings.run_dir, SUPERVISOR):
        return False
    env = {**settings.to_env(), "PATH": "/usr/bin:/bin:/usr/local/bin"}
    start_process(settings.run_dir, settings.logs_dir, SUPERVISOR, [sys.executable, "-m", "thbdb.supervisor"], env=env)
    return True


def restart_exited(settings: Settings) -> list[str]:
    """Start again whatever of the cluster exited, without waiting (the supervisor's round)."""
    restarted = [node.process for node in settings.kafka_nodes if kafka_broker.start_node(settings, node)]
    if postgres.start(settings, wait=0):
        restarted.append(postgres.PROCESS)
    if redis_server.start(settings, wait=0):
        restarted.append(redis_server.PROCESS)
    # Airflow cannot start without its database; asked only when something is to start.
    if airflow_stack.missing(settings) and postgres.is_ready(settings):
        restarted.extend(airflow_stack.start_missing(settings))
    return restarted


def stop(settings: Settings) -> list[str]:
    """Stop the supervisor first (or it would start the rest again), then Airflow, Redis,
    PostgreSQL; the brokers are stopped by the caller."""
    stopped = []
    if stop_process(settings.run_dir, SUPERVISOR):
        stopped.append(SUPERVISOR)
    stopped.extend(airflow_stack.stop_airflow(settings))
    if redis_server.stop(settings):
        stopped.append(redis_server.PROCESS)
    if postgres.stop(settings):
        stopped.append(postgres.PROCESS)
    return stopped
