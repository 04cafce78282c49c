"""Where the cluster profile's processes listen (`thbdb up --cluster`, thbdb/cluster.py).

The ports are chosen once, when the profile is first started under a home, and kept in
``$THBDB_HOME/cluster.json``: the brokers' storage and the clients' settings must find
the same addresses on every later start. The file holds no secret.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

LAYOUT_FILE = "cluster.json"
BROKERS = 3
WORKERS = 2


class BrokerNode(BaseModel):
    """One KRaft node: a broker and a voter of the controller quorum in one process."""

    id: int
    port: int
    controller_port: int

    @property
    def process(self) -> str:
        return f"kafka-{self.id}"


class ClusterLayout(BaseModel):
    brokers: list[BrokerNode]
    postgres_port: int
    redis_port: int
    workers: int = WORKERS

    @staticmethod
    def path(home: Path) -> Path:
        return home / LAYOUT_FILE

    @classmethod
    def read(cls, home: Path) -> ClusterLayout | None:
        try:
            return cls.model_validate(json.loads(cls.path(home).read_text()))
        except (FileNotFoundError, PermissionError):
            return None

    def write(self, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.path(home).write_text(self.model_dump_json(indent=2) + "\n")

    @property
    def worker_names(self) -> list[str]:
        return [f"airflow-worker-{i}" for i in range(1, self.workers + 1)]
