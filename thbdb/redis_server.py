"""Redis as the Celery executor's message broker in the cluster profile.

Debian's redis-server (``make setup`` installs it when absent), on loopback, with a
password: its configuration file (0600, the hub's) holds ``requirepass``, so the password
is on no command line, and Airflow reads the broker URL from ``hub-secrets/celery_broker_url``
as the deployed form reads its secret. It keeps nothing Airflow cannot rebuild: a task
queued when Redis restarts is found by the scheduler and queued again.
"""

from __future__ import annotations

import os
import shutil
from functools import partial
from pathlib import Path

from config.settings import Settings
from thbdb import accounts, secret_files
from thbdb.processes import running_pid, start_process, stop_process, wait_until_answering

PROCESS = "redis"


class RedisError(RuntimeError):
    pass


def folder(settings: Settings) -> Path:
    return settings.home / "redis"


def password(settings: Settings) -> str:
    return secret_files.password(settings.hub_secrets_dir / "redis.password")


def url(settings: Settings) -> str:
    layout = settings.cluster_layout
    assert layout is not None
    return f"redis://:{password(settings)}@127.0.0.1:{layout.redis_port}/0"


def start(settings: Settings, wait: float = 30.0) -> bool:
    layout = settings.cluster_layout
    assert layout is not None, "Redis runs in the cluster profile only"
    if running_pid(settings.run_dir, PROCESS):
        return False
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(server).exists():
        raise RedisError("redis-server is not installed: run `make setup` (it installs Debian's redis-server)")
    hub = accounts.hub_for(settings)
    base = folder(settings)
    accounts.own(base, hub)
    config = base / "redis.conf"
    descriptor = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(
            "# Written by `thbdb up --cluster`: Celery's broker, loopback only, with a password.\n"
            "bind 127.0.0.1\n"
            f"port {layout.redis_port}\n"
            "protected-mode yes\n"
            f"requirepass {password(settings)}\n"
            f"dir {base}\n"
            "save ''\n"
            "appendonly no\n"
            "daemonize no\n"
        )
    if hub:
        os.chown(config, hub.uid, hub.gid)
    start_process(settings.run_dir, settings.logs_dir, PROCESS, [server, str(config)], env={}, account=hub)
    if wait:
        wait_until_ready(settings, wait)
    return True


def is_ready(settings: Settings) -> bool:
    """Redis answers PING, with the password."""
    import redis  # Celery's own client (celery[redis])

    layout = settings.cluster_layout
    if layout is None:
        return False
    client = redis.Redis(
        host="127.0.0.1",
        port=layout.redis_port,
        password=password(settings),
        socket_timeout=2,
        socket_connect_timeout=2,
    )
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def wait_until_ready(settings: Settings, timeout: float) -> None:
    wait_until_answering(partial(is_ready, settings), settings.run_dir, settings.logs_dir, PROCESS, "Redis", timeout)


def stop(settings: Settings) -> bool:
    return stop_process(settings.run_dir, PROCESS, timeout=30)
