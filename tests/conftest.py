"""Shared fixtures: the real stack (Kafka broker and Airflow), started once per session.

The stack runs under a temporary THBDB_HOME on free loopback ports and is driven through
the installed `thbdb` command, as a user would.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from thbdb.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
# Tests play the hub and the countries in this very process, as root: accounts stay off
# for them and for the session's stack; tests/stack/test_accounts.py turns them on.
os.environ["THBDB_ACCOUNTS"] = "off"
SHARED = ROOT.parent / "shared"
THBDB = str(Path(sys.executable).with_name("thbdb"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    settings: Settings
    env: dict[str, str]

    def thbdb(self, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        """Run the installed `thbdb` command against this stack."""
        result = subprocess.run(
            [THBDB, *args], env=self.env, capture_output=True, text=True, timeout=timeout, cwd=self.settings.home
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"thbdb {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
            )
        return result


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("thbdb-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THBDB_", "AIRFLOW"))}
    env.update(
        {
            "THBDB_HOME": str(home),
            "THBDB_KAFKA_PORT": str(_free_port()),
            "THBDB_KAFKA_CONTROLLER_PORT": str(_free_port()),
            "THBDB_AIRFLOW_PORT": str(_free_port()),
            "COLUMNS": "200",
            "THBDB_ACCOUNTS": "off",
            # Small micro-batches, so that fault tests see several batches in a few thousand events.
            "THBDB_BATCH_SIZE": "5000",
        }
    )
    running = Stack(Settings.from_env(env), env)
    running.thbdb("up", timeout=600)
    try:
        yield running
    finally:
        running.thbdb("down", check=False, timeout=300)
