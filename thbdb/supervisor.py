"""The cluster profile's supervisor: every two seconds, start again whatever exited.

The local stand-in for the compose file's ``restart: unless-stopped``. A Kafka broker
killed, an Airflow scheduler or API server that exited when PostgreSQL restarted under
it, a Celery worker killed: each is started again with its own command, and a line in
``logs/supervisor.log`` says what and when. `thbdb down` stops the supervisor first.
Started by `thbdb up --cluster` (thbdb/cluster.py); not part of the embedded stack.
"""

from __future__ import annotations

import signal
import threading
from datetime import UTC, datetime

from config.settings import Settings
from thbdb import cluster

ROUND_SECONDS = 2.0


def main() -> None:
    settings = Settings.from_env()
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    print(f"{_now()} supervising the cluster under {settings.home}", flush=True)
    while not stopping.wait(ROUND_SECONDS):
        try:
            restarted = cluster.restart_exited(settings)
        except Exception as error:  # noqa: BLE001 - a failed round is logged and tried again
            print(f"{_now()} could not restart everything yet: {error}", flush=True)
            continue
        if restarted:
            print(f"{_now()} restarted {', '.join(restarted)}: it had exited", flush=True)
    print(f"{_now()} stopped", flush=True)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


if __name__ == "__main__":
    main()
