"""Shared fixtures: the real stack (Kafka broker and Airflow), started once per session.

The stack runs under a temporary THBDB_HOME on free loopback ports and is driven through
the installed `thbdb` command, as a user would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from config.settings import Settings
from thbdb.stack import isolated_env

ROOT = Path(__file__).resolve().parents[1]
# Tests play the hub and the countries in this very process, as root: accounts stay off
# for them and for the session's stack; tests/stack/test_accounts.py turns them on.
os.environ["THBDB_ACCOUNTS"] = "off"
SHARED = ROOT.parent / "shared"
THBDB = str(Path(sys.executable).with_name("thbdb"))


# The commands that are clients of the release service: each run asks it once.
CLIENT_COMMANDS = frozenset({"query", "report", "export", "check-table", "quarantine", "audit", "erase"})


@dataclass
class Stack:
    settings: Settings
    env: dict[str, str]
    # Exit codes of the client commands run, to hold against the audit log at the end.
    client_exits: list[int] = field(default_factory=list)

    def thbdb(
        self, *args: str, check: bool = True, timeout: float = 900, token: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run the installed `thbdb` command against this stack (as the local admin, or
        with ``token``)."""
        env = {**self.env, "THBDB_TOKEN": token} if token else self.env
        result = subprocess.run(
            [THBDB, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=self.settings.home
        )
        if args and args[0] in CLIENT_COMMANDS:
            self.client_exits.append(result.returncode)
        if check and result.returncode != 0:
            raise AssertionError(
                f"thbdb {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
            )
        return result


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("thbdb-home")
    env = isolated_env(
        home,
        THBDB_ACCOUNTS="off",
        # Small micro-batches, so that fault tests see several batches in a few thousand events.
        THBDB_BATCH_SIZE="5000",
        # A minute for what the hub loaded (or erased) to leave the broker's files, so
        # that the erasure test can wait it out (pipeline/kafka_retention.py).
        THBDB_ERASURE_SECONDS="60",
    )
    running = Stack(Settings.from_env(env), env)
    running.thbdb("up", timeout=600)
    try:
        yield running
        _every_request_audited(running)
    finally:
        running.thbdb("down", check=False, timeout=300)


def _every_request_audited(stack: Stack) -> None:
    """Every client command the tests ran is in the release service's audit log: one
    answered entry per command that succeeded, and no answer the tests did not ask for."""
    from release import audit

    entries = audit.entries(stack.settings.audit_dir)
    answered = sum(e["outcome"] == "answered" for e in entries)
    succeeded = sum(code in (0, 1) for code in stack.client_exits)  # 1: check-table found differences
    assert answered == succeeded, f"{answered} answers in the audit log for {succeeded} client commands that succeeded"
    assert len(entries) <= len(stack.client_exits), "the audit log holds requests the tests did not make"
