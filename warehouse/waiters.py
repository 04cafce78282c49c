"""Who is waiting for the warehouse: a marker file per waiting process.

DuckDB lets one process at a time open the warehouse for writing, and tells the others
only that it is locked. A long drain keeps its connection open across batches (closing
the file checkpoints it, which cost as much as the load itself); so that it never keeps
another writer or reader out for longer than one batch, whoever finds the file locked
leaves a marker beside it while it waits (``waiting``), and the drain lets go between
batches as soon as it sees one (``others_waiting``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _prefix(warehouse: Path) -> str:
    return f".{warehouse.name}.waiting-"


@contextmanager
def waiting(warehouse: Path) -> Iterator[None]:
    """A marker that this process waits to open ``warehouse``, for as long as it waits."""
    marker = warehouse.with_name(f"{_prefix(warehouse)}{os.getpid()}-{threading.get_ident()}")
    marker.touch()
    try:
        yield
    finally:
        marker.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def others_waiting(warehouse: Path) -> bool:
    """Whether another live process waits to open ``warehouse``. A marker left by a
    process killed while it waited is removed."""
    found = False
    for marker in warehouse.parent.glob(_prefix(warehouse) + "*"):
        try:
            pid = int(marker.name.removeprefix(_prefix(warehouse)).split("-")[0])
        except ValueError:
            continue
        if pid == os.getpid():
            continue  # this process's connections share one database: they never wait on it
        if _alive(pid):
            found = True
        else:
            marker.unlink(missing_ok=True)
    return found


def let_them_in(warehouse: Path, longest: float = 2.0) -> None:
    """After letting go of the warehouse: wait until the waiting processes have opened it
    (their markers gone), at most ``longest`` seconds, so that this one does not take it
    straight back before they retry."""
    deadline = time.monotonic() + longest
    while others_waiting(warehouse) and time.monotonic() < deadline:
        time.sleep(0.02)
